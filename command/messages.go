package command

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// AgentLister lists the active agents.
type AgentLister interface {
	List() []domain.Agent
}

// Messaging handles messages between agents. Its log must be an
// ObservedLog feeding Messages, so a message is in the inbox (and marked)
// at once.
type Messaging struct {
	log      EventLog
	agents   AgentLister
	Messages *projections.Messages
	deliver  sync.Mutex // serialises picking undelivered messages and marking them
}

// NewMessaging returns the handler over the given view.
func NewMessaging(log EventLog, agents AgentLister, messages *projections.Messages) *Messaging {
	return &Messaging{log: log, agents: agents, Messages: messages}
}

// SendMessage sends a message.
type SendMessage struct {
	Meta        domain.Metadata
	From        domain.Agent
	To          []string // agent names, role:R or capability:C
	Subject     string
	Body        string
	Thread      string // "" starts a thread (or joins ReplyTo's)
	ReplyTo     string
	AckRequired bool
}

// SentMessage is the id, thread and sequence of a sent message.
type SentMessage struct {
	ID     string
	Thread string
	Result domain.AppendResult
}

// Resolve turns addresses into the agents they name: an agent by name,
// every agent of a role (role:R) or with a capability (capability:C). The
// sender and Lighthouse's process identities (domain.IsProcessIdentity)
// are left out of roles and capabilities; an unknown name, or an address
// reaching nobody, is a *domain.ValidationError.
func Resolve(agents []domain.Agent, from domain.Agent, to []string) ([]domain.Recipient, error) {
	byName := map[string]domain.Agent{}
	for _, a := range agents {
		byName[a.Name] = a
	}
	seen := map[string]bool{}
	var out []domain.Recipient
	add := func(a domain.Agent) {
		if !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, domain.Recipient{AgentID: a.ID, Name: a.Name})
		}
	}
	for _, addr := range to {
		addr = strings.TrimSpace(addr)
		kind, val, ok := strings.Cut(addr, ":")
		if !ok {
			a, found := byName[addr]
			if !found {
				return nil, domain.Invalid("to", "recipient_unknown", "no agent is called %q", addr)
			}
			add(a)
			continue
		}
		n := len(out)
		for _, a := range agents {
			if a.ID == from.ID || domain.IsProcessIdentity(a.Name) {
				continue
			}
			switch kind {
			case "role":
				if string(a.Role) == val {
					add(a)
				}
			case "capability":
				if a.HasCapability(val) {
					add(a)
				}
			default:
				return nil, domain.Invalid("to", "recipient_invalid", "recipient %q: want a name, role:ROLE or capability:NAME", addr)
			}
		}
		if len(out) == n && !containsAny(seen, agents, kind, val) {
			return nil, domain.Invalid("to", "no_recipients", "no agent has %s (the sender and Lighthouse's own processes are left out)", addr)
		}
	}
	if len(out) == 0 {
		return nil, domain.Invalid("to", "no_recipients", "the message reaches nobody")
	}
	return out, nil
}

// containsAny reports whether an agent already added matches kind:val.
func containsAny(seen map[string]bool, agents []domain.Agent, kind, val string) bool {
	for _, a := range agents {
		if seen[a.ID] && (kind == "role" && string(a.Role) == val || kind == "capability" && a.HasCapability(val)) {
			return true
		}
	}
	return false
}

