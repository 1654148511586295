package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// guarded is a project guarded by `lighthouse up --project`, run the way a
// user runs it: state in XDG_STATE_HOME, addresses found through the data
// directory.
type guarded struct {
	t        *testing.T
	bin      string // the lighthouse binary the user runs
	project  string // real path
	state    string // XDG_STATE_HOME
	data     string
	out      *syncBuffer
	userHome string
	up       *exec.Cmd // the `lighthouse up` process
}

// upProject starts `lighthouse up --project project` with extra flags and
// stops it with SIGTERM when the test ends.
func upProject(t *testing.T, bin, project string, extra ...string) *guarded {
	t.Helper()
	// Port 0 everywhere: the CLI finds the addresses in the data directory.
	return startUp(t, bin, project, "", append([]string{"--no-mount",
		"--writer-addr", "127.0.0.1:0", "--reader-addr", "127.0.0.1:0", "--bus-addr", "127.0.0.1:0"}, extra...)...)
}

// startUp starts `lighthouse up --project project` with exactly the flags
// given, in the state directory state (XDG_STATE_HOME; "" for a new one)
// and its own home directory, and stops it with SIGTERM when the test ends.
func startUp(t *testing.T, bin, project, state string, flags ...string) *guarded {
	t.Helper()
	return startUpEnv(t, bin, project, state, nil, flags...)
}

// startUpEnv is startUp with variables added to the user's environment.
func startUpEnv(t *testing.T, bin, project, state string, environ []string, flags ...string) *guarded {
	t.Helper()
	if state == "" {
		state = t.TempDir()
	}
	g := &guarded{t: t, bin: bin, state: state, userHome: t.TempDir(), out: &syncBuffer{}}
	var err error
	if g.project, err = filepath.EvalSymlinks(project); err != nil {
		t.Fatal(err)
	}
	args := []string{"up", "--project", project, "--bin", binDir}
	up := exec.Command(bin, append(args, flags...)...)
	up.Env = g.env(environ...)
	up.Stdout, up.Stderr = g.out, g.out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	g.up = up
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()
	t.Cleanup(func() {
		up.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			up.Process.Kill()
		}
		if t.Failed() {
			t.Logf("lighthouse up output:\n%s", tail(g.out.String(), 6000))
		}
	})
	eventually(t, "lighthouse up ready", func() error {
		select {
		case err := <-exited:
			t.Fatalf("lighthouse up exited: %v\n%s", err, g.out.String())
		default:
		}
		if !strings.Contains(g.out.String(), "lighthouse is up") {
			return os.ErrNotExist
		}
		return nil
	})
	for _, l := range strings.Split(g.out.String(), "\n") {
		if d, ok := strings.CutPrefix(strings.TrimSpace(l), "data    "); ok {
			g.data = d
		}
	}
	if g.data == "" {
		t.Fatalf("up printed no data directory:\n%s", g.out.String())
	}
	return g
}

// env is the user's environment: no Lighthouse variables, its own state
// and home directories.
func (g *guarded) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LIGHTHOUSE_") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "CLAUDECODE=") {
			env = append(env, kv)
		}
	}
	return append(append(env, "XDG_STATE_HOME="+g.state, "HOME="+g.userHome), extra...)
}

// run runs the user's lighthouse command in dir and returns its output; it
// fails the test unless the exit status is want.
func (g *guarded) run(dir string, want int, args ...string) string {
	g.t.Helper()
	cmd := exec.Command(g.bin, args...)
	cmd.Dir, cmd.Env = dir, g.env()
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		g.t.Fatalf("lighthouse %v: %v", args, err)
	}
	if code != want {
		g.t.Fatalf("lighthouse %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
	}
	return string(out)
}

// claudeHook runs a hook command from settings.local.json exactly as Claude Code
// does: sh -c COMMAND, the event on stdin, in the agent's environment (a
// PATH without lighthouse, no LIGHTHOUSE_TOKEN, the agent's HOME).
func claudeHook(t *testing.T, command string, agentEnv []string, event map[string]any) hookResult {
	t.Helper()
	in, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = agentEnv
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	r := hookResult{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sh -c %s: %v", command, err)
	}
	return r
}

