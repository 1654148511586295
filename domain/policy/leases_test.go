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
		// Programs that rewrite every file under a directory they are given
		// (or the working tree) write under the lease (walkthrough).
		{"gofmt -w a directory above", Default(), "b", "Bash", map[string]any{"command": "gofmt -w src"}, Block},
		{"gofmt -l -w", Default(), "b", "Bash", map[string]any{"command": "gofmt -l -w ."}, Block},
		{"goimports -w", Default(), "b", "Bash", map[string]any{"command": "goimports -w src/cart"}, Block},
		{"go fmt of every package", Default(), "b", "Bash", map[string]any{"command": "go fmt ./..."}, Block},
		{"go fmt of the leased package", Default(), "b", "Bash", map[string]any{"command": "go fmt ./src/cart"}, Block},
		{"find -delete", Default(), "b", "Bash", map[string]any{"command": `find . -name "*.go" -delete`}, Block},
		{"find -delete below", Default(), "b", "Bash", map[string]any{"command": "find src -type f -delete"}, Block},
		{"git stash", Default(), "b", "Bash", map[string]any{"command": "git stash"}, Block},
		{"git checkout of every file", Default(), "b", "Bash", map[string]any{"command": "git checkout -- ."}, Block},
		{"git restore", Default(), "b", "Bash", map[string]any{"command": "git restore src"}, Block},
		{"black", Default(), "b", "Bash", map[string]any{"command": "python3 -m black src"}, Block},
		{"black by name", Default(), "b", "Bash", map[string]any{"command": "black ."}, Block},
		{"prettier --write", Default(), "b", "Bash", map[string]any{"command": "prettier --write src"}, Block},
		{"ruff format", Default(), "b", "Bash", map[string]any{"command": "ruff format"}, Block},
		{"ruff check --fix", Default(), "b", "Bash", map[string]any{"command": "ruff check --fix src/cart"}, Block},
		{"cargo fmt", Default(), "b", "Bash", map[string]any{"command": "cargo fmt"}, Block},
		{"git pull", Default(), "b", "Bash", map[string]any{"command": "git pull"}, Block},
		{"git switch", Default(), "b", "Bash", map[string]any{"command": "git switch feature-x"}, Block},
		{"git reset --hard", Default(), "b", "Bash", map[string]any{"command": "git reset --hard HEAD~1"}, Block},
		{"git stash from a subdirectory", Default(), "b", "Bash", map[string]any{"command": "cd cmd && git stash"}, Block},
		{"git checkout -b", Default(), "b", "Bash", map[string]any{"command": "git checkout -b feature-y"}, Allow},
		{"git switch -c", Default(), "b", "Bash", map[string]any{"command": "git switch -c feature-y"}, Allow},
		{"git status", Default(), "b", "Bash", map[string]any{"command": "git status"}, Allow},
		{"git restore --staged", Default(), "b", "Bash", map[string]any{"command": "git restore --staged src/cart/a.go"}, Allow},
		{"git reset of the index", Default(), "b", "Bash", map[string]any{"command": "git reset src/cart/a.go"}, Allow},
		{"ruff check", Default(), "b", "Bash", map[string]any{"command": "ruff check src"}, Allow},
		{"black --check", Default(), "b", "Bash", map[string]any{"command": "black --check src"}, Allow},
		{"eslint --fix", Default(), "b", "Bash", map[string]any{"command": "eslint --fix src/cart"}, Block},
		{"gofmt -l only lists", Default(), "b", "Bash", map[string]any{"command": "gofmt -l src"}, Allow},
		{"find without -delete", Default(), "b", "Bash", map[string]any{"command": `find . -name "*.go"`}, Allow},
		{"gofmt -w elsewhere", Default(), "b", "Bash", map[string]any{"command": "gofmt -w cmd"}, Allow},
		{"git stash list", Default(), "b", "Bash", map[string]any{"command": "git stash list"}, Allow},
		// Variants a second review found (git switch -c with a start
		// point, bisect, checkout -p, patch, go tool, golangci-lint --fix).
		{"git switch -c with a start point", Default(), "b", "Bash", map[string]any{"command": "git switch -c nb other-branch"}, Block},
		{"git checkout -b with a start point", Default(), "b", "Bash", map[string]any{"command": "git checkout -b nb other-branch"}, Block},
		{"git bisect start", Default(), "b", "Bash", map[string]any{"command": "git bisect start HEAD HEAD~3"}, Block},
		{"git bisect good", Default(), "b", "Bash", map[string]any{"command": "git bisect good"}, Block},
		{"git checkout -p", Default(), "b", "Bash", map[string]any{"command": "git checkout -p"}, Block},
		{"patch", Default(), "b", "Bash", map[string]any{"command": "patch -p1 < x.patch"}, Block},
		{"go tool gofumpt -w", Default(), "b", "Bash", map[string]any{"command": "go tool gofumpt -w ."}, Block},
		{"golangci-lint --fix", Default(), "b", "Bash", map[string]any{"command": "golangci-lint run --fix"}, Block},
		{"git bisect log", Default(), "b", "Bash", map[string]any{"command": "git bisect log"}, Allow},
		{"patch --dry-run", Default(), "b", "Bash", map[string]any{"command": "patch --dry-run -p1 < x.patch"}, Allow},
		{"golangci-lint without --fix", Default(), "b", "Bash", map[string]any{"command": "golangci-lint run"}, Allow},
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
