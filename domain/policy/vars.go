package policy

import (
	"slices"
	"strings"
)

// Builtins that set variables named by their words, and how: the options
// that take a value, the option whose value is a variable name, and which
// operands are names.
var settingBuiltins = map[string]struct {
	values   string // option letters that take a value
	nameOpt  byte   // the option whose value names a variable (0: none)
	operands int    // -1: every operand names a variable; n > 0: only the n-th (1-based)
}{
	"read":      {values: "adinNptu", nameOpt: 'a', operands: -1},
	"mapfile":   {values: "dnOsuCc", operands: 1},
	"readarray": {values: "dnOsuCc", operands: 1},
	"printf":    {values: "v", nameOpt: 'v'},
	"wait":      {values: "p", nameOpt: 'p'},
	"getopts":   {operands: 2},
	"unset":     {operands: -1},
}

// builtinSets notes the variables a builtin sets or unsets through its
// words (read X, printf -v X, wait -p X, unset X), as an assignment to
// each (assigned): a name that is not statically known escalates.
// Declarations have their own analysis (declWord).
func (w *walker) builtinSets(prog string, words []wordVal, text string) {
	b, ok := settingBuiltins[prog]
	if !ok {
		return
	}
	name := func(v wordVal) {
		if !v.static {
			if n, ok := staticName(v.s); ok {
				w.a.assigned(n, text) // "arr[$i]": only the index varies
			} else {
				w.a.assigned(dynamicName, text)
			}
			return
		}
		if prog == "unset" && v.s == "IFS" {
			w.a.envNames = append(w.a.envNames, v.s) // restores the default splitting
			return
		}
		w.a.assigned(v.s, text)
	}
	operand := 0
	options := true
	for i := 0; i < len(words); i++ {
		v := words[i]
		if options && v.static && v.s == "--" {
			options = false
			continue
		}
		if options && (prog == "mapfile" || prog == "readarray") && v.static && strings.HasPrefix(v.s, "-") && strings.ContainsRune(v.s, 'C') {
			w.a.find(ruleDynamic, Escalate, prog+" -C runs a callback the gate does not analyse", truncate(text))
		}
		if options && v.static && len(v.s) > 1 && (v.s[0] == '-' || v.s[0] == '+' && prog != "read") {
			for j := 1; j < len(v.s); j++ {
				c := v.s[j]
				if !strings.ContainsRune(b.values, rune(c)) {
					continue
				}
				val := wordVal{s: v.s[j+1:], static: true}
				if j+1 == len(v.s) {
					if i+1 >= len(words) {
						break
					}
					i++
					val = words[i]
				}
				if c == b.nameOpt {
					name(val)
				}
				break
			}
			continue
		}
		options = false
		operand++
		if b.operands == -1 || b.operands == operand {
			name(v)
		}
	}
}

// declWords analyses a declaration reached as words (command export X=,
// builtin declare -n r=PATH), each word as declWord analyses the parser's.
func (w *walker) declWords(prog string, words []wordVal, text string, ctx shellCtx) {
	inspects := slices.ContainsFunc(words, func(v wordVal) bool { return v.static && inspectsOption(v.s) })
	for _, v := range words {
		if !v.static || v.s != "--" {
			w.declWord(prog, v, inspects, text, ctx)
		}
	}
}

// inspectsOption reports a declaration option after which the names are
// read, not set: declare -p X prints X, declare -f X names a function.
func inspectsOption(opt string) bool {
	return len(opt) > 1 && opt[0] == '-' && strings.ContainsAny(opt, "pfF")
}

// staticName returns the variable name a word that is not static still
// names, from its source text: an identifier at its start (after any
// quote) followed by '[' or '=' ("arr[$i]", "EXTRA=$PWD"). ok is false when
// the name itself may vary ($k=$v, VAR_$i=1).
func staticName(src string) (string, bool) {
	src = strings.TrimLeft(src, `"'`)
	i := identLen(src)
	if i == 0 || i == len(src) || src[i] != '[' && src[i] != '=' && !(src[i] == '+' && i+1 < len(src) && src[i+1] == '=') {
		return "", false
	}
	return src[:i], true
}

// setOptions escalates set -k (set -o keyword): it makes NAME=VALUE words
// anywhere on a later command line part of that command's environment,
// where the analysis reads them as operands.
func (w *walker) setOptions(words []wordVal, text string) {
	for i := 0; i < len(words); i++ {
		v := words[i]
		switch {
		case v.static && (v.s == "--" || v.s == "-" || v.s == "" || v.s[0] != '-' && v.s[0] != '+'):
			return // the positional parameters follow
		case !v.static:
			w.a.find(ruleDynamic, Escalate, "set with an option that is not statically known", truncate(text))
			return
		case keywordMode(words, i):
			w.a.find(ruleEnv, Escalate, "set -k makes NAME=VALUE words anywhere on a command line part of its environment", truncate(text))
			return
		case strings.HasSuffix(v.s, "o"):
			i++ // -o NAME, -euo NAME: the option's name
		}
	}
}

