package policy

import (
	"strings"
	"sync/atomic"
	"testing"
)

// fakeProvenance is a Provenance over a fixed map that counts its lookups.
type fakeProvenance struct {
	files   map[string]Change
	lookups atomic.Int64
}

func (f *fakeProvenance) LastChange(rel string) (Change, bool) {
	f.lookups.Add(1)
	c, ok := f.files[rel]
	return c, ok
}

func (f *fakeProvenance) LastAgentChangeUnder(dir, suffix string) (Change, bool) {
	f.lookups.Add(1)
	return testProvenance(f.files).LastAgentChangeUnder(dir, suffix)
}

func withProvenance(c Call, p Provenance) Call {
	c.Provenance = p
	return c
}

func TestProvenance(t *testing.T) {
	t.Parallel()
	agent := func(path string, seq uint64) Change {
		return Change{Path: path, Kind: ChangedByAgent, Agent: "builder-2", Seq: seq}
	}
	human := func(path string) Change { return Change{Path: path, Kind: ChangedByHuman, Agent: "alice", Seq: 3} }
	prov := &fakeProvenance{files: map[string]Change{
		"Makefile":               agent("Makefile", 41),
		"package.json":           agent("package.json", 42),
		"scripts/deploy.sh":      agent("scripts/deploy.sh", 43),
		"scripts/ci.sh":          human("scripts/ci.sh"),
		"internal/gen/gen.go":    agent("internal/gen/gen.go", 44),
		"tools/lint.py":          {Path: "tools/lint.py", Kind: ChangedByReviewed, Agent: "builder-2", Seq: 45},
		"sub/Makefile":           human("sub/Makefile"),
		"compose.yaml":           agent("compose.yaml", 46),
		".venv/bin/activate":     {Path: ".venv/bin/activate", Kind: ChangedByWatcher, Seq: 1},
		"web/package.json":       human("web/package.json"),
		"internal/api/server.go": human("internal/api/server.go"),
	}}
	cases := []struct {
		name   string
		cmd    string
		prov   Provenance
		want   Decision
		rule   string
		reason string // substring of the reason
	}{
		{"make with an agent-changed Makefile", "make", prov, Escalate, ruleProvenance, "Makefile (make), changed by agent builder-2 at seq 41"},
		{"make -C a human's directory", "make -C sub test", prov, Allow, "build-and-test", ""},
		{"npm run with agent-changed package.json", "npm run build", prov, Escalate, ruleProvenance, "package.json (npm run), changed by agent builder-2 at seq 42"},
		{"npm ci", "npm ci", prov, Escalate, ruleProvenance, "seq 42"},
		{"yarn script shorthand", "yarn lint", prov, Escalate, ruleProvenance, "package.json"},
		{"npm install in a human's directory", "cd web && npm install", prov, Allow, "", ""},
		{"npm ls runs no script", "npm ls", prov, Allow, "node-package-scripts", ""},
		{"agent-changed script by path", "./scripts/deploy.sh --prod", prov, Escalate, ruleProvenance, "scripts/deploy.sh (run), changed by agent builder-2 at seq 43"},
		{"agent-changed script through bash", "bash scripts/deploy.sh", prov, Escalate, ruleProvenance, "seq 43"},
		{"agent-changed script through sudo", "sudo ./scripts/deploy.sh", prov, Escalate, ruleProvenance, "seq 43"},
		{"a human's script", "./scripts/ci.sh", prov, Allow, "run-unchanged-project-file", ""},
		{"a human's script through sh", "sh scripts/ci.sh", prov, Allow, "run-unchanged-project-file", ""},
		{"a reviewer-approved change", "python3 tools/lint.py", prov, Allow, "build-and-test", ""},
		{"a script the log never saw", "./scripts/other.sh", prov, Escalate, "default", ""},
		{"go generate over an agent-changed tree", "go generate ./...", prov, Escalate, ruleProvenance, "internal/gen/gen.go (go generate), changed by agent builder-2 at seq 44"},
		{"go generate of a human's package", "go generate ./internal/api", prov, Allow, "go-commands", ""},
		{"docker compose up with an agent-changed compose file", "docker compose up -d", prov, Escalate, ruleProvenance, "compose.yaml"},
		{"source of the imported virtualenv", "source .venv/bin/activate", prov, Allow, "source-project-file", ""},
		{"write then make", "printf 'all:\\n\\trm -rf ~\\n' > Makefile && make", nil, Escalate, ruleProvenance, "Makefile (make), which this call writes"},
		{"write then make with provenance", "printf 'all:\\n\\ttrue\\n' > sub/Makefile && make -C sub", prov, Escalate, ruleProvenance, "which this call writes"},
		{"tee then run", "tee run.sh < tpl && bash run.sh", nil, Escalate, ruleProvenance, "run.sh"},
		{"write a go file then generate", "echo '//go:generate rm -rf ~' > internal/api/x.go && go generate ./...", nil, Escalate, ruleProvenance, "which this call writes"},
		{"make without provenance", "make", nil, Allow, "build-and-test", ""},
		{"a script without provenance", "./scripts/ci.sh", nil, Escalate, "default", ""},
		{"a script outside the project", "~/bin/x.sh", prov, Escalate, ruleProvenance, "outside the project"},
		{"a script in /tmp", "python3 /tmp/x.py", prov, Escalate, ruleProvenance, "outside the project"},
		{"a makefile outside the project", "make -f /tmp/x.mk", prov, Escalate, ruleProvenance, "outside the project"},
		{"a makefile given with ~", "make -f ~/x.mk", prov, Escalate, ruleProvenance, "outside the project"},
		{"another directory's makefile", "make -C ../other test", prov, Escalate, ruleProvenance, "outside the project"},
		{"a system makefile", "make -f /usr/share/doc/x/Makefile", prov, Allow, "build-and-test", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := defaultPolicy.Evaluate(withProvenance(bash(tc.cmd), tc.prov))
			if v.Decision != tc.want || tc.rule != "" && v.Rule != tc.rule || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("%s = %s by %s (%s), want %s by %s (%q)\n%+v", tc.cmd, v.Decision, v.Rule, v.Reason, tc.want, tc.rule, tc.reason, explainMatches(defaultPolicy, withProvenance(bash(tc.cmd), tc.prov)))
			}
		})
	}
}

