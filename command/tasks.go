package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/lighthouse-ai/lighthouse/aggregates"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// TaskHandler creates tasks routed by capability and records their claims,
// results and expiry. Its log must be an ObservedLog feeding Tasks, so the
// writer's view is current at once.
type TaskHandler struct {
	log     EventLog
	streams StreamReader
	agents  AgentLister
	Tasks   *projections.Tasks
	now     func() time.Time
}

// NewTaskHandler returns the handler over the given view.
func NewTaskHandler(log EventLog, streams StreamReader, agents AgentLister, tasks *projections.Tasks) *TaskHandler {
	return &TaskHandler{log: log, streams: streams, agents: agents, Tasks: tasks, now: time.Now}
}

// CreateTask asks for work by any agent with Capability.
type CreateTask struct {
	Meta       domain.Metadata
	Requester  domain.Agent
	Capability string
	Title      string
	Body       string
	Paths      []domain.Path
	// Deadline is how long the task may stay unfinished; 0 means no
	// deadline.
	Deadline time.Duration
}

// CreatedTask is the new task's id, who it was offered to, and where it is
// in the log.
type CreatedTask struct {
	ID      string
	Offered []domain.Recipient
	Result  domain.AppendResult
}

// Create records the task and, in the same append, a message offering it to
// every agent with the capability (the requester aside). A capability no
// agent has is a *domain.ValidationError on "capability".
func (h *TaskHandler) Create(ctx context.Context, cmd CreateTask) (CreatedTask, error) {
	if cmd.Deadline < 0 || cmd.Deadline > domain.MaxTaskDeadline {
		return CreatedTask{}, domain.Invalid("deadline", "deadline_invalid", "deadline must be a positive duration of at most %s", domain.MaxTaskDeadline)
	}
	id := uuid.NewString()
	paths := make([]string, len(cmd.Paths))
	for i, p := range cmd.Paths {
		paths[i] = string(p)
	}
	nt := aggregates.NewTask{ID: id, Capability: cmd.Capability, Title: cmd.Title, Body: cmd.Body, Paths: paths, Requester: cmd.Requester}
	if cmd.Deadline > 0 {
		nt.Deadline = h.now().Add(cmd.Deadline).UTC()
	}
	if _, err := aggregates.CreateTask(nt); err != nil {
		return CreatedTask{}, err
	}
	nt.Offered = Capable(h.agents.List(), cmd.Capability, cmd.Requester.ID)
	if len(nt.Offered) == 0 {
		return CreatedTask{}, domain.Invalid("capability", "no_capable_agent", "no agent (besides you) has capability %q", cmd.Capability)
	}
	d, err := aggregates.CreateTask(nt)
	if err != nil {
		return CreatedTask{}, err
	}
	res, err := h.log.Append(ctx, domain.AppendRequest{Meta: cmd.Meta,
		Expect: []domain.Expectation{{StreamID: d.StreamID, Version: 0}},
		Drafts: []domain.Draft{d, Notice(cmd.Requester, "capability:"+cmd.Capability, nt.Offered, "Task: "+cmd.Title, offerText(nt))}})
	if err != nil {
		return CreatedTask{}, err
	}
	return CreatedTask{ID: id, Offered: nt.Offered, Result: res}, nil
}

// offerText is the message that offers a task.
func offerText(t aggregates.NewTask) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Task %s for capability %s, from %s.", t.ID, t.Capability, t.Requester.Name)
	if !t.Deadline.IsZero() {
		fmt.Fprintf(&b, " Deadline %s.", t.Deadline.Format(time.RFC3339))
	}
	if len(t.Paths) > 0 {
		fmt.Fprintf(&b, "\nPaths: %s", strings.Join(t.Paths, ", "))
	}
	if t.Body != "" {
		b.WriteString("\n" + t.Body)
	}
	fmt.Fprintf(&b, "\nTake it with `lighthouse task claim %s`, then `lighthouse task complete %s -m RESULT` (or fail/release).", t.ID, t.ID)
	return b.String()
}

// TaskAction is one change of a task by the agent doing it.
type TaskAction struct {
	Meta   domain.Metadata
	Agent  domain.Agent
	TaskID string
	Result string // for complete
	Reason string // for fail
}

// Claim records Agent's claim on the task.
func (h *TaskHandler) Claim(ctx context.Context, a TaskAction) (domain.AppendResult, error) {
	return h.change(ctx, a, func(t *aggregates.Task) (domain.Draft, error) { return t.Claim(a.Agent, h.now()) })
}

// Release gives the claimed task back: it is open again.
func (h *TaskHandler) Release(ctx context.Context, a TaskAction) (domain.AppendResult, error) {
	return h.change(ctx, a, func(t *aggregates.Task) (domain.Draft, error) { return t.Release(a.Agent) })
}