// Send validates and records a message.
func (m *Messaging) Send(ctx context.Context, cmd SendMessage) (SentMessage, error) {
	switch {
	case len(cmd.To) == 0:
		return SentMessage{}, domain.Invalid("to", "to_required", "a message needs at least one recipient")
	case len(cmd.To) > domain.MaxMessageRecipients:
		return SentMessage{}, domain.Invalid("to", "too_many_recipients", "a message has at most %d recipients", domain.MaxMessageRecipients)
	case strings.TrimSpace(cmd.Subject) == "" && strings.TrimSpace(cmd.Body) == "":
		return SentMessage{}, domain.Invalid("body", "empty_message", "a message needs a subject or a body")
	case len(cmd.Subject) > domain.MaxMessageSubject || strings.ContainsAny(cmd.Subject, "\r\n"):
		return SentMessage{}, domain.Invalid("subject", "subject_invalid", "the subject is one line of at most %d bytes", domain.MaxMessageSubject)
	case len(cmd.Body) > domain.MaxMessageBody:
		return SentMessage{}, domain.Invalid("body", "body_too_long", "the body is at most %d bytes", domain.MaxMessageBody)
	case !utf8.ValidString(cmd.Subject + cmd.Body):
		return SentMessage{}, domain.Invalid("body", "invalid_utf8", "the message is not valid UTF-8")
	}
	agents := m.agents.List()
	recips, err := Resolve(agents, cmd.From, cmd.To)
	if err != nil {
		return SentMessage{}, err
	}
	if cmd.AckRequired {
		// An observer only reads: it could never acknowledge.
		for _, a := range agents {
			if a.Role == domain.RoleObserver && slices.ContainsFunc(recips, func(r domain.Recipient) bool { return r.AgentID == a.ID }) {
				return SentMessage{}, domain.Invalid("ack_required", "ack_impossible", "%s is an observer, which only reads and cannot acknowledge a message; send it without an ack", a.Name)
			}
		}
	}
	thread := cmd.Thread
	if cmd.ReplyTo != "" {
		orig, ok := m.Messages.Get(cmd.ReplyTo)
		if !ok {
			return SentMessage{}, domain.Invalid("reply_to", "message_unknown", "no message %q", cmd.ReplyTo)
		}
		if thread == "" {
			thread = orig.Thread
		}
	}
	id := uuid.NewString()
	if thread == "" {
		thread = id
	}
	if len(thread) > 128 {
		return SentMessage{}, domain.Invalid("thread", "thread_invalid", "a thread id is at most 128 bytes")
	}
	p := domain.MessageSent{MessageID: id, Thread: thread, ReplyTo: cmd.ReplyTo, FromID: cmd.From.ID, From: cmd.From.Name,
		To: cmd.To, Recipients: recips, Subject: cmd.Subject, Body: cmd.Body, AckRequired: cmd.AckRequired}
	res, err := m.log.Append(ctx, domain.AppendRequest{Meta: cmd.Meta,
		Expect: []domain.Expectation{{StreamID: domain.MessageStreamID(id), Version: 0}},
		Drafts: []domain.Draft{{StreamID: domain.MessageStreamID(id), Type: domain.TypeMessageSent, SchemaVersion: 1, Payload: p}}})
	if err != nil {
		return SentMessage{}, err
	}
	return SentMessage{ID: id, Thread: thread, Result: res}, nil
}

// Mark records that agent read (eventType domain.TypeMessageRead) or
// acknowledged (domain.TypeMessageAcked) message id. Only a recipient marks
// a message; marking twice appends nothing.
func (m *Messaging) Mark(ctx context.Context, meta domain.Metadata, agent domain.Agent, id, eventType string) (domain.AppendResult, error) {
	v, ok := m.Messages.Get(id)
	if !ok {
		return domain.AppendResult{}, fmt.Errorf("message %s: %w", id, domain.ErrNotFound)
	}
	r, ok := v.Receipts[agent.ID]
	if !ok {
		return domain.AppendResult{}, fmt.Errorf("%w: message %s was not sent to %s", domain.ErrForbidden, id, agent.Name)
	}
	if eventType == domain.TypeMessageRead && r.ReadAt != nil || eventType == domain.TypeMessageAcked && r.AckedAt != nil {
		return domain.AppendResult{LastSeq: v.Seq, Duplicate: true}, nil
	}
	return m.log.Append(ctx, domain.AppendRequest{Meta: meta, Drafts: []domain.Draft{{StreamID: domain.MessageStreamID(id), Type: eventType, SchemaVersion: 1,
		Payload: domain.MessageMarked{MessageID: id, AgentID: agent.ID, Agent: agent.Name, SessionID: meta.SessionID}}}})
}

// Delivery is what a hook adds to the agent's context.
type Delivery struct {
	Context   string   // "" when there is nothing new
	Delivered []string // the ids shown, now marked delivered
	Remaining int      // unread messages left out to keep the context small
	Result    domain.AppendResult
}

