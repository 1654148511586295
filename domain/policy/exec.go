package policy

import (
	"slices"
	"strings"
)

// exec analyses one simple command given as words, unwrapping wrappers and
// nested shells.
func (w *walker) exec(words []wordVal, ctx shellCtx, text string) {
	w.execArgs(words, ctx, text, false)
}

func (w *walker) execArgs(words []wordVal, ctx shellCtx, text string, extraArgs bool) {
	a := w.a
	if len(words) == 0 {
		return
	}
	if ctx.depth > maxDepth {
		a.find(ruleTooDeep, Escalate, "commands are nested too deeply to analyse", truncate(text))
		return
	}
	if len(a.commands) >= maxCommands {
		a.find(ruleTooDeep, Escalate, "too many commands to analyse", truncate(a.source))
		return
	}
	pw := words[0]
	if !pw.static || pw.glob || pw.s == "" {
		a.commands = append(a.commands, command{dynamic: true, text: text, invoked: pw.s})
		a.find(ruleDynamic, Escalate, "program name is not statically known: "+quoteSubject(pw.s), truncate(text))
		return
	}
	prog, trusted := programName(pw.s)
	cmd := command{program: prog, invoked: pw.s, trusted: trusted, text: text, pipedFrom: ctx.upstream, extraArgs: extraArgs}
	rest := words[1:]
	if isTar(prog) && len(rest) > 0 && rest[0].static && isLetters(rest[0].s) {
		// old-style bundled flags: tar czf out.tgz src
		r := make([]wordVal, len(rest))
		copy(r, rest)
		r[0].s = "-" + r[0].s
		rest = r
	}
	if ws, ok := wrappers[prog]; ok && w.wrapper(&cmd, ws, rest, ctx) {
		return
	}
	if shells[prog] && w.shellCmd(&cmd, rest, ctx) {
		return
	}
	switch prog {
	case "eval":
		w.eval(&cmd, rest, ctx)
		return
	case "trap":
		w.trap(&cmd, rest, ctx)
		return
	case "hash":
		w.hash(&cmd, rest)
	case "test", "[", "printf", "read", "unset", "mapfile", "readarray", "wait", "getopts":
		// Builtins that take a variable name (test -v, printf -v, read,
		// ...) evaluate its array subscript, running any $(...) in it.
		if prog == "printf" && (len(rest) == 0 || !rest[0].static || !strings.HasPrefix(rest[0].s, "-v")) {
			break // printf takes a name only with -v
		}
		w.builtinSets(prog, rest, text)
		for _, v := range rest {
			if v.static && holdsCode(v.s) {
				a.find(ruleDynamic, Escalate, prog+" may evaluate text that holds a command substitution: "+quoteSubject(v.s), truncate(text))
				break
			}
		}
	case "export", "declare", "typeset", "local", "readonly":
		// Reached as words (command export X=, builtin declare X=), not
		// as the parser's declaration.
		w.declWords(prog, rest, text, ctx)
	case "set":
		w.setOptions(rest, text)
	case "su":
		if w.su(&cmd, rest, ctx) {
			return
		}
	case "find":
		w.findCmd(&cmd, rest, ctx)
		return
	}

	spec := programs[prog]
	if shells[prog] {
		spec = programs["sh"]
	}
	p := a.openArgs()
	p.parse(spec, rest, prog == "chmod")
	var pos []int
	cmd.flags, cmd.options, pos = a.keepArgs(&p)
	subIdx := -1
	if spec != nil && spec.subcommand && len(pos) > 0 {
		k := 0
		for prog == "cargo" && k < len(pos)-1 && strings.HasPrefix(rest[pos[k]].s, "+") {
			k++
		}
		subIdx = pos[k]
		cmd.subcommand = rest[subIdx].s
		pos = pos[k+1:]
	}
	a0 := len(a.args)
	for _, k := range pos {
		a.args = append(a.args, rest[k].arg())
	}
	cmd.args = a.args[a0:len(a.args):len(a.args)]
	if interpreters[prog] && (ctx.stdin.piped || ctx.stdin.known) && readsProgramFromStdin(&cmd, rest, pos) {
		a.find(ruleDynamic, Escalate, prog+" runs a program read from its standard input", truncate(text))
	}
	// python3 < x.py, sh < x.sh: the redirected file is the script run, and
	// is checked as one given by name is (outside the project, changed by
	// an agent).
	if ctx.stdin.file && (interpreters[prog] && readsProgramFromStdin(&cmd, rest, pos) || shells[prog] && !cmd.hasFlag("c") && len(pos) == 0) {
		w.runsFile(&cmd, ctx.stdin.from, "", prog, ctx)
	}
	switch prog {
	case "echo", "printf":
		cmd.printed, cmd.printedOK = printedText(rest, pos)
	case "cd", "pushd", "popd":
		w.cd(&cmd, ctx)
	case "cat", "tee":
		// a here-document passed through: cat <<EOF | sh
		if ctx.stdin.known && (prog == "tee" || len(pos) == 0 || len(pos) == 1 && rest[pos[0]].static && rest[pos[0]].s == "-") {
			cmd.printed, cmd.printedOK = ctx.stdin.text, true
		}
	case "git":
		w.git(&cmd, rest, subIdx, ctx)
	case "awk", "gawk", "mawk", "nawk":
		_, f := cmd.option("f")
		if e, ok := cmd.option("e"); ok {
			w.awkProgram(&cmd, wordVal{s: e.value, static: !e.dynamic}, ctx)
		} else if !f && len(pos) > 0 {
			w.awkProgram(&cmd, rest[pos[0]], ctx)
		}
	case "sed", "gsed":
		_, f := cmd.option("f")
		hasE := false
		for _, o := range cmd.options {
			if o.name == "e" {
				hasE = true
				w.sedScript(&cmd, wordVal{s: o.value, static: !o.dynamic}, ctx)
			}
		}
		if !hasE && !f && len(pos) > 0 {
			w.sedScript(&cmd, rest[pos[0]], ctx)
		}
	case "python", "python3":
		w.httpServer(&cmd, ctx)
	case "go":
		if cmd.subcommand == "env" && cmd.hasFlag("w") {
			a.find(ruleEnv, Escalate, "go env -w changes the go command's settings for every later call", truncate(text))
		}
	case "zip":
		// zip -TT CMD tests the archive with CMD, which runsOption cannot
		// see: its cluster parser reads -TT as -T -T.
		for i, v := range rest {
			val, ok := strings.CutPrefix(v.s, "--unzip-command=")
			cmdline := wordVal{s: val, static: v.static}
			if !ok && (v.s == "-TT" || v.s == "--unzip-command") && i+1 < len(rest) {
				cmdline, ok = rest[i+1], true
			}
			if ok {
				cmdline.s += " true" // zip adds the archive's name
				w.runString(&cmd, "zip -TT", cmdline, ctx)
			}
		}
	case "shopt":
		keyword, o := false, false
		for _, v := range rest {
			keyword = keyword || v.s == "keyword"
			o = o || strings.HasPrefix(v.s, "-") && strings.ContainsRune(v.s, 'o')
		}
		if keyword && o {
			a.find(ruleEnv, Escalate, "shopt -o keyword makes NAME=VALUE words anywhere on a command line part of its environment", truncate(text))
		}
	case "make", "gmake":
		// Its operands: what the spec read as a subcommand too (a target,
		// or an assignment before the first target).
		var ops []wordVal
		for _, k := range append([]int{subIdx}, pos...) {
			switch {
			case k < 0:
			case k > 0 && jobsOption(rest[k-1].s) && (!rest[k].static || isDigits(rest[k].s)):
				// -j's optional count: make -j $(nproc)
			default:
				ops = append(ops, rest[k])
			}
		}
		w.makeOverrides(&cmd, ops, ctx)
	}
	w.programOptions(&cmd, ctx)
	for _, name := range outputOptions(prog) {
		w.addPathOption(&cmd, name, accessWrite, ctx)
	}
	w.projectRuns(&cmd, pw, rest, pos, ctx)
	if w.archive(&cmd, rest, ctx) {
		w.record(&cmd)
		return
	}
	if subIdx >= 0 && subWrappers[prog+" "+cmd.subcommand] {
		if inner := skipFlags(spec, rest[subIdx+1:]); len(inner) > 0 {
			cmd.wrapper = true
			w.record(&cmd)
			w.execArgs(inner, ctx.deeper(), w.textOf(inner, text), false)
			return
		}
	}
	w0 := len(a.words)
	for _, k := range pos {
		a.words = append(a.words, rest[k])
	}
	ops := a.words[w0:len(a.words):len(a.words)]
	if spec != nil && spec.subcommand && subIdx < 0 {
		ops = nil
	}
	w.operands(&cmd, ops, ctx)
	w.record(&cmd)
}

