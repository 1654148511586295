package policy

import (
	"fmt"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"
)

// Decision is the answer the policy gives for one tool call.
type Decision string

// The three decisions, from weakest to strongest. When several rules match,
// the strongest wins: block overrides escalate, which overrides allow.
const (
	Allow    Decision = "allow"
	Escalate Decision = "escalate"
	Block    Decision = "block"
)

// rank orders decisions by strength; 0 means not a valid decision.
func (d Decision) rank() int {
	switch d {
	case Allow:
		return 1
	case Escalate:
		return 2
	case Block:
		return 3
	}
	return 0
}

// Valid reports whether d is one of allow, escalate or block.
func (d Decision) Valid() bool { return d.rank() > 0 }

// Call is one tool call as Claude Code's PreToolUse hook reports it.
type Call struct {
	Tool        string         // tool_name: Bash, Write, Edit, MultiEdit, Read, NotebookEdit, mcp__server__tool, ...
	Input       map[string]any // tool_input
	Cwd         string         // absolute working directory of the agent
	ProjectRoot string         // absolute project root; paths inside it are "in project"
	Role        string         // agent role: admin, builder, reviewer, expert, observer
	AgentID     string
	// Home is the agent's home directory, used to expand ~ and $HOME and to
	// recognise ~/ paths given in absolute form. Optional: when empty, ~ is
	// treated as an unknown directory outside the project, and absolute paths
	// under /root, /home/NAME and /Users/NAME are taken to be home paths.
	Home string
	// Protected are absolute paths no agent may read, write or run
	// anything from, whatever the rules say: Lighthouse's data directory
	// (the tokens and the store), its mount and the writer's policy files.
	Protected []string
	// Provenance, when set, says who last changed project files: running a
	// project file an agent changed since the baseline escalates, running
	// one no agent changed is allowed (rule key runs_unchanged). Optional.
	Provenance Provenance
	// Leases, when set, says which project paths other agents hold under
	// an exclusive lease: writing one is blocked (or escalated, with the
	// policy's `leases: escalate`). Optional.
	Leases Leases
}

// Match records one rule that matched a call, for explaining a verdict.
type Match struct {
	Rule     string   // rule id; "default" for the policy default, "builtin.*" for checks that no file can turn off
	Decision Decision // what the rule decides
	Reason   string   // the rule's description
	Subject  string   // what matched: a command, a path or the tool name
	// Route is where the rule sends an escalation ("capability:NAME"), or
	// "" for the reviewers.
	Route string
}

// Verdict is the policy's answer for one call. It is comparable (==), so a
// cache can keep each distinct verdict once.
type Verdict struct {
	Decision  Decision
	Reason    string // reason of the deciding rule
	Rule      string // id of the deciding rule
	Approvals int    // approvers required when Decision is Escalate (>= 1); 0 otherwise
	// Route is where an escalation goes: "capability:NAME" lets the agents
	// with that capability decide it (besides reviewers); "" is the
	// reviewers alone. It is the deciding rule's.
	Route string
	// FileDependent is set when the verdict consulted Call.Provenance: it
	// holds only while the project files the call runs stay unchanged, so
	// it must not be cached by input alone.
	FileDependent bool
}

// Policy is a compiled, immutable rule set. It is safe for concurrent use.
// Build one with Default or Parse; the zero value is not usable.
type Policy struct {
	def       Decision
	rules     []*rule            // effective rules in order
	callRules []*rule            // rules without a command matcher
	byProgram map[string][]*rule // command rules naming a program exactly, merged with anyProg, in rule order
	anyProg   []*rule            // command rules whose program is a glob or unset
	revision  string
	leaseDec  Decision  // what a write under another agent's lease gets: Block or Escalate
	scratch   sync.Pool // *analysis with its parser and buffers, reused across calls
}

// Revision returns a stable content hash of the effective rule set and default
// decision. Two policies with the same rules have the same revision.
func (p *Policy) Revision() string { return p.revision }

// LeaseDecision returns what a write under another agent's exclusive
// lease gets: Block (the default) or Escalate (`leases: escalate`).
func (p *Policy) LeaseDecision() Decision { return p.leaseDec }

// DefaultDecision returns the decision taken when no rule matches.
func (p *Policy) DefaultDecision() Decision { return p.def }

// RuleIDs returns the ids of the effective rules, in evaluation order.
func (p *Policy) RuleIDs() []string {
	ids := make([]string, len(p.rules))
	for i, r := range p.rules {
		ids[i] = r.id
	}
	return ids
}

func (p *Policy) getAnalysis() *analysis {
	if a, ok := p.scratch.Get().(*analysis); ok {
		return a
	}
	return &analysis{parser: newShellParser()}
}

// putAnalysis returns a to the pool unless a pathological call left it with
// large buffers.
func (p *Policy) putAnalysis(a *analysis) {
	// The call itself is dropped; the buffers keep substrings of its
	// source (so the source) until the next run clears them.
	a.call, a.callv = nil, Call{}
	if cap(a.words) > 1024 || cap(a.commands) > 64 || cap(a.paths) > 256 || cap(a.programs) > 1024 || cap(a.scopes.chunk) > 1024 ||
		cap(a.flagArena) > 1024 || cap(a.optArena) > 256 || cap(a.posArena) > 1024 {
		return
	}
	p.scratch.Put(a)
}

func newShellParser() *syntax.Parser {
	return syntax.NewParser(syntax.Variant(syntax.LangBash))
}

// candidates returns the command rules that may match a command running prog.
func (p *Policy) candidates(prog string) []*rule {
	if rs, ok := p.byProgram[prog]; ok {
		return rs
	}
	return p.anyProg
}

