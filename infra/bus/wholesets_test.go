package bus

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// appendSet appends n events as one atomic change set.
func (l *fakeLog) appendSet(t *testing.T, n int) []domain.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	set := domain.SpanOf(uint64(len(l.events)), n)
	var out []domain.Event
	for i := 0; i < n; i++ {
		prev := ""
		if len(l.events) > 0 {
			prev = l.events[len(l.events)-1].Hash
		}
		seq := uint64(len(l.events) + 1)
		e, err := domain.Draft{StreamID: "s", Type: "t", Payload: map[string]int{"n": int(seq)}}.Seal(seq, seq, time.Now(), domain.Metadata{}, prev, set)
		if err != nil {
			t.Fatal(err)
		}
		l.events = append(l.events, e)
		out = append(out, e)
	}
	return out
}

// edgeTarget is a target that fails the test when it is given part of a
// change set.
type edgeTarget struct {
	target
	t     *testing.T
	mu    sync.Mutex
	calls int
}

func (p *edgeTarget) Apply(ctx context.Context, evs []domain.Event) error {
	if last := evs[len(evs)-1]; last.ChangeSet.Last > last.Seq {
		p.t.Errorf("applied %d-%d: it ends inside the change set %d-%d", evs[0].Seq, last.Seq, last.ChangeSet.First, last.ChangeSet.Last)
	}
	if first := evs[0]; first.ChangeSet.First != 0 && first.ChangeSet.First < first.Seq {
		p.t.Errorf("applied %d-%d: it starts inside the change set %d-%d", first.Seq, evs[len(evs)-1].Seq, first.ChangeSet.First, first.ChangeSet.Last)
	}
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	return p.target.Apply(ctx, evs)
}

// TestFollowerAppliesWholeChangeSets splits change sets across bus
// messages and backfill pages: the projection is only ever given whole
// sets, and ends with every event.
func TestFollowerAppliesWholeChangeSets(t *testing.T) {
	t.Parallel()
	ps := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16}, watermill.NopLogger{})
	defer ps.Close()
	log := &fakeLog{}
	log.append(t, 2)
	log.appendSet(t, 7) // 3-9: longer than a backfill page
	log.append(t, 1)    // 10
	tgt := &edgeTarget{t: t}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caught := make(chan struct{})
	f := &Follower{Subscriber: ps, Backfill: log, Target: tgt, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Idle: time.Hour, PageSize: 3, OnCaughtUp: func() { close(caught) }}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	select {
	case <-caught:
	case <-time.After(5 * time.Second):
		t.Fatal("no catch-up")
	}
	if pos, _ := tgt.Position(); pos != 10 {
		t.Fatalf("caught up to %d, want 10", pos)
	}
	// A set of 5 split over three bus messages, then a lone event.
	set := log.appendSet(t, 5) // 11-15
	publish(t, ps, set[:2])
	publish(t, ps, set[2:4])
	publish(t, ps, set[4:])
	publish(t, ps, log.append(t, 1)) // 16
	deadline := time.Now().Add(5 * time.Second)
	for {
		if pos, _ := tgt.Position(); pos == 16 {
			break
		}
		if time.Now().After(deadline) {
			pos, _ := tgt.Position()
			t.Fatalf("applied up to %d, want 16", pos)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
