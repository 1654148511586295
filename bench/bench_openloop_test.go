package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchFakeClock is a clock that only moves when the scheduler sleeps.
type benchFakeClock struct {
	mu  sync.Mutex
	now time.Time
	// rings is closed once the clock reaches alarm (if set).
	alarm time.Time
	rings chan struct{}
}

func (c *benchFakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *benchFakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	if c.rings != nil && !c.now.Before(c.alarm) {
		close(c.rings)
		c.rings = nil
	}
	return ctx.Err()
}

// TestBenchOpenLoopStall runs the scheduler against a fake server that
// answers one call at a time and stalls on the first call it takes until every call
// has been sent. An open loop keeps sending through the stall, and the
// stall shows in the latency of every later call, counted from its
// scheduled send time; a closed loop would never send call 1 at all. A cap
// on the calls in flight changes nothing: calls wait for a slot in their
// own goroutines, and the wait counts.
func TestBenchOpenLoopStall(t *testing.T) {
	for _, c := range []struct {
		name  string
		rate  float64
		calls int
		stall bool
		fail  int // a call that fails, or -1
		cap   int
	}{
		{"stall, 1000/s", 1000, 50, true, -1, 0},
		{"stall, 4000/s", 4000, 200, true, -1, 0},
		{"stall, 4000/s, 3 in flight", 4000, 200, true, -1, 3},
		{"stall, 1 in flight", 1000, 30, true, -1, 1},
		{"no stall", 1000, 20, false, -1, 0},
		{"stall and a failure", 100, 10, true, 5, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			interval := time.Duration(float64(time.Second) / c.rate)
			start := time.Unix(1_700_000_000, 0)
			last := start.Add(time.Duration(c.calls-1) * interval)
			// The stall lasts until the last call is due.
			allSent := make(chan struct{})
			clock := &benchFakeClock{now: start, alarm: last, rings: allSent}
			var (
				server  sync.Mutex // one call at a time
				stalled bool       // the server stalls on the first call it takes
			)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a safety net against a hang, not an assertion
			defer cancel()
			errFail := errors.New("refused")
			send := func(ctx context.Context, i int) error {
				server.Lock()
				defer server.Unlock()
				if c.stall && !stalled {
					stalled = true
					select {
					case <-allSent:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				if i == c.fail {
					return errFail
				}
				return nil
			}
			r := benchOpenLoop{Rate: c.rate, Calls: c.calls, Clock: clock, MaxInFlight: c.cap, Send: send}.run(ctx)
			if ctx.Err() != nil {
				t.Fatalf("the scheduler waited on a stalled call: %v", ctx.Err())
			}
			wantFailed := 0
			if c.fail >= 0 {
				wantFailed = 1
			}
			if r.Failed != wantFailed || (wantFailed > 0) != errors.Is(r.FirstErr, errFail) {
				t.Errorf("failed %d (%v), want %d", r.Failed, r.FirstErr, wantFailed)
			}
			if len(r.Lat) != c.calls || len(r.ok()) != c.calls-wantFailed {
				t.Fatalf("%d latencies, %d ok, want %d, %d", len(r.Lat), len(r.ok()), c.calls, c.calls-wantFailed)
			}
			for i, d := range r.Lat {
				sched := start.Add(time.Duration(i) * interval)
				switch {
				case i == c.fail:
					if d != -1 {
						t.Errorf("call %d failed but has latency %v", i, d)
					}
				case c.stall:
					// Every call completes after the stall, which lasts
					// until the last send: the clock then reads last.
					if want := last.Sub(sched); d != want {
						t.Errorf("call %d: latency %v, want %v (from its scheduled send to the end of the stall)", i, d, want)
					}
				case d < 0 || d > last.Sub(sched):
					t.Errorf("call %d: latency %v outside [0, %v]", i, d, last.Sub(sched))
				}
			}
			if c.stall {
				s := benchSummarise(r.ok())
				if s.Max != last.Sub(start) {
					t.Errorf("max latency %v, want the whole stall %v", s.Max, last.Sub(start))
				}
			}
		})
	}
}

// benchCancelClock is a fake clock that cancels the run when asked to
// sleep until a given time.
type benchCancelClock struct {
	benchFakeClock
	at     time.Time
	cancel context.CancelFunc
}

func (c *benchCancelClock) SleepUntil(ctx context.Context, t time.Time) error {
	if !t.Before(c.at) {
		c.cancel()
	}
	return c.benchFakeClock.SleepUntil(ctx, t)
}

// TestBenchOpenLoopCancel checks that a cancelled run stops sending and
// counts the unsent calls as failed.
func TestBenchOpenLoopCancel(t *testing.T) {
	for _, c := range []struct {
		name     string
		cancelAt int
		calls    int
	}{
		{"cancel before call 0", 0, 10},
		{"cancel before call 7", 7, 10},
		{"never cancelled", 20, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := time.Unix(0, 0)
			clock := &benchCancelClock{benchFakeClock: benchFakeClock{now: start}, at: start.Add(time.Duration(c.cancelAt) * 100 * time.Millisecond), cancel: cancel}
			var sent atomic.Int64
			r := benchOpenLoop{Rate: 10, Calls: c.calls, Clock: clock, Send: func(context.Context, int) error {
				sent.Add(1)
				return nil
			}}.run(ctx)
			// Calls dispatched before the cancel may still be dropped (their
			// goroutine sees the cancel first); none after it is sent.
			due, sentN := min(c.cancelAt, c.calls), int(sent.Load())
			if sentN > due {
				t.Errorf("sent %d calls, want at most %d", sentN, due)
			}
			if r.Failed != c.calls-sentN || (r.Failed > 0) != errors.Is(r.FirstErr, context.Canceled) {
				t.Errorf("failed %d (%v), want %d cancelled", r.Failed, r.FirstErr, c.calls-sentN)
			}
			if c.cancelAt >= c.calls && sentN != c.calls {
				t.Errorf("never cancelled, but sent %d of %d", sentN, c.calls)
			}
		})
	}
}