func (w *walker) record(cmd *command) {
	w.a.commands = append(w.a.commands, *cmd)
}

// interpreters run a program given as a file operand, inline (-c, -e) or on
// standard input.
var interpreters = map[string]bool{
	"python": true, "python3": true, "node": true, "perl": true, "ruby": true, "php": true,
}

// readsProgramFromStdin reports an interpreter given no program: no inline
// code, no module and no script operand (or the operand "-").
func readsProgramFromStdin(cmd *command, rest []wordVal, pos []int) bool {
	for _, f := range [...]string{"c", "e", "E", "m", "p", "r"} {
		if _, ok := cmd.option(f); ok {
			return false
		}
	}
	return len(pos) == 0 || rest[pos[0]].static && rest[pos[0]].s == "-"
}

// printedText returns what echo or printf print, when it is static.
func printedText(rest []wordVal, pos []int) (string, bool) {
	var b strings.Builder
	for i, k := range pos {
		if !rest[k].static {
			return "", false
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(rest[k].s)
	}
	b.WriteByte('\n')
	return b.String(), true
}

// skipFlags drops the flags (and their values) leading a word list.
func skipFlags(spec *progSpec, words []wordVal) []wordVal {
	for len(words) > 0 {
		v := words[0]
		if !isFlagWord(v) {
			return words
		}
		if v.s == "--" {
			return words[1:]
		}
		var p argParser
		n, _ := p.flag(spec, words, 0)
		words = words[n:]
	}
	return words
}

// argParser splits a command line into flags, options and operands. Its
// zero value appends to slices of its own; one from analysis.openArgs
// appends to the tails of the analysis's arenas instead.
type argParser struct {
	flags      []string // canonical, sorted, unique
	options    []option
	positional []int // indices of operands in the word list
}

func isFlagWord(v wordVal) bool {
	return v.static && len(v.s) > 1 && v.s[0] == '-' && !isDigits(v.s[1:])
}

// isChmodMode reports chmod modes that look like flags: -x, -rw, -st.
func isChmodMode(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !strings.ContainsRune("rwxXst", rune(s[i])) {
			return false
		}
	}
	return true
}

