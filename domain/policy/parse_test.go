package policy

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const projectYAML = `version: 1
rules:
  # Pushing feature branches is routine in this project.
  - id: git-push
    reason: pushing is fine here
    decision: allow
    command:
      program: git
      subcommand: push
  - id: bash-read-outside-project
    disabled: true
  - id: big-builder-edits
    reason: builders touching many files at once need two approvals
    decision: escalate
    approvals: 2
    tool: Bash
    when: role == "builder" && len(writes) > 3
  - id: deploy-script
    reason: the deploy script is reviewed
    decision: allow
    command:
      program: deploy.sh
      program_paths: [scripts/deploy.sh]
  - id: admin-shell
    reason: admins may run any command no other rule objects to
    decision: allow
    tool: Bash
    roles: [admin]
  - id: no-terraform-apply
    reason: infrastructure changes go through CI
    decision: block
    roles: [builder, expert]
    command:
      program: terraform
      subcommand: [apply, destroy]
`

func TestParseOverrides(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(projectYAML), defaultPolicy)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.Revision() == defaultPolicy.Revision() {
		t.Errorf("revision unchanged after overriding rules")
	}
	ids := strings.Join(p.RuleIDs(), ",")
	if strings.Contains(ids, "bash-read-outside-project") {
		t.Errorf("disabled rule still present: %s", ids)
	}
	admin := bash(`terraform apply`)
	admin.Role = "admin"
	runEvalCases(t, p, []evalCase{
		{"overridden push", bash(`git push origin main`), Allow, "git-push"},
		{"force push still blocked", bash(`git push --force origin main`), Block, "git-force-push"},
		{"disabled read rule", bash(`cat /etc/os-release`), Allow, ""},
		{"when matches", bash(`touch a b c d`), Escalate, "big-builder-edits"},
		{"when does not match", bash(`touch a b`), Allow, ""},
		{"program path allowed", bash(`./scripts/deploy.sh --prod`), Allow, "deploy-script"},
		{"other script not allowed", bash(`./scripts/other.sh`), Escalate, "default"},
		{"role rule", bash(`terraform apply`), Block, "no-terraform-apply"},
		{"role rule other role", admin, Allow, "admin-shell"},
		{"admin still blocked", func() Call { c := bash(`rm -rf /`); c.Role = "admin"; return c }(), Block, "rm-recursive-outside-project"},
		{"admin unknown program", func() Call { c := bash(`frobnicate`); c.Role = "admin"; return c }(), Allow, "admin-shell"},
	})
	v := p.Evaluate(bash(`touch a b c d`))
	if v.Approvals != 2 {
		t.Errorf("Approvals = %d, want 2", v.Approvals)
	}
	// The base policy is unchanged.
	if v := defaultPolicy.Evaluate(bash(`git push origin main`)); v.Decision != Escalate {
		t.Errorf("base policy changed: %s", v.Decision)
	}
}

func TestParseStandalone(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte("default: block\nrules:\n  - id: reads\n    decision: allow\n    tool: Read\n"), nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.DefaultDecision() != Block {
		t.Errorf("default = %s", p.DefaultDecision())
	}
	runEvalCases(t, p, []evalCase{
		{"allowed", fileCall("Read", "file_path", testRoot+"/x"), Allow, "reads"},
		{"default", fileCall("Write", "file_path", testRoot+"/x"), Block, "default"},
		{"builtin still applies", bash(`$X`), Escalate, ruleDynamic},
		{"glob tool", Call{Tool: "mcp__x__y"}, Block, "default"},
	})
	// A file with no policy in it is refused, not taken as the base alone:
	// an editor truncating before it writes would drop every rule.
	for _, raw := range []string{"", "\n  \n", "# rules to come\n"} {
		var pe *ParseError
		if _, err := Parse([]byte(raw), defaultPolicy); !errors.As(err, &pe) || pe.Line != 1 || !strings.Contains(pe.Msg, "holds no policy") {
			t.Errorf("Parse(%q): %v; want a ParseError at line 1", raw, err)
		}
	}
}

