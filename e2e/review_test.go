package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runAs runs the user's lighthouse command in dir with extra environment
// and returns stdout and stderr; it fails the test unless the exit status
// is want.
func (g *guarded) runAs(dir string, extraEnv []string, want int, args ...string) (stdout, stderr string) {
	g.t.Helper()
	cmd := exec.Command(g.bin, args...)
	cmd.Dir, cmd.Env = dir, g.env(extraEnv...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		g.t.Fatalf("lighthouse %v: %v", args, err)
	}
	if code != want {
		g.t.Fatalf("lighthouse %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// jsonOf runs a command that prints JSON and decodes it into v.
func (g *guarded) jsonOf(dir string, extraEnv []string, v any, args ...string) {
	g.t.Helper()
	out, _ := g.runAs(dir, extraEnv, 0, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		g.t.Fatalf("lighthouse %s: output is not JSON (%v):\n%s", strings.Join(args, " "), err, out)
	}
}

// cliReview is a review as `review list --json` prints it.
type cliReview struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	Requester        string          `json:"requester"`
	SessionID        string          `json:"session_id"`
	Cwd              string          `json:"cwd"`
	Rule             string          `json:"rule"`
	Input            json.RawMessage `json:"input"`
	EscalationReason string          `json:"escalation_reason"`
	DecidedByNames   []string        `json:"decided_by_names"`
}

// waitPending waits until `review list --json` shows a pending review of
// command and returns it.
func (g *guarded) waitPending(dir, command string) cliReview {
	g.t.Helper()
	var found cliReview
	eventually(g.t, "pending review of "+command, func() error {
		var out struct {
			Reviews []cliReview `json:"reviews"`
		}
		g.jsonOf(dir, nil, &out, "review", "list", "--json")
		for _, r := range out.Reviews {
			if strings.Contains(string(r.Input), command) {
				found = r
				return nil
			}
		}
		return fmt.Errorf("no pending review of %q in %d", command, len(out.Reviews))
	})
	return found
}

// TestReviewCLIWithWaitingHook: a real `hook pre` waits on an escalated
// call; a reviewer finds it with `review list`, reads it with `review show`
// and approves it with `review approve`, and the hook allows the call
// explicitly. A hook that stops waiting closes its review, says who can
// approve and how to retry, and a late approval is refused.
func TestReviewCLIWithWaitingHook(t *testing.T) {
	t.Parallel()
	g, project, pre := claudeShop(t)
	tokenOut, _ := g.runAs(project, nil, 0, "agent", "add", "alice", "--role", "reviewer")
	alice := []string{"LIGHTHOUSE_TOKEN=" + strings.TrimSpace(tokenOut)}
	event := func(command, id string) map[string]any {
		return map[string]any{"session_id": "sess-42", "hook_event_name": "PreToolUse", "cwd": g.project,
			"tool_name": "Bash", "tool_input": map[string]any{"command": command}, "tool_use_id": id}
	}
	agentEnv := func(wait string) []string {
		return []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LIGHTHOUSE_HOOK_WAIT=" + wait}
	}

	// Approved while the hook waits.
	done := claudeHookAsync(t, pre, agentEnv("60"), event("git push origin main", "toolu_a"))
	r := g.waitPending(project, "git push origin main")
	if r.Requester != "claude" || r.Rule == "" {
		t.Fatalf("pending review %+v: want agent claude by name and a rule", r)
	}
	var shown struct {
		Review        cliReview         `json:"review"`
		RecentChanges []json.RawMessage `json:"recent_changes"`
	}
	g.jsonOf(project, nil, &shown, "review", "show", r.ID[:8], "--json")
	if shown.Review.ID != r.ID || shown.Review.Requester != "claude" || shown.Review.SessionID != "sess-42" || shown.Review.Cwd != g.project {
		t.Fatalf("review show: %+v", shown.Review)
	}
	text, _ := g.runAs(project, nil, 0, "review", "show", r.ID)
	for _, want := range []string{"git push origin main", "claude", "sess-42", g.project, r.Rule, "recent changes by claude"} {
		if !strings.Contains(text, want) {
			t.Fatalf("review show lacks %q:\n%s", want, text)
		}
	}
	g.runAs(project, alice, 0, "review", "approve", r.ID[:8], "-m", "ship it")
	select {
	case res := <-done:
		if res.code != 0 || !strings.Contains(res.stdout, `"permissionDecision":"allow"`) || !strings.Contains(res.stdout, "alice") {
			t.Fatalf("approved call: want an explicit allow naming alice, got exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the hook did not return after the approval")
	}

	// Nobody decides: the hook gives up, closes the review and says so.
	res := claudeHook(t, pre, agentEnv("2"), event("npm publish", "toolu_b"))
	reason := res.denied(t)
	var list struct {
		Reviews []cliReview `json:"reviews"`
	}
	g.jsonOf(project, nil, &list, "review", "list", "--status", "abandoned", "--json")
	if len(list.Reviews) != 1 {
		t.Fatalf("abandoned reviews: %+v", list.Reviews)
	}
	id := list.Reviews[0].ID
	for _, want := range []string{id, "alice", "admin", "retry", "closed"} {
		if !strings.Contains(reason, want) {
			t.Fatalf("deny reason lacks %q: %s", want, reason)
		}
	}
	_, errOut := g.runAs(project, alice, 1, "review", "approve", id)
	if !strings.Contains(errOut, "closed") {
		t.Fatalf("late approval: %s", errOut)
	}

	// review watch prints a new escalation as it opens.
	watch := exec.Command(g.bin, "review", "watch", "--json", "--interval", "200ms")
	watch.Dir, watch.Env = project, g.env()
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	third := claudeHookAsync(t, pre, agentEnv("5"), event("terraform apply", "toolu_c"))
	select {
	case l := <-lines:
		var w cliReview
		if err := json.Unmarshal([]byte(l), &w); err != nil || !strings.Contains(string(w.Input), "terraform apply") || w.Requester != "claude" {
			t.Fatalf("review watch printed %q (%v)", l, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("review watch printed nothing")
	}
	watch.Process.Signal(syscall.SIGINT)
	if err := watch.Wait(); err != nil {
		t.Fatalf("review watch after Ctrl-C: %v", err)
	}
	if res := <-third; res.code != 0 || !strings.Contains(res.stdout, "deny") {
		t.Fatalf("undecided hook: exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
}

// claudeShop guards a new project "shop" (a go.mod alone) with `lighthouse
// up`, registers the Claude Code hooks with `init claude`, and returns the
// running system, the project directory and the pre hook's command.
func claudeShop(t *testing.T) (g *guarded, project, pre string) {
	t.Helper()
	bin := quotedBin
	project = filepath.Join(t.TempDir(), "shop")
	writeProjectFile(t, project, "go.mod", "module shop\n")
	g = upProject(t, bin, project)
	g.run(project, 0, "init", "claude")
	pre, _ = settingsCommands(t, project)
	return g, project, pre
}

// claudeHookAsync runs a hook command like claudeHook, in the background;
// a failure to run it is reported as exit -1.
func claudeHookAsync(t *testing.T, command string, agentEnv []string, event map[string]any) <-chan hookResult {
	t.Helper()
	in, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	return runAsync(exec.Command("/bin/sh", "-c", command), agentEnv, in)
}

// runAsync runs cmd with env and stdin in the background; a failure to run
// it is reported as exit -1.
func runAsync(cmd *exec.Cmd, env []string, stdin []byte) <-chan hookResult {
	done := make(chan hookResult, 1)
	go func() {
		cmd.Env = env
		cmd.Stdin = bytes.NewReader(stdin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := hookResult{stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			r.code, r.stderr = -1, err.Error()
		}
		done <- r
	}()
	return done
}

// TestCLIConventions: --json on every data command parses; usage errors
// exit 2; an unreachable writer gets a hint naming the URL.
func TestCLIConventions(t *testing.T) {
	t.Parallel()
	bin := quotedBin
	project := filepath.Join(t.TempDir(), "shop")
	writeProjectFile(t, project, "main.go", "package main\n// TODO: more\n")
	g := upProject(t, bin, project)
	g.run(project, 0, "init", "claude")
	g.run(project, 0, "snapshot", "s1")
	writeProjectFile(t, project, "main.go", "package main\n// TODO: less\n")
	eventually(t, "the watcher records the edit", func() error {
		out, _ := g.runAs(project, nil, 0, "cat", "main.go")
		if !strings.Contains(out, "less") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	for _, args := range [][]string{
		{"status", "--json"},
		{"log", "--json", "--agent", "claude"},
		{"log", "--json", "--type", "file."},
		{"tree", "--json"},
		{"agent", "list", "--json"},
		{"verify", "--json"},
		{"diff", "s1", "--json"},
		{"version", "--json"},
		{"review", "list", "--json", "--status", "all"},
		{"learned", "list", "--json"},
	} {
		var v any
		g.jsonOf(project, nil, &v, args...)
		if v == nil {
			t.Fatalf("lighthouse %v printed null", args)
		}
	}
	out, _ := g.runAs(project, nil, 0, "grep", "TODO", "--json")
	var m struct {
		Path string `json:"path"`
		Line int    `json:"line"`
	}
	if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &m); err != nil || m.Path != "main.go" || m.Line != 2 {
		t.Fatalf("grep --json: %q (%v)", out, err)
	}
	// The log shows agents by name and takes names.
	out, _ = g.runAs(project, nil, 0, "log", "--agent", "lighthouse-watcher", "--type", "file.")
	if !strings.Contains(out, "lighthouse-watcher") || !strings.Contains(out, "main.go") {
		t.Fatalf("log --agent NAME:\n%s", out)
	}
	g.runAs(project, nil, 1, "log", "--agent", "nobody")
	// Usage errors exit 2, help exits 0.
	g.runAs(project, nil, 2, "no-such-command")
	g.runAs(project, nil, 2, "tree", "--no-such-flag")
	g.runAs(project, nil, 2, "review", "approve")
	help, _ := g.runAs(project, nil, 0, "help", "tree")
	if !strings.Contains(help, "Examples:") || !strings.Contains(help, "-json") {
		t.Fatalf("help tree:\n%s", help)
	}
	comp, _ := g.runAs(project, nil, 0, "completion", "bash")
	if !strings.Contains(comp, "lighthouse") {
		t.Fatal("no bash completion")
	}
	// Nothing listening: exit 1 and a hint naming the URL.
	_, errOut := g.runAs(project, []string{"LIGHTHOUSE_URL=http://127.0.0.1:9"}, 1, "agent", "list")
	if !strings.Contains(errOut, "http://127.0.0.1:9") || !strings.Contains(errOut, "lighthouse up") {
		t.Fatalf("unreachable writer: %s", errOut)
	}
}

// TestStoppedHookClosesItsReview: a pre hook waiting on an escalated call
// that is stopped, as `timeout` or Claude Code's hook timeout stops it
// (SIGTERM to its process group), closes its review before it exits, so
// no reviewer is left approving a call nobody waits for; a later approval
// is refused.
func TestStoppedHookClosesItsReview(t *testing.T) {
	t.Parallel()
	g, project, pre := claudeShop(t)

	in, err := json.Marshal(map[string]any{"session_id": "s1", "hook_event_name": "PreToolUse", "cwd": g.project,
		"tool_name": "Bash", "tool_input": map[string]any{"command": "git push origin main"}, "tool_use_id": "toolu_stop"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", pre)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "CLAUDECODE=1", "LIGHTHOUSE_HOOK_WAIT=60"}
	cmd.Stdin = bytes.NewReader(in)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	r := g.waitPending(project, "git push origin main")

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatal("the hook did not exit on SIGTERM")
	}
	if !strings.Contains(stderr.String(), "review "+r.ID+" is closed") {
		t.Errorf("hook's message on SIGTERM: %q, want it to say review %s is closed", stderr.String(), r.ID)
	}
	var shown struct {
		Review cliReview `json:"review"`
	}
	g.jsonOf(project, nil, &shown, "review", "show", r.ID[:8], "--json")
	if shown.Review.Status != "abandoned" {
		t.Fatalf("review of the stopped hook: %q, want abandoned", shown.Review.Status)
	}
	_, errOut := g.runAs(project, nil, 1, "review", "approve", r.ID[:8], "-m", "late")
	wantIn(t, "approving the stopped hook's review", errOut, "is closed, nothing was decided", "abandoned")
}
