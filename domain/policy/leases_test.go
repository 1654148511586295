package policy

import (
	"strings"
	"testing"
	"time"
)

// globLeases is a fixed Leases: globs held by "alice" (agent id "a").
type globLeases []string

func (g globLeases) HeldByOther(rel, agentID string) (Lease, bool) {
	if agentID == "a" {
		return Lease{}, false
	}
	for _, p := range g {
		if strings.HasPrefix(rel+"/", strings.TrimSuffix(p, "**")) || strings.HasPrefix(p, rel+"/") || rel == "." {
			return Lease{ID: "L1", Holder: "alice", Glob: p, Reason: "refactoring", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}, true
		}
	}
	return Lease{}, false
}

func TestLeasesBlockWrites(t *testing.T) {
	t.Parallel()
	leases := globLeases{"src/cart/**"}
	esc, err := Parse([]byte("leases: escalate\n"), Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		pol   *Policy
		agent string
		tool  string
		input map[string]any
		want  Decision
	}{
		{"Write under the lease", Default(), "b", "Write", map[string]any{"file_path": "/p/src/cart/a.go", "content": "x"}, Block},
		{"Edit under the lease", Default(), "b", "Edit", map[string]any{"file_path": "src/cart/a.go"}, Block},
		{"NotebookEdit under the lease", Default(), "b", "NotebookEdit", map[string]any{"notebook_path": "/p/src/cart/n.ipynb"}, Block},
		{"sed -i", Default(), "b", "Bash", map[string]any{"command": "sed -i 's/a/b/' src/cart/a.go"}, Block},
		{"redirection", Default(), "b", "Bash", map[string]any{"command": "echo x >> src/cart/a.go"}, Block},
		{"mv out of the lease", Default(), "b", "Bash", map[string]any{"command": "mv src/cart/a.go /p/b.go"}, Block},
		{"cp into the lease", Default(), "b", "Bash", map[string]any{"command": "cp b.go src/cart/"}, Block},
		{"rm the lease's directory", Default(), "b", "Bash", map[string]any{"command": "rm -rf src"}, Block},
		{"tee", Default(), "b", "Bash", map[string]any{"command": "echo x | tee src/cart/a.go"}, Block},
		{"read through Bash", Default(), "b", "Bash", map[string]any{"command": "cat src/cart/a.go"}, Allow},
		{"Read", Default(), "b", "Read", map[string]any{"file_path": "/p/src/cart/a.go"}, Allow},
		{"write elsewhere", Default(), "b", "Write", map[string]any{"file_path": "/p/other.go"}, Allow},
		{"the holder writes", Default(), "a", "Write", map[string]any{"file_path": "/p/src/cart/a.go"}, Allow},
		{"the holder's sed -i", Default(), "a", "Bash", map[string]any{"command": "sed -i 's/a/b/' src/cart/a.go"}, Allow},
		{"leases: escalate", esc, "b", "Write", map[string]any{"file_path": "/p/src/cart/a.go"}, Escalate},
	} {
		v := tc.pol.Evaluate(Call{Tool: tc.tool, Input: tc.input, Cwd: "/p", ProjectRoot: "/p", Role: "builder", AgentID: tc.agent, Home: "/home/dev", Leases: leases})
		if v.Decision != tc.want {
			t.Errorf("%s: %s (%s: %s), want %s", tc.name, v.Decision, v.Rule, v.Reason, tc.want)
			continue
		}
		if tc.want != Allow {
			if v.Rule != ruleLease || !strings.Contains(v.Reason, "leased by alice until 2030-01-02T03:04:05Z (refactoring)") || !v.FileDependent {
				t.Errorf("%s: rule %s, reason %q, file dependent %v", tc.name, v.Rule, v.Reason, v.FileDependent)
			}
		}
	}
	if _, err := Parse([]byte("leases: allow\n"), nil); err == nil {
		t.Error("leases: allow was accepted")
	}
	if esc.Revision() == Default().Revision() {
		t.Error("leases: escalate does not change the revision")
	}
}
