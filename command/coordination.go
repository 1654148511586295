package command

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// Coordination handles leases, sessions and the stale-write guard's seen
// marks. Its log must be an ObservedLog feeding Leases, Sessions and
// Freshness, so a grant is in force (and checked against) at once.
type Coordination struct {
	log       EventLog
	Leases    *projections.Leases
	Sessions  *projections.Sessions
	Freshness *projections.Freshness
	grant     sync.Mutex // serialises the conflict check and the append of grants
	now       func() time.Time
}

// NewCoordination returns the handler over the given views.
func NewCoordination(log EventLog, leases *projections.Leases, sessions *projections.Sessions, fresh *projections.Freshness) *Coordination {
	return &Coordination{log: log, Leases: leases, Sessions: sessions, Freshness: fresh, now: time.Now}
}

// GrantLease asks for a lease.
type GrantLease struct {
	Agent     domain.Agent
	SessionID string // "" attaches the lease to the agent's latest active session, if any
	Paths     []string
	Exclusive bool
	TTL       time.Duration // 0 means domain.DefaultLeaseTTL
	Reason    string
}

// Grant grants a lease. An overlap with another agent's lease is a
// *domain.LeaseConflictError.
func (c *Coordination) Grant(ctx context.Context, cmd GrantLease) (projections.LeaseView, domain.AppendResult, error) {
	var none projections.LeaseView
	if !cmd.Agent.Can(domain.RoleBuilder) {
		return none, domain.AppendResult{}, fmt.Errorf("%w: only builders and admins take leases", domain.ErrForbidden)
	}
	switch {
	case len(cmd.Paths) == 0:
		return none, domain.AppendResult{}, domain.Invalid("paths", "paths_required", "a lease needs at least one path")
	case len(cmd.Paths) > domain.MaxLeasePaths:
		return none, domain.AppendResult{}, domain.Invalid("paths", "too_many_paths", "a lease holds at most %d paths", domain.MaxLeasePaths)
	case len(cmd.Reason) > 1024:
		return none, domain.AppendResult{}, domain.Invalid("reason", "reason_too_long", "reason is at most 1024 bytes")
	}
	ttl := cmd.TTL
	if ttl == 0 {
		ttl = domain.DefaultLeaseTTL
	}
	if ttl < domain.MinLeaseTTL || ttl > domain.MaxLeaseTTL {
		return none, domain.AppendResult{}, domain.Invalid("ttl", "ttl_invalid", "ttl must lie between %v and %v", domain.MinLeaseTTL, domain.MaxLeaseTTL)
	}
	globs := make([]string, 0, len(cmd.Paths))
	for i, p := range cmd.Paths {
		g, err := domain.CheckLeaseGlob(fmt.Sprintf("paths[%d]", i), p)
		if err != nil {
			return none, domain.AppendResult{}, err
		}
		globs = append(globs, g)
	}
	session := cmd.SessionID
	if session == "" {
		if ss := c.Sessions.List(cmd.Agent.ID); len(ss) > 0 {
			session = ss[len(ss)-1].SessionID
		}
	}
	c.grant.Lock()
	defer c.grant.Unlock()
	if held, paths, ok := c.Leases.Conflict(globs, cmd.Exclusive, cmd.Agent.ID); ok {
		return none, domain.AppendResult{}, &domain.LeaseConflictError{LeaseID: held.LeaseID, Holder: held.Holder, Paths: paths}
	}
	g := domain.LeaseGranted{LeaseID: uuid.NewString(), HolderID: cmd.Agent.ID, Holder: cmd.Agent.Name, SessionID: session,
		Paths: globs, Exclusive: cmd.Exclusive, TTL: ttl, Reason: cmd.Reason, ExpiresAt: c.now().Add(ttl).UTC()}
	res, err := c.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: cmd.Agent.ID, SessionID: session},
		Expect: []domain.Expectation{{StreamID: domain.LeaseStreamID(g.LeaseID), Version: 0}},
		Drafts: []domain.Draft{{StreamID: domain.LeaseStreamID(g.LeaseID), Type: domain.TypeLeaseGranted, SchemaVersion: 1, Payload: g}}})
	if err != nil {
		return none, res, err
	}
	v, _ := c.Leases.Get(g.LeaseID)
	return v, res, nil
}

