package policy

import (
	"path"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// scope is the part of the shell state the analysis follows: the working
// directory, changed by cd.
type scope struct {
	cwd   string
	known bool
}

// stdinInfo says where a command's standard input comes from.
type stdinInfo struct {
	piped bool      // from a pipe
	file  bool      // from a file redirection
	from  wordVal   // that file
	known bool      // text holds exactly what stdin carries
	text  string    // here-document, here-string or a static echo upstream
	items []wordVal // the paths or words it carries, when known (find, echo upstream)
}

// shellCtx is what a command inherits from its surroundings.
type shellCtx struct {
	depth    int
	sc       *scope
	scopes   *scopeArena // where subshells' scopes come from
	upstream []string    // programs whose output reaches this command's stdin
	stdin    stdinInfo
}

// subshell returns a context with its own copy of the scope.
func (c shellCtx) subshell() shellCtx {
	c.sc = c.scopes.new(*c.sc)
	return c
}

// scopeArena hands out scopes from chunks that an analysis keeps between
// calls: each pipeline stage and compound command takes one, and as
// separate allocations they were a fifth of a gate cache miss's bytes.
// A scope's address is stable: a full chunk is left to its scopes and a
// new one started.
type scopeArena struct {
	chunk []scope
}

func (s *scopeArena) new(v scope) *scope {
	if len(s.chunk) == cap(s.chunk) {
		s.chunk = make([]scope, 0, max(16, 2*cap(s.chunk)))
	}
	s.chunk = append(s.chunk, v)
	return &s.chunk[len(s.chunk)-1]
}

// reset makes the current chunk's room available again; no scope handed
// out before may be used after.
func (s *scopeArena) reset() {
	clear(s.chunk)
	s.chunk = s.chunk[:0]
}

// deeper returns a context one nesting level down (wrappers).
func (c shellCtx) deeper() shellCtx {
	c.depth++
	return c
}

// script returns the context for a script run by a nested shell or eval.
func (c shellCtx) script(keepStdin bool) shellCtx {
	c = c.subshell()
	c.depth++
	if !keepStdin {
		c.stdin = stdinInfo{}
	}
	return c
}

// wordVal is a shell word after quote removal.
type wordVal struct {
	s         string // the value; the source text when not static
	static    bool   // no expansions: the value is known
	tilde     bool   // starts with an unquoted ~ or with $HOME (rewritten to ~)
	glob      bool   // unquoted glob or brace pattern
	recursive bool   // names a tree whose every file is touched (a find start point)
	pos       int    // source offsets of the word, for explanations
	end       int
}

func (v wordVal) arg() arg { return arg{text: v.s, dynamic: !v.static, tilde: v.tilde} }

// walker analyses one parsed shell source.
type walker struct {
	a   *analysis
	src string
}

// shell analyses a Bash command line.
func (a *analysis) shell(src string) {
	if len(src) > maxSource {
		a.find(ruleTooDeep, Escalate, "command is too long to analyse", src[:80])
		return
	}
	ctx := a.shellContext(src)
	if a.simpleCommand(src, ctx) {
		return
	}
	a.parseAndWalk(src, ctx)
}

// shellContext returns the context a command line src starts in.
func (a *analysis) shellContext(src string) shellCtx {
	cwd := a.cwd()
	// $TMPDIR is trusted to name a temporary directory unless the call
	// itself may change it (TMPDIR=, export TMPDIR, read TMPDIR, ...).
	if n := strings.Count(src, "TMPDIR"); n > 0 {
		a.tmpdir = n == strings.Count(src, "$TMPDIR")+strings.Count(src, "${TMPDIR}")
	}
	return shellCtx{sc: a.scopes.new(scope{cwd: cwd, known: cwd != ""}), scopes: &a.scopes}
}

// simpleCommand analyses, without the shell parser, a command line made
// only of plain words (letters, digits and _./:@%+,=-) separated by spaces
// and joined into pipelines and lists by the operators |, &&, || and ;.
// Such a line has no quoting, expansion, globbing, redirection or compound
// command, so splitting it on spaces and operators is exactly what the
// shell does, and it is analysed as the parser's tree of it would be. It
// returns false, having analysed nothing, for anything else.
func (a *analysis) simpleCommand(src string, ctx shellCtx) bool {
	if len(src) > 512 {
		return false
	}
	var tokens [64]plainToken
	toks, ok := plainTokens(src, tokens[:0])
	if !ok {
		return false
	}
	// Check the whole line's shape before analysing any of it: a
	// command is one or more words, each operator sits between two
	// commands, and no command starts with a reserved word.
	atStart := true
	for i, t := range toks {
		switch {
		case t.op != "":
			if atStart {
				return false
			}
			atStart = true
		case atStart && !isAssignment(src[t.pos:t.end]):
			word := src[t.pos:t.end]
			if reservedWords[word] {
				return false
			}
			if name, _, ok := strings.Cut(word, "+="); ok && isAssignment(name+"=") {
				return false // NAME+=VALUE appends: the parser's to read
			}
			atStart = false
		case atStart && (i+1 == len(toks) || toks[i+1].op != ""):
			atStart = false // a command of assignments only
		}
	}
	if atStart {
		return false // empty, or ends with an operator
	}
	w := walker{a: a, src: src}
	for len(toks) > 0 {
		// One pipeline: the commands up to the next &&, || or ;.
		n := 0
		for n < len(toks) && (toks[n].op == "" || toks[n].op == "|") {
			n++
		}
		pipeline := toks[:n]
		if n < len(toks) {
			n++
		}
		toks = toks[n:]
		stages := 1
		for _, t := range pipeline {
			if t.op == "|" {
				stages++
			}
		}
		if stages == 1 {
			w.plainCommand(pipeline, ctx)
			continue
		}
		w.pipe(stages, ctx, func(_ int, sctx shellCtx) {
			end := 0
			for end < len(pipeline) && pipeline[end].op == "" {
				end++
			}
			w.plainCommand(pipeline[:end], sctx)
			pipeline = pipeline[min(end+1, len(pipeline)):]
		})
	}
	return true
}

// plainToken is a word (op "") or an operator of a plain command line, at
// src[pos:end].
type plainToken struct {
	op       string
	pos, end int
}

// plainTokens splits a plain command line (see simpleCommand) into words
// and operators, appended to toks; ok is false for any other line.
func plainTokens(src string, toks []plainToken) (_ []plainToken, ok bool) {
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ':
			i++
		case c == '|' || c == '&' || c == ';':
			op := src[i : i+1]
			if i+1 < len(src) && src[i+1] == c && c != ';' {
				op = src[i : i+2]
			}
			if op == "&" {
				return nil, false // background
			}
			toks = append(toks, plainToken{op: op, pos: i, end: i + len(op)})
			i += len(op)
		case isPlainWordByte(c):
			j := i + 1
			for j < len(src) && isPlainWordByte(src[j]) {
				j++
			}
			toks = append(toks, plainToken{pos: i, end: j})
			i = j
		default:
			return nil, false
		}
	}
	return toks, true
}

func isPlainWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == ':' || c == '@' || c == '%' || c == '+' || c == ',' || c == '=' || c == '-'
}

// plainCommand analyses one simple command of plain words, as call does
// the parser's.
func (w *walker) plainCommand(toks []plainToken, ctx shellCtx) {
	a := w.a
	text := w.src[toks[0].pos:toks[len(toks)-1].end]
	for len(toks) > 0 && isAssignment(w.src[toks[0].pos:toks[0].end]) {
		name, val, _ := strings.Cut(w.src[toks[0].pos:toks[0].end], "=")
		a.assignVar(name, wordVal{s: val, static: true}, text, ctx)
		toks = toks[1:]
	}
	if len(toks) == 0 {
		return
	}
	start := len(a.words)
	for _, t := range toks {
		a.words = append(a.words, wordVal{s: w.src[t.pos:t.end], static: true, pos: t.pos, end: t.end})
	}
	w.exec(a.words[start:len(a.words):len(a.words)], ctx, text)
}

// reservedWords start compound commands, and the parser reads commands
// starting with a declaration builtin or let as clauses of their own:
// lines with a command beginning with one go to the parser.
var reservedWords = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "fi": true, "for": true,
	"while": true, "until": true, "do": true, "done": true, "case": true, "esac": true,
	"select": true, "function": true, "time": true, "coproc": true, "in": true,
	"export": true, "declare": true, "local": true, "readonly": true, "typeset": true, "nameref": true, "let": true,
}

