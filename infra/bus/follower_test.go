package bus

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
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
		e, err := domain.Draft{StreamID: "s", Type: "t", Payload: map[string]int{"n": int(seq)}}.Seal(seq, seq, time.Now(), domain.Metadata{}, prev, domain.ChangeSet{})
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
	resets  []string
}

func (p *target) Reset(reason string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applied, p.hash = nil, ""
	p.resets = append(p.resets, reason)
	return nil
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

// TestFollowerRebuildsWhenTheLogDiverges gives the follower a projection of
// another history than the writer's log: it resets and rebuilds from the
// log, and a projection that matches is left alone.
func TestFollowerRebuildsWhenTheLogDiverges(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		projected     int // events of the first history the projection holds
		shared        int // of which the writer's log keeps
		writer        int // events in the writer's log
		wantRebuilds  int
		reasonContain string
	}{
		{"log restored from a backup, shorter", 43, 23, 28, 1, "log ends at 28"},
		{"same length, another history", 10, 5, 10, 1, "in the writer's log"},
		{"projection behind, same history", 5, 5, 12, 0, ""},
		{"projection at the head", 7, 7, 7, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			first := &fakeLog{}
			first.append(t, c.projected)
			writer := &fakeLog{events: append([]domain.Event(nil), first.events[:c.shared]...)}
			writer.append(t, c.writer-c.shared) // a new history from there
			tgt := &target{}
			if err := tgt.Apply(context.Background(), first.events); err != nil {
				t.Fatal(err)
			}
			f := &Follower{Backfill: writer, Target: tgt, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PageSize: 4}
			if err := f.catchUp(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(tgt.resets) != c.wantRebuilds || (c.wantRebuilds > 0 && !strings.Contains(tgt.resets[0], c.reasonContain)) {
				t.Fatalf("resets %q, want %d with %q", tgt.resets, c.wantRebuilds, c.reasonContain)
			}
			if pos, hash := tgt.Position(); pos != uint64(c.writer) || hash != writer.events[c.writer-1].Hash {
				t.Fatalf("after catch-up at %d %.12s, want the writer's %d", pos, hash, c.writer)
			}
		})
	}
}

// failingTarget refuses to apply one event until healed.
type failingTarget struct {
	target
	failAt uint64
	healed atomic.Bool
}

func (p *failingTarget) Apply(ctx context.Context, evs []domain.Event) error {
	if !p.healed.Load() {
		for _, e := range evs {
			if e.Seq == p.failAt {
				return errors.New("cannot apply")
			}
		}
	}
	return p.target.Apply(ctx, evs)
}

// failures records what a follower reports to OnFailure.
type failures struct {
	mu   sync.Mutex
	errs []error
}

func (f *failures) add(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, err)
}

// last is the last report (nil for a success), and whether there was one.
func (f *failures) last() (error, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) == 0 {
		return nil, false
	}
	return f.errs[len(f.errs)-1], true
}

// runReporting runs a follower of backfill into tgt, subscribed to sub,
// polling when idle for idle, in pages of page, its reports recorded in
// reported. done gets Run's result once cancel is called.
func runReporting(sub message.Subscriber, backfill Backfill, tgt Projection, idle time.Duration, page int, reported *failures) (done <-chan error, cancel context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Follower{Subscriber: sub, Backfill: backfill, Target: tgt, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Idle: idle, PageSize: page, OnFailure: reported.add}
	ch := make(chan error, 1)
	go func() { ch <- f.Run(ctx) }()
	return ch, cancel
}

