package policy

import (
	"strings"
)

// programVars name a program another program runs (git runs $GIT_PAGER, a
// commit runs $EDITOR): assigning one is running its value.
var programVars = map[string]bool{
	"GIT_SSH_COMMAND": true, "GIT_SSH": true, "GIT_PAGER": true, "PAGER": true, "GIT_EDITOR": true,
	"EDITOR": true, "VISUAL": true, "GIT_SEQUENCE_EDITOR": true, "GIT_EXTERNAL_DIFF": true,
	"GIT_ASKPASS": true, "SSH_ASKPASS": true, "GIT_PROXY_COMMAND": true, "MANPAGER": true,
	"LESSOPEN": true, "LESSCLOSE": true, "BROWSER": true, "SUDO_ASKPASS": true, "RSYNC_RSH": true,
	"CVS_RSH": true, "FCEDIT": true, "RSYNC_CONNECT_PROG": true, "SVN_SSH": true, "PSQL_PAGER": true,
	"SYSTEMD_PAGER": true,
}

// opaqueVars make a program load code or configuration from elsewhere.
var opaqueVars = map[string]bool{
	"GIT_EXEC_PATH": true, "GIT_CONFIG": true, "GIT_CONFIG_GLOBAL": true, "GIT_CONFIG_SYSTEM": true,
	"GIT_CONFIG_PARAMETERS": true, "GIT_CONFIG_COUNT": true, "GIT_DIR": true, "GIT_WORK_TREE": true,
	"GIT_TEMPLATE_DIR": true, "NODE_OPTIONS": true, "PYTHONSTARTUP": true, "PERL5OPT": true,
	"RUBYOPT": true,
}

// npmCodeSettings are npm settings (npm_config_NAME) that name a program
// npm runs or a file of settings it loads.
var npmCodeSettings = map[string]bool{
	"script_shell": true, "shell": true, "node_options": true, "userconfig": true, "globalconfig": true,
	"onload_script": true, "init_module": true, "git": true, "editor": true, "browser": true, "node_gyp": true,
}

// assignVar analyses NAME=VALUE in front of a command, in env or export:
// variables that change which program runs escalate; variables naming a
// program another one runs are analysed as the command they hold.
func (a *analysis) assignVar(name string, val wordVal, text string, ctx shellCtx) {
	a.assigned(name, text)
	switch {
	case programVars[name]:
		if !val.static {
			a.find(ruleDynamic, Escalate, name+" holds a command that is not statically known", truncate(text))
			return
		}
		if strings.TrimSpace(val.s) != "" {
			a.parseAndWalk(val.s, ctx.script(false))
		}
	case name == "GOFLAGS":
		a.goFlags(val, text, ctx)
	case name == "MAKEFLAGS" || name == "MFLAGS" || name == "GNUMAKEFLAGS":
		a.makeFlags(name, val, text, ctx)
	case name == "GOENV" && !(val.static && val.s == "off"):
		a.find(ruleEnv, Escalate, "GOENV makes go load settings the gate cannot see", truncate(text))
	case len(name) > len("npm_config_") && strings.EqualFold(name[:len("npm_config_")], "npm_config_") &&
		npmCodeSettings[strings.ToLower(strings.ReplaceAll(name[len("npm_config_"):], "-", "_"))]:
		a.find(ruleEnv, Escalate, "setting "+name+" makes npm run a program or load settings the gate cannot see", truncate(text))
	case opaqueVars[name] || strings.HasPrefix(name, "GIT_CONFIG_KEY_") || strings.HasPrefix(name, "GIT_CONFIG_VALUE_"):
		a.find(ruleEnv, Escalate, "setting "+name+" makes a program load code or configuration the gate cannot see", truncate(text))
	}
}

