package projections

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
)

// LeaseView is an active lease.
type LeaseView struct {
	domain.LeaseGranted
	Seq       uint64    `json:"seq"` // the sequence that granted it
	GrantedAt time.Time `json:"granted_at"`
	RenewedAt time.Time `json:"renewed_at"`
}

// leaseNode is a node of the index of exclusive leases: a trie over the
// literal leading components of each leased glob ("src/cart/**" sits at
// src → cart). A check walks the path's components and looks only at the
// leases along the way (and, for a directory or a glob, below it).
type leaseNode struct {
	children map[string]*leaseNode
	entries  []leaseEntry // globs whose literal prefix ends here
}

type leaseEntry struct {
	id   string
	glob string
}

// literalPrefix returns the leading components of glob without wildcards.
func literalPrefix(glob string) []string {
	segs := strings.Split(glob, "/")
	for i, s := range segs {
		if s == "**" || strings.ContainsAny(s, "*?[") {
			return segs[:i]
		}
	}
	return segs
}

func (n *leaseNode) add(path []string, e leaseEntry) {
	for _, s := range path {
		if n.children == nil {
			n.children = map[string]*leaseNode{}
		}
		c := n.children[s]
		if c == nil {
			c = &leaseNode{}
			n.children[s] = c
		}
		n = c
	}
	n.entries = append(n.entries, e)
}

func (n *leaseNode) remove(path []string, id string) {
	for _, s := range path {
		if n = n.children[s]; n == nil {
			return
		}
	}
	kept := n.entries[:0]
	for _, e := range n.entries {
		if e.id != id {
			kept = append(kept, e)
		}
	}
	n.entries = kept
}

// Leases is the in-memory view of active leases, with exclusive leases
// indexed by the literal prefix of their globs, so that a check against
// many leases looks only at those that can match. It implements
// policy.Leases and is safe for concurrent use.
type Leases struct {
	mu       sync.RWMutex
	byID     map[string]*LeaseView
	byHolder map[string]map[string]*LeaseView // holder id -> lease id -> lease
	index    leaseNode                        // exclusive leases only
	gen      atomic.Uint64
	now      func() time.Time
}

// NewLeases returns an empty view.
func NewLeases() *Leases {
	return &Leases{byID: map[string]*LeaseView{}, byHolder: map[string]map[string]*LeaseView{}, now: time.Now}
}

// reset forgets every lease, for a projection rebuilt from the log.
func (l *Leases) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.byID)
	clear(l.byHolder)
	l.index = leaseNode{}
	l.gen.Add(1)
}

// Generation changes whenever a lease is granted or ends: verdicts that
// found no lease in the way hold until it changes.
func (l *Leases) Generation() uint64 { return l.gen.Load() }

// Apply learns from lease events; others are ignored.
func (l *Leases) Apply(e domain.Event) error {
	switch e.Type {
	case domain.TypeLeaseGranted:
		var p domain.LeaseGranted
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		v := &LeaseView{LeaseGranted: p, Seq: e.Seq, GrantedAt: e.Time, RenewedAt: e.Time}
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, ok := l.byID[p.LeaseID]; ok {
			return nil
		}
		l.byID[p.LeaseID] = v
		if l.byHolder[p.HolderID] == nil {
			l.byHolder[p.HolderID] = map[string]*LeaseView{}
		}
		l.byHolder[p.HolderID][p.LeaseID] = v
		if p.Exclusive {
			for _, g := range p.Paths {
				l.index.add(literalPrefix(g), leaseEntry{id: p.LeaseID, glob: g})
			}
		}
		l.gen.Add(1)
	case domain.TypeLeaseRenewed:
		var p domain.LeaseRenewed
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if v, ok := l.byID[p.LeaseID]; ok {
			c := *v // readers holding the old copy never see it change
			c.ExpiresAt, c.RenewedAt = p.ExpiresAt, e.Time
			l.byID[p.LeaseID], l.byHolder[c.HolderID][p.LeaseID] = &c, &c
		}
	case domain.TypeLeaseReleased, domain.TypeLeaseExpired:
		var p domain.LeaseEnded
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if v, ok := l.byID[p.LeaseID]; ok {
			delete(l.byID, p.LeaseID)
			delete(l.byHolder[v.HolderID], p.LeaseID)
			if len(l.byHolder[v.HolderID]) == 0 {
				delete(l.byHolder, v.HolderID)
			}
			if v.Exclusive {
				for _, g := range v.Paths {
					l.index.remove(literalPrefix(g), p.LeaseID)
				}
			}
			l.gen.Add(1)
		}
	}
	return nil
}

