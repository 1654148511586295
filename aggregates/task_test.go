package aggregates

import (
	"errors"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// taskFrom applies drafts as events of one stream, in order.
func taskFrom(t *testing.T, drafts ...domain.Draft) *Task {
	t.Helper()
	var events []domain.Event
	for i, d := range drafts {
		e, err := d.Seal(uint64(i+1), uint64(i+1), e0Time.Add(time.Duration(i)*time.Second), domain.Metadata{}, "", domain.ChangeSet{})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	task, err := LoadTask(events)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func TestTaskRules(t *testing.T) {
	t.Parallel()
	sec1 := domain.Agent{ID: "s1", Name: "sec-1", Role: domain.RoleExpert, Capabilities: []string{"security"}}
	sec2 := domain.Agent{ID: "s2", Name: "sec-2", Role: domain.RoleExpert, Capabilities: []string{"security", "perf"}}
	perf := domain.Agent{ID: "p1", Name: "perf-1", Role: domain.RoleExpert, Capabilities: []string{"perf"}}
	deadline := e0Time.Add(time.Hour)
	created, err := CreateTask(NewTask{ID: "t1", Capability: "security", Title: "audit", Requester: domain.Agent{ID: "b", Name: "builder"}, Deadline: deadline})
	if err != nil {
		t.Fatal(err)
	}
	claim := func(a domain.Agent) domain.Draft {
		return domain.Draft{StreamID: domain.TaskStreamID("t1"), Type: domain.TypeTaskClaimed, SchemaVersion: 1, Payload: domain.TaskClaimed{TaskID: "t1", AgentID: a.ID, Agent: a.Name}}
	}
	done := domain.Draft{StreamID: domain.TaskStreamID("t1"), Type: domain.TypeTaskCompleted, SchemaVersion: 1, Payload: domain.TaskClosed{TaskID: "t1", AgentID: sec1.ID, Result: "ok"}}
	released := domain.Draft{StreamID: domain.TaskStreamID("t1"), Type: domain.TypeTaskReleased, SchemaVersion: 1, Payload: domain.TaskReleased{TaskID: "t1", AgentID: sec1.ID}}
	now := e0Time.Add(time.Minute)
	tests := []struct {
		name     string
		history  []domain.Draft
		act      func(*Task) (domain.Draft, error)
		wantType string
		wantErr  error
		wantCode string
	}{
		{"capable agent claims", nil, func(k *Task) (domain.Draft, error) { return k.Claim(sec1, now) }, domain.TypeTaskClaimed, nil, ""},
		{"agent without the capability may not claim", nil, func(k *Task) (domain.Draft, error) { return k.Claim(perf, now) }, "", domain.ErrForbidden, ""},
		{"second claim refused", []domain.Draft{claim(sec1)}, func(k *Task) (domain.Draft, error) { return k.Claim(sec2, now) }, "", nil, "task_claimed"},
		{"claim after the deadline refused", nil, func(k *Task) (domain.Draft, error) { return k.Claim(sec1, deadline) }, "", nil, "task_closed"},
		{"claimer completes", []domain.Draft{claim(sec1)}, func(k *Task) (domain.Draft, error) { return k.Complete(sec1, "ok") }, domain.TypeTaskCompleted, nil, ""},
		{"another agent may not complete", []domain.Draft{claim(sec1)}, func(k *Task) (domain.Draft, error) { return k.Complete(sec2, "ok") }, "", domain.ErrForbidden, ""},
		{"complete before a claim refused", nil, func(k *Task) (domain.Draft, error) { return k.Complete(sec1, "ok") }, "", nil, "task_not_claimed"},
		{"fail needs a reason", []domain.Draft{claim(sec1)}, func(k *Task) (domain.Draft, error) { return k.Fail(sec1, " ") }, "", nil, ""},
		{"claimer releases, another claims", []domain.Draft{claim(sec1), released}, func(k *Task) (domain.Draft, error) { return k.Claim(sec2, now) }, domain.TypeTaskClaimed, nil, ""},
		{"completed is final", []domain.Draft{claim(sec1), done}, func(k *Task) (domain.Draft, error) { return k.Release(sec1) }, "", nil, "task_closed"},
		{"completed does not expire", []domain.Draft{claim(sec1), done}, func(k *Task) (domain.Draft, error) { return k.Expire(deadline) }, "", nil, "task_closed"},
		{"expires at the deadline", []domain.Draft{claim(sec1)}, func(k *Task) (domain.Draft, error) { return k.Expire(deadline) }, domain.TypeTaskExpired, nil, ""},
		{"no expiry before the deadline", nil, func(k *Task) (domain.Draft, error) { return k.Expire(now) }, "", nil, "task_open"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			task := taskFrom(t, append([]domain.Draft{created}, tc.history...)...)
			d, err := tc.act(task)
			var re *domain.RuleError
			var ve *domain.ValidationError
			switch {
			case tc.wantType != "":
				if err != nil || d.Type != tc.wantType {
					t.Fatalf("got %s, %v; want %s", d.Type, err, tc.wantType)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.wantCode != "":
				if !errors.As(err, &re) || re.Code != tc.wantCode {
					t.Fatalf("err = %v, want rule %s", err, tc.wantCode)
				}
			default:
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a validation error", err)
				}
			}
		})
	}
}

func TestCreateTaskValidates(t *testing.T) {
	t.Parallel()
	req := domain.Agent{ID: "b", Name: "builder"}
	tests := []struct {
		name  string
		task  NewTask
		field string
	}{
		{"no capability", NewTask{ID: "t", Title: "x", Requester: req}, "capability"},
		{"bad capability", NewTask{ID: "t", Capability: "Sec urity", Title: "x", Requester: req}, "capability"},
		{"no title", NewTask{ID: "t", Capability: "security", Title: " ", Requester: req}, "title"},
		{"two-line title", NewTask{ID: "t", Capability: "security", Title: "a\nb", Requester: req}, "title"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := CreateTask(tc.task)
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("err = %v, want a validation error on %s", err, tc.field)
			}
		})
	}
}

func TestRoutedReviewVote(t *testing.T) {
	t.Parallel()
	d := RequestReview(domain.ReviewRequested{ReviewID: "r1", RequesterID: "builder", Tool: "Bash", Approvals: 1, Deadline: e0Time.Add(time.Hour), Route: "capability:security"})
	e, err := d.Seal(1, 1, e0Time, domain.Metadata{}, "", domain.ChangeSet{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		agent domain.Agent
		ok    bool
	}{
		{"expert with the capability", domain.Agent{ID: "s", Role: domain.RoleExpert, Capabilities: []string{"security"}}, true},
		{"builder with the capability", domain.Agent{ID: "s", Role: domain.RoleBuilder, Capabilities: []string{"security"}}, true},
		{"expert without it", domain.Agent{ID: "p", Role: domain.RoleExpert, Capabilities: []string{"perf"}}, false},
		{"reviewer", domain.Agent{ID: "r", Role: domain.RoleReviewer}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := LoadReview([]domain.Event{e})
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Vote(tc.agent, true, "", false, e0Time)
			if tc.ok != (err == nil) || !tc.ok && !errors.Is(err, domain.ErrForbidden) {
				t.Fatalf("vote: %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && r.Status != domain.ReviewApproved {
				t.Fatalf("status %s", r.Status)
			}
		})
	}
}