// parseAndWalk parses src as a shell script and analyses every command in it.
func (a *analysis) parseAndWalk(src string, ctx shellCtx) {
	if ctx.depth > maxDepth {
		a.find(ruleTooDeep, Escalate, "shell nesting is too deep to analyse", truncate(src))
		return
	}
	f, err := a.parse(src)
	if err != nil {
		a.find(ruleParseError, Escalate, "cannot parse shell command: "+err.Error(), truncate(src))
		return
	}
	w := walker{a: a, src: src}
	w.stmts(f.Stmts, ctx)
}

// parse parses src, accepting a here-document left open at the end as bash
// does (it warns and reads to end of file).
func (a *analysis) parse(src string) (*syntax.File, error) {
	if a.parser == nil {
		a.parser = newShellParser()
	}
	a.reader.Reset(src)
	f, err := a.parser.Parse(&a.reader, "")
	if err == nil {
		return f, nil
	}
	const unclosed = "unclosed here-document `"
	msg := err.Error()
	if i := strings.Index(msg, unclosed); i >= 0 {
		delim, _, ok := strings.Cut(msg[i+len(unclosed):], "`")
		if ok && delim != "" {
			fixed := src + "\n" + delim + "\n"
			a.reader.Reset(fixed)
			if f2, err2 := a.parser.Parse(&a.reader, ""); err2 == nil {
				return f2, nil
			}
		}
	}
	return nil, err
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:197] + "..."
	}
	return s
}

// textOf returns the source text spanning words, or fallback.
func (w *walker) textOf(words []wordVal, fallback string) string {
	if len(words) == 0 {
		return fallback
	}
	s, e := words[0].pos, words[len(words)-1].end
	if s < 0 || e > len(w.src) || s >= e {
		return fallback
	}
	return w.src[s:e]
}

// srcOf returns the source text of n.
func (w *walker) srcOf(n syntax.Node) string {
	s, e := int(n.Pos().Offset()), int(n.End().Offset())
	if s < 0 || e > len(w.src) || s > e {
		return ""
	}
	return w.src[s:e]
}

func (w *walker) stmts(list []*syntax.Stmt, ctx shellCtx) {
	for _, s := range list {
		w.stmt(s, ctx)
	}
}

// stmt analyses a statement: its redirections, then its command.
func (w *walker) stmt(s *syntax.Stmt, ctx shellCtx) {
	if s == nil {
		return
	}
	var redirs []pathRef
	for _, r := range s.Redirs {
		if r.Word != nil {
			w.nested(r.Word, ctx)
		}
		if r.Hdoc != nil {
			w.nested(r.Hdoc, ctx)
		}
		switch r.Op {
		case syntax.Hdoc, syntax.DashHdoc:
			ctx.stdin = stdinInfo{known: true, text: w.heredocText(r.Hdoc)}
			continue
		case syntax.WordHdoc:
			v := w.word(r.Word)
			ctx.stdin = stdinInfo{known: v.static, text: v.s + "\n", piped: !v.static}
			continue
		}
		if r.Word == nil {
			continue
		}
		v := w.word(r.Word)
		var acc access
		switch r.Op {
		case syntax.RdrIn:
			acc = accessRead
			ctx.stdin = stdinInfo{file: true, from: v}
		case syntax.RdrInOut:
			acc = accessAny
		case syntax.DplIn, syntax.DplOut:
			if v.static && (v.s == "-" || isDigits(v.s)) {
				continue // fd duplication, not a file
			}
			if r.Op == syntax.DplIn {
				acc = accessRead
			} else {
				acc = accessWrite
			}
		default: // >, >>, >|, &>, &>> and the zsh clobber forms
			acc = accessWrite
		}
		p := w.pathOf(v, ctx, acc)
		p.redirect = true
		redirs = append(redirs, p)
	}
	start := len(w.a.commands)
	w.command(s.Cmd, ctx)
	_, isCall := s.Cmd.(*syntax.CallExpr)
	for _, p := range redirs {
		if !w.a.addPath(p) {
			continue
		}
		if isCall && len(w.a.commands) > start {
			last := &w.a.commands[len(w.a.commands)-1]
			last.paths = append(last.paths, p)
		}
	}
}