// denied reports the deny reason of a PreToolUse answer, "" when the call
// may run.
func (r hookResult) denied(t *testing.T) string {
	t.Helper()
	switch {
	case r.code == 2:
		return "exit 2: " + r.stderr
	case r.code != 0:
		t.Fatalf("hook exited %d (Claude Code would run the call): %s", r.code, r.stderr)
	case strings.TrimSpace(r.stdout) == "":
		return ""
	}
	var d struct {
		HookSpecificOutput struct {
			PermissionDecision       string `json:"permissionDecision"`
			PermissionDecisionReason string `json:"permissionDecisionReason"`
		} `json:"hookSpecificOutput"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("hook stdout %q: %v", r.stdout, err)
	}
	if d.HookSpecificOutput.PermissionDecision == "allow" {
		return ""
	}
	return d.HookSpecificOutput.PermissionDecision + ": " + d.HookSpecificOutput.PermissionDecisionReason
}

// settingsHook returns the command init claude registered for a Claude
// Code event in project/.claude/settings.local.json.
func settingsHook(t *testing.T, project, event string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(project, ".claude", "settings.local.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Hooks map[string][]struct {
			Hooks []struct {
				Command string `json:"command"`
			} `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	for _, g := range s.Hooks[event] {
		for _, h := range g.Hooks {
			if strings.Contains(h.Command, "lighthouse") {
				return h.Command
			}
		}
	}
	t.Fatalf("settings.local.json has no %s hook:\n%s", event, raw)
	return ""
}

// settingsCommands returns the PreToolUse and PostToolUse commands init
// wrote.
func settingsCommands(t *testing.T, project string) (pre, post string) {
	t.Helper()
	return settingsHook(t, project, "PreToolUse"), settingsHook(t, project, "PostToolUse")
}

func writeProjectFile(t *testing.T, project, rel, content string) string {
	t.Helper()
	p := filepath.Join(project, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGuardProjectWithClaudeCode follows the README: up guarding a project,
// init claude, doctor, then Claude Code's hooks run through sh -c from
// settings.local.json with the agent's own environment.
func TestGuardProjectWithClaudeCode(t *testing.T) {
	t.Parallel()
	bin := quotedBin
	project := filepath.Join(t.TempDir(), "my shop")
	writeProjectFile(t, project, "go.mod", "module shop\n")
	writeProjectFile(t, project, "Makefile", "test:\n\tgo test ./...\n")
	g := upProject(t, bin, project)
	if !strings.Contains(g.out.String(), "project "+g.project) {
		t.Fatalf("up does not say which project it guards:\n%s", g.out.String())
	}
	if config.Within(g.data, g.project) || !config.Within(g.data, g.state) {
		t.Fatalf("data directory %s: want it in the state directory %s, outside the project", g.data, g.state)
	}

	elsewhere := t.TempDir()
	g.run(elsewhere, 2, "init", "claude", "--dir", filepath.Join(elsewhere, "missing"))
	out := g.run(elsewhere, 0, "init", "claude", "--dir", project)
	if !strings.Contains(out, "agent claude") {
		t.Fatalf("init output:\n%s", out)
	}
	if gi, err := os.ReadFile(filepath.Join(project, ".gitignore")); err != nil || !strings.Contains(string(gi), "/.claude/settings.local.json\n") {
		t.Fatalf("the machine's own hook settings are not ignored by git: %q, %v", gi, err)
	}
	tokenFile := filepath.Join(g.data, "agents", "claude.token")
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("agent token file %s: %v %v", tokenFile, fi, err)
	}
	out = g.run(project, 0, "doctor")
	if strings.Count(out, "\nok ")+1 < 6 || strings.Contains(out, "FAIL") {
		t.Fatalf("doctor:\n%s", out)
	}
	pre, post := settingsCommands(t, project)
	if !strings.Contains(pre, "'") || !strings.HasSuffix(pre, "|| exit 2") || strings.Contains(post, " pre") {
		t.Fatalf("hook commands are not quoted absolute paths failing closed:\npre  %s\npost %s", pre, post)
	}

	agentHome := t.TempDir()
	agentEnv := []string{"PATH=/usr/bin:/bin", "HOME=" + agentHome, "LIGHTHOUSE_HOOK_WAIT=1"}
	event := func(tool string, input map[string]any, id string) map[string]any {
		return map[string]any{"session_id": "sess-1", "hook_event_name": "PreToolUse", "cwd": g.project,
			"tool_name": tool, "tool_input": input, "tool_use_id": id}
	}
	for _, c := range []struct {
		name     string
		tool     string
		input    map[string]any
		denied   bool
		reasonIn string
	}{
		{"tests run", "Bash", map[string]any{"command": "go test ./..."}, false, ""},
		// The Makefile came with the baseline import: no agent changed it.
		{"make on the imported Makefile", "Bash", map[string]any{"command": "make test"}, false, ""},
		{"recursive delete inside the project", "Bash", map[string]any{"command": "rm -rf internal/cart"}, false, ""},
		{"write in the project", "Write", map[string]any{"file_path": filepath.Join(g.project, "main.go"), "content": "package main\n"}, false, ""},
		{"edit in a Claude Code worktree", "Edit", map[string]any{"file_path": filepath.Join(g.project, ".claude", "worktrees", "w1", "main.go"), "old_string": "a", "new_string": "b"}, false, ""},
		{"rm -rf ~", "Bash", map[string]any{"command": "rm -rf ~"}, true, "rm-home"},
		{"write outside names the root", "Write", map[string]any{"file_path": "/srv/elsewhere/x.go", "content": "x"}, true, "outside the project root " + g.project},
		{"read the admin token", "Read", map[string]any{"file_path": filepath.Join(g.data, "admin.token")}, true, "builtin.protected-path"},
		{"cat the agent token", "Bash", map[string]any{"command": "cat '" + tokenFile + "'"}, true, "builtin.protected-path"},
		// Only the agent's HOME makes this a home directory: it is not
		// under /home or /root, and the writer's own HOME differs.
		{"the agent's ssh key", "Read", map[string]any{"file_path": filepath.Join(agentHome, ".ssh", "id_ed25519")}, true, "read-credentials"},
		{"the agent's ssh key through ~", "Bash", map[string]any{"command": "cat ~/.ssh/id_ed25519"}, true, "read-credentials"},
	} {
		r := claudeHook(t, pre, agentEnv, event(c.tool, c.input, "toolu_"+strings.ReplaceAll(c.name, " ", "_")))
		reason := r.denied(t)
		if (reason != "") != c.denied || !strings.Contains(reason, c.reasonIn) {
			t.Errorf("%s: denied %q, want denied=%v with %q", c.name, reason, c.denied, c.reasonIn)
		}
	}

	// Rotating the agent's token keeps its hooks working: the file they
	// read gets the new token (walkthrough: every hook failed with 401).
	before, _ := os.ReadFile(tokenFile)
	rotateOut := g.run(project, 0, "agent", "rotate", "claude")
	if now, _ := os.ReadFile(tokenFile); string(now) == string(before) || !strings.Contains(rotateOut, tokenFile) {
		t.Fatalf("agent rotate left %s as it was:\n%s", tokenFile, rotateOut)
	}
	if reason := claudeHook(t, pre, agentEnv, event("Bash", map[string]any{"command": "go test ./..."}, "toolu_after_rotate")).denied(t); reason != "" {
		t.Fatalf("after agent rotate the hook denies: %s", reason)
	}

	// Edits are shadowed, an 11 MiB PostToolUse payload included.
	big := strings.Repeat("line of the original file\n", 11<<20/26+1)
	writeProjectFile(t, g.project, "big.txt", big[:len(big)/2])
	writeProjectFile(t, g.project, ".claude/worktrees/w1/main.go", "package main // in a worktree\n")
	postEvent := func(tool, file, id string, response map[string]any) map[string]any {
		key := "file_path"
		if tool == "NotebookEdit" {
			key = "notebook_path"
		}
		return map[string]any{"session_id": "sess-1", "hook_event_name": "PostToolUse", "cwd": g.project, "tool_name": tool,
			"tool_input": map[string]any{key: file}, "tool_response": response, "tool_use_id": id}
	}
	writeProjectFile(t, g.project, "nb.ipynb", `{"cells":[]}`)
	for _, ev := range []map[string]any{
		postEvent("Edit", filepath.Join(g.project, "big.txt"), "toolu_big", map[string]any{"originalFile": big}),
		postEvent("Edit", "big.txt", "toolu_big_relative", nil),
		postEvent("Write", filepath.Join(g.project, ".claude", "worktrees", "w1", "main.go"), "toolu_wt", nil),
		postEvent("NotebookEdit", filepath.Join(g.project, "nb.ipynb"), "toolu_nb", nil),
	} {
		if raw, _ := json.Marshal(ev); ev["tool_use_id"] == "toolu_big" && len(raw) < 11<<20 {
			t.Fatalf("the big event is only %d bytes", len(raw))
		}
		if r := claudeHook(t, post, agentEnv, ev); r.code != 0 || r.stderr != "" {
			t.Fatalf("post hook for %v: exit %d: %s", ev["tool_use_id"], r.code, r.stderr)
		}
	}
	g.run(project, 0, "status") // the CLI finds the system from inside the project
	// From a subdirectory, paths are relative to it.
	for path, want := range map[string]string{"../big.txt": big[:len(big)/2], "worktrees/w1/main.go": "package main // in a worktree\n", "../nb.ipynb": `{"cells":[]}`} {
		got := g.run(filepath.Join(g.project, ".claude"), 0, "cat", "--min-seq", "1", path)
		if got != want {
			t.Errorf("shadowed %s: %d bytes, want %d", path, len(got), len(want))
		}
	}

	// policy explain answers as the writer does, from its root.
	out = g.run(elsewhere, 0, "policy", "explain", "--data", g.data, "--tool", "Write", "--input", `{"file_path":"/srv/elsewhere/x.go"}`)
	if !strings.Contains(out, "root:     "+g.project) || !strings.Contains(out, "decision: block") {
		t.Errorf("policy explain:\n%s", out)
	}

	// Another agent on the same project, through LIGHTHOUSE_TOKEN.
	tok2 := strings.TrimSpace(strings.SplitN(g.run(project, 0, "agent", "add", "claude-2", "--role", "builder"), "\n", 2)[1])
	writeProjectFile(t, g.project, "second.txt", "by the second agent\n")
	if r := claudeHook(t, post, append(agentEnv, "LIGHTHOUSE_TOKEN="+tok2), postEvent("Write", filepath.Join(g.project, "second.txt"), "toolu_second", nil)); r.code != 0 {
		t.Fatalf("post as claude-2: %s", r.stderr)
	}
	readerURL := config.AddrURL(filepath.Join(g.data, "reader", "reader.addr"))
	var tree struct {
		Files []struct {
			Path  string `json:"path"`
			Agent string `json:"last_agent"`
		} `json:"files"`
	}
	adminTok, _ := config.Token("", filepath.Join(g.data, "admin.token"))
	eventually(t, "second.txt in the reader", func() error {
		_, err := client.New(readerURL, adminTok).Do(context.Background(), http.MethodGet, "/v1/tree?prefix=second.txt", nil, nil, &tree)
		if err == nil && len(tree.Files) == 0 {
			err = os.ErrNotExist
		}
		return err
	})
	agents := g.run(project, 0, "agent", "list")
	if id := agentID(agents, "claude-2"); tree.Files[0].Agent != id {
		t.Errorf("second.txt written by %q, want claude-2 (%s)", tree.Files[0].Agent, id)
	}

	// A rotated token is refused by the writer and the reader within a second.
	oldTok, _ := config.Token("", tokenFile)
	g.run(project, 0, "agent", "rotate", "claude")
	rotated := time.Now()
	for {
		_, err := client.New(readerURL, oldTok).Do(context.Background(), http.MethodGet, "/v1/tree", nil, nil, nil)
		if isStatus(err, http.StatusUnauthorized) {
			break
		}
		if time.Since(rotated) > time.Second {
			t.Fatalf("the reader still accepts a rotated token after %v (err %v)", time.Since(rotated), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A hook holding a token rotated away (its file not updated) fails
	// closed with one line naming the 401.
	if err := config.WriteSecret(tokenFile, oldTok); err != nil {
		t.Fatal(err)
	}
	r := claudeHook(t, pre, agentEnv, event("Bash", map[string]any{"command": "ls"}, "toolu_stale_token"))
	if r.code != 2 || !strings.Contains(r.stderr, "401") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("hook with a rotated token: exit %d, stderr %q; want exit 2 naming the 401", r.code, r.stderr)
	}
	g.run(project, 0, "init", "claude", "--dir", ".") // a new token for the hooks
	if reason := claudeHook(t, pre, agentEnv, event("Bash", map[string]any{"command": "ls"}, "toolu_after_init")).denied(t); reason != "" {
		t.Fatalf("hook after init: %s", reason)
	}
	// No usable token: fail closed with one line, never the admin's.
	os.Remove(tokenFile)
	r = claudeHook(t, pre, agentEnv, event("Bash", map[string]any{"command": "ls"}, "toolu_no_token"))
	if r.code != 2 || !strings.Contains(r.stderr, "token") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("hook without a token: exit %d, stderr %q", r.code, r.stderr)
	}
	// A missing binary still fails closed.
	r = claudeHook(t, strings.Replace(pre, bin, bin+"-gone", 1), agentEnv, event("Bash", map[string]any{"command": "ls"}, "toolu_gone"))
	if r.code != 2 {
		t.Fatalf("missing binary: exit %d, want 2", r.code)
	}
	g.run(project, 0, "agent", "remove", "claude-2")
	if _, err := client.New(config.AddrURL(filepath.Join(g.data, "writer.addr")), tok2).Do(context.Background(), http.MethodGet, "/v1/whoami", nil, nil, nil); !isStatus(err, http.StatusUnauthorized) {
		t.Fatalf("removed agent's token: %v, want 401", err)
	}
}

// TestUpInsideProject: data and mount inside the project are warned about,
// ignored by git and protected by the gate.
func TestUpInsideProject(t *testing.T) {
	t.Parallel()
	project := t.TempDir()
	writeProjectFile(t, project, ".gitignore", "node_modules/")
	g := upProject(t, filepath.Join(binDir, "lighthouse"), project, "--data", filepath.Join(project, ".lighthouse"))
	if !strings.Contains(g.out.String(), "warning: "+filepath.Join(g.project, ".lighthouse")+" is inside the project") {
		t.Fatalf("no warning:\n%s", g.out.String())
	}
	gi, _ := os.ReadFile(filepath.Join(project, ".gitignore"))
	if !strings.Contains(string(gi), "node_modules/\n") || !strings.Contains(string(gi), "\n/.lighthouse/\n") {
		t.Fatalf(".gitignore:\n%s", gi)
	}
	g.run(project, 0, "init", "claude", "--data", filepath.Join(project, ".lighthouse"))
	out := g.run(project, 0, "doctor")
	if !strings.Contains(out, "inside the project but the gate protects it") {
		t.Fatalf("doctor:\n%s", out)
	}
	pre, _ := settingsCommands(t, project)
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	for _, in := range []struct {
		tool  string
		input map[string]any
	}{
		{"Read", map[string]any{"file_path": filepath.Join(g.project, ".lighthouse", "admin.token")}},
		{"Read", map[string]any{"file_path": ".lighthouse/admin.token"}},
		{"Bash", map[string]any{"command": "cat .lighthouse/admin.token"}},
		{"Bash", map[string]any{"command": "cd .lighthouse && cp -r . /tmp/loot"}},
		{"Grep", map[string]any{"pattern": "lh_", "path": ".lighthouse"}},
	} {
		ev := map[string]any{"hook_event_name": "PreToolUse", "cwd": g.project, "tool_name": in.tool, "tool_input": in.input}
		if reason := claudeHook(t, pre, env, ev).denied(t); !strings.Contains(reason, "builtin.protected-path") {
			t.Errorf("%s %v: %q, want it blocked as protected", in.tool, in.input, reason)
		}
	}
	// Starting it again does not list the directory twice.
	if err := exec.Command(filepath.Join(binDir, "lighthouse"), "up", "--project", "/nonexistent-project").Run(); err == nil {
		t.Fatal("up guarding a missing project started")
	}
}

func agentID(list, name string) string {
	for _, l := range strings.Split(list, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == name {
			return f[2]
		}
	}
	return ""
}