// HeldByOther returns an active exclusive lease of another agent covering
// rel (see policy.Leases).
func (l *Leases) HeldByOther(rel, agentID string) (policy.Lease, bool) {
	now := l.now()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.byID) == 0 {
		return policy.Lease{}, false
	}
	check := func(n *leaseNode) (policy.Lease, bool) {
		for _, e := range n.entries {
			v := l.byID[e.id]
			if v == nil || v.HolderID == agentID || !v.ExpiresAt.After(now) || !domain.GlobsOverlap(e.glob, rel) {
				continue
			}
			return policy.Lease{ID: v.LeaseID, Holder: v.Holder, Glob: e.glob, Reason: v.Reason, ExpiresAt: v.ExpiresAt}, true
		}
		return policy.Lease{}, false
	}
	var below func(n *leaseNode) (policy.Lease, bool)
	below = func(n *leaseNode) (policy.Lease, bool) {
		if hit, ok := check(n); ok {
			return hit, true
		}
		for _, c := range n.children {
			if hit, ok := below(c); ok {
				return hit, true
			}
		}
		return policy.Lease{}, false
	}
	n := &l.index
	if rel == "." {
		rel = "**" // the whole project
		return below(n)
	}
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		if hit, ok := check(n); ok {
			return hit, true
		}
		if s == "**" || strings.ContainsAny(s, "*?[") {
			return below(n) // a glob target may reach any lease below
		}
		if n = n.children[s]; n == nil {
			return policy.Lease{}, false
		}
		if i == len(segs)-1 {
			return below(n) // the path itself, or a directory above leased paths
		}
	}
	return policy.Lease{}, false
}

// Get returns an active lease.
func (l *Leases) Get(id string) (LeaseView, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	v, ok := l.byID[id]
	if !ok {
		return LeaseView{}, false
	}
	return *v, true
}

// List returns the active leases, oldest first; holderID "" lists all.
func (l *Leases) List(holderID string) []LeaseView {
	l.mu.RLock()
	defer l.mu.RUnlock()
	all := l.byID
	if holderID != "" {
		all = l.byHolder[holderID]
	}
	out := make([]LeaseView, 0, len(all))
	for _, v := range all {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// Conflict returns another agent's active lease that a new lease on globs
// would overlap: any lease when the new one is exclusive, an exclusive one
// when it is shared. It also returns the held globs that overlap.
func (l *Leases) Conflict(globs []string, exclusive bool, agentID string) (LeaseView, []string, bool) {
	now := l.now()
	l.mu.RLock()
	defer l.mu.RUnlock()
	ids := make([]string, 0, len(l.byID))
	for id := range l.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		v := l.byID[id]
		if v.HolderID == agentID || !v.ExpiresAt.After(now) || !exclusive && !v.Exclusive {
			continue
		}
		var hit []string
		for _, held := range v.Paths {
			for _, g := range globs {
				if domain.GlobsOverlap(held, g) {
					hit = append(hit, held)
					break
				}
			}
		}
		if len(hit) > 0 {
			return *v, hit, true
		}
	}
	return LeaseView{}, nil, false
}

var _ policy.Leases = (*Leases)(nil)

// SessionView is an active agent session.
type SessionView struct {
	domain.SessionStarted
	StartedAt time.Time `json:"started_at"`
	LastSeen  time.Time `json:"last_seen"`
}

// Sessions is the in-memory view of active sessions: started and not
// ended. Every event carrying a session's id marks it seen. It is safe for
// concurrent use.
type Sessions struct {
	mu   sync.RWMutex
	byID map[string]*SessionView
}

// NewSessions returns an empty view.
func NewSessions() *Sessions { return &Sessions{byID: map[string]*SessionView{}} }

// reset forgets every session, for a projection rebuilt from the log.
func (s *Sessions) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.byID)
}

// Apply learns from session events and marks sessions seen.
func (s *Sessions) Apply(e domain.Event) error {
	switch e.Type {
	case domain.TypeSessionStarted:
		var p domain.SessionStarted
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.byID[p.SessionID] = &SessionView{SessionStarted: p, StartedAt: e.Time, LastSeen: e.Time}
	case domain.TypeSessionEnded:
		var p domain.SessionEnded
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.byID, p.SessionID)
	default:
		if e.SessionID == "" {
			return nil
		}
		s.Touch(e.SessionID, e.Time)
	}
	return nil
}