// heredocText returns a here-document body, with expansions left as written.
func (w *walker) heredocText(hd *syntax.Word) string {
	if hd == nil {
		return ""
	}
	var b strings.Builder
	for _, part := range hd.Parts {
		if l, ok := part.(*syntax.Lit); ok {
			b.WriteString(l.Value)
		} else {
			b.WriteString(w.srcOf(part))
		}
	}
	return b.String()
}

// command analyses a (possibly compound) command.
func (w *walker) command(cmd syntax.Command, ctx shellCtx) {
	switch x := cmd.(type) {
	case nil:
	case *syntax.CallExpr:
		w.call(x, ctx)
	case *syntax.BinaryCmd:
		if x.Op == syntax.Pipe || x.Op == syntax.PipeAll {
			w.pipeline(x, ctx)
			return
		}
		w.stmt(x.X, ctx)
		w.stmt(x.Y, ctx)
	case *syntax.Subshell:
		w.stmts(x.Stmts, ctx.subshell())
	case *syntax.Block:
		w.stmts(x.Stmts, ctx)
	case *syntax.IfClause:
		for c := x; c != nil; c = c.Else {
			w.stmts(c.Cond, ctx)
			w.stmts(c.Then, ctx.subshell())
		}
	case *syntax.WhileClause:
		w.stmts(x.Cond, ctx)
		w.stmts(x.Do, ctx.subshell())
	case *syntax.ForClause:
		w.nested(x.Loop, ctx)
		if it, ok := x.Loop.(*syntax.WordIter); ok && it.Name != nil {
			w.a.assigned(it.Name.Value, w.srcOf(x)) // for X in …; select X in …
		}
		w.stmts(x.Do, ctx.subshell())
	case *syntax.CaseClause:
		w.nested(x.Word, ctx)
		for _, it := range x.Items {
			for _, p := range it.Patterns {
				w.nested(p, ctx)
			}
			w.stmts(it.Stmts, ctx.subshell())
		}
	case *syntax.FuncDecl:
		w.forkBomb(x)
		w.stmt(x.Body, ctx.subshell())
	case *syntax.ArithmCmd:
		w.nested(x, ctx)
		w.quotedCode(x)
	case *syntax.TestClause:
		w.nested(x, ctx)
		w.quotedCode(x)
	case *syntax.DeclClause:
		w.nested(x, ctx)
		w.quotedCode(x)
		inspects := false // declare -p X prints X; declare -f X names a function
		for _, as := range x.Args {
			if as.Naked && as.Name == nil && as.Value != nil && inspectsOption(as.Value.Lit()) {
				inspects = true
			}
		}
		for _, as := range x.Args {
			if as.Name != nil && !(inspects && as.Naked) {
				w.a.assignVar(as.Name.Value, w.assignValue(as), w.srcOf(x), ctx)
				continue
			}
			if as.Naked && as.Value != nil {
				w.declWord(x.Variant.Value, w.word(as.Value), inspects, w.srcOf(x), ctx)
			}
		}
	case *syntax.LetClause:
		w.nested(x, ctx)
		w.quotedCode(x)
	case *syntax.TimeClause:
		w.stmt(x.Stmt, ctx)
	case *syntax.CoprocClause:
		w.stmt(x.Stmt, ctx.subshell())
	case *syntax.TestDecl:
		w.stmt(x.Body, ctx.subshell())
	default:
		w.a.find(ruleParseError, Escalate, "unsupported shell construct", truncate(w.srcOf(cmd)))
	}
}

