// Package mcpserver is `lighthouse mcp`: a Model Context Protocol server
// over stdio whose tools call the writer's and the reader's HTTP APIs as
// the agent that LIGHTHOUSE_TOKEN names.
package mcpserver

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lighthouse-ai/lighthouse/infra/cli"
	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// maxToolText bounds the text one tool call answers, to spare the agent's
// context.
const maxToolText = 16 << 10

// Run is `lighthouse mcp`: it serves MCP on stdin and stdout until the
// client closes them or ctx ends.
func Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	var conn cli.Connection
	conn.Register(fs)
	if _, err := cli.Parse(fs, args, 0, 0); err != nil {
		return err
	}
	conn.NoAdmin = true
	w, err := conn.Writer()
	if err != nil {
		return fmt.Errorf("mcp: %w", err)
	}
	r, err := conn.Reader()
	if err != nil {
		return fmt.Errorf("mcp: %w", err)
	}
	if err := NewServer(w, r).Run(ctx, &mcp.StdioTransport{}); err != nil {
		return fmt.Errorf("mcp: %w", err)
	}
	return nil
}

// tools holds the writer and reader clients the tools call.
type tools struct {
	w, r *client.Client
}

// Inputs of the tools; the jsonschema tags are their descriptions.
type (
	noInput   struct{}
	sendInput struct {
		To          []string `json:"to" jsonschema:"agent names, role:ROLE or capability:NAME"`
		Subject     string   `json:"subject,omitempty"`
		Body        string   `json:"body,omitempty"`
		Thread      string   `json:"thread,omitempty"`
		ReplyTo     string   `json:"reply_to,omitempty" jsonschema:"id of the message answered"`
		AckRequired bool     `json:"ack_required,omitempty"`
	}
	inboxInput struct {
		Unread bool   `json:"unread,omitempty" jsonschema:"only unread messages"`
		Wait   string `json:"wait,omitempty" jsonschema:"wait this long for a message, e.g. 30s"`
	}
	ackInput struct {
		ID       string `json:"id" jsonschema:"message id, or its first characters (8 are usually enough)"`
		ReadOnly bool   `json:"read_only,omitempty" jsonschema:"mark read instead of acknowledging"`
	}
	taskInput struct {
		Capability string   `json:"capability" jsonschema:"capability of the agents it is for, e.g. security"`
		Title      string   `json:"title"`
		Body       string   `json:"body,omitempty"`
		Paths      []string `json:"paths,omitempty" jsonschema:"project-relative paths"`
		Deadline   string   `json:"deadline,omitempty" jsonschema:"e.g. 30m"`
	}
	completeInput struct {
		ID     string `json:"id" jsonschema:"task id, or its first characters (8 are usually enough)"`
		Result string `json:"result,omitempty"`
	}
	leaseInput struct {
		Paths  []string `json:"paths" jsonschema:"globs relative to the project root"`
		TTL    string   `json:"ttl,omitempty" jsonschema:"e.g. 30m"`
		Reason string   `json:"reason,omitempty"`
		Shared bool     `json:"shared,omitempty"`
	}
	idInput struct {
		ID string `json:"id" jsonschema:"id, or its first characters (8 are usually enough)"`
	}
	pathInput struct {
		Path string `json:"path" jsonschema:"project-relative path"`
	}
	diffInput struct {
		From string `json:"from" jsonschema:"point: seq, RFC 3339 time or snapshot"`
		To   string `json:"to,omitempty" jsonschema:"point; default now"`
		Path string `json:"path,omitempty"`
	}
	searchInput struct {
		Pattern string `json:"pattern" jsonschema:"regular expression"`
		At      string `json:"at,omitempty" jsonschema:"point; default now"`
		Limit   int    `json:"limit,omitempty"`
	}
)

