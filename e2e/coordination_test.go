package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// twoAgents is a guarded project wired with `init claude` (agent "claude",
// the hooks' token file) and a second agent "claude-2" with its own token,
// each with its own Claude Code session.
type twoAgents struct {
	g                *guarded
	pre, post        string
	start, end       string
	envA, envB       []string
	tokenA, tokenB   string
	sessA, sessB     string
	writerURL, home  string
	tokenFileA, bin  string
	cartFile, other  string
	cartRel, otherRe string
}

func setupTwoAgents(t *testing.T) *twoAgents {
	t.Helper()
	bin := filepath.Join(binDir, "lighthouse")
	project := filepath.Join(t.TempDir(), "shop")
	writeProjectFile(t, project, "go.mod", "module shop\n")
	writeProjectFile(t, project, "src/cart/cart.go", "package cart // a\n")
	writeProjectFile(t, project, "other/x.go", "package other\n")
	g := upProject(t, bin, project)
	g.run(project, 0, "init", "claude", "--dir", project)
	lines := strings.Split(strings.TrimSpace(g.run(project, 0, "agent", "add", "claude-2", "--role", "builder")), "\n")
	tokB := strings.TrimSpace(lines[len(lines)-1])
	ta := &twoAgents{g: g, bin: bin, sessA: "sess-a", sessB: "sess-b", tokenB: tokB, home: t.TempDir(),
		writerURL: config.AddrURL(filepath.Join(g.data, "writer.addr")), tokenFileA: filepath.Join(g.data, "agents", "claude.token")}
	raw, err := os.ReadFile(ta.tokenFileA)
	if err != nil {
		t.Fatal(err)
	}
	ta.tokenA = strings.TrimSpace(string(raw))
	ta.pre, ta.post = settingsCommands(t, g.project)
	ta.start, ta.end = sessionCommands(t, g.project)
	ta.envA = []string{"PATH=/usr/bin:/bin", "HOME=" + ta.home, "LIGHTHOUSE_HOOK_WAIT=1"}
	ta.envB = append(append([]string{}, ta.envA...), "LIGHTHOUSE_TOKEN="+tokB)
	ta.cartFile, ta.other = filepath.Join(g.project, "src", "cart", "cart.go"), filepath.Join(g.project, "other", "x.go")
	// Wait for the watcher's import, so the files have a version in the log.
	eventually(t, "import", func() error {
		out, err := ta.lighthouse("", "cat", "src/cart/cart.go")
		if err != nil || !strings.Contains(out, "package cart") {
			return fmt.Errorf("cat: %v %s", err, out)
		}
		return nil
	})
	return ta
}

// sessionCommands returns the SessionStart and SessionEnd commands init
// wrote.
func sessionCommands(t *testing.T, project string) (start, end string) {
	t.Helper()
	return settingsHook(t, project, "SessionStart"), settingsHook(t, project, "SessionEnd")
}

