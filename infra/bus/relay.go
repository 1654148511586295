package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/lighthouse-ai/lighthouse/infra/metrics"
)

// Outbox is the writer's log as the relay reads it: the events, and a cursor
// of what has been handed to the bus.
type Outbox interface {
	Head() (uint64, string)
	Appended() <-chan struct{}
	ReadRaw(after uint64, limit int) ([]json.RawMessage, error)
	Published() (uint64, error)
	SetPublished(seq uint64) error
}

// Relay publishes every durable event, in order, from the outbox cursor on.
// Because the cursor lives beside the log, events appended just before a
// crash are published on the next start.
type Relay struct {
	Outbox    Outbox
	Publisher message.Publisher
	Log       *slog.Logger
	// MaxBatch bounds the events per message.
	MaxBatch int
	// Metrics, if set, records publishes and the outbox lag.
	Metrics *metrics.Relay
}

// maxMessageBytes keeps a message well under the broker's payload limit.
const maxMessageBytes = 1 << 20

// Run publishes until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	cursor, err := r.Outbox.Published()
	if err != nil {
		return err
	}
	batch := r.MaxBatch
	if batch <= 0 {
		batch = 512
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	backoff := 50 * time.Millisecond
	for {
		head, _ := r.Outbox.Head()
		r.Metrics.SetLag(head, cursor)
		if cursor >= head {
			select {
			case <-ctx.Done():
				return nil
			case <-r.Outbox.Appended():
			case <-tick.C:
			}
			continue
		}
		events, err := r.Outbox.ReadRaw(cursor, batch)
		if err != nil {
			return fmt.Errorf("relay read: %w", err)
		}
		events = capBytes(events)
		last := cursor + uint64(len(events))
		msg := message.NewMessage(watermill.NewUUID(), encodeBatch(events))
		msg.Metadata.Set("first_seq", strconv.FormatUint(cursor+1, 10))
		msg.Metadata.Set("last_seq", strconv.FormatUint(last, 10))
		start := time.Now()
		if err := r.Publisher.Publish(Topic, msg); err != nil {
			r.Metrics.Failed()
			r.Log.Warn("publish failed; retrying", "first_seq", cursor+1, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		r.Metrics.Published(len(events), time.Since(start))
		backoff = 50 * time.Millisecond
		cursor = last
		if err := r.Outbox.SetPublished(cursor); err != nil {
			return err
		}
	}
}

// capBytes keeps the longest prefix of events that fits one message (at least one).
func capBytes(events []json.RawMessage) []json.RawMessage {
	n := 0
	for i, e := range events {
		n += len(e) + 1
		if n > maxMessageBytes && i > 0 {
			return events[:i]
		}
	}
	return events
}