func (p *argParser) addFlag(f string) {
	i, found := slices.BinarySearch(p.flags, f)
	if !found {
		p.flags = slices.Insert(p.flags, i, f)
	}
}

func (p *argParser) parse(spec *progSpec, words []wordVal, chmod bool) {
	end := false
	for i := 0; i < len(words); {
		v := words[i]
		if end || !isFlagWord(v) || chmod && isChmodMode(v.s) {
			p.positional = append(p.positional, i)
			i++
			if spec != nil && spec.stopAtOperand {
				end = true
			}
			continue
		}
		if v.s == "--" {
			end = true
			i++
			continue
		}
		n, last := p.flag(spec, words, i)
		if spec != nil && spec.stopAfter[last] {
			end = true
		}
		i += n
	}
}

// flag reads the flag word at words[i] and returns how many words it used
// and the canonical name of its last flag.
func (p *argParser) flag(spec *progSpec, words []wordVal, i int) (int, string) {
	s := words[i].s
	long := strings.HasPrefix(s, "--")
	if long || spec != nil && spec.singleDashLong {
		body := s[1:]
		if long {
			body = s[2:]
		}
		name, val, hasVal := strings.Cut(body, "=")
		c := spec.canonical(name)
		if long {
			c = spec.canonicalLong(name, hasVal)
		}
		p.addFlag(c)
		if hasVal {
			p.options = append(p.options, option{name: c, value: val})
			return 1, c
		}
		if spec.takesValue(c) && i+1 < len(words) {
			nv := words[i+1]
			p.options = append(p.options, option{name: c, value: nv.s, dynamic: !nv.static, tilde: nv.tilde})
			return 2, c
		}
		return 1, c
	}
	body := s[1:]
	last := ""
	for j := 0; j < len(body); j++ {
		c := spec.canonical(body[j : j+1])
		p.addFlag(c)
		last = c
		if spec.takesValue(c) {
			if j+1 < len(body) {
				p.options = append(p.options, option{name: c, value: body[j+1:]})
				return 1, c
			}
			if i+1 < len(words) {
				nv := words[i+1]
				p.options = append(p.options, option{name: c, value: nv.s, dynamic: !nv.static, tilde: nv.tilde})
				return 2, c
			}
			return 1, c
		}
		if spec != nil && strings.IndexByte(spec.optAttached, body[j]) >= 0 {
			if j+1 < len(body) {
				p.options = append(p.options, option{name: c, value: body[j+1:]})
			}
			return 1, c
		}
	}
	return 1, last
}

// isAssignment reports NAME=VALUE words.
func isAssignment(s string) bool {
	eq := strings.IndexByte(s, '=')
	if eq <= 0 {
		return false
	}
	return identLen(s[:eq]) == eq
}

// identLen returns the length of the shell identifier s starts with
// (a letter or _, then letters, digits and _).
func identLen(s string) int {
	i := 0
	for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || i > 0 && s[i] >= '0' && s[i] <= '9') {
		i++
	}
	return i
}

