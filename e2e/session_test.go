package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestAgentCannotRunTheCLIAsAdmin: the lighthouse CLI uses the local admin
// token outside a Claude Code session, so an agent must not get there by
// clearing CLAUDECODE, and approving one lighthouse command "for the
// pattern" must not approve the others. Each call goes through the pre hook
// init claude registered, run as Claude Code runs it, in the agent's
// environment (CLAUDECODE=1).
func TestAgentCannotRunTheCLIAsAdmin(t *testing.T) {
	t.Parallel()
	g, project, pre := claudeShop(t)
	agentEnv := func(wait string) []string {
		return []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "CLAUDECODE=1", "LIGHTHOUSE_HOOK_WAIT=" + wait}
	}
	call := func(command string) map[string]any {
		return map[string]any{"session_id": "s1", "hook_event_name": "PreToolUse", "cwd": g.project,
			"tool_name": "Bash", "tool_input": map[string]any{"command": command}, "tool_use_id": "toolu_cli"}
	}

	// A reviewer approves `lighthouse status` for its pattern.
	done := claudeHookAsync(t, pre, agentEnv("60"), call("lighthouse status"))
	r := g.waitPending(project, "lighthouse status")
	approve, _ := g.runAs(project, nil, 0, "review", "approve", r.ID[:8], "-m", "ok", "--for-pattern")
	wantIn(t, "review approve --for-pattern", approve, "for the pattern Bash: lighthouse status")
	select {
	case res := <-done:
		if reason := res.denied(t); reason != "" {
			t.Fatalf("approved lighthouse status: %s", reason)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the hook did not return after the approval")
	}
	if reason := claudeHook(t, pre, agentEnv("1"), call("lighthouse status")).denied(t); reason != "" {
		t.Fatalf("lighthouse status after its pattern was learned: %s", reason)
	}

	for _, c := range []struct {
		command string
		want    string // in the deny reason
	}{
		// Other lighthouse commands are not that pattern: they wait for a
		// reviewer (here for a second) and are denied when none decides.
		{"lighthouse agent rotate claude", "no reviewer decided"},
		{"lighthouse agent remove claude-2", "no reviewer decided"},
		// Clearing the session's variable is blocked at once.
		{"CLAUDECODE= lighthouse agent remove claude-2", "admin token"},
		{"CLAUDECODE= lighthouse status", "admin token"},
		{"env -u CLAUDECODE lighthouse status", "admin token"},
		{"unset CLAUDECODE; lighthouse status", "admin token"},
		{"export CLAUDECODE=; lighthouse status", "admin token"},
		{"for CLAUDECODE in ''; do lighthouse status; done", "admin token"},
		{"read CLAUDECODE </dev/null; lighthouse status", "admin token"},
		{"make test CLAUDECODE=", "admin token"},
	} {
		res := claudeHook(t, pre, agentEnv("1"), call(c.command))
		reason := res.denied(t)
		if reason == "" {
			t.Errorf("%s: allowed", c.command)
			continue
		}
		if !strings.Contains(reason, c.want) {
			t.Errorf("%s: denied with %q, want it to mention %q", c.command, reason, c.want)
		}
	}

	// Behind the gate, the CLI itself: run from the agent's shell (started
	// with CLAUDECODE=1) with the variable cleared, it still refuses the
	// admin token, from the environment its parent shell started with.
	for _, line := range []string{
		`CLAUDECODE= "$0" agent list; exit $?`,
		`unset CLAUDECODE; "$0" agent list; exit $?`,
		`env -u CLAUDECODE "$0" agent list; exit $?`,
	} {
		cmd := exec.Command("/bin/sh", "-c", line, g.bin)
		cmd.Dir, cmd.Env = project, g.env("CLAUDECODE=1")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "inside a Claude Code session the admin token is not used") {
			t.Errorf("sh -c %s: %v\n%s", line, err, out)
		}
	}
	g.run(project, 0, "agent", "list") // a person's terminal: the admin token
}
