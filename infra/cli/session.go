package cli

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
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
	if os.Getenv(sessionVar) != "" {
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
		ppid, err := parentOf(pid)
		if err != nil {
			return false
		}
		pid = ppid
	}
	return false
}

// sessionIn reports whether a NUL-separated environment sets sessionVar
// to a non-empty value.
func sessionIn(env []byte) bool {
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(sessionVar+"=")); ok && len(v) > 0 {
			return true
		}
	}
	return false
}

// parentOf reads the parent of process pid from /proc/PID/stat (field 4,
// counted after the command name, which may hold spaces and parentheses).
func parentOf(pid int) (int, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.Atoi(string(f[1]))
}
