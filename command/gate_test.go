package command

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
	"github.com/lighthouse-ai/lighthouse/projections"
)

type nopLog struct{}

func (nopLog) Append(context.Context, domain.AppendRequest) (domain.AppendResult, error) {
	return domain.AppendResult{}, nil
}

func (nopLog) LastEvent(string) (domain.Event, bool, error) { return domain.Event{}, false, nil }

// mapProvenance is a fixed policy.Provenance.
type mapProvenance map[string]policy.Change

func (m mapProvenance) LastChange(rel string) (policy.Change, bool) {
	c, ok := m[rel]
	return c, ok
}

func (m mapProvenance) LastAgentChangeUnder(string, string) (policy.Change, bool) {
	return policy.Change{}, false
}

// TestDecideProvenance checks that the gate hands the file provenance to the
// policy and never caches a verdict that depends on it.
func TestDecideProvenance(t *testing.T) {
	t.Parallel()
	prov := mapProvenance{
		"Makefile":      {Path: "Makefile", Kind: policy.ChangedByAgent, Agent: "builder-2", Seq: 41},
		"scripts/ci.sh": {Path: "scripts/ci.sh", Kind: policy.ChangedByHuman, Agent: "alice", Seq: 3},
	}
	h := NewValidateHandler(nopLog{}, NewPolicyHolder(Policies{Enforced: policy.Default()}), projections.NewLearned(),
		GateConfig{ProjectRoot: "/p", ReviewTimeout: time.Minute, Provenance: prov})
	call := func(cmd string) ValidateCall {
		in, _ := json.Marshal(map[string]string{"command": cmd})
		return ValidateCall{Agent: domain.Agent{ID: "a", Name: "b", Role: domain.RoleBuilder}, Tool: "Bash", Input: in, Cwd: "/p", Home: "/home/dev"}
	}
	tests := []struct {
		cmd        string
		want       policy.Decision
		reason     string
		cachedNext bool
	}{
		{"make build", policy.Escalate, "Makefile (make), changed by agent builder-2 at seq 41", false},
		{"./scripts/ci.sh", policy.Allow, "", false},
		{"go test ./...", policy.Allow, "", true},
	}
	for _, tc := range tests {
		v, cached, err := h.Decide(call(tc.cmd))
		if err != nil || cached || v.Verdict.Decision != tc.want || !strings.Contains(v.Verdict.Reason, tc.reason) {
			t.Errorf("%s: %s (%s), cached %v, err %v; want %s (%q)", tc.cmd, v.Verdict.Decision, v.Verdict.Reason, cached, err, tc.want, tc.reason)
		}
		if tc.want == policy.Escalate && v.Shape != "" {
			t.Errorf("%s: shape %q; an escalation for a changed file must not be learnable", tc.cmd, v.Shape)
		}
		if _, cached, _ := h.Decide(call(tc.cmd)); cached != tc.cachedNext {
			t.Errorf("%s: second decision cached = %v, want %v", tc.cmd, cached, tc.cachedNext)
		}
	}
}

// TestCacheKeyFieldsDoNotShift: calls whose fields differ only in where a
// NUL splits them (a cwd holding one) get different keys, so neither is
// answered from the other's cached verdict.
func TestCacheKeyFieldsDoNotShift(t *testing.T) {
	t.Parallel()
	in := json.RawMessage(`{"command":"rm -rf build"}`)
	a := domain.Agent{ID: "a", Role: domain.RoleBuilder}
	for _, tc := range []struct{ x, y ValidateCall }{
		{ValidateCall{Agent: a, Tool: "Bash", Cwd: "/p\x00/h", Home: "x", Input: in}, ValidateCall{Agent: a, Tool: "Bash", Cwd: "/p", Home: "/h\x00x", Input: in}},
		{ValidateCall{Agent: a, Tool: "Bash\x00/p", Input: in}, ValidateCall{Agent: a, Tool: "Bash", Cwd: "/p\x00", Input: in}},
		{ValidateCall{Agent: domain.Agent{Role: "builder\x00a"}, Tool: "Bash", Input: in}, ValidateCall{Agent: domain.Agent{Role: "builder", ID: "a\x00"}, Tool: "Bash", Input: in}},
	} {
		if cacheKey(tc.x, 0) == cacheKey(tc.y, 0) {
			t.Errorf("%+v and %+v share a cache key", tc.x, tc.y)
		}
	}
}

// TestDecisionCache: a hit answers what the miss decided, the enforced
// policy's and the shadow's; calls deciding alike share one kept verdict;
// past its bound the cache starts over.
func TestDecisionCache(t *testing.T) {
	t.Parallel()
	const max = 8
	h := NewValidateHandler(nopLog{}, NewPolicyHolder(Policies{Enforced: policy.Default(), Shadow: policy.Default()}), projections.NewLearned(),
		GateConfig{ProjectRoot: "/p", ReviewTimeout: time.Minute})
	st := h.policies.state.Load()
	st.cache = newDecisionCache(max)
	for i, tc := range []struct {
		cmd      string
		want     policy.Decision
		verdicts int // distinct verdicts kept after the call
	}{
		{"go test ./a/... && git status | grep -v foo", policy.Allow, 1},
		{"rm -rf /", policy.Block, 2},
		{"go test ./b/... && git status | grep -v bar", policy.Allow, 2},
		{"rm  -rf /", policy.Block, 2},
	} {
		in, _ := json.Marshal(map[string]string{"command": tc.cmd})
		call := ValidateCall{Agent: domain.Agent{ID: "a", Name: "b", Role: domain.RoleBuilder}, Tool: "Bash", Input: in, Cwd: "/p", Home: "/home/dev"}
		var first Verdict
		for _, wantCached := range []bool{false, true} {
			v, cached, err := h.Decide(call)
			if err != nil || cached != wantCached || v.Verdict.Decision != tc.want || v.Verdict.Rule == "" {
				t.Fatalf("%s: %s by %q, cached %v, err %v; want %s, cached %v", tc.cmd, v.Verdict.Decision, v.Verdict.Rule, cached, err, tc.want, wantCached)
			}
			if v.ShadowRevision == "" || v.Shadow != v.Verdict {
				t.Errorf("%s (cached %v): shadow %+v (revision %q), want the same verdict", tc.cmd, cached, v.Shadow, v.ShadowRevision)
			}
			if !wantCached {
				first = v
			} else if v != first {
				t.Errorf("%s: hit %+v, miss %+v", tc.cmd, v, first)
			}
		}
		if len(st.cache.index) != i+1 || len(st.cache.verdicts) != tc.verdicts {
			t.Errorf("after %s: %d calls, %d verdicts kept; want %d, %d", tc.cmd, len(st.cache.index), len(st.cache.verdicts), i+1, tc.verdicts)
		}
	}
	for i := range max {
		in, _ := json.Marshal(map[string]string{"command": fmt.Sprintf("go vet ./%d/...", i)})
		h.Decide(ValidateCall{Agent: domain.Agent{ID: "a", Role: domain.RoleBuilder}, Tool: "Bash", Input: in, Cwd: "/p"})
	}
	if len(st.cache.index) > max || len(st.cache.verdicts) > max || len(st.cache.ids) != len(st.cache.verdicts) {
		t.Errorf("past its bound the cache holds %d calls, %d verdicts, %d ids", len(st.cache.index), len(st.cache.verdicts), len(st.cache.ids))
	}
}