// keywordMode reports whether the option word words[i] of set or of a
// shell's invocation turns on keyword mode: -k, a cluster holding k, or
// -o keyword (also ending a cluster, -eo keyword; a name not statically
// known counts).
func keywordMode(words []wordVal, i int) bool {
	s := words[i].s
	if len(s) < 2 || s[0] != '-' || s[1] == '-' {
		return false
	}
	if strings.HasSuffix(s, "o") && i+1 < len(words) && (!words[i+1].static || words[i+1].s == "keyword") {
		return true
	}
	return strings.ContainsRune(s[1:], 'k')
}

// makeOverrides reads what a make command line sets for its recipes.
// Every operand holding '=' is a variable assignment in make's grammar
// (NAME=, NAME:=, NAME::=, NAME += …, spaces allowed around the
// operator): the recipes see it in their environment (an override of one
// make took from the environment, CLAUDECODE=, is exported as given);
// NAME != CMD runs CMD while make reads its command line, and SHELL=
// picks the program that runs every recipe, so both are analysed as the
// command lines they run; --eval (-E) is makefile text the gate does not
// analyse.
func (w *walker) makeOverrides(cmd *command, operands []wordVal, ctx shellCtx) {
	for _, v := range operands {
		if strings.HasPrefix(strings.TrimLeft(v.s, `"'`), "-") {
			continue // an option (its source text when not static: -j$(nproc))
		}
		name, op, val, ok := makeAssignment(v.s)
		if !v.static {
			switch {
			case ok && !strings.ContainsAny(name, "$`"):
				// NAME=$value: the name is known, only the value varies.
				w.a.makeVariable(name, op, wordVal{s: val}, cmd.text, ctx)
			case strings.HasPrefix(strings.TrimLeft(v.s, `"'`), "$") || strings.HasPrefix(v.s, "`"):
				// make $X: an assignment if it expands to one (test-$pkg cannot
				// name a variable that matters).
				w.a.find(ruleDynamic, Escalate, "make takes an operand that is not statically known, which may assign a variable", truncate(cmd.text))
			}
			continue
		}
		if ok {
			w.a.makeVariable(name, op, wordVal{s: val, static: true}, cmd.text, ctx)
		}
	}
	if _, ok := cmd.option("E"); ok {
		w.a.find(ruleDynamic, Escalate, "make --eval evaluates makefile text the gate does not analyse", truncate(cmd.text))
	}
}

// makeVariable notes make's assignment of name (operator op, value val)
// from a make command line or MAKEFLAGS: the recipes see the variable in
// their environment, NAME != CMD runs CMD while make reads it, and SHELL=
// is the program that runs every recipe (SHELL -c RECIPE).
func (a *analysis) makeVariable(name, op string, val wordVal, text string, ctx shellCtx) {
	a.assigned(name, text)
	if op != "!=" && name != "SHELL" && name != "MAKESHELL" {
		return
	}
	switch {
	case !val.static:
		a.find(ruleDynamic, Escalate, "make "+name+" runs a command that is not statically known", truncate(text))
	case op == "!=":
		a.parseAndWalk(val.s, ctx.script(false))
	default:
		a.parseAndWalk(val.s+" -c true", ctx.script(false))
	}
}

// makeAssignment splits a make command-line assignment: the name, the
// operator (=, :=, ::=, :::=, +=, ?= or !=) and the value, with the spaces
// around the operator dropped. ok is false for a word without '=' or
// without a name.
func makeAssignment(s string) (name, op, val string, ok bool) {
	eq := strings.IndexByte(s, '=')
	if eq < 0 {
		return "", "", "", false
	}
	lhs, val := s[:eq], strings.TrimLeft(s[eq+1:], " \t")
	i := len(lhs)
	for i > 0 && strings.IndexByte(":+?!", lhs[i-1]) >= 0 {
		i--
	}
	name, op = strings.TrimSpace(lhs[:i]), lhs[i:]+"="
	if name == "" || strings.ContainsAny(name, " \t") {
		return "", "", "", false
	}
	return name, op, val, true
}

// runsOption reports an option whose value is a command line the program
// runs: go's test binaries run through -exec, its tools through
// -toolexec, go vet's analysis through -vettool, sort's compressor, npm's
// scripts through --script-shell. (A switch, not a map keyed by a joined
// string: it is asked for every option of every go command.)
func runsOption(program, option string) bool {
	switch program {
	case "go":
		return option == "exec" || option == "toolexec" || option == "vettool"
	case "sort":
		return option == "compress-program"
	case "npm":
		return option == "script-shell"
	}
	return false
}

// programOptions analyses the command lines cmd's options run (runsOption)
// and escalates options that make it load code the gate cannot see.
func (w *walker) programOptions(cmd *command, ctx shellCtx) {
	for _, o := range cmd.options {
		switch {
		case runsOption(cmd.program, o.name):
			// The program adds what it runs to the option's command line
			// (go -exec 'env -u X' runs env -u X ./pkg.test): a stand-in
			// operand makes a wrapper there run something.
			w.runString(cmd, cmd.program+" -"+o.name, wordVal{s: o.value + " true", static: !o.dynamic}, ctx)
		case cmd.program == "npm" && o.name == "node-options":
			w.a.find(ruleEnv, Escalate, "npm --node-options makes node load code or configuration the gate cannot see", truncate(cmd.text))
		}
	}
}