// Deliver picks agent's messages not yet delivered, as many as fit in
// maxBytes of text, marks them delivered in one append and returns the
// text, which points to `lighthouse msg inbox` for the rest. Each message
// is delivered once, however many hooks ask at the same time.
func (m *Messaging) Deliver(ctx context.Context, meta domain.Metadata, agent domain.Agent, maxBytes int) (Delivery, error) {
	switch {
	case maxBytes <= 0:
		maxBytes = 4 << 10
	case maxBytes < 1<<10:
		maxBytes = 1 << 10 // room for the header and one cut message
	case maxBytes > 64<<10:
		maxBytes = 64 << 10
	}
	m.deliver.Lock()
	defer m.deliver.Unlock()
	pending := m.Messages.Inbox(agent.ID, projections.InboxFilter{Undelivered: true})
	if len(pending) == 0 {
		return Delivery{}, nil
	}
	var b strings.Builder
	var drafts []domain.Draft
	var d Delivery
	head := "Lighthouse messages for you (reply with the lighthouse MCP tool send_message and reply_to ID; mark them with its tool ack):\n"
	more := func(n int) string {
		return fmt.Sprintf("%d more unread message(s): run `lighthouse msg inbox --unread`.\n", n)
	}
	// The whole text stays within maxBytes: the head, the entries, and the
	// line for the rest, whose room is kept from the start.
	budget := maxBytes - len(head) - len(more(len(pending)))
	for i, v := range pending {
		entry := formatDelivery(v)
		if b.Len()+len(entry) > budget && i > 0 {
			d.Remaining = len(pending) - i
			break
		}
		if len(entry) > budget {
			cut := "… (truncated; `lighthouse msg thread " + v.Thread + "`)\n"
			entry = domain.TruncateText(entry, budget-len(cut)) + cut
		}
		b.WriteString(entry)
		d.Delivered = append(d.Delivered, v.MessageID)
		drafts = append(drafts, domain.Draft{StreamID: domain.MessageStreamID(v.MessageID), Type: domain.TypeMessageDelivered, SchemaVersion: 1,
			Payload: domain.MessageMarked{MessageID: v.MessageID, AgentID: agent.ID, Agent: agent.Name, SessionID: meta.SessionID}})
	}
	if d.Remaining > 0 {
		b.WriteString(more(d.Remaining))
	}
	res, err := m.log.Append(ctx, domain.AppendRequest{Meta: meta, Drafts: drafts})
	if err != nil {
		return Delivery{}, err
	}
	d.Context, d.Result = head+b.String(), res
	return d, nil
}

func formatDelivery(v projections.MessageView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- [%s] from %s", v.MessageID, v.From)
	if v.Subject != "" {
		fmt.Fprintf(&b, ": %s", v.Subject)
	}
	if v.AckRequired {
		b.WriteString(" (ack required)")
	}
	if v.Thread != v.MessageID {
		fmt.Fprintf(&b, " (thread %s)", v.Thread)
	}
	b.WriteString("\n")
	if v.Body != "" {
		b.WriteString("  " + strings.ReplaceAll(v.Body, "\n", "\n  ") + "\n")
	}
	return b.String()
}

// Notice decides a message Lighthouse sends on from's behalf to the agents
// recips, addressed as to: the offer of a task, a review routed to a
// capability. It is appended with the event it tells of, so both land or
// neither, and it reaches the inbox and the hooks like any message.
func Notice(from domain.Agent, to string, recips []domain.Recipient, subject, body string) domain.Draft {
	id := uuid.NewString()
	return domain.Draft{StreamID: domain.MessageStreamID(id), Type: domain.TypeMessageSent, SchemaVersion: 1,
		Payload: domain.MessageSent{MessageID: id, Thread: id, FromID: from.ID, From: from.Name, To: []string{to}, Recipients: recips,
			Subject: domain.TruncateText(subject, domain.MaxMessageSubject), Body: domain.TruncateText(body, domain.MaxMessageBody)}}
}

// Capable returns the agents with capability c, leaving out except (the
// one asking) and Lighthouse's process identities.
func Capable(agents []domain.Agent, c string, except string) []domain.Recipient {
	var out []domain.Recipient
	for _, a := range agents {
		if a.ID != except && !domain.IsProcessIdentity(a.Name) && a.HasCapability(c) {
			out = append(out, domain.Recipient{AgentID: a.ID, Name: a.Name})
		}
	}
	return out
}