// Touch marks a session seen at t.
func (s *Sessions) Touch(id string, t time.Time) {
	s.mu.RLock()
	v, ok := s.byID[id]
	stale := ok && t.After(v.LastSeen)
	s.mu.RUnlock()
	if !stale {
		return
	}
	s.mu.Lock()
	if v, ok := s.byID[id]; ok && t.After(v.LastSeen) {
		c := *v
		c.LastSeen = t
		s.byID[id] = &c
	}
	s.mu.Unlock()
}

// Get returns an active session.
func (s *Sessions) Get(id string) (SessionView, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.byID[id]
	if !ok {
		return SessionView{}, false
	}
	return *v, true
}

// List returns the active sessions, oldest first; agentID "" lists all.
func (s *Sessions) List(agentID string) []SessionView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []SessionView{}
	for _, v := range s.byID {
		if agentID == "" || v.AgentID == agentID {
			out = append(out, *v)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.Before(out[j].StartedAt)
		}
		return out[i].SessionID < out[j].SessionID
	})
	return out
}

// Freshness is the writer's view for the stale-write guard: per session,
// the sequence of each file's version the session last read or wrote. The
// last change of each file it reads from the writer's Provenance, which
// must observe every event before it. It is safe for concurrent use.
type Freshness struct {
	files *Provenance
	mu    sync.RWMutex
	seen  map[string]map[string]uint64 // session -> path -> seq
	live  atomic.Bool                  // past the replay at start: writes mark what sessions saw
}

// Live makes file events from now on mark what their session saw. Before,
// while the writer replays its log at start, they do not: seen marks live
// in memory only and would otherwise pile up for every past session.
func (f *Freshness) Live() { f.live.Store(true) }

// NewFreshness returns an empty view over files, the last change of each
// file.
func NewFreshness(files *Provenance) *Freshness {
	return &Freshness{files: files, seen: map[string]map[string]uint64{}}
}

// Apply learns from session events and, once live, from file events;
// others are ignored.
func (f *Freshness) Apply(e domain.Event) error {
	if e.Type == domain.TypeSessionEnded {
		var p domain.SessionEnded
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		f.mu.Lock()
		delete(f.seen, p.SessionID)
		f.mu.Unlock()
		return nil
	}
	if e.SessionID == "" || !f.live.Load() {
		return nil
	}
	c, ok, err := domain.AsFileChange(e)
	if !ok || err != nil || c.Deleted {
		return err
	}
	f.mu.Lock()
	f.markLocked(e.SessionID, string(c.Path), e.Seq)
	f.mu.Unlock()
	return nil
}

func (f *Freshness) markLocked(session, path string, seq uint64) {
	m := f.seen[session]
	if m == nil {
		m = map[string]uint64{}
		f.seen[session] = m
	}
	m[path] = seq
}

// MarkSeen records that session read the current version of path and
// returns its sequence (0 when the log has no such file).
func (f *Freshness) MarkSeen(session, path string) uint64 {
	fc, _, _ := f.files.lastChangeOf(path)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.markLocked(session, path, fc.seq)
	return fc.seq
}

// HasSeen reports whether session has seen any file: only then can one of
// its writes be stale.
func (f *Freshness) HasSeen(session string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.seen[session]) > 0
}

// StaleChange is a change a session has not seen.
type StaleChange struct {
	Agent   string // who changed the file: the agent's name
	Seq     uint64 // the change
	SeenSeq uint64 // the version the session last saw
}

// Stale returns the change of path the session has not seen: the session
// saw the file at some version and another session or agent changed it
// since. A file the session never saw, or that no longer exists, is never
// stale.
func (f *Freshness) Stale(session, path string) (StaleChange, bool) {
	if session == "" {
		return StaleChange{}, false
	}
	f.mu.RLock()
	seen, ok := f.seen[session][path]
	f.mu.RUnlock()
	if !ok {
		return StaleChange{}, false
	}
	c, name, ok := f.files.lastChangeOf(path)
	if !ok || c.seq <= seen || c.sessionID.Value() == session {
		return StaleChange{}, false
	}
	return StaleChange{Agent: name, Seq: c.seq, SeenSeq: seen}, true
}
