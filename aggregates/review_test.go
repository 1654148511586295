package aggregates

import (
	"errors"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

func openReview(t *testing.T, approvals int, deadline time.Time) *Review {
	t.Helper()
	d := RequestReview(domain.ReviewRequested{ReviewID: "r1", RequesterID: "builder", Tool: "Bash", Shape: "Bash: git push <arg>", Approvals: approvals, Deadline: deadline})
	e, err := d.Seal(1, 1, e0Time, domain.Metadata{}, "", domain.ChangeSet{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadReview([]domain.Event{e})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReviewVotes(t *testing.T) {
	t.Parallel()
	now := e0Time
	later := now.Add(time.Hour)
	r1 := domain.Agent{ID: "r1", Role: domain.RoleReviewer}
	r2 := domain.Agent{ID: "r2", Role: domain.RoleAdmin}
	cases := []struct {
		name      string
		approvals int
		votes     []domain.Agent
		approve   []bool
		at        time.Time
		wantErr   error
		wantCode  string
		status    string
		learned   bool
	}{
		{"one approval closes", 1, []domain.Agent{r1}, []bool{true}, now, nil, "", domain.ReviewApproved, true},
		{"two needed, one given", 2, []domain.Agent{r1}, []bool{true}, now, nil, "", domain.ReviewPending, false},
		{"two distinct approvers", 2, []domain.Agent{r1, r2}, []bool{true, true}, now, nil, "", domain.ReviewApproved, true},
		{"same approver twice", 2, []domain.Agent{r1, r1}, []bool{true, true}, now, nil, "already_voted", "", false},
		{"a denial closes", 2, []domain.Agent{r1}, []bool{false}, now, nil, "", domain.ReviewDenied, true},
		{"requester may not review", 1, []domain.Agent{{ID: "builder", Role: domain.RoleAdmin}}, []bool{true}, now, domain.ErrForbidden, "", "", false},
		{"builder may not review", 1, []domain.Agent{{ID: "b2", Role: domain.RoleBuilder}}, []bool{true}, now, domain.ErrForbidden, "", "", false},
		{"too late", 1, []domain.Agent{r1}, []bool{true}, later.Add(time.Second), nil, "review_closed", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := openReview(t, tc.approvals, later)
			var err error
			var drafts []domain.Draft
			for i, v := range tc.votes {
				drafts, err = r.Vote(v, tc.approve[i], "why", true, tc.at)
				if err != nil {
					break
				}
			}
			var re *domain.RuleError
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.wantCode != "":
				if !errors.As(err, &re) || re.Code != tc.wantCode {
					t.Fatalf("err = %v, want %s", err, tc.wantCode)
				}
			default:
				if err != nil || r.Status != tc.status {
					t.Fatalf("status %s, err %v; want %s", r.Status, err, tc.status)
				}
				learned := len(drafts) == 2 && drafts[1].Type == domain.TypeLearnedAdded
				if learned != tc.learned {
					t.Fatalf("learned = %v, want %v (%+v)", learned, tc.learned, drafts)
				}
			}
		})
	}
}

func TestReviewExpiry(t *testing.T) {
	t.Parallel()
	deadline := e0Time.Add(time.Minute)
	r := openReview(t, 1, deadline)
	if _, err := r.Expire(e0Time); err == nil {
		t.Fatal("expired before the deadline")
	}
	d, err := r.Expire(deadline.Add(time.Second))
	if err != nil || d.Type != domain.TypeReviewExpired || r.Status != domain.ReviewExpired {
		t.Fatalf("expire: %+v %v", d, err)
	}
	if _, err := r.Expire(deadline.Add(time.Hour)); err == nil {
		t.Fatal("expired twice")
	}
}

func TestReviewAbandon(t *testing.T) {
	t.Parallel()
	later := e0Time.Add(time.Hour)
	builder := domain.Agent{ID: "builder", Role: domain.RoleBuilder}
	other := domain.Agent{ID: "other", Role: domain.RoleBuilder}
	admin := domain.Agent{ID: "adm", Role: domain.RoleAdmin}
	reviewer := domain.Agent{ID: "rev", Role: domain.RoleReviewer}
	cases := []struct {
		name      string
		by        domain.Agent
		decided   bool // a reviewer denied it first
		wantErr   error
		wantCode  string
		wantState string
	}{
		{name: "requester abandons", by: builder, wantState: domain.ReviewAbandoned},
		{name: "admin abandons", by: admin, wantState: domain.ReviewAbandoned},
		{name: "another agent may not", by: other, wantErr: domain.ErrForbidden, wantState: domain.ReviewPending},
		{name: "decided review stays decided", by: builder, decided: true, wantCode: "review_closed", wantState: domain.ReviewDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := openReview(t, 1, later)
			if c.decided {
				if _, err := r.Vote(reviewer, false, "no", false, e0Time); err != nil {
					t.Fatal(err)
				}
			}
			d, err := r.Abandon(c.by, "stopped waiting")
			var re *domain.RuleError
			switch {
			case c.wantErr != nil:
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
			case c.wantCode != "":
				if !errors.As(err, &re) || re.Code != c.wantCode {
					t.Fatalf("err %v, want code %s", err, c.wantCode)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if d.Type != domain.TypeReviewAbandoned {
					t.Fatalf("draft type %s", d.Type)
				}
				// A late vote on the abandoned review is refused.
				if _, err := r.Vote(reviewer, true, "ok", false, e0Time); !errors.As(err, &re) || re.Code != "review_closed" {
					t.Fatalf("late vote: %v, want review_closed", err)
				}
			}
			if r.Status != c.wantState {
				t.Fatalf("status %s, want %s", r.Status, c.wantState)
			}
		})
	}
}