// wrapper analyses a command-running wrapper. It returns false when the
// wrapper runs nothing (sudo -l, command -v rm, bare env), leaving it to be
// analysed as an ordinary command.
func (w *walker) wrapper(cmd *command, ws *wrapperSpec, rest []wordVal, ctx shellCtx) bool {
	var p argParser
	skip := ws.skip
	i := 0
loop:
	for i < len(rest) {
		v := rest[i]
		switch {
		case !v.static:
			break loop
		case v.s == "--":
			i++
			for ws.assignments && i < len(rest) && rest[i].static && isAssignment(rest[i].s) {
				w.wrapperAssign(cmd, rest[i].s, ctx) // env -- X=1 cmd: still before the command
				i++
			}
			break loop
		case cmd.program == "env" && v.s == "-":
			p.addFlag("i") // POSIX's spelling of env -i
			i++
		case ws.assignments && isAssignment(v.s):
			w.wrapperAssign(cmd, v.s, ctx)
			i++
		case ws.extraArgs && v.s == "-0":
			p.addFlag("0")
			i++
		case ws.numericFlags && len(v.s) > 1 && v.s[0] == '-' && isDigits(v.s[1:]):
			p.addFlag("n")
			i++
		case isFlagWord(v):
			n, _ := p.flag(ws.spec, rest, i)
			i += n
		case skip > 0:
			skip--
			p.positional = append(p.positional, i)
			i++
		default:
			break loop
		}
	}
	for _, f := range p.flags {
		if len(f) == 1 && strings.Contains(ws.lookupFlags, f) {
			return false
		}
	}
	var script *option
	for k := range p.options {
		if ws.scriptFlag != "" && p.options[k].name == ws.scriptFlag {
			script = &p.options[k]
		}
	}
	inner := rest[i:]
	if script == nil && len(inner) == 0 {
		return false
	}
	cmd.flags, cmd.options = p.flags, p.options
	for _, k := range p.positional {
		cmd.args = append(cmd.args, rest[k].arg())
	}
	for _, o := range cmd.options {
		switch {
		case cmd.program != "env" || o.name != "u":
		case o.dynamic:
			w.a.assigned(dynamicName, cmd.text)
		default:
			w.a.assigned(o.value, cmd.text) // env -u NAME
		}
	}
	if cmd.program == "env" && cmd.hasFlag("i") || cmd.program == "exec" && cmd.hasFlag("c") {
		w.a.find(ruleSession, Escalate, cmd.program+" runs a command with an empty environment, without "+SessionVar+", so the lighthouse CLI would use the admin token", truncate(cmd.text))
	}
	cmd.wrapper = true
	w.record(cmd)
	switch {
	case script != nil:
		if script.dynamic {
			w.a.find(ruleDynamic, Escalate, cmd.program+" runs a command line that is not statically known", truncate(cmd.text))
			return true
		}
		line := script.value
		if cmd.program == "env" {
			line = "env " + line // env -S splits its value into env's own arguments, options too
		}
		w.a.parseAndWalk(line, ctx.script(true))
	case ws.joinArgs:
		var b strings.Builder
		for k, v := range inner {
			if !v.static {
				w.a.find(ruleDynamic, Escalate, cmd.program+" runs a command line that is not statically known", truncate(cmd.text))
				return true
			}
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(v.s)
		}
		w.a.parseAndWalk(b.String(), ctx.script(true))
	case ws.extraArgs && w.xargsItems(cmd, inner, ctx):
	default:
		w.execArgs(inner, ctx.deeper(), w.textOf(inner, cmd.text), ws.extraArgs || cmd.extraArgs)
	}
	return true
}

// wrapperAssign analyses a NAME=VALUE word a wrapper (env, sudo) puts in
// the environment of the command it runs.
func (w *walker) wrapperAssign(cmd *command, word string, ctx shellCtx) {
	name, val, _ := strings.Cut(word, "=")
	w.a.assignVar(name, wordVal{s: val, static: true}, cmd.text, ctx)
}

// maxItems bounds the run-time operands (find start points, printed words)
// substituted into the commands that receive them.
const maxItems = 8

// xargsItems runs xargs's command once per item its standard input is
// known to carry (the paths an upstream find prints, the words an echo
// prints), in place of {} with -I or appended otherwise. It reports false
// when the items are not known.
func (w *walker) xargsItems(cmd *command, inner []wordVal, ctx shellCtx) bool {
	items := ctx.stdin.items
	if len(items) == 0 || len(items) > maxItems {
		return false
	}
	if _, ok := cmd.option("a"); ok {
		return false // items come from a file
	}
	replace := ""
	if o, ok := cmd.option("I"); ok {
		replace = o.value
	} else if cmd.hasFlag("i") {
		replace = "{}"
		if o, ok := cmd.option("i"); ok {
			replace = o.value
		}
	}
	text := w.textOf(inner, cmd.text)
	sub := ctx.deeper()
	sub.stdin = stdinInfo{}
	for _, it := range items {
		var words []wordVal
		if replace != "" {
			words = substituteItem(inner, replace, it)
		} else {
			words = make([]wordVal, 0, len(inner)+1)
			words = append(append(words, inner...), it)
		}
		w.execArgs(words, sub, text, false)
	}
	return true
}

