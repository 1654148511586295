package bus

import (
	"context"
	"slices"
	"sync"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// wholeSets wraps a projection so that it only ever applies whole change
// sets: a bus message or a backfill page may end inside an atomic change
// set (domain.ChangeSet), and a projection that applied that part would
// serve half of it at its head. The events of a set that has not fully
// arrived wait in memory; Position counts them, so the follower goes on
// after them, and they are applied with the rest of their set. A crash
// loses only them: the projection's own position is a set's edge, and the
// follower fetches them again from there.
type wholeSets struct {
	Projection
	mu      sync.Mutex
	pending []domain.Event // the start of a change set, after the projection's position
}

// Position is the last event received: the projection's, or the last
// pending one.
func (w *wholeSets) Position() (uint64, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.pending); n > 0 {
		return w.pending[n-1].Seq, w.pending[n-1].Hash
	}
	return w.Projection.Position()
}

// Apply applies the pending events and events up to the last whole change
// set, and keeps the rest pending. On an error nothing is kept: the
// follower retries from Position as it was.
func (w *wholeSets) Apply(ctx context.Context, events []domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	all := append(slices.Clip(w.pending), events...)
	cut := len(all)
	if last := all[len(all)-1]; last.ChangeSet.Last > last.Seq && last.ChangeSet.First >= all[0].Seq {
		cut = int(last.ChangeSet.First - all[0].Seq) // the set that goes on waits
	}
	if cut > 0 {
		if err := w.Projection.Apply(ctx, all[:cut]); err != nil {
			return err
		}
	}
	w.pending = slices.Clone(all[cut:])
	return nil
}

// Reset drops what is pending with the projection.
func (w *wholeSets) Reset(reason string) error {
	w.mu.Lock()
	w.pending = nil
	w.mu.Unlock()
	return w.Projection.Reset(reason)
}
