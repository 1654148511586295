package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// The message scenario (issue 14): message delivery latency, open loop.
// One agent sends POST /v1/messages to the writer at a fixed rate, each
// message to one of Recipients agents in turn; every recipient long-polls
// its unread inbox on the reader (GET /v1/inbox?unread=true&wait=30s) and
// marks what it got as read (POST /v1/messages/{id}/read), as an agent
// reading its inbox would. A message's delivery latency runs from its
// scheduled send time to the answer of the recipient's poll that first
// carried it. GET /healthz at the same rate, in the same run, is the
// baseline.

// benchMsgParams size the message scenario.
type benchMsgParams struct {
	Rates      []int         // messages per second, one run each
	Run        time.Duration // length of each run
	Recipients int           // agents the messages go to, in turn
	Deadline   time.Duration // a message not in its inbox this long after the last send is lost
}

func benchMsgParamsFor(quick bool) benchMsgParams {
	p := benchMsgParams{Rates: []int{50, 200}, Run: 10 * time.Second, Recipients: 20, Deadline: 30 * time.Second}
	if quick {
		p.Rates, p.Run, p.Recipients = []int{50}, 1500*time.Millisecond, 4
	}
	return p
}

// benchScMsg names the message scenario at a rate.
func benchScMsg(rate int) string {
	return fmt.Sprintf("messages: POST /v1/messages → in the recipient's inbox (reader long-poll), open loop at %d messages/s", rate)
}

// benchMsgSubject is the subject of message i of round r; the recipient
// finds the message's scheduled send time from it.
func benchMsgSubject(round, i int) string { return fmt.Sprintf("bench r%d #%d", round, i) }

// benchParseMsgSubject reads benchMsgSubject back; ok is false for any
// other subject.
func benchParseMsgSubject(s string) (round, i int, ok bool) {
	rest, ok := strings.CutPrefix(s, "bench r")
	if !ok {
		return 0, 0, false
	}
	rs, is, ok := strings.Cut(rest, " #")
	if !ok {
		return 0, 0, false
	}
	round, err1 := strconv.Atoi(rs)
	i, err2 := strconv.Atoi(is)
	if err1 != nil || err2 != nil || round < 0 || i < 0 {
		return 0, 0, false
	}
	return round, i, true
}

// benchDeliveries records when each message of one round first reached its
// recipient. It is safe for concurrent use.
type benchDeliveries struct {
	mu    sync.Mutex
	round int
	seen  []time.Time // by message index; zero until delivered
	n     int         // messages delivered
}

func newBenchDeliveries(round, messages int) *benchDeliveries {
	return &benchDeliveries{round: round, seen: make([]time.Time, messages)}
}

