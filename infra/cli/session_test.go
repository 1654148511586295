package cli

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/lighthouse-ai/lighthouse/domain/policy"
)

func TestSessionIn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  string
		want bool
	}{
		{"PATH=/bin\x00CLAUDECODE=1\x00HOME=/h", true},
		{"CLAUDECODE=1", true},
		{"PATH=/bin\x00CLAUDECODE=\x00HOME=/h", false},
		{"XCLAUDECODE=1\x00CLAUDECODE_X=1", false},
		{"", false},
	} {
		if got := sessionIn([]byte(c.env)); got != c.want {
			t.Errorf("sessionIn(%q) = %v, want %v", c.env, got, c.want)
		}
	}
}

// TestAgentSessionSurvivesAClearedVariable runs this test binary from a
// shell started with CLAUDECODE=1, as Claude Code starts an agent's
// command, through `CLAUDECODE= BIN`: the child's own environment has the
// variable empty, and it still knows it runs inside the session. Started
// from a shell without the variable, it does not.
func TestAgentSessionSurvivesAClearedVariable(t *testing.T) {
	if os.Getenv("LH_SESSION_CHILD") == "1" {
		println := func(s string) { os.Stdout.WriteString(s + "\n") }
		if InAgentSession() {
			println("in session; own CLAUDECODE=" + os.Getenv(policy.SessionVar))
		} else {
			println("outside; own CLAUDECODE=" + os.Getenv(policy.SessionVar))
		}
		return
	}
	t.Parallel()
	run := func(shellEnv ...string) string {
		t.Helper()
		// Not the shell's last command, so the shell stays the child's parent.
		cmd := exec.Command("/bin/sh", "-c", `CLAUDECODE= "$0" -test.run='^TestAgentSessionSurvivesAClearedVariable$'; exit $?`, os.Args[0])
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, policy.SessionVar+"=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, append(shellEnv, "LH_SESSION_CHILD=1")...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run("CLAUDECODE=1"); !strings.HasPrefix(out, "in session; own CLAUDECODE=\n") {
		t.Errorf("child of a shell started with CLAUDECODE=1: %q", out)
	}
	if InAgentSession() {
		t.Skip("this test itself runs inside a Claude Code session")
	}
	if out := run(); !strings.HasPrefix(out, "outside; own CLAUDECODE=\n") {
		t.Errorf("child of a shell started without CLAUDECODE: %q", out)
	}
}
