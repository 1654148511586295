package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

func TestDeliverRetries(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		statuses []int // answers in order; the last repeats
		wantErr  bool
		wantHits int32
	}{
		{"first try", []int{200}, false, 1},
		{"retried after 503", []int{503, 503, 204}, false, 3},
		{"gives up after the attempts", []int{500}, true, 3},
		{"a 400 is not retried", []int{400}, true, 1},
		{"a 429 is retried", []int{429, 200}, false, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(hits.Add(1)) - 1
				var m Message
				if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.Text == "" {
					t.Errorf("body: %+v %v", m, err)
				}
				w.WriteHeader(c.statuses[min(n, len(c.statuses)-1)])
			}))
			defer srv.Close()
			n := New(Config{URL: srv.URL, Attempts: 3, Backoff: time.Millisecond})
			err := n.deliver(context.Background(), Message{Text: "hi"})
			if (err != nil) != c.wantErr || hits.Load() != c.wantHits {
				t.Fatalf("err %v, %d posts; want error %v, %d posts", err, hits.Load(), c.wantErr, c.wantHits)
			}
		})
	}
}

func TestApplyNeverBlocks(t *testing.T) {
	t.Parallel()
	n := New(Config{URL: "http://127.0.0.1:1", Queue: 1, ConsoleURL: func() string { return "http://c/console" }})
	req := domain.ReviewRequested{ReviewID: "0123456789", RequesterID: "id-b", Requester: "bob", Tool: "Bash", Input: json.RawMessage(`{"command":"git push"}`), Rule: "git-push"}
	d := domain.Draft{StreamID: domain.ReviewStreamID(req.ReviewID), Type: domain.TypeReviewRequested, SchemaVersion: 1, Payload: req}
	e, err := d.Seal(1, 1, time.Now(), domain.Metadata{}, "", domain.ChangeSet{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for range 10 { // no Run: the queue of one fills and the rest are dropped
			_ = n.Apply(e)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Apply blocked on a full queue")
	}
	m := <-n.queue
	if m.Event != "review.opened" || m.Agent != "bob" || m.URL != "http://c/console/reviews/0123456789" {
		t.Fatalf("message %+v", m)
	}
}
