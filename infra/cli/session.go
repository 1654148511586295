package cli

import (
	"bytes"
	"fmt"
	"os"

	"github.com/lighthouse-ai/lighthouse/domain/policy"
	"github.com/lighthouse-ai/lighthouse/infra/procstat"
)

// maxAncestors bounds the walk up the process tree.
const maxAncestors = 64

// InAgentSession reports whether this process runs inside a Claude Code
// session: CLAUDECODE is set in its environment, or was set in the
// environment an ancestor started with. A command can clear the variable
// for what it runs (CLAUDECODE= lighthouse …), but not in the environment
// its parent shell was started with, which /proc keeps as it was. Where
// there is no /proc, only the variable itself counts.
func InAgentSession() bool {
	if os.Getenv(policy.SessionVar) != "" {
		return true
	}
	pid := os.Getppid()
	for range maxAncestors {
		if pid <= 1 {
			return false
		}
		if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err == nil && sessionIn(env) {
			return true
		}
		st, err := procstat.Read(pid)
		if err != nil {
			return false
		}
		pid = st.Parent
	}
	return false
}

// sessionIn reports whether a NUL-separated environment sets policy.SessionVar
// to a non-empty value.
func sessionIn(env []byte) bool {
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(policy.SessionVar+"=")); ok && len(v) > 0 {
			return true
		}
	}
	return false
}