// NewServer returns the MCP server whose tools call the writer w and the
// reader r.
func NewServer(w, r *client.Client) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "lighthouse", Version: "1"}, nil)
	t := tools{w: w, r: r}
	mcp.AddTool(s, &mcp.Tool{Name: "whoami", Description: "Your Lighthouse agent: name, role, capabilities."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ noInput) (*mcp.CallToolResult, any, error) {
			return t.json(ctx, t.w, http.MethodGet, "/v1/whoami", nil)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "send_message", Description: "Send a message to agents or people."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in sendInput) (*mcp.CallToolResult, any, error) {
			return t.json(ctx, t.w, http.MethodPost, "/v1/messages", in)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "read_inbox", Description: "Your messages."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in inboxInput) (*mcp.CallToolResult, any, error) {
			q := url.Values{}
			if in.Unread {
				q.Set("unread", "true")
			}
			if in.Wait != "" {
				q.Set("wait", in.Wait)
			}
			return t.json(ctx, t.r, http.MethodGet, "/v1/inbox?"+t.ownWrites(ctx, q), nil)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "ack", Description: "Acknowledge (or mark read) a message."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in ackInput) (*mcp.CallToolResult, any, error) {
			mark := "ack"
			if in.ReadOnly {
				mark = "read"
			}
			id, err := t.resolve(ctx, "message sent to you", in.ID, "/v1/inbox", "messages", "message_id", "the read_inbox tool")
			if err != nil {
				return toolError(err), nil, nil
			}
			return t.json(ctx, t.w, http.MethodPost, "/v1/messages/"+url.PathEscape(id)+"/"+mark, nil)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "create_task", Description: "Ask the agents with a capability for a piece of work."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in taskInput) (*mcp.CallToolResult, any, error) {
			return t.json(ctx, t.w, http.MethodPost, "/v1/tasks", in)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "claim_task", Description: "Take a task offered to your capability."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in idInput) (*mcp.CallToolResult, any, error) {
			id, err := t.resolveTask(ctx, in.ID)
			if err != nil {
				return toolError(err), nil, nil
			}
			return t.json(ctx, t.w, http.MethodPost, "/v1/tasks/"+url.PathEscape(id)+"/claim", struct{}{})
		})
	mcp.AddTool(s, &mcp.Tool{Name: "complete_task", Description: "Finish a task you claimed, with its result."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in completeInput) (*mcp.CallToolResult, any, error) {
			id, err := t.resolveTask(ctx, in.ID)
			if err != nil {
				return toolError(err), nil, nil
			}
			return t.json(ctx, t.w, http.MethodPost, "/v1/tasks/"+url.PathEscape(id)+"/complete", map[string]any{"result": in.Result})
		})
	mcp.AddTool(s, &mcp.Tool{Name: "lease_paths", Description: "Lease paths so other agents cannot write them."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in leaseInput) (*mcp.CallToolResult, any, error) {
			return t.json(ctx, t.w, http.MethodPost, "/v1/leases", map[string]any{"paths": in.Paths, "ttl": in.TTL, "reason": in.Reason, "exclusive": !in.Shared})
		})
	mcp.AddTool(s, &mcp.Tool{Name: "release_lease", Description: "Release a lease."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in idInput) (*mcp.CallToolResult, any, error) {
			id, err := t.resolve(ctx, "active lease", in.ID, "/v1/leases", "leases", "id", "GET /v1/leases on the reader")
			if err != nil {
				return toolError(err), nil, nil
			}
			return t.json(ctx, t.w, http.MethodDelete, "/v1/leases/"+url.PathEscape(id), nil)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "file_history", Description: "A file's revisions: who changed it, when."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in pathInput) (*mcp.CallToolResult, any, error) {
			return t.json(ctx, t.r, http.MethodGet, client.FilePath(strings.TrimPrefix(in.Path, "/"))+"/history?"+t.ownWrites(ctx, url.Values{}), nil)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "diff", Description: "Changes between two points of the project."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in diffInput) (*mcp.CallToolResult, any, error) {
			q := url.Values{"from": {in.From}}
			if in.To != "" {
				q.Set("to", in.To)
			}
			if in.Path != "" {
				q.Set("path", in.Path)
			}
			return t.json(ctx, t.r, http.MethodGet, "/v1/diff?"+t.ownWrites(ctx, q), nil)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "search", Description: "Search the project's files, now or at a past point."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in searchInput) (*mcp.CallToolResult, any, error) {
			q := url.Values{"q": {in.Pattern}}
			if in.At != "" {
				q.Set("at", in.At)
			}
			if in.Limit > 0 {
				q.Set("limit", fmt.Sprint(in.Limit))
			}
			return t.text(ctx, t.r, "/v1/search?"+t.ownWrites(ctx, q))
		})
	t.addAnnotationTools(s)
	return s
}

// resolve turns id, a full id or a prefix of one, into the full id among
// the field of what the reader lists at path under key, once it has applied
// the writer's head (so the agent's own new messages, tasks and leases are
// there). see says where the agent finds the ids.
func (t tools) resolve(ctx context.Context, kind, id, path, key, field, see string) (string, error) {
	return client.ResolveID(kind, id, see, func() ([]string, error) {
		head, err := t.w.Head(ctx)
		if err != nil {
			return nil, err
		}
		return t.r.IDs(ctx, path, key, field, head)
	})
}

// resolveTask resolves a task id or prefix among every task.
func (t tools) resolveTask(ctx context.Context, id string) (string, error) {
	return t.resolve(ctx, "task", id, "/v1/tasks", "tasks", "task_id", "GET /v1/tasks on the reader")
}

// json calls the API and answers its JSON as text; an API error is a
// tool error the agent reads, not a protocol error.
func (t tools) json(ctx context.Context, c *client.Client, method, path string, body any) (*mcp.CallToolResult, any, error) {
	var out json.RawMessage
	var err error
	if body == nil {
		_, err = c.Do(ctx, method, path, nil, nil, &out)
	} else {
		err = c.PostJSON(ctx, path, body, &out)
	}
	if err != nil {
		return toolError(err), nil, nil
	}
	return textResult(string(out)), nil, nil
}

// ownWrites returns q, encoded, asking the reader to have applied the
// writer's head first (min_seq), so a read after this agent's own writes
// (an ack, an annotation, a file) sees them. A long-poll of the inbox
// (wait) is left as it is: there the reader waits for new messages.
func (t tools) ownWrites(ctx context.Context, q url.Values) string {
	if q.Get("wait") == "" {
		if head, err := t.w.Head(ctx); err == nil && head > 0 {
			q.Set("min_seq", strconv.FormatUint(head, 10))
		}
	}
	return q.Encode()
}

// text GETs path and answers the body as is (the search's JSON lines).
func (t tools) text(ctx context.Context, c *client.Client, path string) (*mcp.CallToolResult, any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return toolError(err), nil, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxToolText+1))
	if err != nil {
		return toolError(err), nil, nil
	}
	if resp.StatusCode/100 != 2 {
		return toolError(fmt.Errorf("GET %s: %s: %s", path, resp.Status, raw)), nil, nil
	}
	return textResult(string(raw)), nil, nil
}

func textResult(s string) *mcp.CallToolResult {
	if len(s) > maxToolText {
		s = s[:maxToolText] + "\n… (cut; narrow the request)"
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func toolError(err error) *mcp.CallToolResult {
	r := textResult(err.Error())
	r.IsError = true
	return r
}
