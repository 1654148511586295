package policy

import (
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Limits that keep analysis bounded whatever the input.
const (
	maxDepth    = 8       // nested shells, eval and wrappers
	maxCommands = 256     // commands analysed in one call
	maxPaths    = 1024    // paths analysed in one call
	maxSource   = 1 << 18 // bytes of a Bash command analysed
)

// Ids of the checks built into the engine. Rule files cannot define, change
// or disable them.
const (
	ruleDynamic    = "builtin.dynamic-command"
	ruleParseError = "builtin.parse-error"
	ruleTooDeep    = "builtin.too-complex"
	ruleForkBomb   = "builtin.fork-bomb"
	ruleBadInput   = "builtin.bad-input"
	ruleEnv        = "builtin.program-environment"
	ruleSession    = "builtin.session-environment"
)

// SessionVar is set by Claude Code in the environment of every command it
// runs for an agent. The lighthouse CLI uses the local admin token only
// without it (people at a terminal), so a call that clears it would run the
// CLI as admin.
const SessionVar = "CLAUDECODE"

// dynamicName stands for a variable name that is not statically known.
const dynamicName = "<var>"

// riskyVars change which program a command runs or what code it loads,
// or (CDPATH) which directory a relative cd enters: the analysis could no
// longer tell what the call runs or touches.
var riskyVars = map[string]bool{
	"PATH": true, "LD_PRELOAD": true, "LD_LIBRARY_PATH": true, "LD_AUDIT": true,
	"DYLD_INSERT_LIBRARIES": true, "DYLD_LIBRARY_PATH": true, "BASH_ENV": true, "ENV": true,
	"PROMPT_COMMAND": true, "IFS": true, "SHELLOPTS": true, "BASHOPTS": true, "CDPATH": true,
}

// assigned notes that the call sets, exports or unsets variable name (for
// its shape) and reports a change to a variable that changes which program
// runs (PATH=.:$PATH ls would run ./ls), where cd goes, or whether the
// lighthouse CLI takes the admin token (SessionVar: blocked).
func (a *analysis) assigned(name, text string) {
	if i := strings.IndexByte(name, '['); i > 0 {
		name = name[:i] // an element of an array: X[0]= sets, unset 'X[0]' unsets X
	}
	a.envNames = append(a.envNames, name)
	switch {
	case name == dynamicName:
		a.find(ruleDynamic, Escalate, "changes a variable whose name is not statically known", truncate(text))
	case name == SessionVar:
		a.find(ruleSession, Block, "changing "+SessionVar+" would make the lighthouse CLI use the admin token", truncate(text))
	case name == "CDPATH":
		a.find(ruleEnv, Escalate, "setting CDPATH changes which directory cd enters", truncate(text))
	case riskyVars[name]:
		a.find(ruleEnv, Escalate, "setting "+name+" changes which program runs", truncate(text))
	}
}

// finding is a result of a builtin check.
type finding struct {
	id       string
	decision Decision
	reason   string
	subject  string
}

// option is a flag given with a value.
type option struct {
	name, value string
	dynamic     bool
	tilde       bool
}

// arg is one operand of a command.
type arg struct {
	text    string // resolved text; source text when dynamic
	dynamic bool
	tilde   bool // starts with ~ or $HOME (rewritten to ~)
}

// command is one simple command found in a call, after unwrapping.
type command struct {
	program    string // base name, "" when dynamic
	invoked    string // program word as written (after quote removal)
	trusted    bool   // invoked by bare name or from a system directory
	dynamic    bool   // program name not statically known
	wrapper    bool   // ran another command we analysed (sudo, bash -c, xargs)
	subcommand string
	flags      []string // canonical flag names, sorted, unique
	options    []option
	args       []arg // operands after the subcommand
	paths      []pathRef
	pipedFrom  []string // programs whose output feeds this command
	text       string   // source text, for explanations
	printed    string   // for echo/printf with static operands: what they print
	printedOK  bool
	extraArgs  bool      // xargs appends operands read from stdin
	effects    []string  // what the arguments make it do (see the effect constants)
	lists      []wordVal // for find: the paths it prints, for xargs downstream
	runs       []runRef  // project files it runs (scripts, Makefile, package.json, ...)
	// runsUnchanged: it runs project files and the call's Provenance says
	// no agent changed them since the baseline.
	runsUnchanged bool
}

func (c *command) hasFlag(f string) bool {
	for _, x := range c.flags {
		if x == f {
			return true
		}
	}
	return false
}

func (c *command) option(name string) (option, bool) {
	for _, o := range c.options {
		if o.name == name {
			return o, true
		}
	}
	return option{}, false
}

// analysis holds everything known about one call.
type analysis struct {
	call      *Call // &callv
	callv     Call  // the call, held here so that a caller's copy does not escape to the heap
	res       resolver
	tmpdir    bool // $TMPDIR names a temporary directory: the call never assigns it
	consulted bool // the call's Provenance was asked
	isBash    bool
	source    string // Bash command text
	commands  []command
	paths     []pathRef // every path the call touches
	findings  []finding
	parser    *syntax.Parser
	reader    strings.Reader
	words     []wordVal // arena for word lists; slices taken from it stay valid
	args      []arg     // arena for command operands
	programs  []string  // arena for the upstream programs of pipeline stages
	envNames  []string  // environment variables the call sets, exports or unsets, for its shape
	scopes    scopeArena
	flagArena []string // arenas for argParsers from openArgs
	optArena  []option
	posArena  []int
}

// openArgs returns a parser that appends to the tails of a's arenas, so a
// command's flags, options and operand indices cost no allocation once the
// pooled analysis has grown them. Until keepArgs, nothing else may be
// analysed: a nested analysis would parse into the same tails.
func (a *analysis) openArgs() argParser {
	return argParser{flags: a.flagArena[len(a.flagArena):], options: a.optArena[len(a.optArena):],
		positional: a.posArena[len(a.posArena):]}
}

// keepArgs makes what p parsed part of a's arenas and returns it, each
// slice capped so that appending to it copies.
func (a *analysis) keepArgs(p *argParser) ([]string, []option, []int) {
	return claim(&a.flagArena, p.flags), claim(&a.optArena, p.options), claim(&a.posArena, p.positional)
}

// claim adds s to the end of *arena and returns it there, capped; nil when
// s is empty. A parser appended s in place at the arena's tail unless it
// outgrew the tail's capacity, in which case s is copied.
func claim[T any](arena *[]T, s []T) []T {
	if len(s) == 0 {
		return nil
	}
	n := len(*arena)
	if cap(*arena) > n && &(*arena)[:n+1][n] == &s[0] {
		*arena = (*arena)[:n+len(s)]
	} else {
		*arena = append(*arena, s...)
	}
	return (*arena)[n:len(*arena):len(*arena)]
}

func (a *analysis) find(id string, d Decision, reason, subject string) {
	for _, f := range a.findings {
		if f.id == id && f.subject == subject {
			return
		}
	}
	a.findings = append(a.findings, finding{id: id, decision: d, reason: reason, subject: subject})
}

// run analyses c. An analysis may be reused: run resets it, keeping its
// parser and the capacity of its buffers.
func (a *analysis) run(call Call) {
	clear(a.commands)
	clear(a.paths)
	clear(a.words)
	clear(a.args)
	clear(a.programs)
	clear(a.envNames)
	a.scopes.reset()
	// Whole capacities: an unkept parser may have left strings past the end.
	clear(a.flagArena[:cap(a.flagArena)])
	clear(a.optArena[:cap(a.optArena)])
	*a = analysis{
		callv: call, res: newResolver(&call), parser: a.parser,
		commands: a.commands[:0], paths: a.paths[:0], findings: a.findings[:0],
		words: a.words[:0], args: a.args[:0], programs: a.programs[:0], envNames: a.envNames[:0], scopes: a.scopes,
		flagArena: a.flagArena[:0], optArena: a.optArena[:0], posArena: a.posArena[:0],
	}
	a.call = &a.callv
	c := a.call
	switch c.Tool {
	case "Bash":
		a.isBash = true
		cmd, ok := c.Input["command"].(string)
		if !ok {
			a.find(ruleBadInput, Escalate, "Bash call without a command string", c.Tool)
			return
		}
		a.source = cmd
		a.shell(cmd)
		a.checkProvenance()
	case "Write", "Edit", "MultiEdit", "NotebookEdit":
		a.inputPaths(accessWrite)
	case "Read", "NotebookRead", "Glob", "Grep", "LS":
		a.inputPaths(accessRead)
		if len(a.paths) == 0 && c.Tool != "Read" && c.Tool != "NotebookRead" {
			a.addPath(a.resolveText(".", false, a.cwd(), true, accessRead))
		}
	default:
		a.inputPaths(accessAny)
	}
}

// cwd returns the call's working directory, falling back to the project root.
func (a *analysis) cwd() string {
	if path.IsAbs(a.call.Cwd) {
		return path.Clean(a.call.Cwd)
	}
	if a.res.root != "" {
		if a.call.Cwd != "" {
			return path.Join(a.res.root, a.call.Cwd)
		}
		return a.res.root
	}
	return ""
}

// inputPaths records the file paths named in a non-Bash tool's input.
func (a *analysis) inputPaths(acc access) {
	for _, key := range [...]string{"file_path", "notebook_path", "path"} {
		s, ok := a.call.Input[key].(string)
		if !ok || s == "" {
			continue
		}
		tilde := strings.HasPrefix(s, "~")
		a.addPath(a.resolveText(s, tilde, a.cwd(), true, acc))
	}
}

func (a *analysis) resolveText(text string, tilde bool, cwd string, cwdKnown bool, acc access) pathRef {
	return a.res.resolve(text, tilde, cwd, cwdKnown, acc)
}

// addPath records p unless it is a harmless device.
func (a *analysis) addPath(p pathRef) bool {
	if !p.dynamic && p.abs != "" && harmlessPath(p.abs) {
		return false
	}
	if len(a.paths) >= maxPaths {
		a.find(ruleTooDeep, Escalate, "too many paths to analyse", truncate(a.source))
		return false
	}
	a.paths = append(a.paths, p)
	return true
}
