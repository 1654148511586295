package domain

// Event types of agent sessions (one Claude Code session each).
const (
	TypeSessionStarted = "session.started"
	TypeSessionEnded   = "session.ended"
)

// SessionStreamID is the stream of one session.
func SessionStreamID(id string) string { return "session:" + id }

// SessionStarted records that an agent started a session.
type SessionStarted struct {
	SessionID string `json:"session_id"`
	AgentID   string `json:"agent_id"`
	Agent     string `json:"agent"` // the agent's name
	Role      Role   `json:"role"`
	Cwd       string `json:"cwd,omitempty"`
	Source    string `json:"source,omitempty"` // startup, resume, clear, compact
}

// SessionEnded records the end of a session.
type SessionEnded struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason,omitempty"`
}