// held returns the active lease id that agent may change: its own, or any
// for an admin.
func (c *Coordination) held(agent domain.Agent, id string) (projections.LeaseView, error) {
	v, ok := c.Leases.Get(id)
	if !ok {
		return v, fmt.Errorf("lease %s: %w", id, domain.ErrNotFound)
	}
	if v.HolderID != agent.ID && agent.Role != domain.RoleAdmin {
		return v, fmt.Errorf("%w: lease %s is held by %s", domain.ErrForbidden, id, v.Holder)
	}
	return v, nil
}

// Release releases a lease its holder (or an admin) names.
func (c *Coordination) Release(ctx context.Context, agent domain.Agent, id, reason string) (domain.AppendResult, error) {
	if _, err := c.held(agent, id); err != nil {
		return domain.AppendResult{}, err
	}
	return c.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: agent.ID}, Drafts: []domain.Draft{
		{StreamID: domain.LeaseStreamID(id), Type: domain.TypeLeaseReleased, SchemaVersion: 1, Payload: domain.LeaseEnded{LeaseID: id, By: agent.Name, Reason: reason}}}})
}

// Renew moves a lease's expiry to now plus its ttl.
func (c *Coordination) Renew(ctx context.Context, agent domain.Agent, id string) (projections.LeaseView, domain.AppendResult, error) {
	v, err := c.held(agent, id)
	if err != nil {
		return v, domain.AppendResult{}, err
	}
	res, err := c.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: agent.ID}, Drafts: []domain.Draft{renewal(v, c.now())}})
	if err != nil {
		return v, res, err
	}
	v, _ = c.Leases.Get(id)
	return v, res, nil
}

func renewal(v projections.LeaseView, now time.Time) domain.Draft {
	return domain.Draft{StreamID: domain.LeaseStreamID(v.LeaseID), Type: domain.TypeLeaseRenewed, SchemaVersion: 1,
		Payload: domain.LeaseRenewed{LeaseID: v.LeaseID, ExpiresAt: now.Add(v.TTL).UTC()}}
}

// Renewals returns the renewal events of the agent's leases that are due:
// each hook call renews its caller's leases, at most ten times per ttl, so
// a busy agent adds few events. The gate appends them with its audit event.
func (c *Coordination) Renewals(agentID string) []domain.Draft {
	if c == nil {
		return nil
	}
	now := c.now()
	var out []domain.Draft
	for _, v := range c.Leases.List(agentID) {
		if now.Sub(v.RenewedAt) >= v.TTL/10 && v.ExpiresAt.After(now) {
			out = append(out, renewal(v, now))
		}
	}
	return out
}

// Expire records that a lease nobody renewed in time has expired; a lease
// renewed or ended in the meantime is left alone.
func (c *Coordination) Expire(ctx context.Context, id string) error {
	v, ok := c.Leases.Get(id)
	if !ok || v.ExpiresAt.After(c.now()) {
		return nil
	}
	_, err := c.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: "system"}, Drafts: []domain.Draft{
		{StreamID: domain.LeaseStreamID(id), Type: domain.TypeLeaseExpired, SchemaVersion: 1, Payload: domain.LeaseEnded{LeaseID: id, Reason: "not renewed within its ttl"}}}})
	return err
}

// StartSession records a session of agent.
type StartSession struct {
	Agent     domain.Agent
	SessionID string
	Cwd       string
	Source    string
}

// StartedSession is the recorded session and the context for the agent.
type StartedSession struct {
	Session projections.SessionView
	Context string
	Result  domain.AppendResult
}

