package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// Gate is the writer's validation and review API.
type Gate struct {
	Validate *command.ValidateHandler
	Reviews  *command.ReviewHandler
	View     *projections.Reviews
	Learned  *projections.Learned
	Policy   func() PolicyStatus
	// Metrics, if set, counts decisions and times them.
	Metrics *metrics.Gate
	// Agents names the agents in answers (nil: ids only).
	Agents interface{ List() []domain.Agent }
}

// PolicyStatus describes the policies in force.
type PolicyStatus struct {
	Revision       string    `json:"revision"`
	ShadowRevision string    `json:"shadow_revision,omitempty"`
	Source         string    `json:"source"`
	LoadedAt       time.Time `json:"loaded_at"`
	LastError      string    `json:"last_error,omitempty"`
	ProjectRoot    string    `json:"project_root"` // the absolute project root the gate guards
	Protected      []string  `json:"protected"`    // absolute paths no agent may touch
}

// HeaderAgentHome carries the agent's home directory ($HOME of the hook),
// which the gate expands ~ and $HOME to. Without it the home is unknown and
// the usual home directories (/home/NAME, /root) are treated as homes.
const HeaderAgentHome = "X-Agent-Home"

// maxValidateBody bounds a validate request (a tool call, Write content included).
const maxValidateBody = 8 << 20

// maxReviewWait caps a long-poll on a review.
const maxReviewWait = 60 * time.Second

func (g *Gate) routes(v1 *echo.Group) {
	v1.POST("/validate", g.validate)
	v1.GET("/reviews", g.list)
	v1.GET("/reviews/:id", g.get)
	v1.POST("/reviews/:id/approve", func(c echo.Context) error { return g.vote(c, true) })
	v1.POST("/reviews/:id/deny", func(c echo.Context) error { return g.vote(c, false) })
	v1.POST("/reviews/:id/abandon", g.abandon)
	v1.GET("/learned", func(c echo.Context) error {
		names := g.names()
		list := g.Learned.List()
		out := make([]map[string]any, 0, len(list))
		for _, l := range list {
			out = append(out, map[string]any{"learned_id": l.LearnedID, "shape": l.Shape, "decision": l.Decision, "review_id": l.ReviewID,
				"tool": l.Tool, "example": l.Example, "by": l.By, "by_names": namesOf(names, l.By), "reason": l.Reason, "seq": l.Seq, "time": l.Time})
		}
		return c.JSON(http.StatusOK, map[string]any{"learned": out})
	})
	v1.DELETE("/learned/:id", g.revoke)
	v1.GET("/policy", func(c echo.Context) error { return c.JSON(http.StatusOK, g.Policy()) })
}

// preToolUse is the part of Claude Code's PreToolUse payload the gate reads;
// other fields are accepted and ignored.
type preToolUse struct {
	ToolName  string          `json:"tool_name"`
	ToolInput json.RawMessage `json:"tool_input"`
	SessionID string          `json:"session_id"`
	Cwd       string          `json:"cwd"`
	ToolUseID string          `json:"tool_use_id"`
}

func (g *Gate) validate(c echo.Context) error {
	// The gate is for agents that act: an observer's call would append an
	// audit event for a tool call it may not make.
	agent, err := require(c, domain.RoleBuilder, domain.RoleReviewer, domain.RoleExpert)
	if err != nil {
		return err
	}
	var req preToolUse
	if err := decodeBody(c, &req, maxValidateBody, false); err != nil {
		return err
	}
	switch {
	case req.ToolName == "" || len(req.ToolName) > 256:
		return badRequest("tool_name", "tool_name_invalid", "tool_name is required (at most 256 bytes)")
	case len(req.ToolInput) == 0 || req.ToolInput[0] != '{':
		return badRequest("tool_input", "tool_input_invalid", "tool_input must be a JSON object")
	case !utf8.Valid(req.ToolInput):
		// Strings decoded by encoding/json are made valid; a raw message is not.
		return badRequest("tool_input", "invalid_utf8", "tool_input is not valid UTF-8")
	}
	home := c.Request().Header.Get(HeaderAgentHome)
	if home != "" && (!path.IsAbs(home) || path.Clean(home) != home || len(home) > 4096) {
		return badRequest(HeaderAgentHome, "home_invalid", HeaderAgentHome+" must be a clean absolute path")
	}
	start := time.Now()
	d, err := g.Validate.Handle(c.Request().Context(), command.ValidateCall{Agent: agent, SessionID: limitText(req.SessionID),
		Tool: req.ToolName, Input: req.ToolInput, Cwd: req.Cwd, ToolUseID: limitText(req.ToolUseID), Home: home})
	if err != nil {
		return err
	}
	g.Metrics.Observe(d.Decision, d.Rule, time.Since(start))
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(d.Seq, 10))
	return c.JSON(http.StatusOK, d)
}

