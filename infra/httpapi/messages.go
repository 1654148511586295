package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// Messaging is the writer's message API.
type Messaging struct {
	Handler *command.Messaging
}

func (m *Messaging) routes(v1 *echo.Group) {
	if m == nil || m.Handler == nil {
		return
	}
	v1.POST("/messages", m.send)
	v1.POST("/messages/:id/read", func(c echo.Context) error { return m.mark(c, domain.TypeMessageRead) })
	v1.POST("/messages/:id/ack", func(c echo.Context) error { return m.mark(c, domain.TypeMessageAcked) })
	v1.POST("/inbox/deliver", m.deliver)
}

// MessageRequest is the body of POST /v1/messages.
type MessageRequest struct {
	To          []string `json:"to"`
	Subject     string   `json:"subject"`
	Body        string   `json:"body"`
	Thread      string   `json:"thread"`
	ReplyTo     string   `json:"reply_to"`
	AckRequired bool     `json:"ack_required"`
}

// MessageAnswer answers a sent message.
type MessageAnswer struct {
	ID         string   `json:"id"`
	Thread     string   `json:"thread"`
	Seq        uint64   `json:"seq"`
	Recipients []string `json:"recipients"`
}

func (m *Messaging) send(c echo.Context) error {
	var req MessageRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	agent := agentOf(c)
	sent, err := m.Handler.Send(c.Request().Context(), command.SendMessage{Meta: meta(c, agent), From: agent, To: req.To, Subject: req.Subject,
		Body: req.Body, Thread: req.Thread, ReplyTo: req.ReplyTo, AckRequired: req.AckRequired})
	if err != nil {
		return err
	}
	v, _ := m.Handler.Messages.Get(sent.ID)
	names := []string{}
	for _, r := range v.Recipients {
		names = append(names, r.Name)
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(sent.Result.LastSeq, 10))
	return c.JSON(http.StatusCreated, MessageAnswer{ID: sent.ID, Thread: sent.Thread, Seq: sent.Result.LastSeq, Recipients: names})
}

func (m *Messaging) mark(c echo.Context, eventType string) error {
	agent := agentOf(c)
	res, err := m.Handler.Mark(c.Request().Context(), meta(c, agent), agent, c.Param("id"), eventType)
	if err != nil {
		return err
	}
	return accepted(c, http.StatusOK, res)
}

// DeliverRequest is the body of POST /v1/inbox/deliver, which the hooks
// call to add the caller's new messages to its agent's context.
type DeliverRequest struct {
	SessionID string `json:"session_id"`
	MaxBytes  int    `json:"max_bytes"`
}

// DeliverAnswer is the text for the agent's context and the messages it
// shows, which are now marked delivered.
type DeliverAnswer struct {
	Context   string   `json:"context"`
	Delivered []string `json:"delivered"`
	Remaining int      `json:"remaining"`
	Seq       uint64   `json:"seq"`
}

func (m *Messaging) deliver(c echo.Context) error {
	var req DeliverRequest
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	agent := agentOf(c)
	md := meta(c, agent)
	if req.SessionID != "" {
		md.SessionID = limitText(req.SessionID)
	}
	d, err := m.Handler.Deliver(c.Request().Context(), md, agent, req.MaxBytes)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, DeliverAnswer{Context: d.Context, Delivered: nonNil(d.Delivered), Remaining: d.Remaining, Seq: d.Result.LastSeq})
}

// maxInboxWait bounds one long-poll of GET /v1/inbox.
const maxInboxWait = time.Minute

// messageRoutes adds GET /v1/inbox and GET /v1/threads/:id to the reader.
func (r *Reader) messageRoutes(v1 *echo.Group) {
	if r.Messages == nil {
		return
	}
	v1.GET("/inbox", r.inbox)
	v1.GET("/threads/:id", func(c echo.Context) error {
		agent := agentOf(c)
		list := r.Messages.Thread(c.Param("id"), agent.ID, agent.Role == domain.RoleAdmin)
		if len(list) == 0 {
			return fmt.Errorf("thread %s (with messages to or from you): %w", c.Param("id"), domain.ErrNotFound)
		}
		r.setSeq(c)
		return c.JSON(http.StatusOK, map[string]any{"thread": c.Param("id"), "messages": list})
	})
}

// inbox answers the caller's messages; with wait it long-polls until one
// is there.
func (r *Reader) inbox(c echo.Context) error {
	unread, err := boolParam(c, "unread", false)
	if err != nil {
		return err
	}
	var wait time.Duration
	if ws := c.QueryParam("wait"); ws != "" && c.QueryParam("min_seq") == "" {
		d, err := time.ParseDuration(ws)
		if err != nil || d < 0 {
			return badRequest("wait", "wait_invalid", "wait must be a duration such as 30s")
		}
		wait = min(d, maxInboxWait)
	}
	agent := agentOf(c)
	ctx, cancel := longPoll(c.Request(), wait)
	defer cancel()
	for {
		head := r.Progress.Head()
		list := r.Messages.Inbox(agent.ID, projections.InboxFilter{Unread: unread})
		if len(list) > 0 || wait == 0 || r.Progress.WaitFor(ctx, head+1) != nil {
			if list == nil {
				list = []projections.MessageView{}
			}
			c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(head, 10))
			return c.JSON(http.StatusOK, map[string]any{"messages": list})
		}
	}
}
