package projections

import (
	"strings"
	"sync"
	"unique"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
)

// Provenance is the writer's view of who last changed each project file,
// for the gate: it implements policy.Provenance. It learns from file events
// (the agent that appended them) and agent events (their names and roles).
// People hold the admin and reviewer roles, and the watcher records the
// baseline import and every change no agent's tool call made (a person's
// editor, a build), so their changes are the baseline; every other writer
// is an agent. It is safe for concurrent use.
type Provenance struct {
	mu     sync.RWMutex
	agents map[string]domain.Agent // by id
	last   map[string]fileChange   // by project-relative path
}

// fileChange is a file's last change: who made it, in which session (empty
// for none), at which sequence. The ids are interned: a writer holds one
// fileChange for every file of the project, and a few agents and sessions
// made them all.
type fileChange struct {
	agentID   unique.Handle[string]
	sessionID unique.Handle[string]
	seq       uint64
}

// NewProvenance returns an empty view.
func NewProvenance() *Provenance {
	return &Provenance{agents: map[string]domain.Agent{}, last: map[string]fileChange{}}
}

// Apply learns from file and agent events; others are ignored.
func (p *Provenance) Apply(e domain.Event) error {
	if e.Type == domain.TypeAgentRegistered {
		var r domain.AgentRegistered
		if err := e.DecodePayload(&r); err != nil {
			return err
		}
		p.mu.Lock()
		p.agents[r.AgentID] = domain.Agent{ID: r.AgentID, Name: r.Name, Role: r.Role}
		p.mu.Unlock()
		return nil
	}
	c, ok, err := domain.AsFileChange(e)
	if !ok || err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.Deleted {
		delete(p.last, string(c.Path))
		return nil
	}
	p.last[string(c.Path)] = fileChange{agentID: unique.Make(e.AgentID), sessionID: unique.Make(e.SessionID), seq: e.Seq}
	return nil
}

// lastChangeOf returns the last change of the file at rel and the name of
// the agent that made it (its id when the view does not know the agent).
func (p *Provenance) lastChangeOf(rel string) (fileChange, string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	fc, ok := p.last[rel]
	if !ok {
		return fileChange{}, "", false
	}
	name := fc.agentID.Value()
	if ag, ok := p.agents[name]; ok && ag.Name != "" {
		name = ag.Name
	}
	return fc, name, true
}

// change turns a recorded change into the policy's form. The caller holds
// the read lock.
func (p *Provenance) change(path string, fc fileChange) policy.Change {
	c := policy.Change{Path: path, Kind: policy.ChangedByAgent, Agent: fc.agentID.Value(), Seq: fc.seq}
	if ag, ok := p.agents[c.Agent]; ok {
		c.Agent = ag.Name
		if ag.Role == domain.RoleAdmin || ag.Role == domain.RoleReviewer || ag.Name == domain.AgentWatcher {
			c.Kind = policy.ChangedByHuman
		}
	}
	return c
}

// LastChange returns the last change of the file at rel.
func (p *Provenance) LastChange(rel string) (policy.Change, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	fc, ok := p.last[rel]
	if !ok {
		return policy.Change{}, false
	}
	return p.change(rel, fc), true
}

// LastAgentChangeUnder returns the latest agent change of a file below dir
// whose name ends in suffix. It scans every file the view knows.
func (p *Provenance) LastAgentChangeUnder(dir, suffix string) (policy.Change, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var best policy.Change
	found := false
	for path, fc := range p.last {
		if !strings.HasSuffix(path, suffix) || !(dir == "." || path == dir || strings.HasPrefix(path, dir+"/")) {
			continue
		}
		if fc.seq <= best.Seq && found {
			continue
		}
		if c := p.change(path, fc); c.SinceBaseline() {
			best, found = c, true
		}
	}
	return best, found
}

var _ policy.Provenance = (*Provenance)(nil)