// StartSession records the session and returns a short text telling the
// agent who it is, who else is active and what they hold.
func (c *Coordination) StartSession(ctx context.Context, cmd StartSession) (StartedSession, error) {
	if cmd.SessionID == "" || len(cmd.SessionID) > 256 {
		return StartedSession{}, domain.Invalid("session_id", "session_id_invalid", "session_id is required (at most 256 bytes)")
	}
	if len(cmd.Cwd) > 4096 || len(cmd.Source) > 64 {
		return StartedSession{}, domain.Invalid("cwd", "too_long", "cwd or source is too long")
	}
	if err := c.ownSession(cmd.Agent, cmd.SessionID); err != nil {
		return StartedSession{}, err
	}
	p := domain.SessionStarted{SessionID: cmd.SessionID, AgentID: cmd.Agent.ID, Agent: cmd.Agent.Name, Role: cmd.Agent.Role, Cwd: cmd.Cwd, Source: cmd.Source}
	res, err := c.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: cmd.Agent.ID, SessionID: cmd.SessionID},
		Drafts: []domain.Draft{{StreamID: domain.SessionStreamID(cmd.SessionID), Type: domain.TypeSessionStarted, SchemaVersion: 1, Payload: p}}})
	if err != nil {
		return StartedSession{}, err
	}
	s, _ := c.Sessions.Get(cmd.SessionID)
	return StartedSession{Session: s, Context: c.sessionContext(cmd.Agent, cmd.SessionID), Result: res}, nil
}

// sessionContext is the text SessionStart adds to the agent's context.
func (c *Coordination) sessionContext(agent domain.Agent, session string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Lighthouse guards this project. You are agent %q (role %s), session %s.\n", agent.Name, agent.Role, session)
	others := 0
	for _, s := range c.Sessions.List("") {
		if s.SessionID == session {
			continue
		}
		if others == 0 {
			b.WriteString("Other agents active on this project:\n")
		}
		others++
		fmt.Fprintf(&b, "- %s (%s), session %s, last seen %s\n", s.Agent, s.Role, s.SessionID, s.LastSeen.UTC().Format(time.RFC3339))
	}
	if others == 0 {
		b.WriteString("No other agent is active on this project.\n")
	}
	var mine, theirs []string
	for _, l := range c.Leases.List("") {
		kind := "exclusive"
		if !l.Exclusive {
			kind = "shared"
		}
		line := fmt.Sprintf("- %s holds %s (%s) until %s", l.Holder, strings.Join(l.Paths, ", "), kind, l.ExpiresAt.UTC().Format(time.RFC3339))
		if l.Reason != "" {
			line += ": " + l.Reason
		}
		line += " [lease " + l.LeaseID + "]"
		if l.HolderID == agent.ID {
			mine = append(mine, line)
		} else {
			theirs = append(theirs, line)
		}
	}
	if len(theirs) > 0 {
		b.WriteString("Their leases (the gate blocks your writes under an exclusive one):\n" + strings.Join(theirs, "\n") + "\n")
	}
	if len(mine) > 0 {
		b.WriteString("Your leases:\n" + strings.Join(mine, "\n") + "\n")
	}
	// Agents reach Lighthouse through its MCP server (`init claude`
	// registers it); the CLI is people's, and inside a Claude Code session
	// it has no token.
	b.WriteString("Take a lease before changing shared code with the lighthouse MCP tool lease_paths; release it with release_lease.")
	return b.String()
}

// EndSession records the end of a session and releases its leases (and
// the agent's leases tied to no session, unless another of its sessions is
// active), in one append.
func (c *Coordination) EndSession(ctx context.Context, agent domain.Agent, session, reason string) (domain.AppendResult, []string, error) {
	if session == "" || len(session) > 256 {
		return domain.AppendResult{}, nil, domain.Invalid("session_id", "session_id_invalid", "session_id is required (at most 256 bytes)")
	}
	if len(reason) > 256 {
		reason = reason[:256]
	}
	if err := c.ownSession(agent, session); err != nil {
		return domain.AppendResult{}, nil, err
	}
	_, active := c.Sessions.Get(session)
	otherActive := false
	for _, s := range c.Sessions.List(agent.ID) {
		otherActive = otherActive || s.SessionID != session
	}
	drafts := []domain.Draft{{StreamID: domain.SessionStreamID(session), Type: domain.TypeSessionEnded, SchemaVersion: 1,
		Payload: domain.SessionEnded{SessionID: session, Reason: reason}}}
	var released []string
	for _, l := range c.Leases.List(agent.ID) {
		// The agent's leases tied to no session end with its last active
		// session, never with an id that names none.
		if l.SessionID == session || l.SessionID == "" && active && !otherActive {
			released = append(released, l.LeaseID)
			drafts = append(drafts, domain.Draft{StreamID: domain.LeaseStreamID(l.LeaseID), Type: domain.TypeLeaseReleased, SchemaVersion: 1,
				Payload: domain.LeaseEnded{LeaseID: l.LeaseID, By: agent.Name, Reason: "session ended"}})
		}
	}
	if !active && len(released) == 0 {
		// Nothing to end: a session never started or already ended, with
		// no lease of its own left (those can outlive a restart).
		return domain.AppendResult{}, nil, fmt.Errorf("%w: no active session %s", domain.ErrNotFound, session)
	}
	res, err := c.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: agent.ID, SessionID: session}, Drafts: drafts})
	return res, released, err
}