// goFlags analyses GOFLAGS, flags every go command takes as if given:
// the programs -exec, -toolexec and -vettool run are analysed as the
// options' are (programOptions), and -overlay, which replaces source files
// with files the gate does not see, escalates.
func (a *analysis) goFlags(val wordVal, text string, ctx shellCtx) {
	if !val.static {
		a.find(ruleDynamic, Escalate, "GOFLAGS is not statically known", truncate(text))
		return
	}
	if strings.ContainsAny(val.s, `'"\`) {
		a.find(ruleEnv, Escalate, "GOFLAGS with quoting the gate does not split", truncate(text))
		return
	}
	for _, f := range strings.Fields(val.s) {
		name, v, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		switch {
		case runsOption("go", name):
			a.parseAndWalk(v+" true", ctx.script(false))
		case name == "overlay":
			a.find(ruleEnv, Escalate, "GOFLAGS=-overlay makes go build files the gate cannot see", truncate(text))
		}
	}
}

// makeFlags analyses MAKEFLAGS (and MFLAGS, GNUMAKEFLAGS), the options
// and variable assignments every make below takes as given on its command
// line: an assignment is one to its variable (CLAUDECODE= is blocked,
// SHELL= and != run their command lines), and options that read makefile
// text the gate does not see (-f, --file, --makefile, --eval, -E) escalate.
func (a *analysis) makeFlags(name string, val wordVal, text string, ctx shellCtx) {
	for _, f := range strings.Fields(val.s) {
		opt := strings.TrimLeft(f, "-")
		switch {
		case strings.HasPrefix(f, "-"):
			if opt == "f" || opt == "E" || strings.HasPrefix(opt, "file") || strings.HasPrefix(opt, "makefile") || strings.HasPrefix(opt, "eval") ||
				!strings.HasPrefix(f, "--") && strings.ContainsAny(opt, "fE") {
				a.find(ruleEnv, Escalate, name+" makes make read makefile text the gate cannot see", truncate(text))
			}
		case strings.HasPrefix(f, "$") || strings.HasPrefix(f, "`"):
			a.find(ruleDynamic, Escalate, name+" holds a word that is not statically known", truncate(text))
		default:
			if n, op, v, ok := makeAssignment(f); ok {
				a.makeVariable(n, op, wordVal{s: v, static: true}, text, ctx)
			}
		}
	}
}

// runString analyses a command line that cmd runs (a -c value, an option
// naming a program).
func (w *walker) runString(cmd *command, what string, v wordVal, ctx shellCtx) {
	if !v.static {
		w.a.find(ruleDynamic, Escalate, what+" runs a command that is not statically known", truncate(cmd.text))
		return
	}
	if strings.TrimSpace(v.s) == "" {
		return
	}
	w.a.parseAndWalk(v.s, ctx.script(false))
}

// runJoined analyses words that cmd joins and runs with sh -c.
func (w *walker) runJoined(cmd *command, words []wordVal, ctx shellCtx) {
	var b strings.Builder
	for i, v := range words {
		if !v.static {
			w.a.find(ruleDynamic, Escalate, cmd.program+" runs a command line that is not statically known", truncate(cmd.text))
			return
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v.s)
	}
	w.runString(cmd, cmd.program, wordVal{s: b.String(), static: true}, ctx)
}