// waitFor polls ok for up to 5 s and fails the test if it stays false.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startFollower runs a follower of a new fakeLog into a new target,
// subscribed to sub, told of lost subscriptions on lost, and returns once it
// has caught up. stop cancels it and checks Run's result.
func startFollower(t *testing.T, sub message.Subscriber, lost <-chan struct{}, idle time.Duration) (f *Follower, log *fakeLog, tgt *target, stop func()) {
	t.Helper()
	log, tgt = &fakeLog{}, &target{}
	ctx, cancel := context.WithCancel(context.Background())
	caught := make(chan struct{})
	f = &Follower{Subscriber: sub, Lost: lost, Backfill: log, Target: tgt, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Idle: idle, OnCaughtUp: func() { close(caught) }, Metrics: metrics.NewFollower(prometheus.NewRegistry())}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	<-caught
	return f, log, tgt, func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestFollowerSurvivesAnApplyFailure: an event that cannot be applied is
// reported, the last good state stays, and the follower carries on once it
// can apply again, without stopping.
func TestFollowerSurvivesAnApplyFailure(t *testing.T) {
	t.Parallel()
	ps := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16}, watermill.NopLogger{})
	defer ps.Close()
	log := &fakeLog{}
	log.append(t, 6)
	tgt := &failingTarget{failAt: 4}
	var reported failures
	done, cancel := runReporting(ps, log, tgt, 20*time.Millisecond, 1, &reported)
	defer cancel()
	waitFor(t, "a reported failure", func() bool { err, ok := reported.last(); return ok && err != nil })
	if pos, _ := tgt.Position(); pos != 3 {
		t.Fatalf("last good state at %d, want 3", pos)
	}
	select {
	case err := <-done:
		t.Fatalf("the follower stopped: %v", err)
	default:
	}
	tgt.healed.Store(true)
	waitFor(t, "recovery", func() bool {
		pos, _ := tgt.Position()
		err, _ := reported.last()
		return pos == 6 && err == nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
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
	f, log, tgt, stop := startFollower(t, sub, nil, 200*time.Millisecond)

	log.append(t, 3) // never published: the silent subscription misses them
	waitFor(t, "backfilled and subscribed again", func() bool { pos, _ := tgt.Position(); return pos == 3 && sub.count() == subs })
	// The subscription is handed over asynchronously: wait until it is in use.
	waitFor(t, "new subscription in use", func() bool { return testutil.ToFloat64(f.Metrics.Resubs) == 1 })
	sub.mu.Lock()
	first := sub.first
	sub.mu.Unlock()
	if first.Err() == nil {
		t.Fatal("the silent subscription was not ended")
	}
	// The new subscription delivers: event 4 comes over the bus, well
	// before the next idle backfill.
	publish(t, ps, log.append(t, 1))
	waitFor(t, "event 4 applied", func() bool { pos, _ := tgt.Position(); return pos == 4 })
	if n := testutil.ToFloat64(f.Metrics.BusEvents); n != 1 {
		t.Fatalf("%v events came over the bus, want event 4", n)
	}
	if n := testutil.ToFloat64(f.Metrics.Resubs); n != 1 {
		t.Fatalf("%v resubscriptions counted, want 1", n)
	}
	stop()
}

// TestFollowerResubscribesOnReconnect: a new connection to the broker makes
// the follower subscribe again at once (its idle period here is an hour),
// trying again while the broker has no stream yet, and read what the log
// got before the new subscription began.
func TestFollowerResubscribesOnReconnect(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		failSecond bool
		subs       int
	}{
		{"first try works", false, 2},
		{"a failed try is repeated", true, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16}, watermill.NopLogger{})
			defer ps.Close()
			sub := &countingSubscriber{Subscriber: ps, failSecond: tt.failSecond}
			reconnected := make(chan struct{}, 1)
			f, log, tgt, stop := startFollower(t, sub, reconnected, time.Hour)

			log.append(t, 2) // written while the broker was away: on no subscription
			reconnected <- struct{}{}
			waitFor(t, "subscribed again and read the log", func() bool {
				pos, _ := tgt.Position()
				return pos == 2 && sub.count() == tt.subs && testutil.ToFloat64(f.Metrics.Resubs) == 1
			})
			publish(t, ps, log.append(t, 1))
			waitFor(t, "event 3 applied from the bus", func() bool { return testutil.ToFloat64(f.Metrics.BusEvents) == 1 })
			stop()
		})
	}
}

// TestFollowerPollsTheLogWhileSubscribing: while a new subscription takes
// its time (a cluster replacing a node), the follower reads the writer's
// log often, not once an idle period (an hour here).
func TestFollowerPollsTheLogWhileSubscribing(t *testing.T) {
	t.Parallel()
	ps := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16}, watermill.NopLogger{})
	defer ps.Close()
	release := make(chan struct{})
	sub := &blockingSubscriber{Subscriber: ps, release: release}
	lost := make(chan struct{}, 1)
	_, log, tgt, stop := startFollower(t, sub, lost, time.Hour)
	lost <- struct{}{}
	sub.waitBlocked(t)
	log.append(t, 2)
	waitFor(t, "the log's 2 events applied while the subscription was being made", func() bool { pos, _ := tgt.Position(); return pos == 2 })
	close(release)
	stop()
}

// blockingSubscriber's second and later subscriptions wait for release.
type blockingSubscriber struct {
	message.Subscriber
	release chan struct{}
	mu      sync.Mutex
	n       int
	blocked chan struct{}
}

