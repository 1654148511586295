package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/aggregates"
	"github.com/lighthouse-ai/lighthouse/domain"
)

// StreamReader reads whole streams, for aggregates with several events.
type StreamReader interface {
	StreamEvents(stream string) ([]domain.Event, error)
}

// VoteReview approves or denies an escalated call.
type VoteReview struct {
	Reviewer   domain.Agent
	ReviewID   string
	Approve    bool
	Reason     string
	ForPattern bool
}

// ReviewHandler handles votes on reviews and their expiry.
type ReviewHandler struct {
	log     EventLog
	streams StreamReader
	now     func() time.Time
}

// NewReviewHandler returns a handler reading reviews from streams and
// appending to log.
func NewReviewHandler(log EventLog, streams StreamReader) *ReviewHandler {
	return &ReviewHandler{log: log, streams: streams, now: time.Now}
}

func (h *ReviewHandler) load(id string) (*aggregates.Review, error) {
	events, err := h.streams.StreamEvents(domain.ReviewStreamID(id))
	if err != nil {
		return nil, err
	}
	return aggregates.LoadReview(events)
}

// Vote records the vote. Racing votes are serialised by the stream version:
// the loser gets a conflict and votes again on the new state.
func (h *ReviewHandler) Vote(ctx context.Context, cmd VoteReview) (domain.AppendResult, error) {
	for attempt := 0; ; attempt++ {
		r, err := h.load(cmd.ReviewID)
		if err != nil {
			return domain.AppendResult{}, err
		}
		drafts, err := r.Vote(cmd.Reviewer, cmd.Approve, cmd.Reason, cmd.ForPattern, h.now())
		if err != nil {
			return domain.AppendResult{}, err
		}
		res, err := h.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: cmd.Reviewer.ID},
			Expect: []domain.Expectation{{StreamID: domain.ReviewStreamID(cmd.ReviewID), Version: r.Version - 1}}, Drafts: drafts})
		var conflict *domain.ConflictError
		if errors.As(err, &conflict) && attempt < conflictRetries {
			continue
		}
		return res, err
	}
}

// Abandon closes a review whose requester stopped waiting for it.
func (h *ReviewHandler) Abandon(ctx context.Context, by domain.Agent, id, reason string) (domain.AppendResult, error) {
	for attempt := 0; ; attempt++ {
		r, err := h.load(id)
		if err != nil {
			return domain.AppendResult{}, err
		}
		d, err := r.Abandon(by, reason)
		if err != nil {
			return domain.AppendResult{}, err
		}
		res, err := h.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: by.ID},
			Expect: []domain.Expectation{{StreamID: d.StreamID, Version: r.Version - 1}}, Drafts: []domain.Draft{d}})
		var conflict *domain.ConflictError
		if errors.As(err, &conflict) && attempt < conflictRetries {
			continue
		}
		return res, err
	}
}

// Expire denies a review whose deadline has passed; a review decided in the
// meantime is left alone.
func (h *ReviewHandler) Expire(ctx context.Context, id string) error {
	r, err := h.load(id)
	if err != nil {
		return err
	}
	d, err := r.Expire(h.now())
	var re *domain.RuleError
	if errors.As(err, &re) && re.Code == "review_closed" {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = h.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: "system"},
		Expect: []domain.Expectation{{StreamID: d.StreamID, Version: r.Version - 1}}, Drafts: []domain.Draft{d}})
	var conflict *domain.ConflictError
	if errors.As(err, &conflict) {
		return nil // a vote got there first
	}
	return err
}

// maxReason bounds a reason given with a revocation, like a vote's.
const maxReason = 4096

// RevokeLearned withdraws a learned decision.
func (h *ReviewHandler) RevokeLearned(ctx context.Context, by domain.Agent, id, reason string) (domain.AppendResult, error) {
	if !by.Can(domain.RoleReviewer) {
		return domain.AppendResult{}, fmt.Errorf("%w: only reviewers and admins revoke learned decisions", domain.ErrForbidden)
	}
	events, err := h.streams.StreamEvents(domain.LearnedStreamID(id))
	if err != nil {
		return domain.AppendResult{}, err
	}
	if len(events) == 0 {
		return domain.AppendResult{}, fmt.Errorf("learned decision %s: %w", id, domain.ErrNotFound)
	}
	if len(reason) > maxReason {
		return domain.AppendResult{}, domain.Invalid("reason", "reason_too_long", "reason is at most %d bytes", maxReason)
	}
	if events[len(events)-1].Type == domain.TypeLearnedRevoked {
		return domain.AppendResult{}, &domain.RuleError{Code: "already_revoked", Message: "the learned decision is already revoked"}
	}
	d := domain.Draft{StreamID: domain.LearnedStreamID(id), Type: domain.TypeLearnedRevoked, SchemaVersion: 1,
		Payload: domain.LearnedRevoked{LearnedID: id, By: by.ID, Reason: reason}}
	return h.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: by.ID},
		Expect: []domain.Expectation{{StreamID: d.StreamID, Version: uint64(len(events))}}, Drafts: []domain.Draft{d}})
}

// ReviewDeadlines watches review events and expires each review that is
// still open at its deadline: the gate fails closed.
type ReviewDeadlines struct {
	handler *ReviewHandler
	log     *slog.Logger
	ctx     context.Context

	mu     sync.Mutex
	timers map[string]*time.Timer
}

// NewReviewDeadlines returns a watcher that expires reviews through handler
// until ctx ends.
func NewReviewDeadlines(ctx context.Context, handler *ReviewHandler, log *slog.Logger) *ReviewDeadlines {
	return &ReviewDeadlines{handler: handler, log: log, ctx: ctx, timers: map[string]*time.Timer{}}
}

// Apply schedules the expiry of a new review and cancels it once decided.
func (d *ReviewDeadlines) Apply(e domain.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch e.Type {
	case domain.TypeReviewRequested:
		var p domain.ReviewRequested
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		id := p.ReviewID
		d.timers[id] = time.AfterFunc(time.Until(p.Deadline), func() { d.expire(id) })
	case domain.TypeReviewExpired, domain.TypeReviewDenied, domain.TypeReviewApproved, domain.TypeReviewAbandoned:
		// A vote may leave the review open (more approvals needed); the
		// timer then fires and Expire finds out from the stream.
		if e.Type == domain.TypeReviewApproved {
			return nil
		}
		id := reviewOf(e.StreamID)
		if t, ok := d.timers[id]; ok {
			t.Stop()
			delete(d.timers, id)
		}
	}
	return nil
}

func (d *ReviewDeadlines) expire(id string) {
	d.mu.Lock()
	delete(d.timers, id)
	d.mu.Unlock()
	if d.ctx.Err() != nil {
		return
	}
	if err := d.handler.Expire(d.ctx, id); err != nil && d.ctx.Err() == nil {
		d.log.Error("expire review", "review", id, "err", err)
	}
}

func reviewOf(stream string) string {
	const p = "review:"
	if len(stream) > len(p) {
		return stream[len(p):]
	}
	return stream
}
