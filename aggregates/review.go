package aggregates

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// Review is the decision on one escalated tool call. It closes approved once
// enough distinct reviewers approve, denied on the first denial, and expired
// when its deadline passes undecided.
type Review struct {
	domain.ReviewRequested
	Version     uint64    `json:"-"`
	Status      string    `json:"status"`
	Approvers   []string  `json:"approvers"`
	DecidedBy   []string  `json:"decided_by"`
	Reason      string    `json:"decision_reason,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	ClosedAt    time.Time `json:"closed_at,omitzero"`
	wantPattern bool
}

// RequestReview decides the event that opens a review.
func RequestReview(req domain.ReviewRequested) domain.Draft {
	return domain.Draft{StreamID: domain.ReviewStreamID(req.ReviewID), Type: domain.TypeReviewRequested, SchemaVersion: 1, Payload: req}
}

// LoadReview rebuilds a review from its stream.
func LoadReview(events []domain.Event) (*Review, error) {
	if len(events) == 0 || events[0].Type != domain.TypeReviewRequested {
		return nil, fmt.Errorf("review: %w", domain.ErrNotFound)
	}
	r := &Review{}
	for _, e := range events {
		if err := r.Apply(e); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Apply folds one event of the review's stream into it.
func (r *Review) Apply(e domain.Event) error {
	r.Version = e.StreamVersion
	defer func() {
		if r.Status != domain.ReviewPending && r.ClosedAt.IsZero() {
			r.ClosedAt = e.Time
		}
	}()
	switch e.Type {
	case domain.TypeReviewRequested:
		r.Status, r.RequestedAt = domain.ReviewPending, e.Time
		r.Approvers, r.DecidedBy = []string{}, []string{}
		return e.DecodePayload(&r.ReviewRequested)
	case domain.TypeReviewApproved, domain.TypeReviewDenied:
		var v domain.ReviewVoted
		if err := e.DecodePayload(&v); err != nil {
			return err
		}
		r.count(e.Type, v)
	case domain.TypeReviewExpired:
		r.Status = domain.ReviewExpired
		r.Reason = "nobody decided the review in time"
	case domain.TypeReviewAbandoned:
		var c domain.ReviewClosed
		if err := e.DecodePayload(&c); err != nil {
			return err
		}
		r.Status = domain.ReviewAbandoned
		r.Reason = c.Reason
	}
	return nil
}

// Vote records reviewer's approval (approve=true) or denial. A vote "for
// the pattern" that closes the review also teaches the gate to decide every
// call of the same shape the same way.
func (r *Review) Vote(reviewer domain.Agent, approve bool, reason string, forPattern bool, now time.Time) ([]domain.Draft, error) {
	switch {
	case !reviewer.Can(domain.RoleReviewer) && !r.RoutedTo(reviewer):
		if r.Route != "" {
			return nil, fmt.Errorf("%w: only reviewers, admins and agents with %s decide this review", domain.ErrForbidden, r.Route)
		}
		return nil, fmt.Errorf("%w: only reviewers and admins decide reviews", domain.ErrForbidden)
	case reviewer.ID == r.RequesterID:
		return nil, fmt.Errorf("%w: an agent cannot review its own call", domain.ErrForbidden)
	case r.Status != domain.ReviewPending:
		return nil, &domain.RuleError{Code: "review_closed", Message: "the review is already " + r.Status}
	case now.After(r.Deadline):
		return nil, &domain.RuleError{Code: "review_closed", Message: "the review's deadline has passed"}
	case slices.Contains(r.Approvers, reviewer.ID):
		return nil, &domain.RuleError{Code: "already_voted", Message: "this reviewer has already approved"}
	case len(reason) > 4096:
		return nil, domain.Invalid("reason", "reason_too_long", "reason is at most 4096 bytes")
	}
	typ := domain.TypeReviewDenied
	if approve {
		typ = domain.TypeReviewApproved
	}
	vote := domain.ReviewVoted{ReviewID: r.ReviewID, ReviewerID: reviewer.ID, Reason: reason, ForPattern: forPattern}
	e := domain.Draft{StreamID: domain.ReviewStreamID(r.ReviewID), Type: typ, SchemaVersion: 1, Payload: vote}
	r.Version++
	r.count(typ, vote)
	drafts := []domain.Draft{e}
	if r.Status != domain.ReviewPending && r.wantPattern && r.Shape != "" {
		decision := domain.DecisionBlock
		if r.Status == domain.ReviewApproved {
			decision = domain.DecisionAllow
		}
		id := uuid.NewString()
		drafts = append(drafts, domain.Draft{StreamID: domain.LearnedStreamID(id), Type: domain.TypeLearnedAdded, SchemaVersion: 1,
			Payload: domain.LearnedAdded{LearnedID: id, Shape: r.Shape, Decision: decision, ReviewID: r.ReviewID, Tool: r.Tool,
				Example: r.Input, By: r.DecidedBy, Reason: reason}})
	}
	return drafts, nil
}

// RoutedTo reports whether the policy routed the review to agent: it has
// the capability of the review's route.
func (r *Review) RoutedTo(agent domain.Agent) bool {
	c, ok := strings.CutPrefix(r.Route, "capability:")
	return ok && c != "" && agent.HasCapability(c)
}

// count applies one vote.
func (r *Review) count(typ string, v domain.ReviewVoted) {
	r.DecidedBy = append(r.DecidedBy, v.ReviewerID)
	r.Reason = v.Reason
	r.wantPattern = r.wantPattern || v.ForPattern
	if typ == domain.TypeReviewDenied {
		r.Status = domain.ReviewDenied
		return
	}
	r.Approvers = append(r.Approvers, v.ReviewerID)
	if len(r.Approvers) >= max(r.Approvals, 1) {
		r.Status = domain.ReviewApproved
	}
}

// Abandon closes a pending review whose requesting agent stopped waiting
// (its call was denied). Only the requester and admins abandon a review.
func (r *Review) Abandon(by domain.Agent, reason string) (domain.Draft, error) {
	switch {
	case by.ID != r.RequesterID && !by.Can(domain.RoleAdmin):
		return domain.Draft{}, fmt.Errorf("%w: only the agent that asked and admins close a review", domain.ErrForbidden)
	case r.Status != domain.ReviewPending:
		return domain.Draft{}, &domain.RuleError{Code: "review_closed", Message: "the review is already " + r.Status}
	case len(reason) > 4096:
		return domain.Draft{}, domain.Invalid("reason", "reason_too_long", "reason is at most 4096 bytes")
	}
	r.Status = domain.ReviewAbandoned
	r.Reason = reason
	r.Version++
	return domain.Draft{StreamID: domain.ReviewStreamID(r.ReviewID), Type: domain.TypeReviewAbandoned, SchemaVersion: 1,
		Payload: domain.ReviewClosed{ReviewID: r.ReviewID, By: by.ID, Reason: reason}}, nil
}

// Expire closes a pending review whose deadline has passed.
func (r *Review) Expire(now time.Time) (domain.Draft, error) {
	if r.Status != domain.ReviewPending {
		return domain.Draft{}, &domain.RuleError{Code: "review_closed", Message: "the review is already " + r.Status}
	}
	if now.Before(r.Deadline) {
		return domain.Draft{}, &domain.RuleError{Code: "review_open", Message: "the review's deadline has not passed"}
	}
	r.Status = domain.ReviewExpired
	r.Version++
	return domain.Draft{StreamID: domain.ReviewStreamID(r.ReviewID), Type: domain.TypeReviewExpired, SchemaVersion: 1,
		Payload: domain.ReviewTimedOut{ReviewID: r.ReviewID}}, nil
}
