package aggregates

import (
	"fmt"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// Register decides the events that create a new agent.
func Register(id, name string, role domain.Role, caps []string, tokenHash string) (domain.Draft, error) {
	if err := domain.ValidateAgentName("name", name); err != nil {
		return domain.Draft{}, err
	}
	caps, err := domain.ParseCapabilities("capabilities", caps)
	if err != nil {
		return domain.Draft{}, err
	}
	return domain.Draft{StreamID: domain.AgentStreamID(name), Type: domain.TypeAgentRegistered, SchemaVersion: 1,
		Payload: domain.AgentRegistered{AgentID: id, Name: name, Role: role, TokenHash: tokenHash, Capabilities: caps}}, nil
}

// Rotate decides the event that gives agent a new token.
func Rotate(agent domain.Agent, tokenHash string) domain.Draft {
	return domain.Draft{StreamID: domain.AgentStreamID(agent.Name), Type: domain.TypeAgentRotated, SchemaVersion: 1,
		Payload: domain.AgentRotated{AgentID: agent.ID, Name: agent.Name, Role: agent.Role, TokenHash: tokenHash, Capabilities: agent.Capabilities}}
}

// Remove decides the event that ends an agent. The writer's own identities
// cannot be removed: the admin, the reader and the fuser, and the watcher
// need them, and the writer cannot start once one of its names is gone.
func Remove(agent domain.Agent) (domain.Draft, error) {
	if domain.IsOwnIdentity(agent.Name) {
		return domain.Draft{}, &domain.RuleError{Code: "agent_protected", Message: fmt.Sprintf("agent %q belongs to Lighthouse and cannot be removed (rotate its token instead)", agent.Name)}
	}
	return domain.Draft{StreamID: domain.AgentStreamID(agent.Name), Type: domain.TypeAgentRemoved, SchemaVersion: 1,
		Payload: domain.AgentRemoved{AgentID: agent.ID, Name: agent.Name}}, nil
}

// SetCapabilities decides the event that gives agent new capabilities,
// keeping its token (tokenHash is the hash in force).
func SetCapabilities(agent domain.Agent, tokenHash string, caps []string) (domain.Draft, error) {
	caps, err := domain.ParseCapabilities("capabilities", caps)
	if err != nil {
		return domain.Draft{}, err
	}
	if caps == nil {
		caps = []string{}
	}
	return domain.Draft{StreamID: domain.AgentStreamID(agent.Name), Type: domain.TypeAgentCapabilitiesSet, SchemaVersion: 1,
		Payload: domain.AgentCapabilitiesSet{AgentID: agent.ID, Name: agent.Name, Role: agent.Role, TokenHash: tokenHash, Capabilities: caps}}, nil
}
