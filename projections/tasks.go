package projections

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/lighthouse-ai/lighthouse/aggregates"
	"github.com/lighthouse-ai/lighthouse/domain"
)

// TaskView is a task as its events left it.
type TaskView = aggregates.Task

// Tasks is the in-memory view of tasks, with waiting for a task to change.
// It is safe for concurrent use.
type Tasks struct {
	mu      sync.Mutex
	byID    map[string]*TaskView
	changed map[string]chan struct{} // closed on the task's next change
}

// NewTasks returns an empty view.
func NewTasks() *Tasks {
	return &Tasks{byID: map[string]*TaskView{}, changed: map[string]chan struct{}{}}
}

func (t *Tasks) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.byID)
}

// Apply learns from task events; others are ignored.
func (t *Tasks) Apply(e domain.Event) error {
	id, ok := strings.CutPrefix(e.StreamID, "task:")
	if !ok {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.byID[id]
	if !ok {
		if e.Type != domain.TypeTaskCreated {
			return nil
		}
		v = &TaskView{}
		t.byID[id] = v
	} else if e.StreamVersion <= v.Version {
		return nil // already applied (a replayed batch)
	}
	if err := v.Apply(e); err != nil {
		return err
	}
	if ch, ok := t.changed[id]; ok {
		close(ch)
		delete(t.changed, id)
	}
	return nil
}

func copyTask(v *TaskView) TaskView {
	out := *v
	out.Paths = slices.Clone(v.Paths)
	out.Offered = slices.Clone(v.Offered)
	return out
}

// Get returns task id.
func (t *Tasks) Get(id string) (TaskView, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.byID[id]
	if !ok {
		return TaskView{}, false
	}
	return copyTask(v), true
}

// List returns the tasks for capability with status ("" for any), oldest
// first.
func (t *Tasks) List(capability, status string) []TaskView {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []TaskView{}
	for _, v := range t.byID {
		if (capability == "" || v.Capability == capability) && (status == "" || v.Status == status) {
			out = append(out, copyTask(v))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].TaskID < out[j].TaskID
	})
	return out
}

// Open counts the tasks not yet finished (open or claimed).
func (t *Tasks) Open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, v := range t.byID {
		if !domain.TaskTerminal(v.Status) {
			n++
		}
	}
	return n
}

// Wait returns task id once its status differs from from, or at once when
// it is final; when ctx ends first it returns the task as it is.
func (t *Tasks) Wait(ctx context.Context, id, from string) (TaskView, error) {
	for {
		t.mu.Lock()
		v, ok := t.byID[id]
		if !ok {
			t.mu.Unlock()
			return TaskView{}, fmt.Errorf("task %s: %w", id, domain.ErrNotFound)
		}
		out := copyTask(v)
		if v.Status != from || domain.TaskTerminal(v.Status) {
			t.mu.Unlock()
			return out, nil
		}
		ch, ok := t.changed[id]
		if !ok {
			ch = make(chan struct{})
			t.changed[id] = ch
		}
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return out, nil
		}
	}
}