// TestParseRoute: an escalating rule's route reaches the verdict it
// decides; other verdicts carry none.
func TestParseRoute(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte("rules:\n  - id: secrets\n    decision: escalate\n    route: capability:security\n    paths: [\"**/*.pem\"]\n  - id: reads\n    decision: allow\n    tool: Read\n"), nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		name      string
		call      Call
		decision  Decision
		wantRoute string
	}{
		{"routed escalation", fileCall("Write", "file_path", testRoot+"/certs/key.pem"), Escalate, "capability:security"},
		{"allowed read", fileCall("Read", "file_path", testRoot+"/x"), Allow, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := p.Evaluate(tc.call)
			if v.Decision != tc.decision || v.Route != tc.wantRoute {
				t.Errorf("verdict %s route %q (rule %s), want %s route %q", v.Decision, v.Route, v.Rule, tc.decision, tc.wantRoute)
			}
		})
	}
}

func TestRevisionStable(t *testing.T) {
	t.Parallel()
	a, b := Default(), Default()
	if a.Revision() != b.Revision() || len(a.Revision()) != 16 {
		t.Errorf("revisions differ or malformed: %q %q", a.Revision(), b.Revision())
	}
	p1, err1 := Parse([]byte(projectYAML), a)
	p2, err2 := Parse([]byte(projectYAML), b)
	if err1 != nil || err2 != nil || p1.Revision() != p2.Revision() {
		t.Errorf("same file, different revisions: %v %v", err1, err2)
	}
	p3, _ := Parse([]byte("rules:\n  - id: git-push\n    decision: block\n    command: {program: git, subcommand: push}\n"), a)
	if p3.Revision() == p1.Revision() || p3.Revision() == a.Revision() {
		t.Errorf("different rules, same revision")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		line int
		msg  string
	}{
		{"broken yaml", "rules:\n  - id: a\n    decision: [allow\n", 3, "invalid YAML"},
		{"bad indentation", "rules:\n  - id: a\n   decision: allow\n", 2, "invalid YAML"},
		{"tab", "rules:\n\t- id: a\n", 2, "invalid YAML"},
		{"mapping in scalar", "rules:\n  - id: a: b\n", 2, "invalid YAML"},
		{"bad expr", "rules:\n  - id: a\n    decision: block\n    when: role == \n", 4, "invalid when expression"},
		{"unknown expr variable", "rules:\n  - id: a\n    decision: block\n    when: rol == \"x\"\n", 4, "invalid when expression"},
		{"non-bool expr", "rules:\n  - id: a\n    decision: block\n    when: len(paths)\n", 4, "invalid when expression"},
		{"multi-line expr", "rules:\n  - id: a\n    decision: block\n    when: |\n      role == \"x\" &&\n      len(paths) >\n", 6, "invalid when expression"},
		{"unknown key", "rules:\n  - id: a\n    decison: block\n", 3, `unknown rule key "decison"`},
		{"unknown top key", "rulez: []\n", 1, "unknown key"},
		{"bad decision", "rules:\n  - id: a\n    decision: deny\n", 3, "invalid decision"},
		{"missing decision", "rules:\n  - id: a\n    tool: Bash\n", 2, "no decision"},
		{"missing id", "rules:\n  - decision: allow\n", 2, "without an id"},
		{"reserved id", "rules:\n  - id: builtin.x\n    decision: allow\n", 2, "invalid rule id"},
		{"duplicate id", "rules:\n  - id: a\n    decision: allow\n  - id: a\n    decision: block\n", 4, "defined twice"},
		{"duplicate key", "rules:\n  - id: a\n    decision: allow\n    decision: block\n", 4, "duplicate key"},
		{"disable unknown", "rules:\n  - id: nope\n    disabled: true\n", 2, "no such rule"},
		{"approvals on block", "rules:\n  - id: a\n    decision: block\n    approvals: 2\n", 4, "approvals only"},
		{"bad approvals", "rules:\n  - id: a\n    decision: escalate\n    approvals: zero\n", 4, "approvals must be"},
		{"bad glob", "rules:\n  - id: a\n    decision: block\n    paths: [\"a/[b\"]\n", 4, "syntax error in pattern"},
		{"other user glob", "rules:\n  - id: a\n    decision: block\n    paths:\n      globs: [~bob/x]\n", 5, "only ~/"},
		{"bad access", "rules:\n  - id: a\n    decision: block\n    paths:\n      access: exec\n", 5, "access must be"},
		{"bad command key", "rules:\n  - id: a\n    decision: block\n    command:\n      programme: rm\n", 5, "unknown command key"},
		{"command not a map", "rules:\n  - id: a\n    decision: block\n    command: rm\n", 4, "command must be a mapping"},
		{"rules not a list", "rules: {}\n", 1, "rules must be a list"},
		{"not a mapping", "- a\n", 1, "mapping"},
		{"bad version", "version: 2\n", 1, "unsupported version"},
		{"bad bool", "rules:\n  - id: a\n    decision: block\n    paths:\n      inside_project: maybe\n", 5, "true or false"},
		{"empty list item", "rules:\n  - id: a\n    decision: block\n    tool: [\"\"]\n", 4, "non-empty"},
		{"route on block", "rules:\n  - id: a\n    decision: block\n    route: capability:security\n", 4, "route only"},
		{"route not a capability", "rules:\n  - id: a\n    decision: escalate\n    route: human\n", 4, "route must be"},
		{"route bad name", "rules:\n  - id: a\n    decision: escalate\n    route: capability:Sec\n", 4, "route must be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.yaml), defaultPolicy)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v (%T), want *ParseError", err, err)
			}
			if pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("ParseError = line %d %q, want line %d containing %q", pe.Line, pe.Msg, tc.line, tc.msg)
			}
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("error text %q does not name the line", err.Error())
			}
		})
	}
}

