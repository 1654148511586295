package policy

import (
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// ruleSpec is a rule as written in a policy file, normalised. Its JSON form
// feeds the policy revision.
type ruleSpec struct {
	ID          string       `json:"id"`
	Description string       `json:"description,omitempty"`
	Decision    Decision     `json:"decision"`
	Approvals   int          `json:"approvals,omitempty"`
	Route       string       `json:"route,omitempty"`
	Tools       []string     `json:"tool,omitempty"`
	Roles       []string     `json:"roles,omitempty"`
	Command     *commandSpec `json:"command,omitempty"`
	Paths       *pathSpec    `json:"paths,omitempty"`
	When        string       `json:"when,omitempty"`
}

type commandSpec struct {
	Program       []string            `json:"program,omitempty"`
	Subcommand    []string            `json:"subcommand,omitempty"`
	Flags         []string            `json:"flags,omitempty"`
	AnyFlags      []string            `json:"any_flags,omitempty"`
	Options       map[string][]string `json:"options,omitempty"`
	Args          []string            `json:"args,omitempty"`
	NotArgs       []string            `json:"not_args,omitempty"`
	PipedFrom     []string            `json:"piped_from,omitempty"`
	ProgramPaths  []string            `json:"program_paths,omitempty"`
	Effects       []string            `json:"effects,omitempty"`
	RunsUnchanged bool                `json:"runs_unchanged,omitempty"`
	Paths         *pathSpec           `json:"paths,omitempty"`
}

type pathSpec struct {
	Globs         []string `json:"globs,omitempty"`
	Exclude       []string `json:"exclude,omitempty"`
	InsideProject *bool    `json:"inside_project,omitempty"`
	Dynamic       *bool    `json:"dynamic,omitempty"`
	Access        string   `json:"access,omitempty"`
}

// rule is a compiled rule.
type rule struct {
	spec      ruleSpec
	order     int // position in the policy that owns this copy
	id        string
	decision  Decision
	reason    string
	approvals int
	route     string // "capability:NAME" or ""
	tools     []wildcard
	roles     []string
	cmd       *cmdMatcher
	paths     *pathMatcher
	when      *vm.Program
}

type cmdMatcher struct {
	programs      []wildcard
	exact         bool // every program is a plain name
	subcommands   []wildcard
	flags         []string // all required, dashes trimmed
	anyFlags      []string // at least one required
	options       []optMatcher
	args          []wildcard
	notArgs       []wildcard
	pipedFrom     []wildcard
	programPaths  []glob
	effects       []string // all required
	runsUnchanged bool     // the command runs project files no agent changed
	paths         *pathMatcher
}

type optMatcher struct {
	name   string
	values []wildcard
}

type pathMatcher struct {
	globs   []glob
	exclude []glob
	inside  *bool
	dynamic *bool
	access  access // 0: any
}

func (r *rule) matchTool(tool string) bool {
	return len(r.tools) == 0 || matchAnyWild(r.tools, tool)
}

func (r *rule) matchRole(role string) bool {
	if len(r.roles) == 0 {
		return true
	}
	for _, x := range r.roles {
		if x == role {
			return true
		}
	}
	return false
}

// matchCall reports whether a rule without a command matcher matches.
func (r *rule) matchCall(a *analysis, env **Env) bool {
	if !r.matchTool(a.call.Tool) || !r.matchRole(a.call.Role) {
		return false
	}
	if r.paths != nil && !r.paths.match(a.paths, r.decision == Allow) {
		return false
	}
	return r.when == nil || r.evalWhen(a, nil, env)
}

// matchCommand reports whether a command rule matches command c of a call.
func (r *rule) matchCommand(a *analysis, c *command, spec *progSpec, env **Env) bool {
	m := r.cmd
	if len(m.programs) > 0 && !matchAnyWild(m.programs, c.program) {
		return false
	}
	if !r.matchTool(a.call.Tool) || !r.matchRole(a.call.Role) {
		return false
	}
	if m.runsUnchanged && !c.runsUnchanged {
		return false
	}
	if len(m.programPaths) > 0 || (r.decision == Allow && !c.trusted && !m.runsUnchanged) {
		// A program run from an untrusted path (./ls) only satisfies an
		// allow rule that names its path.
		if !m.matchProgramPath(a, c) {
			return false
		}
	}
	if len(m.subcommands) > 0 && !matchAnyWild(m.subcommands, c.subcommand) {
		return false
	}
	for _, f := range m.flags {
		if !c.hasFlag(spec.canonical(f)) {
			return false
		}
	}
	if len(m.anyFlags) > 0 {
		found := false
		for _, f := range m.anyFlags {
			if c.hasFlag(spec.canonical(f)) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, om := range m.options {
		if !om.match(spec, c) {
			return false
		}
	}
	for _, e := range m.effects {
		if !c.hasEffect(e) {
			return false
		}
	}
	if len(m.args) > 0 && !anyArg(m.args, c.args) {
		return false
	}
	if len(m.notArgs) > 0 && anyArg(m.notArgs, c.args) {
		return false
	}
	if len(m.pipedFrom) > 0 {
		found := false
		for _, p := range c.pipedFrom {
			if matchAnyWild(m.pipedFrom, p) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if m.paths != nil && !m.paths.match(c.paths, r.decision == Allow) {
		return false
	}
	if r.paths != nil && !r.paths.match(a.paths, r.decision == Allow) {
		return false
	}
	return r.when == nil || r.evalWhen(a, c, env)
}

func (m *cmdMatcher) matchProgramPath(a *analysis, c *command) bool {
	if len(m.programPaths) == 0 {
		return false
	}
	p := a.res.resolve(c.invoked, false, a.cwd(), a.cwd() != "", accessRead)
	for i := range m.programPaths {
		if m.programPaths[i].match(&p) {
			return true
		}
	}
	return false
}

func anyArg(ws []wildcard, args []arg) bool {
	for _, x := range args {
		if matchAnyWild(ws, x.text) {
			return true
		}
	}
	return false
}

func (om *optMatcher) match(spec *progSpec, c *command) bool {
	name := spec.canonical(om.name)
	for _, o := range c.options {
		if o.name == name && (len(om.values) == 0 || matchAnyWild(om.values, o.value)) {
			return true
		}
	}
	return len(om.values) == 0 && c.hasFlag(name)
}

// match applies the matcher to a set of paths. Rules that block or escalate
// match when any path matches; allow rules only when every path of the
// requested access matches (and there is at least one).
func (m *pathMatcher) match(paths []pathRef, all bool) bool {
	n := 0
	for i := range paths {
		p := &paths[i]
		if m.access != 0 && p.access&m.access == 0 {
			continue
		}
		n++
		ok := m.matchPath(p, !all)
		if all && !ok {
			return false
		}
		if !all && ok {
			return true
		}
	}
	return all && n > 0
}

func (m *pathMatcher) matchOne(p *pathRef) bool { return m.matchPath(p, true) }

// matchPath matches one path. With below (for block and escalate rules), a
// recursive path (tar, zip -r, cp -r of a directory) also matches when the
// rule's globs match something under it: zip -r of ~ reads ~/.ssh.
func (m *pathMatcher) matchPath(p *pathRef, below bool) bool {
	if m.access != 0 && p.access&m.access == 0 {
		return false
	}
	if p.dynamic {
		return m.dynamic != nil && *m.dynamic
	}
	if m.dynamic != nil && *m.dynamic {
		return false
	}
	if m.inside != nil && p.inside != *m.inside {
		return false
	}
	if len(m.globs) > 0 && !anyGlob(m.globs, p) && !(below && p.recursive && anyGlobBelow(m.globs, p)) {
		return false
	}
	return !anyGlob(m.exclude, p)
}

func anyGlobBelow(gs []glob, p *pathRef) bool {
	for i := range gs {
		if gs[i].matchBelow(p) {
			return true
		}
	}
	return false
}

func anyGlob(gs []glob, p *pathRef) bool {
	for i := range gs {
		if gs[i].match(p) {
			return true
		}
	}
	return false
}

// evalWhen runs the rule's expression. A failing expression counts as a
// match for block and escalate rules (fail closed) and as no match for allow
// rules.
func (r *rule) evalWhen(a *analysis, c *command, envp **Env) bool {
	if *envp == nil {
		*envp = newEnv(a)
	}
	env := *envp
	if c != nil {
		e := *env
		e.Program, e.Subcommand, e.Flags = c.program, c.subcommand, c.flags
		e.Args = make([]string, len(c.args))
		for i, x := range c.args {
			e.Args[i] = x.text
		}
		env = &e
	}
	out, err := expr.Run(r.when, env)
	if err != nil {
		return r.decision != Allow
	}
	b, ok := out.(bool)
	return ok && b
}
