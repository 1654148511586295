package domain

import (
	"encoding/json"
	"time"
)

// Event types of the gate: decisions on agents' tool calls, reviews of
// escalated calls and decisions learned from reviews.
const (
	TypeGateDecided     = "gate.decided"
	TypeReviewRequested = "review.requested"
	TypeReviewApproved  = "review.approved"
	TypeReviewDenied    = "review.denied"
	TypeReviewExpired   = "review.expired"
	TypeReviewAbandoned = "review.abandoned"
	TypeLearnedAdded    = "learned.added"
	TypeLearnedRevoked  = "learned.revoked"
	TypePolicyActivated = "policy.activated"
)

// Decisions the gate gives.
const (
	DecisionAllow    = "allow"
	DecisionBlock    = "block"
	DecisionEscalate = "escalate"
)

// Review statuses.
const (
	ReviewPending  = "pending"
	ReviewApproved = "approved"
	ReviewDenied   = "denied"
	ReviewExpired  = "expired"
	// ReviewAbandoned: the waiting agent stopped waiting; the call was
	// denied and a later vote is refused.
	ReviewAbandoned = "abandoned"
)

// GateStreamID is the stream of one agent's gate decisions.
func GateStreamID(agentID string) string { return "gate:" + agentID }

// ReviewStreamID is the stream of one review.
func ReviewStreamID(id string) string { return "review:" + id }

// LearnedStreamID is the stream of one learned decision.
func LearnedStreamID(id string) string { return "learned:" + id }

// GateDecided audits one decision on a tool call.
type GateDecided struct {
	DecisionID     string          `json:"decision_id"`
	Tool           string          `json:"tool"`
	Input          json.RawMessage `json:"input"`
	ToolUseID      string          `json:"tool_use_id,omitempty"`
	Cwd            string          `json:"cwd,omitempty"`
	Decision       string          `json:"decision"`
	Reason         string          `json:"reason"`
	Rule           string          `json:"rule"`
	PolicyRevision string          `json:"policy_revision"`
	Cached         bool            `json:"cached"`
	LearnedID      string          `json:"learned_id,omitempty"`
	ReviewID       string          `json:"review_id,omitempty"`
	// What a policy in shadow mode would have decided, unenforced.
	ShadowDecision string `json:"shadow_decision,omitempty"`
	ShadowRule     string `json:"shadow_rule,omitempty"`
	ShadowRevision string `json:"shadow_revision,omitempty"`
}

// ReviewRequested opens a review of an escalated call.
type ReviewRequested struct {
	ReviewID    string `json:"review_id"`
	DecisionID  string `json:"decision_id"`
	RequesterID string `json:"requester_id"`
	// Requester is the requesting agent's name when it asked.
	Requester string          `json:"requester,omitempty"`
	SessionID string          `json:"session_id,omitempty"`
	Cwd       string          `json:"cwd,omitempty"`
	Tool      string          `json:"tool"`
	Input     json.RawMessage `json:"input"`
	Shape     string          `json:"shape,omitempty"`
	Reason    string          `json:"reason"`
	Rule      string          `json:"rule"`
	Approvals int             `json:"approvals"`
	Deadline  time.Time       `json:"deadline"`
	// Route is where the policy sent the escalation: "capability:NAME"
	// lets the agents with that capability decide it besides reviewers.
	Route string `json:"route,omitempty"`
}

// ReviewVoted is one reviewer's approval or denial.
type ReviewVoted struct {
	ReviewID   string `json:"review_id"`
	ReviewerID string `json:"reviewer_id"`
	Reason     string `json:"reason"`
	ForPattern bool   `json:"for_pattern,omitempty"`
}

// ReviewClosed records that the requesting agent stopped waiting for a
// review: its call was denied, so the review is closed.
type ReviewClosed struct {
	ReviewID string `json:"review_id"`
	By       string `json:"by"`
	Reason   string `json:"reason"`
}

// ReviewTimedOut closes a review nobody decided in time: the call is denied.
type ReviewTimedOut struct {
	ReviewID string `json:"review_id"`
}

// LearnedAdded records a decision to apply to every call of a shape.
type LearnedAdded struct {
	LearnedID string          `json:"learned_id"`
	Shape     string          `json:"shape"`
	Decision  string          `json:"decision"`
	ReviewID  string          `json:"review_id"`
	Tool      string          `json:"tool"`
	Example   json.RawMessage `json:"example"`
	By        []string        `json:"by"`
	Reason    string          `json:"reason"`
}

// LearnedRevoked withdraws a learned decision.
type LearnedRevoked struct {
	LearnedID string `json:"learned_id"`
	By        string `json:"by"`
	Reason    string `json:"reason"`
}

// PolicyActivated records that a policy revision is now in force.
type PolicyActivated struct {
	Revision string `json:"revision"`
	Source   string `json:"source"`
	Shadow   bool   `json:"shadow,omitempty"`
}
