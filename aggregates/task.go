package aggregates

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// Task is a piece of work routed by capability. It is open until an agent
// with the capability claims it; only the claimer completes, fails or
// releases it (release opens it again); completed, failed and expired are
// final.
type Task struct {
	domain.TaskCreated
	Version   uint64    `json:"version"`
	Seq       uint64    `json:"seq"` // of the task's latest event
	Status    string    `json:"status"`
	ClaimerID string    `json:"claimer_id,omitempty"`
	Claimer   string    `json:"claimer,omitempty"`
	Result    string    `json:"result,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ClosedAt  time.Time `json:"closed_at,omitzero"`
}

// NewTask is what a requester asks for; CreateTask checks it.
type NewTask struct {
	ID         string
	Capability string
	Title      string
	Body       string
	Paths      []string
	Requester  domain.Agent
	Offered    []domain.Recipient
	Deadline   time.Time // zero: none
}

// CreateTask validates a new task and decides its first event. Paths must
// already be clean project paths.
func CreateTask(t NewTask) (domain.Draft, error) {
	switch {
	case t.Capability == "":
		return domain.Draft{}, domain.Invalid("capability", "capability_required", "a task needs the capability of the agents it is for")
	case strings.TrimSpace(t.Title) == "":
		return domain.Draft{}, domain.Invalid("title", "title_required", "a task needs a title")
	case len(t.Title) > domain.MaxTaskTitle || strings.ContainsAny(t.Title, "\r\n"):
		return domain.Draft{}, domain.Invalid("title", "title_invalid", "the title is one line of at most %d bytes", domain.MaxTaskTitle)
	case len(t.Body) > domain.MaxTaskBody:
		return domain.Draft{}, domain.Invalid("body", "body_too_long", "the body is at most %d bytes", domain.MaxTaskBody)
	case !utf8.ValidString(t.Title + t.Body):
		return domain.Draft{}, domain.Invalid("body", "invalid_utf8", "the task is not valid UTF-8")
	case len(t.Paths) > domain.MaxTaskPaths:
		return domain.Draft{}, domain.Invalid("paths", "too_many_paths", "a task names at most %d paths", domain.MaxTaskPaths)
	}
	if _, err := domain.ParseCapabilities("capability", []string{t.Capability}); err != nil {
		return domain.Draft{}, err
	}
	p := domain.TaskCreated{TaskID: t.ID, Capability: t.Capability, Title: t.Title, Body: t.Body, Paths: t.Paths,
		RequesterID: t.Requester.ID, Requester: t.Requester.Name, Offered: t.Offered, Deadline: t.Deadline}
	return domain.Draft{StreamID: domain.TaskStreamID(t.ID), Type: domain.TypeTaskCreated, SchemaVersion: 1, Payload: p}, nil
}

// LoadTask rebuilds a task from its stream; an empty stream is
// domain.ErrNotFound.
func LoadTask(events []domain.Event) (*Task, error) {
	if len(events) == 0 || events[0].Type != domain.TypeTaskCreated {
		return nil, fmt.Errorf("task: %w", domain.ErrNotFound)
	}
	t := &Task{}
	for _, e := range events {
		if err := t.Apply(e); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Apply folds one event of the task's stream into it.
func (t *Task) Apply(e domain.Event) error {
	t.Version, t.Seq, t.UpdatedAt = e.StreamVersion, e.Seq, e.Time
	switch e.Type {
	case domain.TypeTaskCreated:
		t.Status, t.CreatedAt = domain.TaskStatusOpen, e.Time
		return e.DecodePayload(&t.TaskCreated)
	case domain.TypeTaskClaimed:
		var p domain.TaskClaimed
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		t.Status, t.ClaimerID, t.Claimer = domain.TaskStatusClaimed, p.AgentID, p.Agent
	case domain.TypeTaskReleased:
		t.Status, t.ClaimerID, t.Claimer = domain.TaskStatusOpen, "", ""
	case domain.TypeTaskCompleted, domain.TypeTaskFailed, domain.TypeTaskExpired:
		var p domain.TaskClosed
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		t.Result, t.Reason, t.ClosedAt = p.Result, p.Reason, e.Time
		switch e.Type {
		case domain.TypeTaskCompleted:
			t.Status = domain.TaskStatusCompleted
		case domain.TypeTaskFailed:
			t.Status = domain.TaskStatusFailed
		default:
			t.Status = domain.TaskStatusExpired
			t.Reason = "the deadline passed before the task was done"
		}
	}
	return nil
}

// closed is the error for any change of a task in a final state.
func (t *Task) closed() error {
	return &domain.RuleError{Code: "task_closed", Message: "the task is already " + t.Status}
}

func (t *Task) draft(typ string, payload any) domain.Draft {
	return domain.Draft{StreamID: domain.TaskStreamID(t.TaskID), Type: typ, SchemaVersion: 1, Payload: payload}
}

// Claim decides agent's claim: only an agent with the task's capability
// claims it (domain.ErrForbidden otherwise), and only while it is open
// (a *domain.RuleError "task_claimed" when another agent holds it).
func (t *Task) Claim(agent domain.Agent, now time.Time) (domain.Draft, error) {
	switch {
	case domain.TaskTerminal(t.Status):
		return domain.Draft{}, t.closed()
	case !t.Deadline.IsZero() && !now.Before(t.Deadline):
		return domain.Draft{}, &domain.RuleError{Code: "task_closed", Message: "the task's deadline has passed"}
	case !agent.HasCapability(t.Capability):
		return domain.Draft{}, fmt.Errorf("%w: agent %s does not have capability %q", domain.ErrForbidden, agent.Name, t.Capability)
	case t.Status == domain.TaskStatusClaimed && t.ClaimerID == agent.ID:
		return domain.Draft{}, &domain.RuleError{Code: "task_claimed", Message: "you already hold this task"}
	case t.Status == domain.TaskStatusClaimed:
		return domain.Draft{}, &domain.RuleError{Code: "task_claimed", Message: "the task is claimed by " + t.Claimer}
	}
	return t.draft(domain.TypeTaskClaimed, domain.TaskClaimed{TaskID: t.TaskID, AgentID: agent.ID, Agent: agent.Name}), nil
}

// holder checks that agent holds the claim on an unfinished task.
func (t *Task) holder(agent domain.Agent) error {
	switch {
	case domain.TaskTerminal(t.Status):
		return t.closed()
	case t.Status != domain.TaskStatusClaimed:
		return &domain.RuleError{Code: "task_not_claimed", Message: "the task is not claimed: claim it first"}
	case t.ClaimerID != agent.ID:
		return fmt.Errorf("%w: the task is claimed by %s; only its claimer finishes or releases it", domain.ErrForbidden, t.Claimer)
	}
	return nil
}

// Release decides the claimer giving the task back.
func (t *Task) Release(agent domain.Agent) (domain.Draft, error) {
	if err := t.holder(agent); err != nil {
		return domain.Draft{}, err
	}
	return t.draft(domain.TypeTaskReleased, domain.TaskReleased{TaskID: t.TaskID, AgentID: agent.ID, Agent: agent.Name}), nil
}

// Complete decides the claimer finishing the task with result.
func (t *Task) Complete(agent domain.Agent, result string) (domain.Draft, error) {
	if err := t.holder(agent); err != nil {
		return domain.Draft{}, err
	}
	if len(result) > domain.MaxTaskResult {
		return domain.Draft{}, domain.Invalid("result", "result_too_long", "the result is at most %d bytes", domain.MaxTaskResult)
	}
	return t.draft(domain.TypeTaskCompleted, domain.TaskClosed{TaskID: t.TaskID, AgentID: agent.ID, Agent: agent.Name, Result: result}), nil
}

// Fail decides the claimer giving up on the task, for reason (required).
func (t *Task) Fail(agent domain.Agent, reason string) (domain.Draft, error) {
	if err := t.holder(agent); err != nil {
		return domain.Draft{}, err
	}
	switch {
	case strings.TrimSpace(reason) == "":
		return domain.Draft{}, domain.Invalid("reason", "reason_required", "say why the task failed")
	case len(reason) > domain.MaxTaskResult:
		return domain.Draft{}, domain.Invalid("reason", "reason_too_long", "the reason is at most %d bytes", domain.MaxTaskResult)
	}
	return t.draft(domain.TypeTaskFailed, domain.TaskClosed{TaskID: t.TaskID, AgentID: agent.ID, Agent: agent.Name, Reason: reason}), nil
}

// Expire decides closing an unfinished task whose deadline has passed.
func (t *Task) Expire(now time.Time) (domain.Draft, error) {
	switch {
	case domain.TaskTerminal(t.Status):
		return domain.Draft{}, t.closed()
	case t.Deadline.IsZero() || now.Before(t.Deadline):
		return domain.Draft{}, &domain.RuleError{Code: "task_open", Message: "the task's deadline has not passed"}
	}
	return t.draft(domain.TypeTaskExpired, domain.TaskClosed{TaskID: t.TaskID}), nil
}