// TestProvenanceNotShaped checks that an escalation for an agent-changed
// file has no shape, so no learned approval can decide it.
func TestProvenanceNotShaped(t *testing.T) {
	t.Parallel()
	prov := &fakeProvenance{files: map[string]Change{"Makefile": {Path: "Makefile", Kind: ChangedByAgent, Agent: "b", Seq: 9}}}
	if s, ok := Shape(withProvenance(bash("make"), prov)); ok {
		t.Errorf("Shape = %q, want none", s)
	}
	if _, ok := Shape(bash("make")); !ok {
		t.Errorf("make without provenance has no shape")
	}
}

// TestProvenanceNotAskedWhenNothingRuns checks that ordinary commands do
// not consult the lookup.
func TestProvenanceNotAskedWhenNothingRuns(t *testing.T) {
	t.Parallel()
	prov := &fakeProvenance{files: map[string]Change{}}
	v := defaultPolicy.Evaluate(withProvenance(bash("go test ./... && git status"), prov))
	if n := prov.lookups.Load(); n != 0 || v.FileDependent {
		t.Errorf("lookups = %d, FileDependent = %v", n, v.FileDependent)
	}
	if v := defaultPolicy.Evaluate(withProvenance(bash("make test"), prov)); !v.FileDependent || v.Decision != Allow || prov.lookups.Load() != 3 {
		t.Errorf("make test: %s, FileDependent = %v, lookups = %d (want allow, true, 3: GNUmakefile, makefile, Makefile)", v.Decision, v.FileDependent, prov.lookups.Load())
	}
}

// explainMatches is Explain's list of matches, for a failure message.
func explainMatches(p *Policy, c Call) []Match {
	_, m := p.Explain(c)
	return m
}
