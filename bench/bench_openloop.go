package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The open-loop scenarios (issue 15): calls are sent at a fixed arrival
// rate, as real agents make them, and each call's latency is counted from
// the time it was scheduled to be sent, not from when it was sent. A slow
// answer never delays the next send (every call runs on its own
// goroutine), so a stall shows in the latency of every call scheduled
// during it: no coordinated omission. The closed-loop runs elsewhere in the
// bench are the saturation runs; their figure is throughput.

// benchOpenLoopClock is the time source of the scheduler, replaced by a
// fake in tests.
type benchOpenLoopClock interface {
	Now() time.Time
	// SleepUntil returns once Now() is at or after t (or ctx ends).
	SleepUntil(ctx context.Context, t time.Time) error
}

// benchWallClock is the real clock.
type benchWallClock struct{}

func (benchWallClock) Now() time.Time { return time.Now() }

func (benchWallClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// benchOpenLoop schedules Calls calls, one every 1/Rate seconds from the
// start, and runs each on its own goroutine.
type benchOpenLoop struct {
	Rate  float64 // calls per second
	Calls int
	Clock benchOpenLoopClock
	// MaxInFlight caps the calls in flight (0: no cap), to spare sockets
	// under overload. A call waiting for a slot waits in its own
	// goroutine, never in the dispatcher, and the wait counts in its
	// latency.
	MaxInFlight int
	// Send makes call i; it is called concurrently.
	Send func(ctx context.Context, i int) error
}

// benchOpenLoopResult is what one open-loop run measured.
type benchOpenLoopResult struct {
	// Lat[i] is call i's latency from its scheduled send time; -1 when it
	// failed.
	Lat       []time.Duration
	Failed    int
	FirstErr  error
	Start     time.Time
	Elapsed   time.Duration // first scheduled send → last answer
	MaxBehind time.Duration // how late the dispatcher issued a call, at worst
}

// run sends the calls and waits for every answer.
func (o benchOpenLoop) run(ctx context.Context) benchOpenLoopResult {
	clock := o.Clock
	if clock == nil {
		clock = benchWallClock{}
	}
	res := benchOpenLoopResult{Lat: make([]time.Duration, o.Calls)}
	var (
		wg       sync.WaitGroup
		failed   atomic.Int64
		firstErr atomic.Value
	)
	var slots chan struct{}
	if o.MaxInFlight > 0 {
		slots = make(chan struct{}, o.MaxInFlight)
	}
	res.Start = clock.Now()
	for i := range o.Calls {
		at := o.at(res.Start, i)
		if err := clock.SleepUntil(ctx, at); err != nil {
			for j := i; j < o.Calls; j++ {
				res.Lat[j] = -1
			}
			failed.Add(int64(o.Calls - i))
			firstErr.CompareAndSwap(nil, fmt.Errorf("open loop: stopped before call %d: %w", i, err))
			break
		}
		if behind := clock.Now().Sub(at); behind > res.MaxBehind {
			res.MaxBehind = behind
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := ctx.Err()
			if slots != nil && err == nil {
				select {
				case slots <- struct{}{}:
					defer func() { <-slots }()
				case <-ctx.Done():
					err = ctx.Err()
				}
			}
			if err == nil {
				err = o.Send(ctx, i)
			}
			if err != nil {
				res.Lat[i] = -1
				failed.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Errorf("open loop: call %d: %w", i, err))
				return
			}
			res.Lat[i] = clock.Now().Sub(at)
		}()
	}
	wg.Wait()
	res.Elapsed = clock.Now().Sub(res.Start)
	res.Failed = int(failed.Load())
	if e, ok := firstErr.Load().(error); ok {
		res.FirstErr = e
	}
	return res
}

// at is when call i is scheduled, for a run that started at start.
func (o benchOpenLoop) at(start time.Time, i int) time.Time {
	return start.Add(time.Duration(i) * time.Duration(float64(time.Second)/o.Rate))
}

// ok is the latencies of the calls that succeeded.
func (r benchOpenLoopResult) ok() []time.Duration {
	out := make([]time.Duration, 0, len(r.Lat))
	for _, d := range r.Lat {
		if d >= 0 {
			out = append(out, d)
		}
	}
	return out
}

// benchScOpen names an open-loop scenario.
func benchScOpen(what string, rate int) string {
	return fmt.Sprintf("open loop: %s at %d calls/s", what, rate)
}

// benchOpenHealthz, benchOpenValidate and benchOpenPut are what the
// open-loop scenarios call.
const (
	benchOpenHealthz  = "GET /healthz (baseline)"
	benchOpenValidate = "POST /v1/validate"
	benchOpenPut      = "PUT /v1/files"
)

// benchOpenMaxInFlight caps the open-loop HTTP calls in flight: an
// overloaded server would otherwise make the load generator open sockets
// until it runs out of file descriptors. Calls over the cap queue in the
// generator, and their wait counts in their latency.
const benchOpenMaxInFlight = 1024

