package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
)

// Projection is what a Follower keeps up to date.
type Projection interface {
	// Position returns the last applied sequence and its chain hash.
	Position() (seq uint64, hash string)
	// Apply applies events that follow Position without a gap, atomically
	// with the new position.
	Apply(ctx context.Context, events []domain.Event) error
	// Reset forgets everything applied, back to position 0: the writer's
	// log no longer continues the projection's chain.
	Reset(reason string) error
}

// Backfill reads the writer's log: the events after a sequence, and the head.
type Backfill interface {
	Events(ctx context.Context, after uint64, limit int) ([]domain.Event, uint64, error)
}

// refusal is a Backfill error that asking again does not change: the writer
// refused the request itself (client.Error's 4xx).
type refusal interface {
	error
	Refused() bool
}

// Follower feeds a projection from the bus, exactly once and in order: it
// drops what it has already applied, and fills any gap (a late start, a lost
// message, a crash) from the writer's log. Every event is checked against the
// hash chain before it is applied, and the projection only ever applies whole
// atomic change sets.
type Follower struct {
	Subscriber message.Subscriber
	Backfill   Backfill
	Target     Projection
	Log        *slog.Logger
	// Idle is how long the follower waits for a message before it asks the
	// writer whether it missed any.
	Idle time.Duration
	// Lost, if set, signals that the subscription may have lost its
	// consumer (Subscriber.Lost): the broker connection was made again, or
	// the consumer's heartbeats stopped. The follower subscribes again at
	// once instead of after an idle period.
	Lost <-chan struct{}
	// PageSize is the backfill page size, in events (0: 5,000). Once the
	// projection holds events, a request asks for one more: the
	// projection's last, to compare with the writer's.
	PageSize int
	// OnCaughtUp, if set, is called once the first catch-up is done.
	OnCaughtUp func()
	// OnFailure, if set, is told of every failure to apply the log (nil once
	// applying works again). The follower keeps its last good state and
	// retries when the bus is next idle, instead of stopping.
	OnFailure func(err error)
	// Metrics, if set, records consumption and the lag behind the writer.
	Metrics *metrics.Follower

	whole *wholeSets // Target, applied in whole change sets
}

// report tells OnFailure how the last attempt went.
func (f *Follower) report(err error) {
	if err != nil {
		f.Log.Error("applying the log failed; serving the last good state and retrying", "err", err)
	}
	if f.OnFailure != nil {
		f.OnFailure(err)
	}
}

// projection is Target, applied in whole change sets (see wholeSets).
func (f *Follower) projection() Projection {
	if f.whole == nil {
		f.whole = &wholeSets{Projection: f.Target}
	}
	return f.whole
}

// resubscribeRetry is the pause between tries of a new subscription.
const resubscribeRetry = 100 * time.Millisecond

// pollWithoutBus is how often a follower without a subscription reads the
// writer's log.
const pollWithoutBus = 200 * time.Millisecond

// ErrChainBroken means an event from the writer does not continue the chain
// the projection holds: the log or the projection was tampered with.
var ErrChainBroken = errors.New("hash chain broken")