// saw records that a message with this subject was in an inbox at at. It
// reports whether that was the message's first delivery; messages of other
// rounds and repeats are ignored.
func (d *benchDeliveries) saw(subject string, at time.Time) bool {
	round, i, ok := benchParseMsgSubject(subject)
	if !ok || round != d.round {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if i >= len(d.seen) || !d.seen[i].IsZero() {
		return false
	}
	d.seen[i] = at
	d.n++
	return true
}

// delivered is how many messages have reached their recipient.
func (d *benchDeliveries) delivered() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// latencies is each delivered message's latency from its scheduled send
// time (sched(i)), and how many were never delivered.
func (d *benchDeliveries) latencies(sched func(i int) time.Time) (lat []time.Duration, missing int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, at := range d.seen {
		if at.IsZero() {
			missing++
			continue
		}
		lat = append(lat, at.Sub(sched(i)))
	}
	return lat, missing
}

// benchMessages runs the message scenario at each rate.
func (b *benchRun) benchMessages(ctx context.Context) error {
	p := benchMsgParamsFor(b.opts.Quick)
	agents, err := b.gateAgents(ctx, p.Recipients+1)
	if err != nil {
		return err
	}
	sender, recipients := agents[0], agents[1:]
	hc, tr := benchOpenLoopHTTP()
	defer tr.CloseIdleConnections()
	as := func(base, token string) *client.Client {
		c := client.New(base, token)
		c.HTTP = hc
		return c
	}
	health, send := as(b.sys.WriterURL, ""), as(b.sys.WriterURL, sender.Token)
	for round, rate := range p.Rates {
		sc := benchScMsg(rate)
		calls := max(int(p.Run.Seconds()*float64(rate)), 1)
		if err := b.settle(ctx, 3*time.Minute); err != nil {
			return err
		}
		b.progress("messages: GET /healthz (baseline), then %d messages at %d/s to %d recipients long-polling the reader", calls, rate, len(recipients))
		hz := benchOpenLoop{Rate: float64(rate), Calls: calls, MaxInFlight: benchOpenMaxInFlight, Send: func(ctx context.Context, _ int) error {
			_, err := health.Do(ctx, http.MethodGet, "/healthz", nil, nil, nil)
			return err
		}}.run(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		h := benchSummarise(hz.ok())

		d := newBenchDeliveries(round, calls)
		rctx, stopReceivers := context.WithCancel(ctx)
		var (
			receivers, marks sync.WaitGroup
			count            benchMsgCounts
		)
		for _, r := range recipients {
			receivers.Add(1)
			go func() {
				defer receivers.Done()
				benchMsgReceive(rctx, ctx, as(b.sys.ReaderURL, r.Token), as(b.sys.WriterURL, r.Token), d, &marks, &count)
			}()
		}
		loop := benchOpenLoop{Rate: float64(rate), Calls: calls, MaxInFlight: benchOpenMaxInFlight}
		loop.Send = func(ctx context.Context, i int) error {
			to := recipients[i%len(recipients)].Name
			return send.PostJSON(ctx, "/v1/messages", map[string]any{"to": []string{to}, "subject": benchMsgSubject(round, i),
				"body": fmt.Sprintf("bench message %d of round %d, to %s", i, round, to)}, nil)
		}
		sent := loop.run(ctx)
		deadline := time.Now().Add(p.Deadline)
		for d.delivered() < calls-sent.Failed && time.Now().Before(deadline) {
			if err := benchSleep(ctx, 5*time.Millisecond); err != nil {
				stopReceivers()
				return err
			}
		}
		stopReceivers()
		receivers.Wait()
		marks.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}

		lat, missing := d.latencies(func(i int) time.Time { return loop.at(sent.Start, i) })
		dl, s := benchSummarise(lat), benchSummarise(sent.ok())
		if dl.N == 0 {
			return fmt.Errorf("%d messages/s: none delivered (send: %v; poll: %v)", rate, sent.FirstErr, count.first.Load())
		}
		b.rep.add(sc, "delivery p50", ms(dl.P50), "ms")
		b.rep.add(sc, "delivery p99", ms(dl.P99), "ms")
		b.rep.add(sc, "delivery p99.9", ms(dl.P999), "ms")
		b.rep.add(sc, "delivery max", ms(dl.Max), "ms")
		b.rep.add(sc, "messages sent", float64(s.N), "messages")
		b.rep.add(sc, "messages delivered", float64(dl.N), "messages")
		b.rep.add(sc, "failed sends", float64(sent.Failed), "errors")
		b.rep.add(sc, fmt.Sprintf("sent but not in the inbox %s after the last send", p.Deadline), float64(missing-sent.Failed), "messages")
		b.rep.add(sc, "recipients (long-polling, each marking what it gets read)", float64(len(recipients)), "agents")
		b.rep.add(sc, "send (POST /v1/messages answered) p50", ms(s.P50), "ms")
		b.rep.add(sc, "send (POST /v1/messages answered) p99", ms(s.P99), "ms")
		b.rep.add(sc, "GET /healthz p50 (baseline, same rate)", ms(h.P50), "ms")
		b.rep.add(sc, "GET /healthz p99 (baseline, same rate)", ms(h.P99), "ms")
		b.rep.addRatio(sc, "delivery p50 ÷ GET /healthz p50", us(dl.P50), us(h.P50))
		b.rep.addRatio(sc, "delivery p99 ÷ GET /healthz p99", us(dl.P99), us(h.P99))
		b.rep.add(sc, "dispatcher late by, at worst", ms(sent.MaxBehind), "ms")
		b.rep.add(sc, "read marks answered 404 at first (writer behind its reader)", float64(count.markRaced.Load()), "marks")
		if sent.Failed > 0 || missing > sent.Failed || count.pollErrs.Load() > 0 || count.markErrs.Load() > 0 {
			b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("%s: %d sends failed (first: %v), %d not delivered, %d inbox polls and %d read marks failed (first: %v)",
				sc, sent.Failed, sent.FirstErr, missing-sent.Failed, count.pollErrs.Load(), count.markErrs.Load(), count.first.Load()))
		}
	}
	return nil
}