// nested analyses the commands inside command and process substitutions
// anywhere below n (words, arithmetic, test expressions, assignments).
func (w *walker) nested(n syntax.Node, ctx shellCtx) {
	if wd, ok := n.(*syntax.Word); ok && !wordHasSubst(wd) {
		return
	}
	sub := ctx.subshell()
	sub.upstream, sub.stdin = nil, stdinInfo{}
	syntax.Walk(n, func(n syntax.Node) bool {
		switch x := n.(type) {
		case *syntax.CmdSubst:
			w.stmts(x.Stmts, sub)
			return false
		case *syntax.ProcSubst:
			w.stmts(x.Stmts, sub)
			return false
		}
		return true
	})
}

// quotedCode escalates quoted text holding a command substitution in n, a
// clause whose words bash may evaluate as arithmetic or as a variable name:
// an array subscript in either runs $(...) and `...` when evaluated, quoted
// or not (let 'x[$(cmd)]=1', [[ 'a[$(cmd)]' -eq 1 ]]).
func (w *walker) quotedCode(n syntax.Node) {
	syntax.Walk(n, func(n syntax.Node) bool {
		var text string
		switch x := n.(type) {
		case *syntax.SglQuoted:
			text = x.Value
		case *syntax.Lit:
			text = x.Value
		}
		if holdsCode(text) {
			w.a.find(ruleDynamic, Escalate, "quoted text the shell may evaluate holds a command substitution", truncate(w.srcOf(n)))
			return false
		}
		return true
	})
}

// holdsCode reports whether s, taken as shell text, holds a command
// substitution.
func holdsCode(s string) bool { return strings.Contains(s, "$(") || strings.Contains(s, "`") }

// wordHasSubst reports whether a word may contain a command substitution.
func wordHasSubst(wd *syntax.Word) bool {
	for _, p := range wd.Parts {
		switch x := p.(type) {
		case *syntax.Lit, *syntax.SglQuoted:
		case *syntax.DblQuoted:
			for _, q := range x.Parts {
				if _, ok := q.(*syntax.Lit); !ok {
					return true
				}
			}
		default:
			return true
		}
	}
	return false
}

// flattenPipe lists the stages of a pipeline, left to right.
func flattenPipe(s *syntax.Stmt, out []*syntax.Stmt) []*syntax.Stmt {
	if b, ok := s.Cmd.(*syntax.BinaryCmd); ok && len(s.Redirs) == 0 && !s.Negated && (b.Op == syntax.Pipe || b.Op == syntax.PipeAll) {
		out = flattenPipe(b.X, out)
		return flattenPipe(b.Y, out)
	}
	return append(out, s)
}

// pipeline analyses each stage, telling later stages what feeds them.
func (w *walker) pipeline(x *syntax.BinaryCmd, ctx shellCtx) {
	stages := flattenPipe(x.X, make([]*syntax.Stmt, 0, 4))
	stages = flattenPipe(x.Y, stages)
	w.pipe(len(stages), ctx, func(i int, sctx shellCtx) { w.stmt(stages[i], sctx) })
}

