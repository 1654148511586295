package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"gopkg.in/yaml.v3"
)

// ParseError reports a problem in a policy or policy test file.
type ParseError struct {
	Line int    // 1-based line in the file; 0 when unknown
	Msg  string // what is wrong
	Err  error  // underlying error, if any
}

// Error returns the message, prefixed with the line when it is known.
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("policy: line %d: %s", e.Line, e.Msg)
	}
	return "policy: " + e.Msg
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

func errAt(n *yaml.Node, format string, args ...any) *ParseError {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &ParseError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// yamlParserProblems are the yaml.v3 parser (not scanner) errors, whose
// reported line is 0-based; scanner errors report 1-based lines.
var yamlParserProblems = []string{
	"did not find expected <stream-start>", "did not find expected <document start>",
	"did not find expected node content", "did not find expected '-' indicator",
	"did not find expected key", "did not find expected ',' or ']'",
	"did not find expected ',' or '}'", "found undefined tag handle",
	"found duplicate %YAML directive", "found incompatible YAML document",
	"found duplicate %TAG directive",
}

// yamlError turns a yaml.v3 error into a ParseError, recovering the line.
func yamlError(err error) *ParseError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		k := 0
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		line, _ = strconv.Atoi(rest[:k])
		msg = strings.TrimSpace(strings.TrimPrefix(rest[k:], ":"))
		for _, p := range yamlParserProblems {
			if msg == p {
				line++
				break
			}
		}
	}
	return &ParseError{Line: line, Msg: "invalid YAML: " + msg, Err: err}
}

// Parse reads a project policy file and returns base with the file's rules
// added; a rule whose id is already in base replaces it, and `disabled: true`
// removes it. base may be nil for a file that stands alone. Errors are
// *ParseError naming the line at fault; a file with no YAML document in it
// (empty, or only comments) is one.
func Parse(data []byte, base *Policy) (*Policy, error) {
	def, leaseDec := Escalate, Block
	var rules []*rule
	if base != nil {
		def, leaseDec = base.def, base.leaseDec
		rules = slices.Clone(base.rules)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(err)
	}
	if len(doc.Content) == 0 {
		// An editor that truncates before it writes leaves an empty file
		// for a moment: taken as a policy, it would drop every rule.
		return nil, &ParseError{Line: 1, Msg: "the file holds no policy (empty, or only comments); a policy file has at least `version: 1`"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errAt(root, "a policy file is a mapping with keys version, default and rules")
	}
	seen := map[string]bool{}
	err := eachKey(root, func(k, v *yaml.Node) error {
		switch k.Value {
		case "version":
			if v.Value != "1" {
				return errAt(v, "unsupported version %q (want 1)", v.Value)
			}
		case "default":
			d, err := decision(v)
			if err != nil {
				return err
			}
			def = d
		case "leases":
			d, err := decision(v)
			if err != nil {
				return err
			}
			if d != Block && d != Escalate {
				return errAt(v, "leases must be block or escalate")
			}
			leaseDec = d
		case "rules":
			if v.Kind != yaml.SequenceNode {
				return errAt(v, "rules must be a list")
			}
			for _, rn := range v.Content {
				r, disabled, err := decodeRule(rn)
				if err != nil {
					return err
				}
				if seen[r.id] {
					return errAt(rn, "rule %q is defined twice in this file", r.id)
				}
				seen[r.id] = true
				i := slices.IndexFunc(rules, func(x *rule) bool { return x.id == r.id })
				switch {
				case disabled && i < 0:
					return errAt(rn, "cannot disable rule %q: no such rule", r.id)
				case disabled:
					rules = slices.Delete(rules, i, i+1)
				case i >= 0:
					rules[i] = r
				default:
					rules = append(rules, r)
				}
			}
		default:
			return errAt(k, "unknown key %q (want version, default, leases or rules)", k.Value)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return build(def, leaseDec, rules)
}

// eachKey calls fn for every key of a mapping, rejecting duplicate keys.
func eachKey(n *yaml.Node, fn func(k, v *yaml.Node) error) error {
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return errAt(k, "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func decision(n *yaml.Node) (Decision, error) {
	d := Decision(n.Value)
	if n.Kind != yaml.ScalarNode || !d.Valid() {
		return "", errAt(n, "invalid decision %q (want allow, escalate or block)", n.Value)
	}
	return d, nil
}

func scalar(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", errAt(n, "%s must be a string", what)
	}
	return n.Value, nil
}

func boolean(n *yaml.Node, what string) (bool, error) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		return false, errAt(n, "%s must be true or false", what)
	}
	return b, nil
}

// strList reads a string or a list of strings.
func strList(n *yaml.Node, what string) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "" {
			return nil, errAt(n, "%s must not be empty", what)
		}
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.Value == "" {
				return nil, errAt(c, "%s must be a list of non-empty strings", what)
			}
			out = append(out, c.Value)
		}
		return out, nil
	}
	return nil, errAt(n, "%s must be a string or a list of strings", what)
}

