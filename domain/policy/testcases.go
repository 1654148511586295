package policy

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// TestResult is the outcome of one policy test case.
type TestResult struct {
	Name     string   // the case's name
	Line     int      // line of the case in the test file
	Want     Decision // expected decision
	WantRule string   // expected deciding rule, "" when not checked
	Got      Verdict  // what the policy decided
	Pass     bool
}

// RunTests runs a policy test file against p. The file is a YAML list of
// cases:
//
//	# policy_test.yaml
//	- name: force push is blocked
//	  call:
//	    tool: Bash
//	    input: {command: git push --force origin main}
//	    cwd: /work/app            # optional, defaults to project_root
//	    project_root: /work/app   # optional, defaults to cwd, then /project
//	    role: builder             # optional
//	    home: /home/dev           # optional
//	    changed:                  # optional: the log's last change per project file
//	      Makefile: {kind: agent, agent: builder-2, seq: 41}
//	      scripts/ci.sh: {kind: human, agent: alice, seq: 3}
//	  want: block
//	  rule: git-force-push        # optional: the deciding rule
//
// It returns one result per case; a malformed file yields a *ParseError.
func RunTests(p *Policy, data []byte) ([]TestResult, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode {
		return nil, errAt(list, "a policy test file is a list of cases")
	}
	results := make([]TestResult, 0, len(list.Content))
	for _, n := range list.Content {
		tc, err := decodeCase(n)
		if err != nil {
			return nil, err
		}
		tc.Got = p.Evaluate(tc.call)
		tc.Pass = tc.Got.Decision == tc.Want && (tc.WantRule == "" || tc.WantRule == tc.Got.Rule)
		results = append(results, tc.TestResult)
	}
	return results, nil
}

type testCase struct {
	TestResult
	call Call
}

func decodeCase(n *yaml.Node) (*testCase, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, "a test case must be a mapping with name, call and want")
	}
	tc := &testCase{}
	tc.Line = n.Line
	var haveCall bool
	err := eachKey(n, func(k, v *yaml.Node) error {
		var err error
		switch k.Value {
		case "name":
			tc.Name, err = scalar(v, "name")
		case "want":
			tc.Want, err = decision(v)
		case "rule":
			tc.WantRule, err = scalar(v, "rule")
		case "call":
			haveCall = true
			err = decodeCall(v, &tc.call)
		default:
			err = errAt(k, "unknown test case key %q (want name, call, want, rule)", k.Value)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case tc.Name == "":
		return nil, errAt(n, "test case without a name")
	case !haveCall:
		return nil, errAt(n, "test case %q has no call", tc.Name)
	case tc.Want == "":
		return nil, errAt(n, "test case %q has no want", tc.Name)
	}
	c := &tc.call
	switch {
	case c.ProjectRoot == "" && c.Cwd == "":
		c.ProjectRoot, c.Cwd = "/project", "/project"
	case c.ProjectRoot == "":
		c.ProjectRoot = c.Cwd
	case c.Cwd == "":
		c.Cwd = c.ProjectRoot
	}
	return tc, nil
}

func decodeCall(n *yaml.Node, c *Call) error {
	if n.Kind != yaml.MappingNode {
		return errAt(n, "call must be a mapping")
	}
	err := eachKey(n, func(k, v *yaml.Node) error {
		var err error
		switch k.Value {
		case "tool":
			c.Tool, err = scalar(v, "tool")
		case "input":
			if v.Kind != yaml.MappingNode {
				return errAt(v, "input must be a mapping")
			}
			if derr := v.Decode(&c.Input); derr != nil {
				return &ParseError{Line: v.Line, Msg: "input: " + derr.Error(), Err: derr}
			}
		case "cwd":
			c.Cwd, err = scalar(v, "cwd")
		case "project_root":
			c.ProjectRoot, err = scalar(v, "project_root")
		case "role":
			c.Role, err = scalar(v, "role")
		case "agent_id":
			c.AgentID, err = scalar(v, "agent_id")
		case "home":
			c.Home, err = scalar(v, "home")
		case "changed":
			var prov testProvenance
			prov, err = decodeChanged(v)
			c.Provenance = prov
		default:
			err = errAt(k, "unknown call key %q", k.Value)
		}
		return err
	})
	if err != nil {
		return err
	}
	if c.Tool == "" {
		return errAt(n, "call has no tool")
	}
	return nil
}

// testProvenance is the Provenance of a test case: the last change of the
// files it lists; every other file is as imported.
type testProvenance map[string]Change

func (t testProvenance) LastChange(rel string) (Change, bool) {
	c, ok := t[rel]
	return c, ok
}

func (t testProvenance) LastAgentChangeUnder(dir, suffix string) (Change, bool) {
	var best Change
	found := false
	for rel, c := range t {
		if !c.SinceBaseline() || !strings.HasSuffix(rel, suffix) || !(dir == "." || rel == dir || strings.HasPrefix(rel, dir+"/")) {
			continue
		}
		if !found || c.Seq > best.Seq {
			best, found = c, true
		}
	}
	return best, found
}

func decodeChanged(n *yaml.Node) (testProvenance, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, "changed must map project files to {kind, agent, seq}")
	}
	out := testProvenance{}
	err := eachKey(n, func(k, v *yaml.Node) error {
		var c struct {
			Kind  string `yaml:"kind"`
			Agent string `yaml:"agent"`
			Seq   uint64 `yaml:"seq"`
		}
		if err := v.Decode(&c); err != nil {
			return &ParseError{Line: v.Line, Msg: "changed: " + err.Error(), Err: err}
		}
		switch ChangerKind(c.Kind) {
		case ChangedByAgent, ChangedByHuman, ChangedByWatcher, ChangedByReviewed:
		default:
			return errAt(v, "changed: kind must be agent, human, watcher or reviewer-approved, got %q", c.Kind)
		}
		out[k.Value] = Change{Path: k.Value, Kind: ChangerKind(c.Kind), Agent: c.Agent, Seq: c.Seq}
		return nil
	})
	return out, err
}
