package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStoppedHookClosesItsReview: a pre hook waiting on an escalated call
// that is stopped, as `timeout` or Claude Code's hook timeout stops it
// (SIGTERM to its process group), closes its review before it exits, so
// no reviewer is left approving a call nobody waits for; a later approval
// is refused.
func TestStoppedHookClosesItsReview(t *testing.T) {
	t.Parallel()
	bin := copyBinary(t)
	project := filepath.Join(t.TempDir(), "shop")
	writeProjectFile(t, project, "go.mod", "module shop\n")
	g := upProject(t, bin, project)
	g.run(project, 0, "init", "claude")
	pre, _ := settingsCommands(t, project)

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
