package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpSession starts the MCP server `init claude` registered in the
// project's .mcp.json, as Claude Code would, in env, and connects a client.
func mcpSession(t *testing.T, ctx context.Context, ta *twoAgents, env []string) *mcp.ClientSession {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(ta.g.project, ".mcp.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		MCPServers map[string]struct {
			Type    string   `json:"type"`
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	s, ok := f.MCPServers["lighthouse"]
	if !ok || s.Type != "stdio" {
		t.Fatalf(".mcp.json lacks the lighthouse server:\n%s", raw)
	}
	cmd := exec.Command(s.Command, s.Args...)
	cmd.Dir = ta.g.project
	cmd.Env = env
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to %s %v: %v", s.Command, s.Args, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// callTool calls a tool and returns its text; wantErr says whether the
// tool must report an error.
func callTool(t *testing.T, ctx context.Context, cs *mcp.ClientSession, name string, args map[string]any, wantErr bool) string {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	if res.IsError != wantErr {
		t.Fatalf("%s(%v): error %v, want %v: %s", name, args, res.IsError, wantErr, b.String())
	}
	return b.String()
}

// TestMCPServerOverStdio: `init claude` registers `lighthouse mcp` in
// .mcp.json; a client of the same SDK starts it over stdio as two agents
// (the token file, and LIGHTHOUSE_TOKEN), lists its tools and calls them
// against the running system.
func TestMCPServerOverStdio(t *testing.T) {
	t.Parallel()
	ta := setupTwoAgents(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := mcpSession(t, ctx, ta, ta.envA) // the token file init stored
	b := mcpSession(t, ctx, ta, ta.envB) // LIGHTHOUSE_TOKEN

	tools, err := a.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
		if len(tool.Description) > 80 {
			t.Errorf("tool %s has a long description (%d bytes)", tool.Name, len(tool.Description))
		}
	}
	for _, want := range []string{"whoami", "send_message", "read_inbox", "ack", "create_task", "claim_task", "complete_task", "lease_paths", "release_lease", "file_history", "diff", "search"} {
		if !slices.Contains(names, want) {
			t.Errorf("tools %v lack %s", names, want)
		}
	}
	for _, c := range []struct {
		cs   *mcp.ClientSession
		want string
	}{{a, `"name":"claude"`}, {b, `"name":"claude-2"`}} {
		if out := callTool(t, ctx, c.cs, "whoami", nil, false); !strings.Contains(out, c.want) {
			t.Errorf("whoami: %s, want %s", out, c.want)
		}
	}
	sent := callTool(t, ctx, a, "send_message", map[string]any{"to": []string{"claude-2"}, "subject": "via mcp", "body": "hello", "ack_required": true}, false)
	var msg struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(sent), &msg); err != nil || msg.ID == "" {
		t.Fatalf("send_message: %v %s", err, sent)
	}
	if out := callTool(t, ctx, b, "read_inbox", map[string]any{"unread": true, "wait": "10s"}, false); !strings.Contains(out, msg.ID) {
		t.Fatalf("claude-2's inbox lacks %s: %s", msg.ID, out)
	}
	// Ids as lists print them: the first 8 characters, as the CLI takes them.
	if out := callTool(t, ctx, b, "ack", map[string]any{"id": "zzzzzzzz"}, true); !strings.Contains(out, `no message sent to you with an id starting "zzzzzzzz"`) {
		t.Fatalf("ack of an unknown prefix: %s", out)
	}
	callTool(t, ctx, b, "ack", map[string]any{"id": msg.ID[:8]}, false)
	callTool(t, ctx, a, "ack", map[string]any{"id": msg.ID}, true) // not a recipient
	if out := callTool(t, ctx, b, "read_inbox", map[string]any{"unread": true}, false); strings.Contains(out, msg.ID) {
		t.Fatalf("acked message still unread: %s", out)
	}

	// Tasks: claude-2 gains the capability; claude asks, claude-2 takes it.
	ta.g.run(ta.g.project, 0, "agent", "capabilities", "claude-2", "security")
	created := callTool(t, ctx, a, "create_task", map[string]any{"capability": "security", "title": "audit the cart", "paths": []string{"src/cart/cart.go"}, "deadline": "10m"}, false)
	var task struct {
		ID      string   `json:"id"`
		Offered []string `json:"offered"`
	}
	if err := json.Unmarshal([]byte(created), &task); err != nil || task.ID == "" || !slices.Equal(task.Offered, []string{"claude-2"}) {
		t.Fatalf("create_task: %v %s", err, created)
	}
	callTool(t, ctx, a, "claim_task", map[string]any{"id": task.ID}, true) // claude lacks the capability
	if out := callTool(t, ctx, b, "claim_task", map[string]any{"id": task.ID[:8]}, false); !strings.Contains(out, `"status":"claimed"`) {
		t.Fatalf("claim_task: %s", out)
	}
	callTool(t, ctx, a, "complete_task", map[string]any{"id": task.ID, "result": "mine"}, true) // not the claimer
	if out := callTool(t, ctx, b, "complete_task", map[string]any{"id": task.ID[:8], "result": "looks fine"}, false); !strings.Contains(out, `"status":"completed"`) || !strings.Contains(out, "looks fine") {
		t.Fatalf("complete_task: %s", out)
	}

	leased := callTool(t, ctx, a, "lease_paths", map[string]any{"paths": []string{"src/cart/**"}, "reason": "mcp test", "ttl": "5m"}, false)
	var lease struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(leased), &lease); err != nil || lease.ID == "" {
		t.Fatalf("lease_paths: %v %s", err, leased)
	}
	callTool(t, ctx, b, "lease_paths", map[string]any{"paths": []string{"src/cart/cart.go"}}, true) // conflicts
	callTool(t, ctx, b, "release_lease", map[string]any{"id": lease.ID}, true)                      // not b's
	callTool(t, ctx, a, "release_lease", map[string]any{"id": lease.ID[:8]}, false)

	if out := callTool(t, ctx, a, "file_history", map[string]any{"path": "src/cart/cart.go"}, false); !strings.Contains(out, `"revisions"`) {
		t.Errorf("file_history: %s", out)
	}
	// A path that leaves the project is refused naming the field, not a
	// bare 404 of another route the client's URL resolved to.
	for _, p := range []string{"../../etc/passwd", "src/../../x"} {
		if out := callTool(t, ctx, a, "file_history", map[string]any{"path": p}, true); !strings.Contains(out, "path") || strings.Contains(out, "Not Found") {
			t.Errorf("file_history of %s: %s", p, out)
		}
	}
	if out := callTool(t, ctx, a, "search", map[string]any{"pattern": "package cart"}, false); !strings.Contains(out, "src/cart/cart.go") {
		t.Errorf("search: %s", out)
	}
	if out := callTool(t, ctx, a, "diff", map[string]any{"from": "1"}, false); !strings.Contains(out, "src/cart/cart.go") {
		t.Errorf("diff: %s", out)
	}
	mcpAnnotations(t, ctx, a, b, names)
}