// verdictBuilder picks the strongest match, and keeps every match when
// explaining. Among matches of equal strength the one from the earliest
// rule decides; builtin checks come before every rule.
type verdictBuilder struct {
	explain   bool
	matches   []Match // every match, when explaining
	best      Match   // the deciding match, if found
	found     bool
	bestOrder int // rule position of the deciding match
	approvals int
	// approvalsRule is the escalating rule that asks for the most
	// approvals, which need not be the deciding one.
	approvalsRule string
}

func (b *verdictBuilder) add(m Match, order, approvals int) {
	if b.explain {
		b.matches = append(b.matches, m)
	}
	if !b.found || m.Decision.rank() > b.best.Decision.rank() ||
		m.Decision.rank() == b.best.Decision.rank() && order < b.bestOrder {
		b.best, b.bestOrder, b.found = m, order, true
	}
	if m.Decision == Escalate && approvals > b.approvals {
		b.approvals, b.approvalsRule = approvals, m.Rule
	}
}

// Evaluate decides one call. It never fails: calls it cannot understand are
// escalated (or decided by the policy default). It keeps only the deciding
// rule, which is what the gate's hot path needs (see Explain).
func (p *Policy) Evaluate(c Call) Verdict {
	v, _ := p.evaluate(c, false)
	return v
}

// Explain decides one call as Evaluate does and also returns every rule
// that matched, in evaluation order.
func (p *Policy) Explain(c Call) (Verdict, []Match) { return p.evaluate(c, true) }

func (p *Policy) evaluate(c Call, explain bool) (Verdict, []Match) {
	a := p.getAnalysis()
	defer p.putAnalysis(a)
	return p.evaluateWith(a, c, explain)
}

// evaluateWith decides c with the analysis a, which may hold the buffers
// and arenas of earlier calls.
func (p *Policy) evaluateWith(a *analysis, c Call, explain bool) (Verdict, []Match) {
	a.run(c)

	b := verdictBuilder{explain: explain}
	if explain {
		b.matches = make([]Match, 0, len(a.commands)+len(a.findings)+4)
	}
	for _, f := range a.findings {
		b.add(Match{Rule: f.id, Decision: f.decision, Reason: f.reason, Subject: f.subject}, -1, 1)
	}
	var env *Env
	callAllowed := false // an allow rule judged the whole call
	for _, r := range p.callRules {
		if r.matchCall(a, &env) {
			callAllowed = callAllowed || r.decision == Allow
			subject := a.callSubject(r)
			b.add(Match{Rule: r.id, Decision: r.decision, Reason: a.outsideReason(r, subject), Subject: subject, Route: r.route}, r.order, r.approvals)
		}
	}
	for i := range a.commands {
		cmd := &a.commands[i]
		if cmd.dynamic {
			continue // reported by a builtin finding
		}
		covered := cmd.wrapper || callAllowed
		spec := programs[cmd.program]
		for _, r := range p.candidates(cmd.program) {
			if r.matchCommand(a, cmd, spec, &env) {
				covered = true
				b.add(Match{Rule: r.id, Decision: r.decision, Reason: r.reason, Subject: cmd.text, Route: r.route}, r.order, r.approvals)
			}
		}
		if !covered {
			b.add(Match{Rule: "default", Decision: p.def, Reason: "no rule covers command " + quoteSubject(cmd.text), Subject: cmd.text}, len(p.rules), 1)
		}
	}
	a.checkProtected(func(m Match) { b.add(m, len(p.rules)+1, 1) })
	a.checkLeases(p.leaseDec, func(m Match) { b.add(m, -1, 1) })
	if !b.found {
		if a.isBash && len(a.commands) == 0 {
			return Verdict{Decision: Allow, Rule: "default", Reason: "no command runs and no rule matched", FileDependent: a.consulted}, b.matches
		}
		m := Match{Rule: "default", Decision: p.def, Reason: "no rule matched; policy default", Subject: c.Tool}
		b.add(m, len(p.rules), 1)
	}
	best := b.best
	v := Verdict{Decision: best.Decision, Reason: best.Reason, Rule: best.Rule, FileDependent: a.consulted}
	if v.Decision == Escalate {
		v.Approvals = max(b.approvals, 1)
		v.Route = best.Route
		if v.Approvals > 1 && b.approvalsRule != best.Rule {
			// Reviewers see the deciding rule; say whose count they meet.
			v.Reason += fmt.Sprintf(" (%d approvals, as rule %s asks)", v.Approvals, b.approvalsRule)
		}
	}
	return v, b.matches
}

func quoteSubject(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return "`" + s + "`"
}

// callSubject describes what a call-level rule matched, for Match.Subject.
func (a *analysis) callSubject(r *rule) string {
	if r.paths != nil {
		for i := range a.paths {
			if r.paths.matchOne(&a.paths[i]) {
				return a.paths[i].display()
			}
		}
	}
	if a.isBash {
		return a.source
	}
	return a.call.Tool
}

// outsideReason adds to the reason of a rule about paths outside the
// project which path that was and which root is in force.
func (a *analysis) outsideReason(r *rule, subject string) string {
	if r.paths == nil || r.paths.inside == nil || *r.paths.inside {
		return r.reason
	}
	root := a.res.root
	if root == "" {
		root = "(unknown)"
	}
	return r.reason + ": " + subject + " is outside the project root " + root
}

// trimDashes strips leading dashes from a flag name as written in a rule.
func trimDashes(s string) string { return strings.TrimLeft(s, "-") }