// benchOpenLoopHTTP is a client for open-loop load: enough idle connections
// kept that a burst of concurrent calls does not open new ones each time.
func benchOpenLoopHTTP() (*http.Client, *http.Transport) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2048
	tr.MaxIdleConnsPerHost = 2048
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, tr
}

// benchOpen runs the open-loop scenarios: for each rate, GET /healthz (the
// baseline, same run), then POST /v1/validate from OpenLoopAgents agents
// with their own tokens; then PUT /v1/files at the append rate.
func (b *benchRun) benchOpen(ctx context.Context) error {
	agents, err := b.gateAgents(ctx, b.p.OpenLoopAgents)
	if err != nil {
		return err
	}
	cl, tr := benchOpenLoopHTTP()
	defer tr.CloseIdleConnections()
	healthz := func(ctx context.Context, _ int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.sys.WriterURL+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /healthz: %d", resp.StatusCode)
		}
		return nil
	}
	// Call i is agent i mod n's (i div n)-th call: one in four is a new
	// command (a decision-cache miss), as in the saturation runs.
	hits := make([][]byte, len(benchHitCommands))
	for k, cmd := range benchHitCommands {
		hits[k] = benchBashInput(cmd)
	}
	validate := func(round int) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			g, seq := i%len(agents), i/len(agents)+1
			in := hits[seq%len(hits)]
			if seq%4 == 0 {
				in = benchBashInput(benchMissCommand(g, round*1_000_000+seq))
			}
			session := fmt.Sprintf("5b1c2d7e-0a3f-4c55-9e1d-%012d", g)
			_, err := b.validate(ctx, cl, agents[g].Token, benchValidateBody(session, in, "toolu_open_"+strconv.Itoa(g)+"_"+strconv.Itoa(seq)))
			return err
		}
	}
	put := func(round int) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			name := fmt.Sprintf("bench/open/r%d/f%d", round, i)
			_, err := b.call(ctx, cl, http.MethodPut, b.sys.WriterURL+"/v1/files/"+name, benchContent(b.p.FileBytes, name+" "), nil)
			return err
		}
	}
	healthP := map[int]benchLatencies{}
	round := 0
	measure := func(what string, rate int, send func(int) func(context.Context, int) error) error {
		if err := b.settle(ctx, 3*time.Minute); err != nil {
			return err
		}
		round++
		calls := int(b.p.OpenLoop.Seconds() * float64(rate))
		b.progress("open loop: %s at %d calls/s for %s (%d calls)", what, rate, b.p.OpenLoop, calls)
		// Untimed warm-up at the same rate: opens the connections.
		warm := benchOpenLoop{Rate: float64(rate), Calls: rate / 4, MaxInFlight: benchOpenMaxInFlight, Send: send(round)}.run(ctx)
		if warm.Failed == len(warm.Lat) {
			return fmt.Errorf("%s warm-up: every call failed: %w", what, warm.FirstErr)
		}
		round++
		r := benchOpenLoop{Rate: float64(rate), Calls: calls, MaxInFlight: benchOpenMaxInFlight, Send: send(round)}.run(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		s := benchSummarise(r.ok())
		if s.N == 0 {
			return fmt.Errorf("%s at %d/s: no call succeeded: %w", what, rate, r.FirstErr)
		}
		sc := benchScOpen(what, rate)
		b.rep.add(sc, "p50", ms(s.P50), "ms")
		b.rep.add(sc, "p99", ms(s.P99), "ms")
		b.rep.add(sc, "p99.9", ms(s.P999), "ms")
		b.rep.add(sc, "max", ms(s.Max), "ms")
		b.rep.add(sc, "calls answered", float64(s.N), "requests")
		b.rep.add(sc, "failed calls", float64(r.Failed), "errors")
		b.rep.add(sc, "answered/s", perSecond(s.N, r.Elapsed), "ops/s")
		b.rep.add(sc, "dispatcher late by, at worst", ms(r.MaxBehind), "ms")
		if what == benchOpenHealthz {
			healthP[rate] = s
		} else if h, ok := healthP[rate]; ok {
			b.rep.addRatio(sc, "p50 ÷ GET /healthz p50 (same rate)", us(s.P50), us(h.P50))
			b.rep.addRatio(sc, "p99 ÷ GET /healthz p99 (same rate)", us(s.P99), us(h.P99))
			b.rep.addRatio(sc, "p99.9 ÷ GET /healthz p99.9 (same rate)", us(s.P999), us(h.P999))
		}
		if r.Failed > 0 {
			b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("%s: %d calls failed, first: %v", sc, r.Failed, r.FirstErr))
		}
		return nil
	}
	for _, rate := range b.p.OpenLoopRates {
		if err := measure(benchOpenHealthz, rate, func(int) func(context.Context, int) error { return healthz }); err != nil {
			return err
		}
		if err := measure(benchOpenValidate, rate, validate); err != nil {
			return err
		}
	}
	return measure(benchOpenPut, b.p.OpenLoopPutRate, put)
}