// Complete closes the claimed task with a result.
func (h *TaskHandler) Complete(ctx context.Context, a TaskAction) (domain.AppendResult, error) {
	return h.change(ctx, a, func(t *aggregates.Task) (domain.Draft, error) { return t.Complete(a.Agent, a.Result) })
}

// Fail closes the claimed task as failed, with a reason.
func (h *TaskHandler) Fail(ctx context.Context, a TaskAction) (domain.AppendResult, error) {
	return h.change(ctx, a, func(t *aggregates.Task) (domain.Draft, error) { return t.Fail(a.Agent, a.Reason) })
}

func (h *TaskHandler) load(id string) (*aggregates.Task, error) {
	events, err := h.streams.StreamEvents(domain.TaskStreamID(id))
	if err != nil {
		return nil, err
	}
	t, err := aggregates.LoadTask(events)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", id, domain.ErrNotFound)
	}
	return t, nil
}

// change decides one event on the task's current state and appends it.
// Racing changes are serialised by the stream version: the loser decides
// again on the new state (so a second claim finds the task claimed).
func (h *TaskHandler) change(ctx context.Context, a TaskAction, decide func(*aggregates.Task) (domain.Draft, error)) (domain.AppendResult, error) {
	for attempt := 0; ; attempt++ {
		t, err := h.load(a.TaskID)
		if err != nil {
			return domain.AppendResult{}, err
		}
		d, err := decide(t)
		if err != nil {
			return domain.AppendResult{}, err
		}
		res, err := h.log.Append(ctx, domain.AppendRequest{Meta: a.Meta,
			Expect: []domain.Expectation{{StreamID: d.StreamID, Version: t.Version}}, Drafts: []domain.Draft{d}})
		var conflict *domain.ConflictError
		if errors.As(err, &conflict) && attempt < conflictRetries {
			continue
		}
		return res, err
	}
}

// Expire closes a task whose deadline has passed; one finished in the
// meantime is left alone.
func (h *TaskHandler) Expire(ctx context.Context, id string) error {
	for attempt := 0; ; attempt++ {
		t, err := h.load(id)
		if err != nil {
			return err
		}
		d, err := t.Expire(h.now())
		var re *domain.RuleError
		if errors.As(err, &re) && re.Code == "task_closed" {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = h.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: "system"},
			Expect: []domain.Expectation{{StreamID: d.StreamID, Version: t.Version}}, Drafts: []domain.Draft{d}})
		var conflict *domain.ConflictError
		if errors.As(err, &conflict) && attempt < conflictRetries {
			continue // a claim or release got there first: decide again
		}
		return err
	}
}

// TaskDeadlines watches task events and expires each task still unfinished
// at its deadline. Fed the whole task log at start, it schedules the open
// tasks again, so deadlines survive restarts (one passed while the writer
// was down expires at once).
type TaskDeadlines struct {
	handler *TaskHandler
	log     *slog.Logger
	ctx     context.Context

	mu     sync.Mutex
	timers map[string]*time.Timer
}

// NewTaskDeadlines returns a watcher expiring tasks through handler until
// ctx ends.
func NewTaskDeadlines(ctx context.Context, handler *TaskHandler, log *slog.Logger) *TaskDeadlines {
	return &TaskDeadlines{handler: handler, log: log, ctx: ctx, timers: map[string]*time.Timer{}}
}

// Apply schedules the expiry of a new task and cancels it once finished.
func (d *TaskDeadlines) Apply(e domain.Event) error {
	id, ok := strings.CutPrefix(e.StreamID, "task:")
	if !ok {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch e.Type {
	case domain.TypeTaskCreated:
		var p domain.TaskCreated
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		if !p.Deadline.IsZero() {
			d.timers[id] = time.AfterFunc(time.Until(p.Deadline), func() { d.expire(id) })
		}
	case domain.TypeTaskCompleted, domain.TypeTaskFailed, domain.TypeTaskExpired:
		if t, ok := d.timers[id]; ok {
			t.Stop()
			delete(d.timers, id)
		}
	}
	return nil
}

func (d *TaskDeadlines) expire(id string) {
	d.mu.Lock()
	delete(d.timers, id)
	d.mu.Unlock()
	if d.ctx.Err() != nil {
		return
	}
	err := d.handler.Expire(d.ctx, id)
	var re *domain.RuleError
	if errors.As(err, &re) && re.Code == "task_open" {
		// The wall clock lags the timer: try again shortly.
		d.mu.Lock()
		d.timers[id] = time.AfterFunc(100*time.Millisecond, func() { d.expire(id) })
		d.mu.Unlock()
		return
	}
	if err != nil && d.ctx.Err() == nil {
		d.log.Error("expire task", "task", id, "err", err)
	}
}
