package aggregates

import (
	"github.com/lighthouse-ai/lighthouse/domain"
)

// Register decides the events that create a new agent.
func Register(id, name string, role domain.Role, tokenHash string) (domain.Draft, error) {
	if err := domain.ValidateAgentName("name", name); err != nil {
		return domain.Draft{}, err
	}
	return domain.Draft{StreamID: domain.AgentStreamID(name), Type: domain.TypeAgentRegistered, SchemaVersion: 1,
		Payload: domain.AgentRegistered{AgentID: id, Name: name, Role: role, TokenHash: tokenHash}}, nil
}