// pipe analyses a pipeline of n stages, left to right: stage analyses
// stage i in its context, which tells it what feeds it.
func (w *walker) pipe(n int, ctx shellCtx, stage func(i int, ctx shellCtx)) {
	upstream := ctx.upstream
	var prev stdinInfo
	for i := range n {
		sctx := ctx.subshell()
		sctx.upstream = upstream
		if i > 0 {
			sctx.stdin = prev
		}
		start := len(w.a.commands)
		stage(i, sctx)
		recorded := w.a.commands[start:]
		prev = stdinInfo{piped: true}
		if len(recorded) == 1 && recorded[0].printedOK {
			prev.known, prev.text = true, recorded[0].printed
			if printers[recorded[0].program] {
				for _, f := range strings.Fields(prev.text) {
					prev.items = append(prev.items, wordVal{s: f, static: true, tilde: f == "~" || strings.HasPrefix(f, "~/")})
				}
			}
		}
		if len(recorded) == 1 && recorded[0].lists != nil {
			prev.items = recorded[0].lists
		}
		upstream = w.a.appendPrograms(upstream, recorded)
	}
}

// appendPrograms returns a new slice with the programs of cmds after
// list, taken from the analysis's arena (list is left as it is).
func (a *analysis) appendPrograms(list []string, cmds []command) []string {
	if len(cmds) == 0 {
		return list
	}
	start := len(a.programs)
	a.programs = append(a.programs, list...)
	for i := range cmds {
		if p := cmds[i].program; p != "" {
			a.programs = append(a.programs, p)
		}
	}
	return a.programs[start:len(a.programs):len(a.programs)]
}

// call analyses a simple command.
func (w *walker) call(x *syntax.CallExpr, ctx shellCtx) {
	first := len(w.a.commands)
	for _, as := range x.Assigns {
		w.nested(as, ctx)
		if as.Index != nil {
			w.quotedCode(as.Index)
		}
		if as.Name != nil {
			w.a.assignVar(as.Name.Value, w.assignValue(as), w.srcOf(x), ctx)
		}
	}
	if len(x.Args) == 0 {
		return
	}
	for _, wd := range x.Args {
		w.nested(wd, ctx)
	}
	start := len(w.a.words)
	for _, wd := range x.Args {
		v := w.word(wd)
		v.pos, v.end = int(wd.Pos().Offset()), int(wd.End().Offset())
		w.a.words = append(w.a.words, v)
	}
	words := w.a.words[start:len(w.a.words):len(w.a.words)]
	// Programs run in substitutions among the operands feed this command.
	ctx.upstream = w.a.appendPrograms(ctx.upstream, w.a.commands[first:])
	w.exec(words, ctx, w.srcOf(x))
}

// declWord analyses a word of a declaration the parser could not split
// into a name and a value: an option, or a quoted or expanded NAME=VALUE
// (export "FOO=bar", declare "X=$v"). A name that may vary ($k=$v)
// escalates.
func (w *walker) declWord(prog string, v wordVal, inspects bool, text string, ctx shellCtx) {
	src := strings.TrimLeft(v.s, `"'`)
	switch {
	case strings.HasPrefix(src, "-") || strings.HasPrefix(src, "+"):
		w.declOption(prog, v.s, v.static, text)
	case v.static:
		name, val, hasVal := strings.Cut(v.s, "=")
		if hasVal || !inspects {
			w.a.assignVar(strings.TrimSuffix(name, "+"), wordVal{s: val, static: true}, text, ctx)
		}
	default:
		if name, ok := staticName(v.s); ok {
			w.a.assignVar(name, wordVal{s: v.s}, text, ctx) // the value is not known
		} else {
			w.a.assigned(dynamicName, text)
		}
	}
}

// declOption checks an option of declare, typeset, local, export or
// readonly (prog). A nameref (declare -n) makes later assignments to its
// name change the variable it names, which the gate sees only as that
// name (declare -n r=PATH; r=. would set PATH): it escalates, as does an
// option that is not statically known. (export -n un-exports: the names
// after it are noted as changed.)
func (w *walker) declOption(prog, opt string, static bool, text string) {
	switch {
	case !static:
		w.a.find(ruleDynamic, Escalate, prog+" with an option that is not statically known", truncate(text))
	case prog != "export" && len(opt) > 1 && opt[0] == '-' && strings.ContainsRune(opt, 'n'):
		w.a.find(ruleEnv, Escalate, "a nameref ("+prog+" -n) makes assignments change a variable the gate cannot name", truncate(text))
	}
}