// mcpAnnotations: agent a annotates a line through annotate; agent b sees
// it through list_annotations; bad lines are a tool error naming the field.
func mcpAnnotations(t *testing.T, ctx context.Context, a, b *mcp.ClientSession, names []string) {
	t.Helper()
	for _, want := range []string{"annotate", "list_annotations"} {
		if !slices.Contains(names, want) {
			t.Errorf("tools %v lack %s", names, want)
		}
	}
	made := callTool(t, ctx, a, "annotate", map[string]any{"path": "src/cart/cart.go", "line_start": 1, "kind": "todo", "body": "split this package"}, false)
	var note struct {
		ID  string `json:"id"`
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal([]byte(made), &note); err != nil || note.ID == "" || note.Seq == 0 {
		t.Fatalf("annotate: %v %s", err, made)
	}
	type noteView struct {
		ID        string `json:"id"`
		LineStart int    `json:"line_start"`
		LineEnd   int    `json:"line_end"`
		Kind      string `json:"kind"`
		Author    string `json:"author"`
	}
	out := callTool(t, ctx, b, "list_annotations", map[string]any{"path": "src/cart/cart.go"}, false)
	var list struct {
		Annotations []noteView `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list_annotations: %v %s", err, out)
	}
	i := slices.IndexFunc(list.Annotations, func(x noteView) bool { return x.ID == note.ID })
	if i < 0 || list.Annotations[i].LineStart != 1 || list.Annotations[i].LineEnd != 1 || list.Annotations[i].Kind != "todo" || list.Annotations[i].Author != "claude" {
		t.Errorf("list_annotations lacks %s on line 1 by claude: %s", note.ID, out)
	}
	if out := callTool(t, ctx, a, "annotate", map[string]any{"path": "src/cart/cart.go", "line_start": 100000, "body": "x"}, true); !strings.Contains(out, "line_start") {
		t.Errorf("annotate past the end: %s, want an error naming line_start", out)
	}
}
