package domain

// Event types of agent identity.
const (
	TypeAgentRegistered = "agent.registered"
	TypeAgentRotated    = "agent.rotated"
	TypeAgentRemoved    = "agent.removed"
)

// Identities the writer creates for itself, which cannot be removed.
const (
	AgentAdmin   = "admin"
	AgentService = "lighthouse-service"
	// AgentWatcher records what anything but an agent's tool call changes
	// in the working tree: the baseline import, a person's editor, a build.
	AgentWatcher = "lighthouse-watcher"
)

// IsOwnIdentity reports whether name is one of the identities the writer
// creates for itself (AgentAdmin, AgentService, AgentWatcher).
func IsOwnIdentity(name string) bool {
	return name == AgentAdmin || name == AgentService || name == AgentWatcher
}

// IsProcessIdentity reports whether name is the identity of one of
// Lighthouse's own processes (AgentService, AgentWatcher): no person or
// agent reads what is sent to it, so roles and capabilities leave it out.
func IsProcessIdentity(name string) bool {
	return name == AgentService || name == AgentWatcher
}

// AgentStreamID is the stream of one agent's identity events, keyed by its
// unique name so that registering a taken name is a version conflict.
func AgentStreamID(name string) string { return "agent:" + name }

// AgentRegistered records a new agent and the hash of its bearer token.
type AgentRegistered struct {
	AgentID   string `json:"agent_id"`
	Name      string `json:"name"`
	Role      Role   `json:"role"`
	TokenHash string `json:"token_hash"`
	// Capabilities are absent from agents registered before they existed.
	Capabilities []string `json:"capabilities,omitempty"`
}

// AgentRotated records a new token for an agent; the old one stops working.
// It carries the agent's whole identity, so the latest event of an agent's
// stream is its state.
type AgentRotated struct {
	AgentID   string `json:"agent_id"`
	Name      string `json:"name"`
	Role      Role   `json:"role"`
	TokenHash string `json:"token_hash"`
	// Capabilities are absent from agents registered before they existed.
	Capabilities []string `json:"capabilities,omitempty"`
}

// AgentRemoved records that an agent's token no longer works. Its name is
// not given out again, so the log never names two agents alike.
type AgentRemoved struct {
	AgentID string `json:"agent_id"`
	Name    string `json:"name"`
}

// TypeAgentCapabilitiesSet records an agent's new capabilities. Like every
// agent event it carries the agent's whole identity (the token hash
// unchanged), so the latest event of an agent's stream is its state.
const TypeAgentCapabilitiesSet = "agent.capabilities_set"

// AgentCapabilitiesSet is the payload of TypeAgentCapabilitiesSet.
type AgentCapabilitiesSet struct {
	AgentID      string   `json:"agent_id"`
	Name         string   `json:"name"`
	Role         Role     `json:"role"`
	TokenHash    string   `json:"token_hash"`
	Capabilities []string `json:"capabilities"`
}