// benchMsgCounts counts what went wrong for the recipients.
type benchMsgCounts struct {
	pollErrs, markErrs atomic.Int64
	// markRaced counts read marks the writer first answered 404, which
	// would mean a recipient saw a message on the reader before the
	// writer's own view had it (the event store applies its views before
	// it publishes, so this should stay 0). Such a mark is tried again.
	markRaced atomic.Int64
	first     atomic.Value // the first error
}

func (c *benchMsgCounts) fail(n *atomic.Int64, err error) {
	n.Add(1)
	c.first.CompareAndSwap(nil, err)
}

// benchMsgReceive is one recipient until rctx ends: it long-polls its unread
// inbox on the reader, records each message's first delivery in d, and
// marks every message it gets read on the writer (in the background, under
// ctx, counted in marks). An answer with nothing new (the messages in it
// wait for their read marks to reach the reader) is followed by a read
// with min_seq, which waits for the reader's next event instead of asking
// again at once.
func benchMsgReceive(rctx, ctx context.Context, reader, writer *client.Client, d *benchDeliveries, marks *sync.WaitGroup, count *benchMsgCounts) {
	marked := map[string]bool{}
	var after uint64 // min_seq of the next read, or 0 to long-poll
	for rctx.Err() == nil {
		path := "/v1/inbox?unread=true&wait=30s"
		if after > 0 {
			path = fmt.Sprintf("/v1/inbox?unread=true&min_seq=%d&wait=30s", after)
		}
		var ans struct {
			Messages []projections.MessageView `json:"messages"`
		}
		hdr, err := reader.Do(rctx, http.MethodGet, path, nil, nil, &ans)
		now := time.Now()
		if err != nil {
			var ce *client.Error
			switch {
			case rctx.Err() != nil:
				return
			case errors.As(err, &ce) && ce.Code == "not_caught_up":
				// Nothing happened for 30 s: ask again.
			default:
				count.fail(&count.pollErrs, fmt.Errorf("GET %s: %w", path, err))
				_ = benchSleep(rctx, 10*time.Millisecond)
			}
			continue
		}
		fresh := 0
		for _, m := range ans.Messages {
			if d.saw(m.Subject, now) {
				fresh++
			}
			if marked[m.MessageID] {
				continue
			}
			marked[m.MessageID] = true
			marks.Add(1)
			go func() {
				defer marks.Done()
				for try := 0; ; try++ {
					_, err := writer.Do(ctx, http.MethodPost, "/v1/messages/"+url.PathEscape(m.MessageID)+"/read", nil, nil, nil)
					var ce *client.Error
					if errors.As(err, &ce) && ce.Status == http.StatusNotFound && try < 100 {
						if try == 0 {
							count.markRaced.Add(1)
						}
						if benchSleep(ctx, 5*time.Millisecond) == nil {
							continue
						}
					}
					if err != nil && ctx.Err() == nil {
						count.fail(&count.markErrs, fmt.Errorf("mark %s read: %w", m.MessageID, err))
					}
					return
				}
			}()
		}
		after = 0
		if fresh == 0 && len(ans.Messages) > 0 {
			head, _ := strconv.ParseUint(hdr.Get("X-Lighthouse-Seq"), 10, 64)
			after = head + 1
		}
	}
}
