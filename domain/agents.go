package domain

// Event types of agent identity.
const (
	TypeAgentRegistered = "agent.registered"
)

// AgentStreamID is the stream of one agent's identity events, keyed by its
// unique name so that registering a taken name is a version conflict.
func AgentStreamID(name string) string { return "agent:" + name }

// AgentRegistered records a new agent and the hash of its bearer token.
type AgentRegistered struct {
	AgentID   string `json:"agent_id"`
	Name      string `json:"name"`
	Role      Role   `json:"role"`
	TokenHash string `json:"token_hash"`
}