// substituteItem returns words with every occurrence of marker replaced by
// the item it stands for.
func substituteItem(words []wordVal, marker string, it wordVal) []wordVal {
	out := make([]wordVal, len(words))
	copy(out, words)
	for k, v := range out {
		if !v.static || !strings.Contains(v.s, marker) {
			continue
		}
		if !it.static {
			out[k] = wordVal{s: v.s, pos: v.pos, end: v.end}
			continue
		}
		out[k] = wordVal{s: strings.ReplaceAll(v.s, marker, it.s), static: true, pos: v.pos, end: v.end,
			tilde: it.tilde && strings.HasPrefix(v.s, marker), recursive: it.recursive && v.s == marker}
	}
	return out
}

// shellCmd analyses sh/bash/zsh...: the script given with -c, or read from a
// here-document, a here-string or a pipe. It returns false for a script file
// or an interactive shell, left to the rules.
func (w *walker) shellCmd(cmd *command, rest []wordVal, ctx shellCtx) bool {
	var p argParser
	spec := programs["sh"]
	hasC := false
	i := 0
loop:
	for i < len(rest) {
		v := rest[i]
		switch {
		case !v.static:
			break loop
		case v.s == "--" || v.s == "-":
			i++
			break loop
		case len(v.s) > 1 && v.s[0] == '+':
			i++
			if strings.ContainsAny(v.s[1:], "oO") && i < len(rest) {
				i++
			}
		case isFlagWord(v):
			if !strings.HasPrefix(v.s, "--") && strings.IndexByte(v.s[1:], 'c') >= 0 {
				hasC = true
			}
			if keywordMode(rest, i) {
				w.a.find(ruleEnv, Escalate, cmd.program+" -k makes NAME=VALUE words anywhere on a command line part of its environment", truncate(cmd.text))
			}
			n, _ := p.flag(spec, rest, i)
			i += n
		default:
			break loop
		}
	}
	ops := rest[i:]
	switch {
	case hasC:
		if len(ops) == 0 {
			return false
		}
		cmd.flags, cmd.options = p.flags, p.options
		cmd.wrapper = true
		w.record(cmd)
		if !ops[0].static {
			w.a.find(ruleDynamic, Escalate, "script run by "+cmd.program+" -c is not statically known", truncate(cmd.text))
			return true
		}
		w.a.parseAndWalk(ops[0].s, ctx.script(true))
		return true
	case len(ops) > 0:
		return false
	case ctx.stdin.known:
		cmd.flags, cmd.options = p.flags, p.options
		cmd.wrapper = true
		w.record(cmd)
		w.a.parseAndWalk(ctx.stdin.text, ctx.script(false))
		return true
	case ctx.stdin.piped:
		cmd.flags, cmd.options = p.flags, p.options
		w.record(cmd)
		w.a.find(ruleDynamic, Escalate, cmd.program+" runs a script read from a pipe", truncate(cmd.text))
		return true
	}
	return false
}

// eval analyses the string eval runs.
func (w *walker) eval(cmd *command, rest []wordVal, ctx shellCtx) {
	cmd.wrapper = true
	w.record(cmd)
	var b strings.Builder
	for i, v := range rest {
		if !v.static {
			w.a.find(ruleDynamic, Escalate, "eval of a string that is not statically known", truncate(cmd.text))
			return
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v.s)
	}
	if b.Len() > 0 {
		w.a.parseAndWalk(b.String(), ctx.script(true))
	}
}

// trap analyses trap [--] ACTION SIGNAL...: the shell runs ACTION as shell
// code when a signal arrives or on EXIT, ERR, DEBUG or RETURN, so ACTION is
// analysed as eval's string is. trap -l, -p and -P only list.
func (w *walker) trap(cmd *command, rest []wordVal, ctx shellCtx) {
	cmd.wrapper = true
	w.record(cmd)
	if len(rest) > 0 && rest[0].static && rest[0].s == "--" {
		rest = rest[1:]
	} else if len(rest) > 0 && rest[0].static && len(rest[0].s) > 1 && rest[0].s[0] == '-' {
		return // -l, -p, -P: no action
	}
	if len(rest) < 2 {
		return // trap SIGNAL resets it; trap alone lists
	}
	act := rest[0]
	if !act.static {
		w.a.find(ruleDynamic, Escalate, "trap of an action that is not statically known", truncate(cmd.text))
		return
	}
	if act.s != "" && act.s != "-" {
		w.a.parseAndWalk(act.s, ctx.script(true))
	}
}