// assignValue returns the value of NAME=VALUE.
func (w *walker) assignValue(as *syntax.Assign) wordVal {
	if as.Value == nil {
		if as.Array != nil {
			return wordVal{s: w.srcOf(as.Array)}
		}
		return wordVal{static: true}
	}
	return w.word(as.Value)
}

// word resolves quoting in a word.
func (w *walker) word(wd *syntax.Word) wordVal {
	if len(wd.Parts) == 1 {
		if l, ok := wd.Parts[0].(*syntax.Lit); ok && !strings.ContainsAny(l.Value, "\\~*?[{") {
			return wordVal{s: l.Value, static: true}
		}
	}
	v := wordVal{static: true}
	var b strings.Builder
	for i, part := range wd.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			if i == 0 && strings.HasPrefix(p.Value, "~") {
				v.tilde = true
			}
			if hasGlob(p.Value) {
				v.glob = true
			}
			b.WriteString(unescapeUnquoted(p.Value))
		case *syntax.SglQuoted:
			if p.Dollar {
				b.WriteString(ansiC(p.Value))
			} else {
				b.WriteString(p.Value)
			}
		case *syntax.DblQuoted:
			for j, q := range p.Parts {
				switch q := q.(type) {
				case *syntax.Lit:
					b.WriteString(unescapeDouble(q.Value))
				case *syntax.ParamExp:
					if i == 0 && j == 0 && isHome(q) {
						v.tilde = true
						b.WriteString("~")
					} else if i == 0 && j == 0 && w.a.tmpdir && isParam(q, "TMPDIR") {
						b.WriteString(tmpDir)
					} else {
						v.static = false
					}
				default:
					v.static = false
				}
			}
		case *syntax.ParamExp:
			if i == 0 && isHome(p) {
				v.tilde = true
				b.WriteString("~")
			} else if i == 0 && w.a.tmpdir && isParam(p, "TMPDIR") {
				b.WriteString(tmpDir)
			} else {
				v.static = false
			}
		default:
			v.static = false
		}
	}
	if !v.static {
		v.s = w.srcOf(wd)
		return v
	}
	v.s = b.String()
	if v.tilde && len(v.s) > 1 && v.s[1] != '/' && !isUserName(v.s[1:]) {
		v.tilde = false
	}
	return v
}

// isUserName reports whether s (after ~) names a user: ~alice or ~alice/x.
func isUserName(s string) bool {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// tmpDir stands for $TMPDIR: a temporary directory.
const tmpDir = "/tmp"

func isHome(p *syntax.ParamExp) bool { return isParam(p, "HOME") }

// isParam reports a plain $NAME or ${NAME}.
func isParam(p *syntax.ParamExp, name string) bool {
	return p.Param != nil && p.Param.Value == name && p.Flags == nil && !p.Excl && !p.Length &&
		!p.Width && !p.IsSet && p.NestedParam == nil && p.Index == nil && len(p.Modifiers) == 0 &&
		p.Slice == nil && p.Repl == nil && p.Names == 0 && p.Exp == nil
}

// hasGlob reports unescaped pathname-expansion or brace-expansion syntax.
func hasGlob(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '*', '?':
			return true
		case '[':
			if strings.IndexByte(s[i+1:], ']') >= 0 {
				return true
			}
		case '{':
			if j := strings.IndexByte(s[i+1:], '}'); j >= 0 {
				inner := s[i+1 : i+1+j]
				if strings.Contains(inner, ",") || strings.Contains(inner, "..") {
					return true
				}
			}
		}
	}
	return false
}

