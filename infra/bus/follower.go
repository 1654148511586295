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

// Follower feeds a projection from the bus, exactly once and in order: it
// drops what it has already applied, and fills any gap (a late start, a lost
// message, a crash) from the writer's log. Every event is checked against the
// hash chain before it is applied.
type Follower struct {
	Subscriber message.Subscriber
	Backfill   Backfill
	Target     Projection
	Log        *slog.Logger
	// Idle is how long the follower waits for a message before it asks the
	// writer whether it missed any.
	Idle time.Duration
	// PageSize is the backfill page size.
	PageSize int
	// OnCaughtUp, if set, is called once the first catch-up is done.
	OnCaughtUp func()
	// OnFailure, if set, is told of every failure to apply the log (nil once
	// applying works again). The follower keeps its last good state and
	// retries when the bus is next idle, instead of stopping.
	OnFailure func(err error)
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

// ErrChainBroken means an event from the writer does not continue the chain
// the projection holds: the log or the projection was tampered with.
var ErrChainBroken = errors.New("hash chain broken")

// Run follows the stream until ctx ends.
func (f *Follower) Run(ctx context.Context) error {
	idle := f.Idle
	if idle <= 0 {
		idle = 2 * time.Second
	}
	// Subscribe before catching up, so nothing published meanwhile is missed.
	msgs, err := f.Subscriber.Subscribe(ctx, Topic)
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
		case <-timer.C:
			err := f.catchUp(ctx)
			if err != nil && f.OnFailure == nil {
				return err
			}
			f.report(err)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(idle)
	}
}

func (f *Follower) handle(ctx context.Context, msg *message.Message) error {
	var events []domain.Event
	if err := json.Unmarshal(msg.Payload, &events); err != nil {
		f.Log.Warn("dropping undecodable bus message", "err", err)
		return nil
	}
	pos, hash := f.Target.Position()
	fresh := events[:0]
	for _, e := range events {
		if e.Seq > pos {
			fresh = append(fresh, e)
		}
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
	return f.Target.Apply(ctx, fresh)
}

// catchUp applies the writer's log until the projection reaches its head,
// retrying while the writer is unreachable.
func (f *Follower) catchUp(ctx context.Context) error {
	page := f.PageSize
	if page <= 0 {
		page = 5000
	}
	backoff := 100 * time.Millisecond
	for {
		pos, hash := f.Target.Position()
		// Ask from the projection's own last event, to compare it with the
		// writer's: a log restored from a backup, or a projection from
		// another log, must not be continued.
		from, limit := pos, page
		if pos > 0 {
			from, limit = pos-1, page+1
		}
		events, head, err := f.Backfill.Events(ctx, from, limit)
		if err != nil {
			if ctx.Err() != nil {
				return nil
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
		if pos > 0 {
			var reason string
			switch {
			case len(events) == 0 || head < pos:
				reason = fmt.Sprintf("the projection is at %d, the writer's log ends at %d", pos, head)
			case events[0].Seq != pos || events[0].Hash != hash:
				reason = fmt.Sprintf("event %d is %.12s in the projection, %.12s in the writer's log", pos, hash, events[0].Hash)
			}
			if reason != "" {
				if err := f.Target.Reset(reason); err != nil {
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
		if err := f.Target.Apply(ctx, events); err != nil {
			return err
		}
		if events[len(events)-1].Seq >= head {
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
