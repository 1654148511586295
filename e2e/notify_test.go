package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestNotifications: the writer started with --notify-url posts a message
// when an escalation opens and when it is decided, with a text a chat shows
// and a link to the console; a failed delivery is retried.
func TestNotifications(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		got      []map[string]any
		requests int
	)
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		requests++
		if requests == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the first delivery fails: it must be retried
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("notification is not JSON: %q", body)
		}
		got = append(got, m)
	}))
	defer hookSrv.Close()
	e := startGate(t, "--notify-url", hookSrv.URL)
	builder, _ := e.addAgent("builder", "builder")
	reviewer, _ := e.addAgent("carol", "reviewer")
	d := validate(t, builder, bashPayload(t, "git push origin main"))
	if d.Decision != "escalate" {
		t.Fatalf("decision %+v, want escalate", d)
	}
	if err := reviewer.PostJSON(context.Background(), "/v1/reviews/"+d.ReviewID+"/deny", map[string]string{"reason": "not today"}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two notifications", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) < 2 {
			return fmt.Errorf("%d notifications so far", len(got))
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for i, c := range []struct {
		event  string
		status string
		text   []string
	}{
		{"review.opened", "pending", []string{"builder", "git push origin main", "git-push"}},
		{"review.decided", "denied", []string{"builder", "denied by carol", "not today"}},
	} {
		m := got[i]
		text, _ := m["text"].(string)
		link, _ := m["url"].(string)
		if m["event"] != c.event || m["status"] != c.status || m["review_id"] != d.ReviewID {
			t.Fatalf("notification %d: %v", i, m)
		}
		for _, want := range c.text {
			if !strings.Contains(text, want) {
				t.Fatalf("notification %d text %q lacks %q", i, text, want)
			}
		}
		if !strings.HasPrefix(link, e.sys.ReaderURL+"/console/reviews/"+d.ReviewID) || !strings.Contains(text, link) {
			t.Fatalf("notification %d: console link %q (text %q)", i, link, text)
		}
	}
}
