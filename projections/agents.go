// Package projections builds read models from the event stream.
package projections

import (
	"sort"
	"sync"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// Agents is the in-memory directory of agents and their token hashes, used to
// authenticate requests. It is safe for concurrent use.
type Agents struct {
	mu      sync.RWMutex
	byToken map[string]domain.Agent
	byName  map[string]domain.Agent
}

// NewAgents returns an empty directory.
func NewAgents() *Agents {
	return &Agents{byToken: map[string]domain.Agent{}, byName: map[string]domain.Agent{}}
}

// reset forgets every agent, for a projection rebuilt from the log.
func (a *Agents) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.byToken)
	clear(a.byName)
}

// Apply learns from an agent event; other events are ignored.
func (a *Agents) Apply(e domain.Event) error {
	if e.Type != domain.TypeAgentRegistered {
		return nil
	}
	var p domain.AgentRegistered
	if err := e.DecodePayload(&p); err != nil {
		return err
	}
	ag := domain.Agent{ID: p.AgentID, Name: p.Name, Role: p.Role}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byToken[p.TokenHash] = ag
	a.byName[p.Name] = ag
	return nil
}

// Authenticate returns the agent holding token.
func (a *Agents) Authenticate(token string) (domain.Agent, error) {
	if token == "" {
		return domain.Agent{}, domain.ErrUnauthenticated
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	ag, ok := a.byToken[domain.HashToken(token)]
	if !ok {
		return domain.Agent{}, domain.ErrUnauthenticated
	}
	return ag, nil
}

// List returns every agent, sorted by name.
func (a *Agents) List() []domain.Agent {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]domain.Agent, 0, len(a.byName))
	for _, ag := range a.byName {
		out = append(out, ag)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ByName returns the agent called name.
func (a *Agents) ByName(name string) (domain.Agent, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	ag, ok := a.byName[name]
	return ag, ok
}