// hash checks hash -p PATH NAME, which makes NAME run the program at PATH
// for the rest of the shell: what later commands run is then not what
// their names say.
func (w *walker) hash(cmd *command, rest []wordVal) {
	for _, v := range rest {
		if !v.static || v.s == "--" || !strings.HasPrefix(v.s, "-") {
			if !v.static {
				w.a.find(ruleDynamic, Escalate, "hash with an argument that is not statically known", truncate(cmd.text))
			}
			return
		}
		if strings.ContainsRune(v.s, 'p') {
			w.a.find(ruleEnv, Escalate, "hash -p makes a command name run another program", truncate(cmd.text))
			return
		}
	}
}

// su analyses su -c COMMAND; it returns false when su runs a login shell.
func (w *walker) su(cmd *command, rest []wordVal, ctx shellCtx) bool {
	var script *wordVal
	for i, v := range rest {
		if !v.static {
			continue
		}
		if (v.s == "-c" || v.s == "--command") && i+1 < len(rest) {
			script = &rest[i+1]
			break
		}
		if s, ok := strings.CutPrefix(v.s, "--command="); ok {
			script = &wordVal{s: s, static: true}
			break
		}
	}
	if script == nil {
		return false
	}
	cmd.wrapper = true
	w.record(cmd)
	if !script.static {
		w.a.find(ruleDynamic, Escalate, "su runs a command that is not statically known", truncate(cmd.text))
		return true
	}
	w.a.parseAndWalk(script.s, ctx.script(true))
	return true
}

// findPredicates narrow what find yields to some of the files below its
// start points. Without one, find yields the start points themselves and
// everything below them.
var findPredicates = map[string]bool{
	"name": true, "iname": true, "path": true, "ipath": true, "wholename": true, "iwholename": true,
	"regex": true, "iregex": true, "lname": true, "ilname": true, "newer": true, "anewer": true,
	"cnewer": true, "newermt": true, "mtime": true, "mmin": true, "atime": true, "amin": true,
	"ctime": true, "cmin": true, "size": true, "empty": true, "user": true, "group": true,
	"nouser": true, "nogroup": true, "perm": true, "links": true, "inum": true, "samefile": true,
	"uid": true, "gid": true, "used": true, "context": true, "mindepth": true,
}

// foundMarker stands for the files find yields below a start point: the
// path "~/<found>" is some file under the home directory.
const foundMarker = "<found>"

// findCmd analyses find. Its start points are read; -delete writes what it
// yields; -fprint, -fprint0, -fprintf and -fls write files; -exec, -execdir,
// -ok and -okdir run a command with {} standing for what it yields: the start
// points themselves (recursively) when no predicate narrows the search, else
// a file below them.
func (w *walker) findCmd(cmd *command, rest []wordVal, ctx shellCtx) {
	i := 0
	for i < len(rest) && rest[i].static && (rest[i].s == "-H" || rest[i].s == "-L" || rest[i].s == "-P" || strings.HasPrefix(rest[i].s, "-O")) {
		i++
	}
	var starts []wordVal
	for i < len(rest) {
		v := rest[i]
		if v.static && (strings.HasPrefix(v.s, "-") || v.s == "(" || v.s == "!") {
			break
		}
		starts = append(starts, v)
		cmd.args = append(cmd.args, v.arg())
		i++
	}
	if len(starts) == 0 {
		starts = append(starts, wordVal{s: ".", static: true})
	}
	var p argParser
	var inner [][]wordVal
	var outputs []wordVal
	selective, prints, acts := false, false, false
	for i < len(rest) {
		v := rest[i]
		if !v.static || len(v.s) < 2 || v.s[0] != '-' {
			i++
			continue
		}
		name := v.s[1:]
		p.addFlag(name)
		switch name {
		case "exec", "execdir", "ok", "okdir":
			acts = true
			j := i + 1
			for j < len(rest) && !(rest[j].static && (rest[j].s == ";" || rest[j].s == "+")) {
				j++
			}
			inner = append(inner, rest[i+1:j])
			i = j + 1
			continue
		case "fprint", "fprint0", "fls", "fprintf":
			acts = true
			if i+1 < len(rest) {
				outputs = append(outputs, rest[i+1])
			}
			i += 2
			if name == "fprintf" {
				i++
			}
			continue
		case "print", "print0", "printf", "ls":
			prints = true
		case "delete", "quit":
			acts = true
		}
		if findPredicates[name] {
			selective = true
		}
		i++
	}
	cmd.flags = p.flags
	items := make([]wordVal, 0, len(starts))
	for _, s := range starts {
		switch {
		case !s.static:
			items = append(items, wordVal{s: s.s})
		case selective:
			items = append(items, wordVal{s: strings.TrimSuffix(s.s, "/") + "/" + foundMarker, static: true, tilde: s.tilde})
		default:
			items = append(items, wordVal{s: s.s, static: true, tilde: s.tilde, recursive: true})
		}
	}
	for _, s := range starts {
		w.addOperand(cmd, s, accessRead, ctx)
	}
	if cmd.hasFlag("delete") {
		for _, it := range items {
			w.addOperand(cmd, it, accessWrite, ctx)
		}
	}
	for _, o := range outputs {
		w.addOperand(cmd, o, accessWrite, ctx)
	}
	if prints || !acts {
		cmd.lists = items
	}
	w.record(cmd)
	if len(items) > maxItems {
		items = items[:1]
		items[0] = wordVal{s: "{}"}
	}
	for _, words := range inner {
		if len(words) == 0 {
			continue
		}
		text := w.textOf(words, cmd.text)
		for _, it := range items {
			w.execArgs(substituteItem(words, "{}", it), ctx.deeper(), text, false)
		}
	}
}