// awkProgram analyses an awk program: the commands it runs with system(),
// print | "cmd" and "cmd" | getline, and the files it writes with
// print > "file". Commands built at run time escalate.
func (w *walker) awkProgram(cmd *command, prog wordVal, ctx shellCtx) {
	if !prog.static {
		if strings.Contains(prog.s, "system") || strings.Contains(prog.s, "|") {
			w.a.find(ruleDynamic, Escalate, "awk program that is not statically known runs commands", truncate(cmd.text))
		}
		return
	}
	s := prog.s
	if !strings.Contains(s, "system") && !strings.Contains(s, "|") && !strings.Contains(s, ">") {
		return
	}
	toks := awkTokens(s)
	dynamic := func() {
		w.a.find(ruleDynamic, Escalate, "awk runs a command built at run time", truncate(cmd.text))
	}
	for i, t := range toks {
		switch {
		case t.kind == awkIdent && t.text == "system":
			// system ( "literal" )
			if i+3 < len(toks) && toks[i+1].text == "(" && toks[i+2].kind == awkString && toks[i+3].text == ")" {
				w.runString(cmd, "awk system()", wordVal{s: toks[i+2].text, static: true}, ctx)
			} else {
				dynamic()
			}
		case t.kind == awkOp && (t.text == "|" || t.text == "|&"):
			if i+1 < len(toks) && toks[i+1].kind == awkIdent && toks[i+1].text == "getline" {
				// "literal" | getline, the literal not part of a concatenation
				if i >= 1 && toks[i-1].kind == awkString && (i < 2 || toks[i-2].kind == awkOp || toks[i-2].text == "(" || toks[i-2].text == "{" || toks[i-2].text == ";") {
					w.runString(cmd, "awk getline", wordVal{s: toks[i-1].text, static: true}, ctx)
				} else {
					dynamic()
				}
				continue
			}
			// print ... | "literal" (ending the statement)
			if !(i+1 < len(toks) && toks[i+1].kind == awkString && (i+2 >= len(toks) || toks[i+2].kind == awkEnd || toks[i+2].text == ")")) {
				dynamic()
				continue
			}
			target := toks[i+1].text
			if f := strings.Fields(target); len(f) == 1 && shells[f[0]] {
				// print "script" | "sh": the shell runs what awk prints
				if i >= 2 && toks[i-1].kind == awkString && toks[i-2].kind == awkIdent && (toks[i-2].text == "print" || toks[i-2].text == "printf") {
					w.runString(cmd, "awk print | sh", wordVal{s: toks[i-1].text, static: true}, ctx)
				} else {
					w.a.find(ruleDynamic, Escalate, "awk pipes text built at run time to a shell", truncate(cmd.text))
				}
				continue
			}
			w.runString(cmd, "awk print |", wordVal{s: target, static: true}, ctx)
		case t.kind == awkOp && (t.text == ">" || t.text == ">>"):
			if i+1 < len(toks) && toks[i+1].kind == awkString && (i+2 >= len(toks) || toks[i+2].kind == awkEnd || toks[i+2].text == ")") {
				w.addOperand(cmd, wordVal{s: toks[i+1].text, static: true}, accessWrite, ctx)
			}
		}
	}
}

type awkTokKind uint8

const (
	awkIdent awkTokKind = iota
	awkString
	awkOp
	awkEnd // ; } newline
	awkOther
)

type awkTok struct {
	kind awkTokKind
	text string
}

// awkTokens splits an awk program into the tokens awkProgram needs:
// identifiers, string literals (unescaped), pipes, redirections and
// statement ends. Regular expression literals are skipped.
func awkTokens(s string) []awkTok {
	var toks []awkTok
	operand := false // the previous token ends an operand: a / now divides
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i += 2
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\n' || c == ';' || c == '}' || c == '{':
			kind := awkEnd
			if c == '{' {
				kind = awkOther
			}
			toks = append(toks, awkTok{kind, string(c)})
			operand = false
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					switch s[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					default:
						b.WriteByte(s[j])
					}
					continue
				}
				b.WriteByte(s[j])
			}
			toks = append(toks, awkTok{awkString, b.String()})
			operand = true
			i = j + 1
		case c == '/' && !operand:
			j := i + 1
			for ; j < len(s) && s[j] != '/' && s[j] != '\n'; j++ {
				if s[j] == '\\' {
					j++
				} else if s[j] == '[' {
					for j++; j < len(s) && s[j] != ']'; j++ {
					}
				}
			}
			operand = true
			i = j + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, awkTok{awkIdent, s[i:j]})
			operand = true
			i = j
		case c == '|':
			switch {
			case i+1 < len(s) && s[i+1] == '|':
				toks = append(toks, awkTok{awkOp, "||"})
				i += 2
			case i+1 < len(s) && s[i+1] == '&':
				toks = append(toks, awkTok{awkOp, "|&"})
				i += 2
			default:
				toks = append(toks, awkTok{awkOp, "|"})
				i++
			}
			operand = false
		case c == '>':
			if i+1 < len(s) && s[i+1] == '>' {
				toks = append(toks, awkTok{awkOp, ">>"})
				i += 2
			} else if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, awkTok{awkOp, ">="})
				i += 2
			} else {
				toks = append(toks, awkTok{awkOp, ">"})
				i++
			}
			operand = false
		case c == '(' || c == ')':
			toks = append(toks, awkTok{awkOther, string(c)})
			operand = c == ')'
			i++
		case c == ']' || c == '$' || c >= '0' && c <= '9' || c == '.':
			toks = append(toks, awkTok{awkOther, string(c)})
			operand = c != '$'
			i++
		default:
			toks = append(toks, awkTok{awkOp, string(c)})
			operand = false
			i++
		}
	}
	return toks
}

