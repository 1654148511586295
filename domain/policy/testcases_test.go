package policy

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestRunTests(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/default_policy_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	results, err := RunTests(defaultPolicy, data)
	if err != nil {
		t.Fatalf("RunTests: %v", err)
	}
	if len(results) != 5 {
		t.Fatalf("got %d results, want 5", len(results))
	}
	for _, r := range results[:4] {
		if !r.Pass {
			t.Errorf("case %q (line %d) failed: got %s by %s, want %s %s", r.Name, r.Line, r.Got.Decision, r.Got.Rule, r.Want, r.WantRule)
		}
	}
	last := results[4]
	if last.Pass || last.Got.Decision != Escalate || last.Line != 36 {
		t.Errorf("wrong expectation case: %+v", last)
	}
}

func TestRunTestsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		line int
		msg  string
	}{
		{"not a list", "name: x\n", 1, "list of cases"},
		{"no want", "- name: a\n  call: {tool: Bash}\n", 1, "no want"},
		{"bad want", "- name: a\n  call: {tool: Bash}\n  want: maybe\n", 3, "invalid decision"},
		{"no tool", "- name: a\n  call: {cwd: /x}\n  want: allow\n", 2, "no tool"},
		{"unknown key", "- name: a\n  call: {tool: Bash}\n  want: allow\n  expect: x\n", 4, "unknown test case key"},
		{"bad input", "- name: a\n  call: {tool: Bash, input: [1]}\n  want: allow\n", 2, "input must be a mapping"},
		{"broken yaml", "- name: a\n  call: {tool: Bash\n", 2, "invalid YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := RunTests(defaultPolicy, []byte(tc.yaml))
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("RunTests error = %v, want line %d containing %q", err, tc.line, tc.msg)
			}
		})
	}
}
