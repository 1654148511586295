package policy

import (
	_ "embed"
	"fmt"
)

//go:embed default.yaml
var defaultYAML string

// DefaultYAML returns the source of the built-in default policy.
func DefaultYAML() []byte { return []byte(defaultYAML) }

// Default returns the built-in default policy: safe for a coding agent, it
// allows reads and edits inside the project and ordinary build, test and git
// commands, blocks destructive and secret-touching actions, and escalates
// everything else. Each call compiles a fresh policy; keep the result.
func Default() *Policy {
	p, err := Parse([]byte(defaultYAML), nil)
	if err != nil {
		panic(fmt.Errorf("policy: built-in default policy is invalid: %w", err))
	}
	return p
}