func (b *blockingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	b.mu.Lock()
	b.n++
	n := b.n
	if b.blocked == nil {
		b.blocked = make(chan struct{})
	}
	blocked := b.blocked
	b.mu.Unlock()
	if n > 1 {
		if n == 2 {
			close(blocked)
		}
		select {
		case <-b.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return b.Subscriber.Subscribe(ctx, topic)
}

func (b *blockingSubscriber) waitBlocked(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	if b.blocked == nil {
		b.blocked = make(chan struct{})
	}
	blocked := b.blocked
	b.mu.Unlock()
	select {
	case <-blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the follower did not subscribe again")
	}
}

// TestFollowerCatchUpPrefetch: catch-up fetches the next page while it
// applies one; every event is still applied once and in order (the target
// panics otherwise), from a projection at 0 or part of the way, and no page
// is fetched twice.
func TestFollowerCatchUpPrefetch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name            string
		events, applied int
		page            int
		wantCalls       int
	}{
		{"from zero, pages of 1", 5, 0, 1, 5},
		{"from zero, pages of 4", 30, 0, 4, 8},
		{"part of the way, pages of 7", 50, 9, 7, 6},
		{"one page", 3, 0, 10, 1},
		{"at the head", 6, 6, 4, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			log := &fakeLog{}
			log.append(t, c.events)
			tgt := &target{}
			if err := tgt.Apply(context.Background(), log.events[:c.applied]); err != nil {
				t.Fatal(err)
			}
			f := &Follower{Backfill: log, Target: tgt, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PageSize: c.page}
			if err := f.catchUp(context.Background()); err != nil {
				t.Fatal(err)
			}
			if pos, hash := tgt.Position(); pos != uint64(c.events) || hash != log.events[c.events-1].Hash {
				t.Fatalf("after catch-up at %d %.12s, want %d", pos, hash, c.events)
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			if log.calls != c.wantCalls {
				t.Errorf("%d backfill calls, want %d", log.calls, c.wantCalls)
			}
		})
	}
}

// refusingLog refuses every backfill while refuse is set, as a writer does
// a request over its page limit or with a revoked token.
type refusingLog struct {
	fakeLog
	refuse atomic.Bool
}

type refused struct{}

func (refused) Error() string { return "400 limit_invalid (field limit): limit must be 1 to 10000" }
func (refused) Refused() bool { return true }

func (l *refusingLog) Events(ctx context.Context, after uint64, limit int) ([]domain.Event, uint64, error) {
	if l.refuse.Load() {
		l.mu.Lock()
		l.calls++
		l.mu.Unlock()
		return nil, 0, refused{}
	}
	return l.fakeLog.Events(ctx, after, limit)
}

// TestFollowerReportsARefusedBackfill: a backfill the writer refuses is
// reported as a failure, not retried in place, so the follower goes on
// applying what the bus brings; it asks again when the bus is idle and
// reports recovery once the writer answers.
func TestFollowerReportsARefusedBackfill(t *testing.T) {
	t.Parallel()
	ps := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16}, watermill.NopLogger{})
	defer ps.Close()
	log := &refusingLog{}
	evs := log.append(t, 5)
	log.refuse.Store(true)
	tgt := &target{}
	var reported failures
	done, cancel := runReporting(ps, log, tgt, 50*time.Millisecond, 2, &reported)
	defer cancel()
	waitFor(t, "the refusal reported", func() bool {
		err, _ := reported.last()
		return err != nil && strings.Contains(err.Error(), "refused") && strings.Contains(err.Error(), "limit_invalid")
	})
	// The bus is read while the writer refuses.
	publish(t, ps, evs[:3])
	waitFor(t, "the bus's events applied", func() bool { pos, _ := tgt.Position(); return pos == 3 })
	log.mu.Lock()
	asked := log.calls
	log.mu.Unlock()
	if asked > 50 {
		t.Fatalf("a refused backfill was asked for %d times in a row", asked)
	}
	log.refuse.Store(false)
	waitFor(t, "recovery from the writer's log", func() bool {
		pos, _ := tgt.Position()
		err, ok := reported.last()
		return pos == 5 && ok && err == nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// abandonedSubscriber's first subscription is one whose message is still
// being delivered after the follower has given it up.
type abandonedSubscriber struct {
	message.Subscriber
	mu     sync.Mutex
	n      int
	first  chan *message.Message
	second chan struct{} // closed when the follower subscribes again
}

func (a *abandonedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	a.mu.Lock()
	a.n++
	n := a.n
	if n == 1 {
		a.first = make(chan *message.Message)
	}
	a.mu.Unlock()
	switch n {
	case 1:
		return a.first, nil
	case 2:
		close(a.second)
	}
	return a.Subscriber.Subscribe(ctx, topic)
}

// TestFollowerDrainsAnAbandonedSubscription: a message the old
// subscription is still delivering when the follower subscribes again is
// read and nacked, not left blocked. watermill-nats closes that channel
// once the subscription's context ends, and its sender then chose at
// random between the ended context and the send: a send on the closed
// channel panicked a reader.
func TestFollowerDrainsAnAbandonedSubscription(t *testing.T) {
	t.Parallel()
	ps := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16}, watermill.NopLogger{})
	defer ps.Close()
	sub := &abandonedSubscriber{Subscriber: ps, second: make(chan struct{})}
	lost := make(chan struct{}, 1)
	_, _, _, stop := startFollower(t, sub, lost, time.Hour)
	defer stop()
	lost <- struct{}{}
	select {
	case <-sub.second:
	case <-time.After(10 * time.Second):
		t.Fatal("the follower did not subscribe again")
	}
	msg := message.NewMessage("late", nil)
	select {
	case sub.first <- msg:
	case <-time.After(5 * time.Second):
		t.Fatal("a message the abandoned subscription was delivering was never read")
	}
	select {
	case <-msg.Nacked():
	case <-time.After(5 * time.Second):
		t.Fatal("the abandoned subscription's message was not nacked")
	}
}