func TestWhenRuntimeError(t *testing.T) {
	t.Parallel()
	src := `rules:
  - id: risky-block
    decision: block
    tool: Bash
    when: args[5] == "x" || paths[10] == "y"
  - id: risky-allow
    decision: allow
    tool: Read
    when: paths[10] == "y"
`
	p, err := Parse([]byte(src), nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	runEvalCases(t, p, []evalCase{
		{"failing block expression blocks", bash(`ls`), Block, "risky-block"},
		{"failing allow expression does not allow", fileCall("Read", "file_path", testRoot+"/x"), Escalate, "default"},
	})
}

// TestDocExampleParses keeps the schema example in doc.go valid.
func TestDocExampleParses(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(src), "// A policy file is YAML:\n//\n")
	if !ok {
		t.Fatal("schema example not found in doc.go")
	}
	var yaml strings.Builder
	for _, line := range strings.Split(after, "\n") {
		l, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			break
		}
		yaml.WriteString(l + "\n")
	}
	p, err := Parse([]byte(yaml.String()), defaultPolicy)
	if err != nil {
		t.Fatalf("doc.go example: %v\n%s", err, yaml.String())
	}
	if v := p.Evaluate(bash(`git push --force origin main`)); v.Decision != Block || v.Rule != "git-force-push" {
		t.Errorf("doc example policy: git push --force = %s by %s", v.Decision, v.Rule)
	}
}

func TestDefaultYAMLParses(t *testing.T) {
	t.Parallel()
	p, err := Parse(DefaultYAML(), nil)
	if err != nil {
		t.Fatalf("default policy: %v", err)
	}
	if p.Revision() != defaultPolicy.Revision() || len(p.RuleIDs()) < 30 {
		t.Errorf("default policy: revision %s, %d rules", p.Revision(), len(p.RuleIDs()))
	}
}

// TestApprovalsOfAnotherRuleAreNamed: when the rule asking for more
// approvals is not the deciding one (a builtin escalates first), the
// reason reviewers see names it (a walkthrough saw "rule
// remote-shell-and-copy" and could not tell why two approvals were needed).
func TestApprovalsOfAnotherRuleAreNamed(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte("version: 1\nrules:\n  - id: two-eyes\n    decision: escalate\n    approvals: 2\n    command: {program: scp}\n"), defaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	v := p.Evaluate(bash(`scp main.go host:/tmp/`))
	if v.Decision != Escalate || v.Approvals != 2 || v.Rule != "remote-shell-and-copy" || !strings.HasSuffix(v.Reason, "(2 approvals, as rule two-eyes asks)") {
		t.Fatalf("scp: %+v", v)
	}
	// A deciding rule that asks for the count itself is not named again.
	own, err := Parse([]byte("version: 1\nrules:\n  - id: deploy\n    decision: escalate\n    approvals: 3\n    command: {program: make, subcommand: deploy}\n"), defaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if v := own.Evaluate(bash(`make deploy`)); v.Rule != "deploy" || v.Approvals != 3 || strings.Contains(v.Reason, "as rule") {
		t.Errorf("make deploy: %+v", v)
	}
}