func (g *Gate) list(c echo.Context) error {
	if _, err := require(c, domain.RoleReviewer, domain.RoleExpert, domain.RoleObserver); err != nil {
		return err
	}
	status := c.QueryParam("status")
	switch status {
	case "", domain.ReviewPending, domain.ReviewApproved, domain.ReviewDenied, domain.ReviewExpired, domain.ReviewAbandoned:
	default:
		return badRequest("status", "status_invalid", "status must be pending, approved, denied, expired or abandoned")
	}
	names := g.names()
	list := g.View.List(status)
	out := make([]map[string]any, 0, len(list))
	for _, v := range list {
		out = append(out, reviewJSON(v, names))
	}
	return c.JSON(http.StatusOK, map[string]any{"reviews": out})
}

// get answers a review, long-polling with ?wait= until it is decided.
func (g *Gate) get(c echo.Context) error {
	id := c.Param("id")
	v, ok := g.View.Get(id)
	if !ok {
		return fmt.Errorf("review %s: %w", id, domain.ErrNotFound)
	}
	agent := agentOf(c)
	if agent.ID != v.RequesterID && !agent.Can(domain.RoleReviewer, domain.RoleExpert, domain.RoleObserver) && !v.RoutedTo(agent) {
		return fmt.Errorf("%w: only the requester, reviewers and the agents it is routed to see a review", domain.ErrForbidden)
	}
	if ws := c.QueryParam("wait"); ws != "" {
		wait, err := time.ParseDuration(ws)
		if err != nil || wait < 0 {
			return badRequest("wait", "wait_invalid", "wait must be a duration such as 30s")
		}
		ctx, cancel := longPoll(c.Request(), min(wait, maxReviewWait))
		defer cancel()
		if v, err = g.View.Wait(ctx, id); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, reviewJSON(v, g.names()))
}

// names maps agent ids to names.
func (g *Gate) names() map[string]string {
	m := map[string]string{}
	if g.Agents == nil {
		return m
	}
	for _, a := range g.Agents.List() {
		m[a.ID] = a.Name
	}
	return m
}

// deciders returns the names of the agents that can decide review v: the
// reviewers and admins, and the agents its route names by capability.
func (g *Gate) deciders(v projections.ReviewView) []string {
	out := []string{}
	if g.Agents == nil {
		return out
	}
	for _, a := range g.Agents.List() {
		if a.Role == domain.RoleReviewer || a.Role == domain.RoleAdmin || v.RoutedTo(a) && a.ID != v.RequesterID {
			out = append(out, a.Name)
		}
	}
	return out
}

// abandon closes a review its requester stopped waiting for.
func (g *Gate) abandon(c echo.Context) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if c.Request().ContentLength > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	res, err := g.Reviews.Abandon(c.Request().Context(), agentOf(c), c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	v, _ := g.View.Get(c.Param("id"))
	out := reviewJSON(v, g.names())
	out["seq"] = res.LastSeq
	out["deciders"] = g.deciders(v)
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.LastSeq, 10))
	return c.JSON(http.StatusOK, out)
}

// reviewJSON is a review as the API shows it; "reason" is the decision's.
// Agents appear by id and, from names, by name.
func reviewJSON(v projections.ReviewView, names map[string]string) map[string]any {
	reason := v.Reason
	if v.Status == domain.ReviewPending {
		reason = v.ReviewRequested.Reason
	}
	return map[string]any{"id": v.ReviewID, "status": v.Status, "reason": reason, "decided_by": v.DecidedBy,
		"approvers": v.Approvers, "approvals_required": v.Approvals, "tool": v.Tool, "input": v.Input, "rule": v.Rule,
		"requester_id": v.RequesterID, "shape": v.Shape, "deadline": v.Deadline, "requested_at": v.RequestedAt,
		"escalation_reason": v.ReviewRequested.Reason, "requester": nameOf(names, v.RequesterID, v.Requester),
		"decided_by_names": namesOf(names, v.DecidedBy), "approver_names": namesOf(names, v.Approvers),
		"session_id": v.SessionID, "cwd": v.Cwd, "decision_id": v.DecisionID, "closed_at": v.ClosedAt,
		"review_id": v.ReviewID, "approvals": v.Approvals, "decision_reason": v.Reason, "route": v.Route}
}

// nameOf returns the name of agent id: from names, else fallback, else the id.
func nameOf(names map[string]string, id, fallback string) string {
	if n := names[id]; n != "" {
		return n
	}
	if fallback != "" {
		return fallback
	}
	return id
}

func namesOf(names map[string]string, ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, nameOf(names, id, ""))
	}
	return out
}

type voteRequest struct {
	Reason     string `json:"reason"`
	ForPattern bool   `json:"for_pattern"`
}

func (g *Gate) vote(c echo.Context, approve bool) error {
	agent := agentOf(c)
	var req voteRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	res, err := g.Reviews.Vote(c.Request().Context(), command.VoteReview{Reviewer: agent, ReviewID: c.Param("id"),
		Approve: approve, Reason: req.Reason, ForPattern: req.ForPattern})
	if err != nil {
		return err
	}
	v, _ := g.View.Get(c.Param("id"))
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.LastSeq, 10))
	out := reviewJSON(v, g.names())
	out["seq"] = res.LastSeq
	return c.JSON(http.StatusOK, out)
}

func (g *Gate) revoke(c echo.Context) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if c.Request().ContentLength > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	res, err := g.Reviews.RevokeLearned(c.Request().Context(), agentOf(c), c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	return accepted(c, http.StatusOK, res)
}
