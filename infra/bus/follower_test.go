package bus

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
)

// fakeLog is the writer's log for the follower's backfill.
type fakeLog struct {
	mu     sync.Mutex
	events []domain.Event
	calls  int
}

func (l *fakeLog) Events(_ context.Context, after uint64, limit int) ([]domain.Event, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	head := uint64(len(l.events))
	if after >= head {
		return nil, head, nil
	}
	end := min(after+uint64(limit), head)
	return append([]domain.Event(nil), l.events[after:end]...), head, nil
}

func (l *fakeLog) append(t *testing.T, n int) []domain.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []domain.Event
	for i := 0; i < n; i++ {
		prev := ""
		if len(l.events) > 0 {
			prev = l.events[len(l.events)-1].Hash
		}
		seq := uint64(len(l.events) + 1)
		e, err := domain.Draft{StreamID: "s", Type: "t", Payload: map[string]int{"n": int(seq)}}.Seal(seq, seq, time.Now(), domain.Metadata{}, prev)
		if err != nil {
			t.Fatal(err)
		}
		l.events = append(l.events, e)
		out = append(out, e)
	}
	return out
}

// target records what it is given and refuses anything out of order.
type target struct {
	mu      sync.Mutex
	applied []uint64
	hash    string
}

func (p *target) Position() (uint64, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return uint64(len(p.applied)), p.hash
}

func (p *target) Apply(_ context.Context, evs []domain.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range evs {
		if e.Seq != uint64(len(p.applied))+1 {
			panic("out of order apply")
		}
		p.applied = append(p.applied, e.Seq)
		p.hash = e.Hash
	}
	return nil
}

func publish(t *testing.T, pub message.Publisher, evs []domain.Event) {
	t.Helper()
	raw, _ := json.Marshal(evs)
	if err := pub.Publish(Topic, message.NewMessage(watermill.NewUUID(), raw)); err != nil {
		t.Fatal(err)
	}
}

func TestFollowerDedupesFillsGapsAndRejectsForgeries(t *testing.T) {
	t.Parallel()
	ps := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16}, watermill.NopLogger{})
	defer ps.Close()
	log := &fakeLog{}
	early := log.append(t, 5) // before the follower starts: backfilled
	tgt := &target{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caught := make(chan struct{})
	f := &Follower{Subscriber: ps, Backfill: log, Target: tgt, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Idle: time.Hour, OnCaughtUp: func() { close(caught) }}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	<-caught

	next := log.append(t, 3) // 6..8
	publish(t, ps, next)
	publish(t, ps, next)  // a redelivery: dropped
	publish(t, ps, early) // an old replay: dropped
	lost := log.append(t, 2)
	_ = lost                  // 9..10 never published: a gap
	later := log.append(t, 2) // 11..12
	publish(t, ps, later)
	forged := log.append(t, 1) // 13, published with a changed payload
	bad := forged[0]
	bad.Payload = json.RawMessage(`{"n":666}`)
	publish(t, ps, []domain.Event{bad})

	deadline := time.Now().Add(5 * time.Second)
	for {
		if pos, _ := tgt.Position(); pos == 13 {
			break
		}
		if time.Now().After(deadline) {
			pos, _ := tgt.Position()
			t.Fatalf("follower stuck at %d", pos)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, seq := range tgt.applied {
		if seq != uint64(i+1) {
			t.Fatalf("applied %v", tgt.applied)
		}
	}
	if tgt.hash != forged[0].Hash {
		t.Fatal("the forged event was applied instead of the writer's")
	}
}

// countingSubscriber counts subscriptions and can silence the first one,
// as a consumer lost with a dead broker node is.
type countingSubscriber struct {
	message.Subscriber
	mu         sync.Mutex
	n          int
	first      context.Context
	failSecond bool // the second subscription fails, as one during a leader election does
}

func (c *countingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	c.mu.Lock()
	c.n++
	n := c.n
	c.mu.Unlock()
	if n == 1 {
		c.mu.Lock()
		c.first = ctx
		c.mu.Unlock()
		return make(chan *message.Message), nil // never delivers
	}
	if n == 2 && c.failSecond {
		return nil, errors.New("nats: no responders available for request")
	}
	return c.Subscriber.Subscribe(ctx, topic)
}

func (c *countingSubscriber) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestFollowerResubscribesWhenTheBusGoesSilent: events the writer has but
// the bus never brought are backfilled after an idle period, and the
// follower subscribes again (ending the silent subscription), so later
// events arrive over the bus.
func TestFollowerResubscribesWhenTheBusGoesSilent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		failSecond bool
		subs       int // subscriptions until the bus delivers again
	}{
		{"first try works", false, 2},
		{"a failed try is retried, not fatal", true, 3},
	} {
		t.Run(tt.name, func(t *testing.T) { testResubscribe(t, tt.failSecond, tt.subs) })
	}
}

func testResubscribe(t *testing.T, failSecond bool, subs int) {
	ps := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16}, watermill.NopLogger{})
	defer ps.Close()
	sub := &countingSubscriber{Subscriber: ps, failSecond: failSecond}
	log := &fakeLog{}
	tgt := &target{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caught := make(chan struct{})
	f := &Follower{Subscriber: sub, Backfill: log, Target: tgt, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Idle: 200 * time.Millisecond, OnCaughtUp: func() { close(caught) }, Metrics: metrics.NewFollower(prometheus.NewRegistry())}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	<-caught

	log.append(t, 3) // never published: the silent subscription misses them
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: subscriptions %d, applied %v", what, sub.count(), tgt.applied)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("backfilled and subscribed again", func() bool { pos, _ := tgt.Position(); return pos == 3 && sub.count() == subs })
	// The subscription is handed over asynchronously: wait until it is in use.
	waitFor("new subscription in use", func() bool { return testutil.ToFloat64(f.Metrics.Resubs) == 1 })
	sub.mu.Lock()
	first := sub.first
	sub.mu.Unlock()
	if first.Err() == nil {
		t.Fatal("the silent subscription was not ended")
	}
	// The new subscription delivers: event 4 comes over the bus, well
	// before the next idle backfill.
	publish(t, ps, log.append(t, 1))
	waitFor("event 4 applied", func() bool { pos, _ := tgt.Position(); return pos == 4 })
	if n := testutil.ToFloat64(f.Metrics.BusEvents); n != 1 {
		t.Fatalf("%v events came over the bus, want event 4", n)
	}
	if n := testutil.ToFloat64(f.Metrics.Resubs); n != 1 {
		t.Fatalf("%v resubscriptions counted, want 1", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