// unescapeUnquoted removes backslash quoting outside quotes.
func unescapeUnquoted(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unescapeDouble removes backslash quoting inside double quotes.
func unescapeDouble(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '$', '`', '"', '\\':
				i++
			case '\n':
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ansiC decodes the escapes of a $'...' string.
func ansiC(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'e', 'E':
			b.WriteByte(0x1b)
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'c':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i] & 0x1f)
			}
		case 'x', 'u', 'U':
			maxDigits := 2
			if e == 'u' {
				maxDigits = 4
			} else if e == 'U' {
				maxDigits = 8
			}
			j := i + 1
			for j < len(s) && j-i-1 < maxDigits && isHex(s[j]) {
				j++
			}
			if j == i+1 {
				b.WriteByte('\\')
				b.WriteByte(e)
				continue
			}
			n, _ := strconv.ParseUint(s[i+1:j], 16, 32)
			if e == 'x' {
				b.WriteByte(byte(n))
			} else {
				b.WriteRune(rune(n))
			}
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j-i < 3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint(s[i:j], 8, 16)
			b.WriteByte(byte(n))
			i = j - 1
		default: // \\ \' \" \? and unknown escapes
			if e != '\\' && e != '\'' && e != '"' && e != '?' {
				b.WriteByte('\\')
			}
			b.WriteByte(e)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// forkBomb reports a function that calls itself in a pipeline or in the
// background, the shape of the classic :(){ :|:& };: bomb.
func (w *walker) forkBomb(fd *syntax.FuncDecl) {
	if fd.Name == nil || fd.Body == nil {
		return
	}
	name := fd.Name.Value
	calls := func(s *syntax.Stmt) bool {
		c, ok := s.Cmd.(*syntax.CallExpr)
		return ok && len(c.Args) > 0 && w.word(c.Args[0]).s == name
	}
	found := false
	syntax.Walk(fd.Body, func(n syntax.Node) bool {
		switch x := n.(type) {
		case *syntax.BinaryCmd:
			if (x.Op == syntax.Pipe || x.Op == syntax.PipeAll) && (calls(x.X) || calls(x.Y)) {
				found = true
			}
		case *syntax.Stmt:
			if x.Background && calls(x) {
				found = true
			}
		}
		return !found
	})
	if found {
		w.a.find(ruleForkBomb, Block, "function "+name+" calls itself in a pipeline or in the background: a fork bomb", truncate(w.srcOf(fd)))
	}
}

// pathOf resolves a word naming a file.
//
// A glob whose last segment matches every name in a directory (*, ./*, .*,
// .[!.]*) names that directory's contents: it resolves to the directory,
// so rm -rf * at the project root deletes the project.
func (w *walker) pathOf(v wordVal, ctx shellCtx, acc access) pathRef {
	if !v.static || strings.Contains(v.s, "{}") {
		return pathRef{raw: v.s, dynamic: true, access: acc}
	}
	text := v.s
	if v.glob {
		dir, last := path.Split(strings.TrimRight(text, "/"))
		if matchesAllNames(last) {
			text = dir
			if text == "" {
				text = "."
			}
			if v.tilde && text == "~/" {
				text = "~"
			}
		}
	}
	p := w.a.res.resolve(text, v.tilde, ctx.sc.cwd, ctx.sc.known, acc)
	p.recursive = v.recursive
	return p
}

// matchesAllNames reports a glob segment that matches every name, or every
// hidden name, in a directory: *, **, ?*, .*, .[!.]*, .??*.
func matchesAllNames(seg string) bool {
	s := strings.TrimPrefix(seg, ".")
	s = strings.ReplaceAll(s, "[!.]", "?")
	s = strings.ReplaceAll(s, "[^.]", "?")
	if s == "" || !strings.Contains(s, "*") {
		return false
	}
	return strings.Trim(s, "*?") == ""
}

// programName splits a static program word into base name and trust.
func programName(invoked string) (prog string, trusted bool) {
	if !strings.Contains(invoked, "/") {
		return invoked, true
	}
	return path.Base(invoked), systemDirs[path.Dir(path.Clean(invoked))]
}
