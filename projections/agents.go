// Package projections builds read models from the event stream.
package projections

import (
	"sort"
	"sync"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// Agents is the in-memory directory of active agents and their token
// hashes, used to authenticate requests. It is safe for concurrent use.
type Agents struct {
	mu      sync.RWMutex
	byToken map[string]domain.Agent
	byName  map[string]domain.Agent
	hashOf  map[string]string // name -> token hash in force
}

// NewAgents returns an empty directory.
func NewAgents() *Agents {
	return &Agents{byToken: map[string]domain.Agent{}, byName: map[string]domain.Agent{}, hashOf: map[string]string{}}
}

// reset forgets every agent, for a projection rebuilt from the log.
func (a *Agents) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.byToken)
	clear(a.byName)
	clear(a.hashOf)
}

// Apply learns from an agent event; other events are ignored. Every agent
// event carries the agent's whole state, so applying only the latest event
// of each agent also builds the directory.
func (a *Agents) Apply(e domain.Event) error {
	var ag domain.Agent
	var hash string
	switch e.Type {
	case domain.TypeAgentRegistered:
		var p domain.AgentRegistered
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		ag, hash = domain.Agent{ID: p.AgentID, Name: p.Name, Role: p.Role, Capabilities: p.Capabilities}, p.TokenHash
	case domain.TypeAgentRotated:
		var p domain.AgentRotated
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		ag, hash = domain.Agent{ID: p.AgentID, Name: p.Name, Role: p.Role, Capabilities: p.Capabilities}, p.TokenHash
	case domain.TypeAgentCapabilitiesSet:
		var p domain.AgentCapabilitiesSet
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		ag, hash = domain.Agent{ID: p.AgentID, Name: p.Name, Role: p.Role, Capabilities: p.Capabilities}, p.TokenHash
	case domain.TypeAgentRemoved:
		var p domain.AgentRemoved
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		ag.Name = p.Name
	default:
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.hashOf[ag.Name]; ok {
		delete(a.byToken, old)
		delete(a.hashOf, ag.Name)
		delete(a.byName, ag.Name)
	}
	if hash == "" {
		return nil // removed
	}
	a.byToken[hash] = ag
	a.byName[ag.Name] = ag
	a.hashOf[ag.Name] = hash
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

// TokenHash returns the hash of the token in force for the agent called
// name.
func (a *Agents) TokenHash(name string) (string, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	h, ok := a.hashOf[name]
	return h, ok
}

// ByName returns the agent called name.
func (a *Agents) ByName(name string) (domain.Agent, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	ag, ok := a.byName[name]
	return ag, ok
}