// cd follows a change of working directory.
func (w *walker) cd(cmd *command, ctx shellCtx) {
	sc := ctx.sc
	if cmd.program == "popd" {
		sc.known = false
		return
	}
	if len(cmd.args) == 0 {
		sc.cwd, sc.known = w.a.res.home, w.a.res.home != ""
		return
	}
	a0 := cmd.args[0]
	if a0.dynamic || a0.text == "-" || strings.HasPrefix(a0.text, "+") {
		sc.known = false
		return
	}
	p := w.a.res.resolve(a0.text, a0.tilde, sc.cwd, sc.known, accessRead)
	if p.dynamic || p.abs == "" {
		sc.known = false
		return
	}
	sc.cwd, sc.known = p.abs, true
}

// addOperand records a file operand of cmd.
func (w *walker) addOperand(cmd *command, v wordVal, acc access, ctx shellCtx) {
	if v.static && v.s == "-" {
		return
	}
	p := w.pathOf(v, ctx, acc)
	if w.a.addPath(p) {
		cmd.paths = append(cmd.paths, p)
	}
}

// outputOptions are the options whose value is where a build tool writes
// what it builds: a binary it writes onto PATH or into a dotfile's place
// is a write like any other.
// (A switch: it is asked for every command.)
func outputOptions(prog string) []string {
	switch prog {
	case "go":
		return goOutput
	case "rustc":
		return rustcOutput
	case "cargo":
		return cargoOutput
	case "tsc":
		return tscOutput
	case "javac":
		return javacOutput
	}
	return nil
}

var (
	goOutput    = []string{"o"}
	rustcOutput = []string{"o", "out-dir"}
	cargoOutput = []string{"target-dir"}
	tscOutput   = []string{"outDir", "outFile", "declarationDir"}
	javacOutput = []string{"d", "s", "h"}
)

// addPathOption adds the values of cmd's option name as paths it accesses.
func (w *walker) addPathOption(cmd *command, name string, acc access, ctx shellCtx) {
	for _, o := range cmd.options {
		if o.name == name {
			w.addOperand(cmd, wordVal{s: o.value, static: !o.dynamic, tilde: o.tilde}, acc, ctx)
		}
	}
}

func (w *walker) addOption(cmd *command, name string, acc access, ctx shellCtx) {
	for _, o := range cmd.options {
		if o.name == name {
			v := o.value
			if name != "o" && name != "O" && name != "t" && name != "T" {
				// curl -d @file, -F name=@file
				_, after, ok := strings.Cut(v, "@")
				if !ok {
					continue
				}
				v = after
			}
			w.addOperand(cmd, wordVal{s: v, static: !o.dynamic, tilde: o.tilde}, acc, ctx)
		}
	}
}

// readers read every file operand.
var readers = map[string]bool{
	"cat": true, "head": true, "tail": true, "less": true, "more": true, "bat": true, "nl": true,
	"tac": true, "od": true, "xxd": true, "hexdump": true, "strings": true, "base64": true,
	"wc": true, "diff": true, "cmp": true, "md5sum": true, "sha1sum": true, "sha256sum": true,
	"sha512sum": true, "file": true, "source": true, ".": true, "cut": true, "paste": true,
	"column": true, "fold": true, "rev": true, "comm": true, "join": true, "sort": true,
	"zcat": true, "bzcat": true, "xzcat": true, "zstdcat": true, "lz4cat": true, "base32": true,
	"iconv": true, "expand": true, "unexpand": true, "fmt": true, "pr": true,
}

// writers create, change or delete every file operand.
var writers = map[string]bool{
	"rm": true, "rmdir": true, "unlink": true, "shred": true, "touch": true,
	"mkdir": true, "tee": true, "truncate": true, "mv": true,
}

