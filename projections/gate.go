package projections

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/aggregates"
	"github.com/lighthouse-ai/lighthouse/domain"
)

// ReviewView is a review as people and waiting agents see it.
type ReviewView = aggregates.Review

// Reviews is the in-memory view of reviews, with waiting for decisions. It
// is safe for concurrent use.
type Reviews struct {
	mu      sync.Mutex
	byID    map[string]*ReviewView
	changed map[string]chan struct{} // closed on the review's next change
}

// NewReviews returns an empty view.
func NewReviews() *Reviews {
	return &Reviews{byID: map[string]*ReviewView{}, changed: map[string]chan struct{}{}}
}

// reset forgets every review, for a projection rebuilt from the log.
func (r *Reviews) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.byID)
}

// Apply learns from review events; others are ignored.
func (r *Reviews) Apply(e domain.Event) error {
	id, ok := strings.CutPrefix(e.StreamID, "review:")
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.byID[id]
	if !ok {
		if e.Type != domain.TypeReviewRequested {
			return nil
		}
		v = &ReviewView{}
		r.byID[id] = v
	}
	if err := v.Apply(e); err != nil {
		return err
	}
	if ch, ok := r.changed[id]; ok {
		close(ch)
		delete(r.changed, id)
	}
	return nil
}

// Get returns one review.
func (r *Reviews) Get(id string) (ReviewView, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.byID[id]
	if !ok {
		return ReviewView{}, false
	}
	return *v, true
}

// List returns the reviews with status ("" for all), oldest first.
func (r *Reviews) List(status string) []ReviewView {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []ReviewView{}
	for _, v := range r.byID {
		if status == "" || v.Status == status {
			out = append(out, *v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RequestedAt.Before(out[j].RequestedAt) })
	return out
}

// Wait returns the review once it is no longer pending, or as it is when
// ctx ends.
func (r *Reviews) Wait(ctx context.Context, id string) (ReviewView, error) {
	for {
		r.mu.Lock()
		v, ok := r.byID[id]
		if !ok {
			r.mu.Unlock()
			return ReviewView{}, fmt.Errorf("review %s: %w", id, domain.ErrNotFound)
		}
		if v.Status != domain.ReviewPending {
			out := *v
			r.mu.Unlock()
			return out, nil
		}
		ch, ok := r.changed[id]
		if !ok {
			ch = make(chan struct{})
			r.changed[id] = ch
		}
		out := *v
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return out, nil
		}
	}
}

// LearnedView is a learned decision in force.
type LearnedView struct {
	domain.LearnedAdded
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
}

// Learned is the in-memory view of learned decisions, keyed by call shape.
type Learned struct {
	mu      sync.RWMutex
	byShape map[string]LearnedView
	byID    map[string]LearnedView
}

// NewLearned returns an empty view.
func NewLearned() *Learned {
	return &Learned{byShape: map[string]LearnedView{}, byID: map[string]LearnedView{}}
}

// Apply learns from learned.* events; others are ignored.
func (l *Learned) Apply(e domain.Event) error {
	switch e.Type {
	case domain.TypeLearnedAdded:
		var p domain.LearnedAdded
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		v := LearnedView{LearnedAdded: p, Seq: e.Seq, Time: e.Time}
		l.mu.Lock()
		defer l.mu.Unlock()
		if old, ok := l.byShape[p.Shape]; ok {
			delete(l.byID, old.LearnedID)
		}
		l.byShape[p.Shape], l.byID[p.LearnedID] = v, v
	case domain.TypeLearnedRevoked:
		var p domain.LearnedRevoked
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if v, ok := l.byID[p.LearnedID]; ok {
			delete(l.byID, p.LearnedID)
			delete(l.byShape, v.Shape)
		}
	}
	return nil
}

// Lookup returns the learned decision for a call shape.
func (l *Learned) Lookup(shape string) (LearnedView, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	v, ok := l.byShape[shape]
	return v, ok
}

// Get returns a learned decision by id.
func (l *Learned) Get(id string) (LearnedView, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	v, ok := l.byID[id]
	return v, ok
}

// List returns every learned decision in force, oldest first.
func (l *Learned) List() []LearnedView {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]LearnedView, 0, len(l.byID))
	for _, v := range l.byID {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}
