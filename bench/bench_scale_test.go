package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// TestScalePhaseWritesDoNotWaitForTheReader: the NATS cluster phase's
// writes are timed on their own, while the reader takes its time. With the
// waits for the reader in the writers, a reader 300 ms behind made most
// writes late by that much (the full runs' "write p50 1.6 s" with a node
// down).
func TestScalePhaseWritesDoNotWaitForTheReader(t *testing.T) {
	t.Parallel()
	var seq atomic.Uint64
	writer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			http.Error(w, "unexpected "+r.Method, http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"seq":%d}`, seq.Add(1))
	}))
	defer writer.Close()
	const behind = 300 * time.Millisecond
	reader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(behind) // a reader catching up after its bus connection moved
		fmt.Fprint(w, `{}`)
	}))
	defer reader.Close()
	s := &scaleSystem{sys: &supervisor.System{AdminToken: "t"}, readers: []string{reader.URL}, writer: client.New(writer.URL, "t")}

	// 200 writes/s for 1 s, every write read back: a writer held for each
	// read back would fall behind its schedule by seconds.
	writes, visible, failed, err := s.phase(context.Background(), 200, time.Second, 1)
	if err != nil || failed != 0 {
		t.Fatalf("phase: %d failed, %v", failed, err)
	}
	if len(writes) != 200 || len(visible) != 200 {
		t.Fatalf("%d writes, %d read back; want 200 each", len(writes), len(visible))
	}
	if w := benchSummarise(writes); w.P50 >= behind/2 {
		t.Errorf("write p50 %v: the writes waited for the reader (%v behind)", w.P50, behind)
	}
	if v := benchSummarise(visible); v.P50 < behind {
		t.Errorf("read-back p50 %v, under the reader's %v", v.P50, behind)
	}
}
