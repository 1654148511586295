package projections

import (
	"sort"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// Receipt is what one recipient did with a message.
type Receipt struct {
	Agent       string     `json:"agent"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	ReadAt      *time.Time `json:"read_at,omitempty"`
	AckedAt     *time.Time `json:"acked_at,omitempty"`
}

// MessageView is a message with its recipients' receipts.
type MessageView struct {
	domain.MessageSent
	Seq      uint64              `json:"seq"`
	SentAt   time.Time           `json:"sent_at"`
	Receipts map[string]*Receipt `json:"receipts"` // by agent id
}

// Messages is the in-memory view of every message, indexed by recipient
// and by thread. It is safe for concurrent use.
type Messages struct {
	mu       sync.RWMutex
	byID     map[string]*MessageView
	byThread map[string][]string // thread -> message ids in order
	inbox    map[string][]string // agent id -> message ids in order
}

// NewMessages returns an empty view.
func NewMessages() *Messages {
	m := &Messages{}
	m.reset()
	return m
}

func (m *Messages) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byID, m.byThread, m.inbox = map[string]*MessageView{}, map[string][]string{}, map[string][]string{}
}

// Apply learns from a message event; other events are ignored.
func (m *Messages) Apply(e domain.Event) error {
	switch e.Type {
	case domain.TypeMessageSent:
		var p domain.MessageSent
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.byID[p.MessageID]; ok {
			return nil
		}
		v := &MessageView{MessageSent: p, Seq: e.Seq, SentAt: e.Time, Receipts: map[string]*Receipt{}}
		m.byID[p.MessageID] = v
		m.byThread[p.Thread] = append(m.byThread[p.Thread], p.MessageID)
		for _, r := range p.Recipients {
			v.Receipts[r.AgentID] = &Receipt{Agent: r.Name}
			m.inbox[r.AgentID] = append(m.inbox[r.AgentID], p.MessageID)
		}
	case domain.TypeMessageDelivered, domain.TypeMessageRead, domain.TypeMessageAcked:
		var p domain.MessageMarked
		if err := e.DecodePayload(&p); err != nil {
			return err
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		v, ok := m.byID[p.MessageID]
		if !ok {
			return nil
		}
		r, ok := v.Receipts[p.AgentID]
		if !ok {
			return nil
		}
		at := e.Time
		switch e.Type {
		case domain.TypeMessageDelivered:
			r.DeliveredAt = &at
		case domain.TypeMessageRead:
			r.ReadAt = &at
		case domain.TypeMessageAcked:
			r.AckedAt = &at
			if r.ReadAt == nil {
				r.ReadAt = &at
			}
		}
	}
	return nil
}

// copyView returns a copy of v that later events do not change.
func copyView(v *MessageView) MessageView {
	out := *v
	out.Receipts = make(map[string]*Receipt, len(v.Receipts))
	for k, r := range v.Receipts {
		c := *r
		out.Receipts[k] = &c
	}
	return out
}

// Get returns the message id.
func (m *Messages) Get(id string) (MessageView, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.byID[id]
	if !ok {
		return MessageView{}, false
	}
	return copyView(v), true
}

// InboxFilter selects messages of one recipient.
type InboxFilter struct {
	Unread      bool // not read (nor acked) by the recipient
	Undelivered bool // not yet delivered to the recipient's agent by a hook
}

// Inbox returns agentID's messages matching f, oldest first.
func (m *Messages) Inbox(agentID string, f InboxFilter) []MessageView {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []MessageView
	for _, id := range m.inbox[agentID] {
		v := m.byID[id]
		r := v.Receipts[agentID]
		if f.Unread && r.ReadAt != nil || f.Undelivered && (r.DeliveredAt != nil || r.ReadAt != nil) {
			continue
		}
		out = append(out, copyView(v))
	}
	return out
}

// Thread returns the messages of a thread that agentID sent or received
// (every one when all is set), oldest first.
func (m *Messages) Thread(thread, agentID string, all bool) []MessageView {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []MessageView
	for _, id := range m.byThread[thread] {
		v := m.byID[id]
		if _, to := v.Receipts[agentID]; all || to || v.FromID == agentID {
			out = append(out, copyView(v))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}