// Run follows the stream until ctx ends.
func (f *Follower) Run(ctx context.Context) error {
	idle := f.Idle
	if idle <= 0 {
		idle = 2 * time.Second
	}
	if f.Metrics != nil {
		pos, _ := f.projection().Position()
		f.Metrics.SetPosition(pos)
	}
	var unsubscribe context.CancelFunc
	var msgs <-chan *message.Message
	defer func() {
		unsubscribe()
		if msgs != nil {
			go drain(msgs)
		}
	}()
	newSubscription := func() context.Context {
		if unsubscribe != nil {
			unsubscribe()
		}
		var subCtx context.Context
		subCtx, unsubscribe = context.WithCancel(ctx)
		return subCtx
	}
	// Subscribe before catching up, so nothing published meanwhile is missed.
	msgs, err := f.Subscriber.Subscribe(newSubscription(), Topic)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := f.catchUp(ctx); err != nil {
		if f.OnFailure == nil {
			return err
		}
		f.report(err)
	}
	if f.OnCaughtUp != nil && ctx.Err() == nil {
		f.OnCaughtUp()
	}
	// A new subscription is made in the background: while JetStream elects
	// a leader it can take seconds, and backfill keeps the projection
	// current meanwhile.
	type subscribed struct {
		msgs <-chan *message.Message
		err  error
	}
	resubscribed := make(chan subscribed, 1)
	resubscribing := false
	// resubscribe replaces the subscription in the background. A broker
	// that is back may not have the stream yet (the writer creates it once
	// its embedded broker is up), so a failed try is repeated for up to an
	// idle period.
	resubscribe := func() {
		if resubscribing || ctx.Err() != nil {
			return
		}
		if msgs != nil {
			go drain(msgs)
		}
		msgs, resubscribing = nil, true
		subCtx := newSubscription()
		go func() {
			deadline := time.Now().Add(idle)
			m, err := f.Subscriber.Subscribe(subCtx, Topic)
			for err != nil && time.Now().Before(deadline) {
				select {
				case <-subCtx.Done():
					resubscribed <- subscribed{nil, err}
					return
				case <-time.After(resubscribeRetry):
				}
				m, err = f.Subscriber.Subscribe(subCtx, Topic)
			}
			resubscribed <- subscribed{m, err}
		}()
	}
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-msgs:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("bus subscription closed")
			}
			err := f.handle(ctx, msg)
			msg.Ack()
			if err != nil && f.OnFailure == nil {
				return err
			}
			f.report(err)
		case r := <-resubscribed:
			resubscribing = false
			if r.err != nil {
				f.Log.Warn("subscribing again failed; following the writer's log until the next try", "err", r.err)
				break
			}
			msgs = r.msgs
			f.Metrics.Resubscribed()
			f.Log.Info("subscribed to the bus again")
			// What was published before the new subscription began is not
			// on it (deliver-new): read it from the writer's log.
			err := f.catchUp(ctx)
			if err != nil && f.OnFailure == nil {
				return err
			}
			f.report(err)
		case <-f.Lost:
			f.Log.Info("bus subscription may have lost its consumer; subscribing again")
			resubscribe()
		case <-timer.C:
			before, _ := f.projection().Position()
			err := f.catchUp(ctx)
			if err != nil && f.OnFailure == nil {
				return err
			}
			f.report(err)
			after, _ := f.projection().Position()
			if (after > before || msgs == nil) && !resubscribing && ctx.Err() == nil {
				// The writer had events the bus did not bring for a whole
				// idle period (or the last try failed): the subscription
				// may be dead, its consumer on a broker node that is gone.
				// Subscribe again; anything delivered twice is dropped by
				// sequence, anything missed is backfilled.
				f.Log.Warn("bus delivered nothing while the writer's log grew; subscribing again", "from", before, "to", after)
				resubscribe()
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if msgs == nil {
			// No subscription (one is being made, or the last try failed):
			// follow the writer's log closely until the bus is back. Making
			// a consumer can take seconds while a cluster replaces a node.
			timer.Reset(min(idle, pollWithoutBus))
		} else {
			timer.Reset(idle)
		}
	}
}

// drain reads an abandoned subscription's messages until its subscriber
// closes the channel, nacking each: the writer's log has them. Unread,
// a message still being delivered when the subscription ends would be
// sent on a channel watermill-nats closes: its processMessage chooses
// between the ended context and that send at random, and the send on a
// closed channel panicked a reader (bench, 2026-12-03).
func drain(msgs <-chan *message.Message) {
	for m := range msgs {
		m.Nack()
	}
}

func (f *Follower) handle(ctx context.Context, msg *message.Message) error {
	events, err := decodeBatch(msg.Payload)
	if err != nil {
		f.Log.Warn("dropping undecodable bus message", "err", err)
		return nil
	}
	pos, hash := f.projection().Position()
	fresh := events[:0]
	for _, e := range events {
		if e.Seq > pos {
			fresh = append(fresh, e)
		}
	}
	f.Metrics.Consumed(len(events), len(events)-len(fresh))
	if len(events) > 0 {
		f.Metrics.SawHead(events[len(events)-1].Seq)
	}
	if len(fresh) == 0 {
		return nil // a redelivery or a replay after a writer crash
	}
	if fresh[0].Seq != pos+1 {
		// A gap: fetch the missing events from the writer's log, which also
		// covers this message.
		return f.catchUp(ctx)
	}
	if err := verify(fresh, pos, hash); err != nil {
		// The bus is not the authority; the writer's log is.
		f.Log.Warn("bus message fails the hash chain; reading the writer's log instead", "err", err)
		return f.catchUp(ctx)
	}
	if err := f.projection().Apply(ctx, fresh); err != nil {
		return err
	}
	f.Metrics.AppliedEvents(len(fresh), fresh[len(fresh)-1].Seq, true)
	return nil
}