// lighthouse runs the CLI in the project as the agent holding token ("" for
// the user, who falls back to the admin token).
func (ta *twoAgents) lighthouse(token string, args ...string) (string, error) {
	cmd := exec.Command(ta.bin, args...)
	cmd.Dir = ta.g.project
	extra := []string{}
	if token != "" {
		extra = append(extra, "LIGHTHOUSE_TOKEN="+token, "CLAUDECODE=1")
	}
	cmd.Env = ta.g.env(extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), fmt.Errorf("lighthouse %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// preCall runs the PreToolUse hook for the agent and returns the deny
// reason ("" when allowed).
func (ta *twoAgents) preCall(t *testing.T, env []string, session, tool string, input map[string]any) string {
	t.Helper()
	return claudeHook(t, ta.pre, env, map[string]any{"session_id": session, "hook_event_name": "PreToolUse", "cwd": ta.g.project,
		"tool_name": tool, "tool_input": input, "tool_use_id": fmt.Sprintf("toolu_%d", time.Now().UnixNano())}).denied(t)
}

// postCall runs the PostToolUse hook for the agent; it must succeed.
func (ta *twoAgents) postCall(t *testing.T, env []string, session, tool, file string) {
	t.Helper()
	r := claudeHook(t, ta.post, env, map[string]any{"session_id": session, "hook_event_name": "PostToolUse", "cwd": ta.g.project,
		"tool_name": tool, "tool_input": map[string]any{"file_path": file}, "tool_use_id": fmt.Sprintf("toolu_%d", time.Now().UnixNano())})
	if r.code != 0 {
		t.Fatalf("post hook %s %s: exit %d: %s", tool, file, r.code, r.stderr)
	}
}

func (ta *twoAgents) sessionStart(t *testing.T, env []string, session string) string {
	t.Helper()
	r := claudeHook(t, ta.start, env, map[string]any{"session_id": session, "hook_event_name": "SessionStart", "cwd": ta.g.project, "source": "startup"})
	if r.code != 0 {
		t.Fatalf("session-start: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		HookSpecificOutput struct {
			HookEventName     string `json:"hookEventName"`
			AdditionalContext string `json:"additionalContext"`
		} `json:"hookSpecificOutput"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.HookSpecificOutput.HookEventName != "SessionStart" {
		t.Fatalf("session-start answered %q: %v", r.stdout, err)
	}
	return out.HookSpecificOutput.AdditionalContext
}

// allowedWithin polls until fn reports no deny reason.
func allowedWithin(t *testing.T, what string, d time.Duration, fn func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		reason := fn()
		if reason == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still denied after %v: %s", what, d, reason)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLeasesEnforcedByTheGate: agent A's exclusive lease blocks agent B's
// Write and Bash sed -i under it, and the formatters, find -delete and git
// commands that rewrite a tree above it (naming holder, reason and expiry), never
// B's reads nor A's own writes; an overlapping exclusive lease is a 409;
// release, expiry and the end of A's session free the paths; SessionStart
// tells each agent who it is, who else is active and their leases.
func TestLeasesEnforcedByTheGate(t *testing.T) {
	t.Parallel()
	ta := setupTwoAgents(t)
	ctxA := ta.sessionStart(t, ta.envA, ta.sessA)
	if !strings.Contains(ctxA, `agent "claude" (role builder)`) || !strings.Contains(ctxA, "No other agent") {
		t.Fatalf("A's session context:\n%s", ctxA)
	}

	// A leases the cart; the lease belongs to A's latest session.
	id := strings.TrimSpace(mustRun(t, ta, ta.tokenA, "lease", "add", "src/cart/**", "--ttl", "5m", "-m", "refactoring the cart"))
	if id == "" {
		t.Fatal("lease add printed no id")
	}
	ctxB := ta.sessionStart(t, ta.envB, ta.sessB)
	for _, want := range []string{`agent "claude-2" (role builder)`, "claude (builder), session sess-a", "claude holds src/cart/** (exclusive)", "refactoring the cart", id} {
		if !strings.Contains(ctxB, want) {
			t.Fatalf("B's session context lacks %q:\n%s", want, ctxB)
		}
	}

	for _, c := range []struct {
		name   string
		env    []string
		tool   string
		input  map[string]any
		denied bool
	}{
		{"B writes a leased file", ta.envB, "Write", map[string]any{"file_path": ta.cartFile, "content": "x"}, true},
		{"B edits a leased file", ta.envB, "Edit", map[string]any{"file_path": ta.cartFile, "old_string": "a", "new_string": "b"}, true},
		{"B runs sed -i on a leased file", ta.envB, "Bash", map[string]any{"command": "sed -i 's/a/b/' src/cart/cart.go"}, true},
		{"B redirects into a leased file", ta.envB, "Bash", map[string]any{"command": "echo x > src/cart/new.go"}, true},
		{"B removes the leased directory", ta.envB, "Bash", map[string]any{"command": "rm -rf src"}, true},
		// Whole-tree rewrites (walkthrough): formatters, find -delete, git.
		{"B formats the tree above the lease", ta.envB, "Bash", map[string]any{"command": "gofmt -w src"}, true},
		{"B runs go fmt on every package", ta.envB, "Bash", map[string]any{"command": "go fmt ./..."}, true},
		{"B deletes by find", ta.envB, "Bash", map[string]any{"command": `find . -name "*.go" -delete`}, true},
		{"B stashes the working tree", ta.envB, "Bash", map[string]any{"command": "git stash"}, true},
		{"B runs black as a module", ta.envB, "Bash", map[string]any{"command": "python3 -m black src"}, true},
		{"B lists unformatted files", ta.envB, "Bash", map[string]any{"command": "gofmt -l src"}, false},
		// The MCP tools the SessionStart context points agents at.
		{"B calls Lighthouse's own MCP tool", ta.envB, "mcp__lighthouse__lease_paths", map[string]any{"paths": []string{"docs/**"}}, false},
		{"B reads a leased file", ta.envB, "Read", map[string]any{"file_path": ta.cartFile}, false},
		{"B cats a leased file", ta.envB, "Bash", map[string]any{"command": "cat src/cart/cart.go"}, false},
		{"B writes elsewhere", ta.envB, "Write", map[string]any{"file_path": ta.other, "content": "package other\n"}, false},
		{"A writes its leased file", ta.envA, "Write", map[string]any{"file_path": ta.cartFile, "content": "x"}, false},
		{"A runs sed -i on its leased file", ta.envA, "Bash", map[string]any{"command": "sed -i 's/a/b/' src/cart/cart.go"}, false},
	} {
		session := ta.sessB
		if c.env[len(c.env)-1] != ta.envB[len(ta.envB)-1] {
			session = ta.sessA
		}
		reason := ta.preCall(t, c.env, session, c.tool, c.input)
		if (reason != "") != c.denied {
			t.Errorf("%s: denied %q, want denied=%v", c.name, reason, c.denied)
		}
		if c.denied && !(strings.Contains(reason, "leased by claude until 20") && strings.Contains(reason, "refactoring the cart") && strings.Contains(reason, "builtin.lease")) {
			t.Errorf("%s: the reason does not name holder, lease reason and expiry: %s", c.name, reason)
		}
	}

	// An overlapping exclusive lease is refused with 409, naming the holder and paths.
	body, _ := json.Marshal(map[string]any{"paths": []string{"src/**"}, "reason": "me too"})
	req, _ := http.NewRequest(http.MethodPost, ta.writerURL+"/v1/leases", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ta.tokenB)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var conflict struct {
		Error struct {
			Code   string   `json:"code"`
			Holder string   `json:"holder"`
			Paths  []string `json:"paths"`
		} `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&conflict)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || conflict.Error.Code != "lease_conflict" || conflict.Error.Holder != "claude" ||
		len(conflict.Error.Paths) != 1 || conflict.Error.Paths[0] != "src/cart/**" {
		t.Fatalf("overlapping lease: %d %+v, want 409 naming claude and src/cart/**", resp.StatusCode, conflict.Error)
	}
	if out, err := ta.lighthouse(ta.tokenB, "lease", "add", "src/cart/cart.go"); err == nil || !strings.Contains(out, "409") || !strings.Contains(out, "claude") {
		t.Fatalf("lease add over another's lease: %v\n%s", err, out)
	}
	// Shared leases coexist; a disjoint exclusive one is granted.
	mustRun(t, ta, ta.tokenA, "lease", "add", "docs/**", "--shared")
	mustRun(t, ta, ta.tokenB, "lease", "add", "docs/**", "--shared")
	list := mustRun(t, ta, "", "lease", "list")
	if !strings.Contains(list, id[:8]+" ") || strings.Contains(list, id) || !strings.Contains(list, "claude") || !strings.Contains(list, "claude-2") {
		t.Fatalf("lease list:\n%s", list)
	}

	// Release frees the paths.
	mustRun(t, ta, ta.tokenA, "lease", "release", id)
	if reason := ta.preCall(t, ta.envB, ta.sessB, "Write", map[string]any{"file_path": ta.cartFile, "content": "x"}); reason != "" {
		t.Fatalf("B's write after the release: %s", reason)
	}

	// Expiry frees them too, as an event.
	mustRun(t, ta, ta.tokenA, "lease", "add", "other/**", "--ttl", "2s", "-m", "short")
	if reason := ta.preCall(t, ta.envB, ta.sessB, "Write", map[string]any{"file_path": ta.other, "content": "x"}); !strings.Contains(reason, "short") {
		t.Fatalf("B's write under a fresh lease: %q, want denied", reason)
	}
	allowedWithin(t, "B's write after the lease expired", 10*time.Second, func() string {
		return ta.preCall(t, ta.envB, ta.sessB, "Write", map[string]any{"file_path": ta.other, "content": "x"})
	})
	if out := mustRun(t, ta, "", "log", "--type", "lease.expired"); !strings.Contains(out, "lease.expired") {
		t.Fatalf("no lease.expired event:\n%s", out)
	}

	// The end of A's session releases its leases at once.
	mustRun(t, ta, ta.tokenA, "lease", "add", "src/cart/**", "-m", "again")
	if reason := ta.preCall(t, ta.envB, ta.sessB, "Bash", map[string]any{"command": "sed -i 's/a/b/' src/cart/cart.go"}); reason == "" {
		t.Fatal("B's sed under A's new lease was allowed")
	}
	begin := time.Now()
	r := claudeHook(t, ta.end, ta.envA, map[string]any{"session_id": ta.sessA, "hook_event_name": "SessionEnd", "cwd": ta.g.project, "reason": "prompt_input_exit"})
	if r.code != 0 || time.Since(begin) > 1500*time.Millisecond {
		t.Fatalf("session-end: exit %d in %v: %s", r.code, time.Since(begin), r.stderr)
	}
	if reason := ta.preCall(t, ta.envB, ta.sessB, "Bash", map[string]any{"command": "sed -i 's/a/b/' src/cart/cart.go"}); reason != "" {
		t.Fatalf("B's sed after A's session ended: %s", reason)
	}
	var sessions string
	eventually(t, "sessions lists only B", func() error {
		sessions = mustRun(t, ta, "", "sessions")
		if strings.Contains(sessions, ta.sessA) || !strings.Contains(sessions, ta.sessB) || !strings.Contains(sessions, "claude-2") {
			return errors.New(sessions)
		}
		return nil
	})
}

// TestStaleWriteGuard: A reads a file, B changes it, A's Write is denied
// naming B and both sequences; once A reads it again the Write passes.
func TestStaleWriteGuard(t *testing.T) {
	t.Parallel()
	ta := setupTwoAgents(t)
	ta.sessionStart(t, ta.envA, ta.sessA)
	ta.sessionStart(t, ta.envB, ta.sessB)

	// A file A never read is not guarded.
	if reason := ta.preCall(t, ta.envA, ta.sessA, "Write", map[string]any{"file_path": ta.other, "content": "x"}); reason != "" {
		t.Fatalf("A's write of a file it never saw: %s", reason)
	}
	ta.postCall(t, ta.envA, ta.sessA, "Read", ta.cartFile)
	// B edits the file the way Claude Code does: pre hook, the edit, post hook.
	if reason := ta.preCall(t, ta.envB, ta.sessB, "Edit", map[string]any{"file_path": ta.cartFile, "old_string": "a", "new_string": "b"}); reason != "" {
		t.Fatalf("B's edit: %s", reason)
	}
	writeProjectFile(t, ta.g.project, "src/cart/cart.go", "package cart // b\n")
	ta.postCall(t, ta.envB, ta.sessB, "Edit", ta.cartFile)

	write := map[string]any{"file_path": ta.cartFile, "content": "package cart // A's stale copy\n"}
	reason := ta.preCall(t, ta.envA, ta.sessA, "Write", write)
	if !strings.Contains(reason, "changed by claude-2 at seq ") || !strings.Contains(reason, "since you last read it at seq ") || !strings.Contains(reason, "read it again") {
		t.Fatalf("A's stale write: %q, want denied naming claude-2", reason)
	}
	if reason := ta.preCall(t, ta.envA, ta.sessA, "Edit", map[string]any{"file_path": ta.cartFile, "old_string": "b", "new_string": "c"}); reason == "" {
		t.Fatal("A's stale edit was allowed")
	}
	// B's own next write is fine: its session wrote the latest version.
	if reason := ta.preCall(t, ta.envB, ta.sessB, "Write", write); reason != "" {
		t.Fatalf("B's write of its own version: %s", reason)
	}
	ta.postCall(t, ta.envA, ta.sessA, "Read", ta.cartFile)
	if reason := ta.preCall(t, ta.envA, ta.sessA, "Write", write); reason != "" {
		t.Fatalf("A's write after reading again: %s", reason)
	}
}

func mustRun(t *testing.T, ta *twoAgents, token string, args ...string) string {
	t.Helper()
	out, err := ta.lighthouse(token, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// TestEndingAnUnknownSession: ending a session id that is not active, and
// holds no lease of its own, is a 404 that appends nothing and releases
// nothing (it released the agent's leases tied to no session); the
// SessionEnd hook takes the 404 as done.
func TestEndingAnUnknownSession(t *testing.T) {
	t.Parallel()
	e, builder, lease := startWithLease(t)
	ctx := context.Background()
	head := e.writerHead()
	err := builder.PostJSON(ctx, "/v1/sessions/bogus-session/end", map[string]string{}, nil)
	var ce *client.Error
	if !errorsAs(err, &ce) || ce.Status != 404 {
		t.Fatalf("ending an unknown session: %v; want 404", err)
	}
	if h := e.writerHead(); h != head {
		t.Fatalf("ending an unknown session appended: head %d -> %d", head, h)
	}
	var leases struct {
		Leases []struct {
			ID string `json:"id"`
		} `json:"leases"`
	}
	if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/leases?min_seq=%d", head), nil, nil, &leases); err != nil || len(leases.Leases) != 1 || leases.Leases[0].ID != lease {
		t.Fatalf("leases after ending an unknown session: %+v, %v", leases, err)
	}
	// A session that was active still ends, and releases the lease.
	if err := builder.PostJSON(ctx, "/v1/sessions", map[string]string{"session_id": "s-1", "cwd": "/"}, nil); err != nil {
		t.Fatal(err)
	}
	var ended struct {
		Released []string `json:"released"`
	}
	if err := builder.PostJSON(ctx, "/v1/sessions/s-1/end", map[string]string{}, &ended); err != nil || len(ended.Released) != 1 || ended.Released[0] != lease {
		t.Fatalf("ending the active session: %+v, %v", ended, err)
	}
}

// TestLeaseInputChecked: a lease's ttl of zero is refused (it quietly meant
// ten minutes), a renewal with fields is refused (they were ignored), and
// a bad path names its index in paths.
func TestLeaseInputChecked(t *testing.T) {
	t.Parallel()
	e, builder, lease := startWithLease(t)
	ctx := context.Background()
	for _, c := range []struct {
		path        string
		body        any
		field, code string
	}{
		{"/v1/leases", map[string]any{"paths": []string{"a/**"}, "ttl": "0s"}, "ttl", "ttl_invalid"},
		{"/v1/leases", map[string]any{"paths": []string{"a/**"}, "ttl": "-5m"}, "ttl", "ttl_invalid"},
		{"/v1/leases", map[string]any{"paths": []string{"a/**", "../b"}}, "paths[1]", "path_escapes_root"},
		{"/v1/leases/" + lease + "/renew", map[string]any{"ttl": "1h"}, "ttl", "json_unknown_field"},
	} {
		err := builder.PostJSON(ctx, c.path, c.body, nil)
		var ce *client.Error
		if !errorsAs(err, &ce) || ce.Status != 400 || ce.Field != c.field || ce.Code != c.code {
			t.Errorf("POST %s %v: %v; want 400 %s naming %s", c.path, c.body, err, c.code, c.field)
		}
	}
	if err := builder.PostJSON(ctx, "/v1/leases/"+lease+"/renew", nil, nil); err != nil {
		t.Errorf("a renewal without a body: %v", err)
	}
	out, err := cli(t, e, "lease", "add", "--ttl", "0", "docs/**")
	if err == nil || !strings.Contains(out, "ttl") {
		t.Errorf("lighthouse lease add --ttl 0: %v\n%s", err, out)
	}
}

// startWithLease starts a system with a builder holding a lease on src/**
// tied to no session, and returns the builder's client and the lease's id.
func startWithLease(t *testing.T) (*env, *client.Client, string) {
	t.Helper()
	e := start(t, false)
	builder, _ := e.addAgent("builder-1", "builder")
	var lease struct {
		ID string `json:"id"`
	}
	if err := builder.PostJSON(context.Background(), "/v1/leases", map[string]any{"paths": []string{"src/**"}}, &lease); err != nil {
		t.Fatal(err)
	}
	return e, builder, lease.ID
}
