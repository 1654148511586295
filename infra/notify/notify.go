// Package notify posts a JSON message to a webhook when an escalation opens
// and when it is decided. Deliveries run in their own goroutine with
// retries: the gate never waits for them.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// Message is the JSON body posted to the webhook. Text is one line a chat
// webhook (Slack, Mattermost, Discord via /slack) shows as is.
type Message struct {
	Event     string          `json:"event"` // "review.opened" or "review.decided"
	Text      string          `json:"text"`
	ReviewID  string          `json:"review_id"`
	Status    string          `json:"status"`
	Agent     string          `json:"agent"`
	Tool      string          `json:"tool"`
	Input     json.RawMessage `json:"input,omitempty"`
	Rule      string          `json:"rule,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	DecidedBy string          `json:"decided_by,omitempty"`
	URL       string          `json:"url,omitempty"` // the review in the console
	Time      time.Time       `json:"time"`
}

// Config configures a Notifier.
type Config struct {
	URL        string        // the webhook
	ConsoleURL func() string // the console's base URL, for links, asked at each message; nil or "" for none
	Attempts   int           // deliveries tried per message (0: 5)
	Backoff    time.Duration // first pause between attempts, doubled each time (0: 500ms)
	Timeout    time.Duration // per attempt (0: 10s)
	Queue      int           // messages held while the webhook is slow (0: 1000); more are dropped
	Log        *slog.Logger
	// Name returns an agent's name from its id.
	Name func(id string) string
}

// Notifier turns review events into webhook messages. Apply never blocks.
type Notifier struct {
	cfg    Config
	client *http.Client
	queue  chan Message

	mu      sync.Mutex
	pending map[string]domain.ReviewRequested // open reviews, for the decided message
}

// New returns a Notifier; Run delivers its messages.
func New(cfg Config) *Notifier {
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1000
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Name == nil {
		cfg.Name = func(id string) string { return id }
	}
	return &Notifier{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}, queue: make(chan Message, cfg.Queue),
		pending: map[string]domain.ReviewRequested{}}
}

// Apply turns a review event the writer just appended into a message.
func (n *Notifier) Apply(e domain.Event) error {
	n.observe(e, true)
	return nil
}

// Seen learns from an event replayed at start, without notifying.
func (n *Notifier) Seen(e domain.Event) error {
	n.observe(e, false)
	return nil
}

func (n *Notifier) observe(e domain.Event, send bool) {
	switch e.Type {
	case domain.TypeReviewRequested:
		var p domain.ReviewRequested
		if e.DecodePayload(&p) != nil {
			return
		}
		n.mu.Lock()
		n.pending[p.ReviewID] = p
		n.mu.Unlock()
		if send {
			n.enqueue(n.opened(p, e.Time))
		}
	case domain.TypeReviewApproved, domain.TypeReviewDenied, domain.TypeReviewExpired, domain.TypeReviewAbandoned:
		var p struct {
			ReviewID   string `json:"review_id"`
			ReviewerID string `json:"reviewer_id"`
			By         string `json:"by"`
			Reason     string `json:"reason"`
		}
		if e.DecodePayload(&p) != nil {
			return
		}
		n.mu.Lock()
		req, ok := n.pending[p.ReviewID]
		if ok && e.Type != domain.TypeReviewApproved {
			delete(n.pending, p.ReviewID)
		}
		n.mu.Unlock()
		if !ok || !send {
			return
		}
		by := p.ReviewerID
		if by == "" {
			by = p.By
		}
		n.enqueue(n.decided(req, e.Type, by, p.Reason, e.Time))
	}
}

func (n *Notifier) link(id string) string {
	base := ""
	if n.cfg.ConsoleURL != nil {
		base = n.cfg.ConsoleURL()
	}
	if base == "" {
		return ""
	}
	return strings.TrimSuffix(base, "/") + "/reviews/" + id
}

// call renders a tool call in a few words.
func call(tool string, input json.RawMessage) string {
	var m map[string]any
	_ = json.Unmarshal(input, &m)
	for _, k := range []string{"command", "file_path", "notebook_path", "url"} {
		if s, ok := m[k].(string); ok && s != "" {
			if len(s) > 200 {
				s = s[:200] + "…"
			}
			return tool + " `" + s + "`"
		}
	}
	return tool
}

func (n *Notifier) opened(p domain.ReviewRequested, at time.Time) Message {
	agent := p.Requester
	if agent == "" {
		agent = n.cfg.Name(p.RequesterID)
	}
	m := Message{Event: "review.opened", ReviewID: p.ReviewID, Status: domain.ReviewPending, Agent: agent, Tool: p.Tool, Input: p.Input,
		Rule: p.Rule, Reason: p.Reason, URL: n.link(p.ReviewID), Time: at}
	m.Text = fmt.Sprintf("Lighthouse: %s wants to run %s — escalated by rule %s: %s. Review %s", agent, call(p.Tool, p.Input), p.Rule, p.Reason, p.ReviewID[:min(8, len(p.ReviewID))])
	if m.URL != "" {
		m.Text += " " + m.URL
	}
	return m
}

func (n *Notifier) decided(p domain.ReviewRequested, typ, byID, reason string, at time.Time) Message {
	agent := p.Requester
	if agent == "" {
		agent = n.cfg.Name(p.RequesterID)
	}
	status := map[string]string{domain.TypeReviewApproved: domain.ReviewApproved, domain.TypeReviewDenied: domain.ReviewDenied,
		domain.TypeReviewExpired: domain.ReviewExpired, domain.TypeReviewAbandoned: domain.ReviewAbandoned}[typ]
	by := ""
	if byID != "" {
		by = n.cfg.Name(byID)
	}
	m := Message{Event: "review.decided", ReviewID: p.ReviewID, Status: status, Agent: agent, Tool: p.Tool, Input: p.Input,
		Rule: p.Rule, Reason: reason, DecidedBy: by, URL: n.link(p.ReviewID), Time: at}
	what := status
	if by != "" {
		what += " by " + by
	}
	m.Text = fmt.Sprintf("Lighthouse: %s's %s was %s", agent, call(p.Tool, p.Input), what)
	if reason != "" {
		m.Text += ": " + reason
	}
	if m.URL != "" {
		m.Text += " " + m.URL
	}
	return m
}

// enqueue hands m to Run, dropping it when the queue is full.
func (n *Notifier) enqueue(m Message) {
	select {
	case n.queue <- m:
	default:
		n.cfg.Log.Warn("notification dropped: the webhook is behind", "review", m.ReviewID, "event", m.Event)
	}
}

// Run delivers messages in order until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-n.queue:
			if err := n.deliver(ctx, m); err != nil && ctx.Err() == nil {
				n.cfg.Log.Error("notification not delivered", "review", m.ReviewID, "event", m.Event, "err", err)
			}
		}
	}
}

// deliver posts m, retrying with backoff on failures and 5xx/429 answers.
func (n *Notifier) deliver(ctx context.Context, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	pause := n.cfg.Backoff
	var last error
	for attempt := 1; attempt <= n.cfg.Attempts; attempt++ {
		last = n.post(ctx, body)
		if last == nil {
			return nil
		}
		var pe permanentError
		if errors.As(last, &pe) || attempt == n.cfg.Attempts {
			break
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause *= 2
	}
	return last
}

// permanentError is an answer retrying will not change (4xx but 408/429).
type permanentError struct{ status int }

func (e permanentError) Error() string { return fmt.Sprintf("webhook answered %d", e.status) }

func (n *Notifier) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lighthouse-notify")
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to webhook: %w", err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return permanentError{resp.StatusCode}
	}
	return fmt.Errorf("webhook answered %d", resp.StatusCode)
}
