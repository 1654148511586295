package domain

// Event types of messages between agents and people.
const (
	TypeMessageSent      = "message.sent"
	TypeMessageDelivered = "message.delivered" // shown to the recipient's agent by a hook
	TypeMessageRead      = "message.read"
	TypeMessageAcked     = "message.acked"
)

// Bounds of one message.
const (
	MaxMessageRecipients = 64
	MaxMessageSubject    = 256
	MaxMessageBody       = 16 << 10
)

// MessageStreamID is the stream of one message: its sending and every
// recipient's delivery, read and ack marks.
func MessageStreamID(id string) string { return "message:" + id }

// Recipient is one agent a message reaches.
type Recipient struct {
	AgentID string `json:"agent_id"`
	Name    string `json:"name"`
}

// MessageSent records a message. To is the addressing as the sender wrote
// it (names, role:R, capability:C); Recipients is what it resolved to when
// sent, so later agents of a role do not receive old messages.
type MessageSent struct {
	MessageID   string      `json:"message_id"`
	Thread      string      `json:"thread"`
	ReplyTo     string      `json:"reply_to,omitempty"`
	FromID      string      `json:"from_id"`
	From        string      `json:"from"`
	To          []string    `json:"to"`
	Recipients  []Recipient `json:"recipients"`
	Subject     string      `json:"subject"`
	Body        string      `json:"body"`
	AckRequired bool        `json:"ack_required,omitempty"`
}

// MessageMarked records that a recipient had a message delivered, read it
// or acknowledged it (the event type says which).
type MessageMarked struct {
	MessageID string `json:"message_id"`
	AgentID   string `json:"agent_id"`
	Agent     string `json:"agent"`
	SessionID string `json:"session_id,omitempty"`
}