// MarkSeen records that session read the current version of the project
// file rel, for the stale-write guard; it returns that version's sequence.
// Seen marks live in the writer's memory only: after a restart a session
// has seen nothing, and the guard leaves its writes alone.
func (c *Coordination) MarkSeen(agent domain.Agent, session, rel string) (uint64, error) {
	if session == "" || len(session) > 256 {
		return 0, domain.Invalid("session_id", "session_id_invalid", "session_id is required (at most 256 bytes)")
	}
	if err := c.ownSession(agent, session); err != nil {
		return 0, err
	}
	p, err := domain.ParsePath("path", rel)
	if err != nil {
		return 0, err
	}
	return c.Freshness.MarkSeen(session, string(p)), nil
}

// ownSession refuses a session another agent has started: no agent
// starts, ends or marks the sessions of another.
func (c *Coordination) ownSession(agent domain.Agent, session string) error {
	if s, ok := c.Sessions.Get(session); ok && s.AgentID != agent.ID {
		return fmt.Errorf("%w: session %s belongs to agent %s", domain.ErrForbidden, session, s.Agent)
	}
	return nil
}

// LeaseExpiry watches lease events and expires each lease at its expiry
// unless renewed or ended before.
type LeaseExpiry struct {
	coord *Coordination
	log   *slog.Logger
	ctx   context.Context

	mu     sync.Mutex
	timers map[string]*time.Timer
}

// NewLeaseExpiry returns a watcher that expires leases through coord until
// ctx ends.
func NewLeaseExpiry(ctx context.Context, coord *Coordination, log *slog.Logger) *LeaseExpiry {
	return &LeaseExpiry{coord: coord, log: log, ctx: ctx, timers: map[string]*time.Timer{}}
}

// Apply (re)schedules the expiry of granted and renewed leases and cancels
// it for ended ones.
func (x *LeaseExpiry) Apply(e domain.Event) error {
	var id string
	var at time.Time
	switch e.Type {
	case domain.TypeLeaseGranted:
		var p domain.LeaseGranted
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		id, at = p.LeaseID, p.ExpiresAt
	case domain.TypeLeaseRenewed:
		var p domain.LeaseRenewed
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		id, at = p.LeaseID, p.ExpiresAt
	case domain.TypeLeaseReleased, domain.TypeLeaseExpired:
		var p domain.LeaseEnded
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		x.mu.Lock()
		if t, ok := x.timers[p.LeaseID]; ok {
			t.Stop()
			delete(x.timers, p.LeaseID)
		}
		x.mu.Unlock()
		return nil
	default:
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if t, ok := x.timers[id]; ok {
		t.Stop()
	}
	// A little after the expiry, so the view agrees the lease is due.
	x.timers[id] = time.AfterFunc(time.Until(at)+10*time.Millisecond, func() { x.expire(id) })
	return nil
}

func (x *LeaseExpiry) expire(id string) {
	x.mu.Lock()
	delete(x.timers, id)
	x.mu.Unlock()
	if x.ctx.Err() != nil {
		return
	}
	if err := x.coord.Expire(x.ctx, id); err != nil && x.ctx.Err() == nil {
		x.log.Error("expire lease", "lease", id, "err", err)
	}
}