func validID(id string) bool {
	if id == "" || id == "default" || strings.HasPrefix(id, "builtin.") {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c == '-' || c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validRoute checks a rule's route: capability:NAME, NAME as agents'
// capabilities are written.
func validRoute(s string) bool {
	name, ok := strings.CutPrefix(s, "capability:")
	if !ok || name == "" || len(name) > 64 || name[0] == '.' || name[0] == '_' || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// decodeRule reads and compiles one rule.
func decodeRule(n *yaml.Node) (*rule, bool, error) {
	if n.Kind != yaml.MappingNode {
		return nil, false, errAt(n, "a rule must be a mapping")
	}
	var (
		s         ruleSpec
		disabled  bool
		whenNode  *yaml.Node
		decNode   *yaml.Node
		apprNode  *yaml.Node
		routeNode *yaml.Node
		reason    string
	)
	r := &rule{}
	err := eachKey(n, func(k, v *yaml.Node) error {
		var err error
		switch k.Value {
		case "id":
			s.ID, err = scalar(v, "id")
			if err == nil && !validID(s.ID) {
				err = errAt(v, "invalid rule id %q: use letters, digits, '-', '_' and '.'; \"default\" and \"builtin.*\" are reserved", s.ID)
			}
		case "description":
			s.Description, err = scalar(v, "description")
		case "reason":
			reason, err = scalar(v, "reason")
		case "decision":
			decNode = v
			s.Decision, err = decision(v)
		case "approvals":
			apprNode = v
			if v.Kind != yaml.ScalarNode || v.Decode(&s.Approvals) != nil || s.Approvals < 1 || s.Approvals > 100 {
				err = errAt(v, "approvals must be a whole number from 1 to 100")
			}
		case "route":
			routeNode = v
			s.Route, err = scalar(v, "route")
			if err == nil && !validRoute(s.Route) {
				err = errAt(v, "route must be capability:NAME (NAME: 1-64 lower-case letters, digits, '.', '_' or '-')")
			}
		case "tool", "tools":
			s.Tools, err = strList(v, k.Value)
			if err == nil {
				r.tools = wildcards(s.Tools)
			}
		case "role", "roles":
			s.Roles, err = strList(v, k.Value)
			r.roles = s.Roles
		case "command":
			s.Command, r.cmd, err = decodeCommand(v)
		case "paths":
			s.Paths, r.paths, err = decodePaths(v)
		case "when":
			whenNode = v
			s.When, err = scalar(v, "when")
		case "disabled":
			disabled, err = boolean(v, "disabled")
		default:
			err = errAt(k, "unknown rule key %q", k.Value)
		}
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if s.ID == "" {
		return nil, false, errAt(n, "rule without an id")
	}
	r.id = s.ID
	if disabled {
		return r, true, nil
	}
	if decNode == nil {
		return nil, false, errAt(n, "rule %q has no decision", s.ID)
	}
	if apprNode != nil && s.Decision != Escalate {
		return nil, false, errAt(apprNode, "approvals only apply to decision escalate")
	}
	if routeNode != nil && s.Decision != Escalate {
		return nil, false, errAt(routeNode, "route only applies to decision escalate")
	}
	if reason != "" {
		s.Description = reason
	}
	if whenNode != nil {
		prog, err := expr.Compile(s.When, expr.Env(Env{}), expr.AsBool())
		if err != nil {
			line := whenNode.Line
			if whenNode.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				line++
			}
			var fe *file.Error
			if errors.As(err, &fe) && fe.Line > 1 {
				line += fe.Line - 1
			}
			return nil, false, &ParseError{Line: line, Msg: fmt.Sprintf("rule %q: invalid when expression: %v", s.ID, err), Err: err}
		}
		r.when = prog
	}
	r.spec = s
	r.decision = s.Decision
	r.approvals = max(s.Approvals, 1)
	r.route = s.Route
	r.reason = s.Description
	if r.reason == "" {
		r.reason = "rule " + s.ID
	}
	return r, false, nil
}

func wildcards(list []string) []wildcard {
	out := make([]wildcard, len(list))
	for i, s := range list {
		out[i] = newWildcard(s)
	}
	return out
}

func trimAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = trimDashes(s)
	}
	return out
}

func decodeCommand(n *yaml.Node) (*commandSpec, *cmdMatcher, error) {
	if n.Kind != yaml.MappingNode {
		return nil, nil, errAt(n, "command must be a mapping")
	}
	s := &commandSpec{}
	m := &cmdMatcher{}
	err := eachKey(n, func(k, v *yaml.Node) error {
		var err error
		switch k.Value {
		case "program":
			s.Program, err = strList(v, "program")
			m.programs = wildcards(s.Program)
		case "subcommand":
			s.Subcommand, err = strList(v, "subcommand")
			m.subcommands = wildcards(s.Subcommand)
		case "flags":
			s.Flags, err = strList(v, "flags")
			m.flags = trimAll(s.Flags)
		case "any_flags":
			s.AnyFlags, err = strList(v, "any_flags")
			m.anyFlags = trimAll(s.AnyFlags)
		case "options":
			if v.Kind != yaml.MappingNode {
				return errAt(v, "options must map a flag to a value or a list of values")
			}
			s.Options = map[string][]string{}
			err = eachKey(v, func(ok, ov *yaml.Node) error {
				var vals []string
				if !(ov.Kind == yaml.ScalarNode && ov.Value == "") {
					var err error
					if vals, err = strList(ov, "option values"); err != nil {
						return err
					}
				}
				name := trimDashes(ok.Value)
				s.Options[name] = vals
				m.options = append(m.options, optMatcher{name: name, values: wildcards(vals)})
				return nil
			})
			slices.SortFunc(m.options, func(a, b optMatcher) int { return strings.Compare(a.name, b.name) })
		case "args":
			s.Args, err = strList(v, "args")
			m.args = wildcards(s.Args)
		case "not_args":
			s.NotArgs, err = strList(v, "not_args")
			m.notArgs = wildcards(s.NotArgs)
		case "piped_from":
			s.PipedFrom, err = strList(v, "piped_from")
			m.pipedFrom = wildcards(s.PipedFrom)
		case "program_paths":
			s.ProgramPaths, err = strList(v, "program_paths")
			if err == nil {
				m.programPaths, err = compileGlobs(v, s.ProgramPaths)
			}
		case "paths":
			s.Paths, m.paths, err = decodePaths(v)
		case "runs_unchanged":
			if v.Kind != yaml.ScalarNode || (v.Value != "true" && v.Value != "false") {
				return errAt(v, "runs_unchanged must be true or false")
			}
			s.RunsUnchanged = v.Value == "true"
			m.runsUnchanged = s.RunsUnchanged
		case "effects":
			s.Effects, err = strList(v, "effects")
			for _, e := range s.Effects {
				if err == nil && !knownEffects[e] {
					err = errAt(v, "unknown effect %q", e)
				}
			}
			m.effects = s.Effects
		default:
			err = errAt(k, "unknown command key %q", k.Value)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	m.exact = len(m.programs) > 0
	for _, p := range m.programs {
		if p.wild {
			m.exact = false
		}
	}
	return s, m, nil
}

func compileGlobs(n *yaml.Node, list []string) ([]glob, error) {
	out := make([]glob, len(list))
	for i, s := range list {
		g, err := compileGlob(s)
		if err != nil {
			return nil, &ParseError{Line: n.Line, Msg: err.Error(), Err: err}
		}
		out[i] = g
	}
	return out, nil
}

// decodePaths reads a path matcher: a list of globs, or a mapping.
func decodePaths(n *yaml.Node) (*pathSpec, *pathMatcher, error) {
	s := &pathSpec{}
	m := &pathMatcher{}
	if n.Kind != yaml.MappingNode {
		globs, err := strList(n, "paths")
		if err != nil {
			return nil, nil, err
		}
		s.Globs = globs
		m.globs, err = compileGlobs(n, globs)
		return s, m, err
	}
	err := eachKey(n, func(k, v *yaml.Node) error {
		var err error
		switch k.Value {
		case "globs", "match":
			s.Globs, err = strList(v, k.Value)
			if err == nil {
				m.globs, err = compileGlobs(v, s.Globs)
			}
		case "exclude":
			s.Exclude, err = strList(v, "exclude")
			if err == nil {
				m.exclude, err = compileGlobs(v, s.Exclude)
			}
		case "inside_project":
			var b bool
			b, err = boolean(v, "inside_project")
			s.InsideProject, m.inside = &b, &b
		case "dynamic":
			var b bool
			b, err = boolean(v, "dynamic")
			s.Dynamic, m.dynamic = &b, &b
		case "access":
			s.Access = v.Value
			switch v.Value {
			case "read":
				m.access = accessRead
			case "write":
				m.access = accessWrite
			case "any":
				m.access = 0
			default:
				err = errAt(v, "access must be read, write or any")
			}
		default:
			err = errAt(k, "unknown paths key %q", k.Value)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return s, m, nil
}

// build indexes rules into a Policy.
func build(def, leaseDec Decision, rules []*rule) (*Policy, error) {
	p := &Policy{def: def, leaseDec: leaseDec, rules: rules, byProgram: map[string][]*rule{}}
	h := sha256.New()
	fmt.Fprintf(h, "default=%s\n", def)
	if leaseDec != Block {
		fmt.Fprintf(h, "leases=%s\n", leaseDec)
	}
	exact := map[string][]*rule{}
	// Each policy gets its own copies of the rules, numbered in its order;
	// compiled parts (matchers, expressions) are immutable and shared.
	own := make([]*rule, len(rules))
	for i, r := range rules {
		rc := *r
		rc.order = i
		own[i] = &rc
	}
	rules = own
	p.rules = own
	for _, r := range rules {
		spec, err := json.Marshal(r.spec)
		if err != nil {
			return nil, fmt.Errorf("policy: encoding rule %q: %w", r.id, err)
		}
		h.Write(spec)
		h.Write([]byte{'\n'})
		switch {
		case r.cmd == nil:
			p.callRules = append(p.callRules, r)
		case r.cmd.exact:
			for _, prog := range r.cmd.programs {
				exact[prog.s] = append(exact[prog.s], r)
			}
		default:
			p.anyProg = append(p.anyProg, r)
		}
	}
	for prog, list := range exact {
		merged := make([]*rule, 0, len(list)+len(p.anyProg))
		merged = append(merged, list...)
		merged = append(merged, p.anyProg...)
		slices.SortStableFunc(merged, func(a, b *rule) int { return a.order - b.order })
		merged = slices.CompactFunc(merged, func(a, b *rule) bool { return a == b })
		p.byProgram[prog] = merged
	}
	p.revision = hex.EncodeToString(h.Sum(nil))[:16]
	return p, nil
}