// sedScript analyses a sed script: the e command and the s///e flag run
// commands; r and R read files; w, W and s///w write them.
func (w *walker) sedScript(cmd *command, script wordVal, ctx shellCtx) {
	if !script.static {
		return
	}
	s := script.s
	restOfLine := func(i int) (string, int) {
		j := i
		for j < len(s) && s[j] != '\n' {
			j++
		}
		return strings.TrimLeft(s[i:j], " \t"), j
	}
	skipDelimited := func(i int, d byte) int { // returns the index after the closing d
		for i < len(s) && s[i] != d && s[i] != '\n' {
			if s[i] == '\\' {
				i++
			}
			i++
		}
		return i + 1
	}
	for i := 0; i < len(s); {
		c := s[i]
		// addresses, separators and negation
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '!' || c == ',' || c == '$' || c == '~' || c == '+' || c == '{' || c == '}' ||
			c >= '0' && c <= '9':
			i++
			continue
		case c == '#':
			_, i = restOfLine(i)
			continue
		case c == '/':
			i = skipDelimited(i+1, '/')
			for i < len(s) && (s[i] == 'I' || s[i] == 'M') {
				i++
			}
			continue
		case c == '\\' && i+1 < len(s):
			i = skipDelimited(i+2, s[i+1])
			continue
		}
		i++
		switch c {
		case 'e':
			line, j := restOfLine(i)
			i = j
			if line == "" {
				w.a.find(ruleDynamic, Escalate, "sed e runs the pattern space as a command", truncate(cmd.text))
				continue
			}
			w.runString(cmd, "sed e", wordVal{s: line, static: true}, ctx)
		case 'r', 'R', 'w', 'W':
			line, j := restOfLine(i)
			i = j
			acc := accessRead
			if c == 'w' || c == 'W' {
				acc = accessWrite
			}
			if line != "" && line != "/dev/stdout" && line != "/dev/stderr" {
				w.addOperand(cmd, wordVal{s: line, static: true}, acc, ctx)
			}
		case 'a', 'i', 'c':
			for {
				line, j := restOfLine(i)
				i = j + 1
				if !strings.HasSuffix(line, "\\") || i >= len(s) {
					break
				}
			}
		case ':', 'b', 't', 'T', 'v':
			for i < len(s) && s[i] != '\n' && s[i] != ';' {
				i++
			}
		case 's', 'y':
			if i >= len(s) {
				return
			}
			d := s[i]
			i = skipDelimited(i+1, d)
			i = skipDelimited(i, d)
			if c == 'y' {
				continue
			}
			for i < len(s) && s[i] != ';' && s[i] != '\n' && s[i] != '}' {
				f := s[i]
				i++
				switch f {
				case 'e':
					w.a.find(ruleDynamic, Escalate, "sed s///e runs the substituted text as a command", truncate(cmd.text))
				case 'w':
					line, j := restOfLine(i)
					i = j
					if line != "" && line != "/dev/stdout" && line != "/dev/stderr" {
						w.addOperand(cmd, wordVal{s: line, static: true}, accessWrite, ctx)
					}
				}
			}
		case 'q', 'Q', 'l', 'L', '=', 'd', 'D', 'g', 'G', 'h', 'H', 'n', 'N', 'p', 'P', 'x', 'z', 'F':
		default:
			return // not a script we understand; nothing it does is known to run commands
		}
	}
}