// backfillPage is one answer of Backfill.Events.
type backfillPage struct {
	events []domain.Event
	head   uint64
	err    error
}

// prefetch asks for a page in the background; the channel gets the answer.
func (f *Follower) prefetch(ctx context.Context, from uint64, limit int) <-chan backfillPage {
	ch := make(chan backfillPage, 1)
	go func() {
		events, head, err := f.Backfill.Events(ctx, from, limit)
		ch <- backfillPage{events, head, err}
	}()
	return ch
}

// catchUp applies the writer's log until the projection reaches its head,
// retrying while the writer is unreachable. While a page is checked and
// applied, the next one is already being fetched (the request the next
// round would make, from the page's own last event); it is used only if
// the projection then stands where that request assumed, and goes through
// every check a page fetched in the round itself goes through.
func (f *Follower) catchUp(ctx context.Context) error {
	page := f.PageSize
	if page <= 0 {
		page = 5000
	}
	backoff := 100 * time.Millisecond
	var (
		next     <-chan backfillPage // the page being prefetched, if any
		nextFrom uint64              // what it was asked from
	)
	for {
		pos, hash := f.projection().Position()
		// Ask from the projection's own last event, to compare it with the
		// writer's: a log restored from a backup, or a projection from
		// another log, must not be continued.
		from, limit := pos, page
		if pos > 0 {
			from, limit = pos-1, page+1
		}
		var (
			events []domain.Event
			head   uint64
			err    error
		)
		if next != nil && nextFrom == from && pos > 0 {
			r := <-next
			events, head, err = r.events, r.head, r.err
		} else {
			if next != nil {
				<-next // stale: the projection is not where it was asked from
			}
			events, head, err = f.Backfill.Events(ctx, from, limit)
		}
		next = nil
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Retrying a refused request would hold the follower here,
			// the bus unread, for good; it is reported instead, and asked
			// again when the bus is next idle.
			if r, ok := errors.AsType[refusal](err); ok && r.Refused() {
				return fmt.Errorf("backfill after %d refused: %w", pos, err)
			}
			f.Log.Warn("backfill failed; retrying", "after", pos, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		f.Metrics.SawHead(head)
		if pos > 0 {
			var reason string
			switch {
			case len(events) == 0 || head < pos:
				reason = fmt.Sprintf("the projection is at %d, the writer's log ends at %d", pos, head)
			case events[0].Seq != pos || events[0].Hash != hash:
				reason = fmt.Sprintf("event %d is %.12s in the projection, %.12s in the writer's log", pos, hash, events[0].Hash)
			}
			if reason != "" {
				if err := f.projection().Reset(reason); err != nil {
					return err
				}
				continue
			}
			events = events[1:]
		}
		if len(events) == 0 {
			return nil
		}
		if err := verify(events, pos, hash); err != nil {
			return fmt.Errorf("%w: %v", ErrChainBroken, err)
		}
		last := events[len(events)-1].Seq
		if last < head {
			next, nextFrom = f.prefetch(ctx, last-1, page+1), last-1
		}
		if err := f.projection().Apply(ctx, events); err != nil {
			if next != nil {
				<-next
			}
			return err
		}
		f.Metrics.AppliedEvents(len(events), last, false)
		if last >= head {
			return nil
		}
	}
}

// verify checks that events continue the chain at (pos, hash) without gaps.
func verify(events []domain.Event, pos uint64, hash string) error {
	for _, e := range events {
		if e.Seq != pos+1 {
			return fmt.Errorf("event %d follows %d", e.Seq, pos)
		}
		if err := e.Verify(hash); err != nil {
			return err
		}
		pos, hash = e.Seq, e.Hash
	}
	return nil
}

// decodeBatch decodes a bus message (a JSON array of stored events); each
// event keeps its own bytes (domain.Event.Stored).
func decodeBatch(payload []byte) ([]domain.Event, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(payload, &raws); err != nil {
		return nil, fmt.Errorf("decode bus message: %w", err)
	}
	events := make([]domain.Event, 0, len(raws))
	for _, raw := range raws {
		e, err := domain.DecodeEvent(raw)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}