// operands records the files a command reads or writes.
func (w *walker) operands(cmd *command, ops []wordVal, ctx shellCtx) {
	all := func(list []wordVal, acc access) {
		for _, v := range list {
			w.addOperand(cmd, v, acc, ctx)
		}
	}
	// Copies and searches of a directory read everything below it.
	recursive := cmd.hasFlag("r") || cmd.hasFlag("R") || cmd.hasFlag("a") || cmd.program == "rg" || cmd.program == "ag"
	allRead := func(list []wordVal) {
		for _, v := range list {
			v.recursive = v.recursive || recursive
			w.addOperand(cmd, v, accessRead, ctx)
		}
	}
	var stdinAcc access
	prog := cmd.program
	switch {
	case writers[prog]:
		all(ops, accessWrite)
		w.addOption(cmd, "t", accessWrite, ctx)
		stdinAcc = accessWrite
	case readers[prog]:
		all(ops, accessRead)
		w.addOption(cmd, "o", accessWrite, ctx) // sort -o
		stdinAcc = accessRead
	}
	switch prog {
	case "rsync", "scp":
		if len(ops) < 2 {
			break
		}
		for _, v := range ops[:len(ops)-1] {
			if !isRemote(v.s) {
				allRead([]wordVal{v})
			}
		}
		if last := ops[len(ops)-1]; !isRemote(last.s) {
			w.addOperand(cmd, last, accessWrite, ctx)
		}
	case "cp", "install", "ln":
		// ln's targets count as reads: a link to a file outside the
		// project would otherwise let later writes escape it.
		if _, ok := cmd.option("t"); ok {
			w.addOption(cmd, "t", accessWrite, ctx)
			allRead(ops)
			break
		}
		if prog == "install" && cmd.hasFlag("d") {
			all(ops, accessWrite)
			break
		}
		if len(ops) >= 2 {
			allRead(ops[:len(ops)-1])
			w.addOperand(cmd, ops[len(ops)-1], accessWrite, ctx)
		} else if prog == "ln" && len(ops) == 1 {
			w.addOperand(cmd, ops[0], accessRead, ctx)
		}
	case "chmod", "chown", "chgrp":
		if _, ok := cmd.option("reference"); ok {
			all(ops, accessWrite)
		} else if len(ops) > 1 {
			all(ops[1:], accessWrite)
		}
		stdinAcc = accessWrite
	case "dd":
		for _, v := range ops {
			if s, ok := strings.CutPrefix(v.s, "of="); ok {
				w.addOperand(cmd, wordVal{s: s, static: v.static}, accessWrite, ctx)
			} else if s, ok := strings.CutPrefix(v.s, "if="); ok {
				w.addOperand(cmd, wordVal{s: s, static: v.static}, accessRead, ctx)
			}
		}
	case "sed":
		files := ops
		_, e := cmd.option("e")
		_, f := cmd.option("f")
		if !e && !f && len(files) > 0 {
			files = files[1:]
		}
		acc := accessRead
		if cmd.hasFlag("i") {
			acc = accessWrite
		}
		all(files, acc)
		stdinAcc = acc
	case "grep", "egrep", "fgrep", "rg", "ag", "awk", "gawk", "mawk":
		files := ops
		_, e := cmd.option("e")
		_, f := cmd.option("f")
		if !e && !f && len(files) > 0 {
			files = files[1:]
		}
		for _, v := range files {
			if !isAssignment(v.s) {
				allRead([]wordVal{v})
			}
		}
		stdinAcc = accessRead
	case "uniq":
		if len(ops) > 0 {
			w.addOperand(cmd, ops[0], accessRead, ctx)
		}
		if len(ops) > 1 {
			w.addOperand(cmd, ops[1], accessWrite, ctx)
		}
	case "curl":
		w.addOption(cmd, "o", accessWrite, ctx)
		w.addOption(cmd, "T", accessRead, ctx)
		for _, name := range [...]string{"d", "data-binary", "data-urlencode", "F", "json"} {
			w.addOption(cmd, name, accessRead, ctx)
		}
	case "wget":
		w.addOption(cmd, "O", accessWrite, ctx)
		for _, name := range [...]string{"post-file", "body-file"} {
			for _, o := range cmd.options {
				if o.name == name {
					w.addOperand(cmd, wordVal{s: o.value, static: !o.dynamic, tilde: o.tilde}, accessRead, ctx)
				}
			}
		}
	}
	w.rewrites(cmd, ops, ctx)
	if cmd.extraArgs && stdinAcc != 0 {
		w.addOperand(cmd, wordVal{s: "<operands from stdin>"}, stdinAcc, ctx)
	}
}

// isRemote reports scp/rsync operands naming another host: host:path.
func isRemote(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return false
	}
	slash := strings.IndexByte(s, '/')
	return slash < 0 || colon < slash
}

// jobsOption reports make's -j and -l (also at the end of a cluster, -sj,
// and as --jobs, --load-average), whose count is optional and may follow
// as the next word.
func jobsOption(s string) bool {
	if s == "--jobs" || s == "--load-average" {
		return true
	}
	return len(s) > 1 && s[0] == '-' && s[1] != '-' && (s[len(s)-1] == 'j' || s[len(s)-1] == 'l')
}
