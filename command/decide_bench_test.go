package command

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// BenchmarkDecideMiss times the gate's pure part on distinct Bash calls,
// each a decision-cache miss, with its allocations.
func BenchmarkDecideMiss(b *testing.B) {
	h := NewValidateHandler(nil, NewPolicyHolder(Policies{Enforced: policy.Default()}), projections.NewLearned(),
		GateConfig{ProjectRoot: "/project", Protected: []string{"/home/dev/.local/state/lighthouse"}, ReviewTimeout: time.Minute})
	agent := domain.Agent{ID: "a", Name: "bench", Role: domain.RoleBuilder}
	inputs := make([]json.RawMessage, b.N)
	for i := range inputs {
		inputs[i], _ = json.Marshal(map[string]any{"command": fmt.Sprintf("go test ./pkg/%d/... -run TestCase%d && git status | grep -v foo%d", i%50, i, i),
			"description": "Run the tests and show status", "timeout": 120000})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		_, cached, err := h.Decide(ValidateCall{Agent: agent, Tool: "Bash", Input: inputs[i], Cwd: "/project", Home: "/home/dev"})
		if err != nil || cached {
			b.Fatal(err, cached)
		}
	}
}
