package policy

import (
	"path"
	"slices"
	"strings"
)

// ChangerKind says who made a file's last change.
type ChangerKind string

// The kinds of changer. Only an agent's change moves a file away from its
// baseline: the import (recorded by the watcher), a human's change and a
// change a reviewer approved are the baseline.
const (
	ChangedByAgent    ChangerKind = "agent"
	ChangedByHuman    ChangerKind = "human"
	ChangedByWatcher  ChangerKind = "watcher"
	ChangedByReviewed ChangerKind = "reviewer-approved"
)

// Change is the last change the log records for one project file.
type Change struct {
	Path  string // project-relative, slash-separated
	Kind  ChangerKind
	Agent string // who made it: the agent's name (or id)
	Seq   uint64 // the log sequence of the change
}

// SinceBaseline reports whether the change moves the file away from its
// baseline: an agent made it.
func (c Change) SinceBaseline() bool { return c.Kind == ChangedByAgent }

// Provenance tells the policy who last changed the project's files, so that
// running a project file (a script, a Makefile through make, package.json
// scripts through npm, go generate directives) an agent has changed since
// the baseline is escalated, and running one no agent changed is allowed.
// Implementations must be safe for concurrent use and fast: they are asked
// on the decision path.
type Provenance interface {
	// LastChange returns the last recorded change of the project file rel
	// (slash-separated, relative to the project root). ok is false when the
	// log records none.
	LastChange(rel string) (c Change, ok bool)
	// LastAgentChangeUnder returns the latest change since the baseline of
	// any file below the project directory dir ("." for the whole project)
	// whose name ends in suffix (".go"); ok is false when there is none.
	LastAgentChangeUnder(dir, suffix string) (c Change, ok bool)
}

// Id of the built-in provenance check.
const ruleProvenance = "builtin.runs-changed-file"

// runRef is a project file (or, with suffix, the files of a directory tree)
// a command runs.
type runRef struct {
	abs    string // absolute path, inside the project
	rel    string // project-relative
	suffix string // "" for one file; else every file below rel ending in it
	via    string // how it runs, for explanations: "make", "npm run", ...
}

// runsFile records that cmd runs the file or tree v names, when it lies in
// the project. One outside the project and outside the system's
// directories (a script in /tmp, a makefile in the home directory) has no
// author the log could vouch for, and a call may have just written it
// there: running it escalates.
func (w *walker) runsFile(cmd *command, v wordVal, suffix, via string, ctx shellCtx) {
	if p, ok := w.runsOutside(cmd, v, via, ctx); ok {
		cmd.runs = append(cmd.runs, runRef{abs: p.abs, rel: p.rel, suffix: suffix, via: via})
	}
}

// runsOutside escalates cmd running the file or tree v names when it lies
// outside the project and outside the system's directories. It returns the
// path and true when the path is static and inside the project.
func (w *walker) runsOutside(cmd *command, v wordVal, via string, ctx shellCtx) (pathRef, bool) {
	if !v.static {
		return pathRef{}, false
	}
	p := w.a.res.resolve(v.s, v.tilde, ctx.sc.cwd, ctx.sc.known, accessRead)
	if p.dynamic {
		return p, false
	}
	if !p.inside {
		if w.a.call.ProjectRoot != "" && (p.abs != "" || p.tilde != "") && !systemFile(p.abs) {
			w.a.find(ruleProvenance, Escalate, "runs "+p.display()+" ("+via+"), outside the project: the log cannot tell who wrote it", truncate(cmd.text))
		}
		return p, false
	}
	return p, true
}

// checkOutside is runsOutside where only an escalation matters: a path
// relative to a working directory inside the project, without "..", is
// inside and is not resolved, so the commonest calls (go test ./...) cost
// no allocation.
func (w *walker) checkOutside(cmd *command, v wordVal, via string, ctx shellCtx) {
	if v.static && !v.tilde && !path.IsAbs(v.s) && !climbs(v.s) &&
		ctx.sc.known && w.a.res.root != "" && within(ctx.sc.cwd, w.a.res.root) {
		return
	}
	w.runsOutside(cmd, v, via, ctx)
}

// climbs reports a relative path with a ".." component (./... has none).
func climbs(p string) bool {
	return p == ".." || strings.HasPrefix(p, "../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "/../")
}

// isPathWord reports an operand written as a path (./x, /x, ~/x, x.go)
// rather than a name a tool looks up (a Go import path, a test id).
func isPathWord(s, ext string) bool {
	return strings.HasPrefix(s, ".") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "~") || ext != "" && strings.HasSuffix(s, ext)
}

// systemFile reports a path under the directories the system's packages
// install to, which an agent's ordinary commands do not write.
func systemFile(abs string) bool {
	for _, dir := range [...]string{"/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/etc/", "/opt/", "/nix/store/", "/snap/", "/System/", "/Library/"} {
		if strings.HasPrefix(abs, dir) {
			return true
		}
	}
	return false
}

// runsIn records that cmd runs the first of names found in dir (make reads
// GNUmakefile, makefile or Makefile): all of them are checked.
func (w *walker) runsIn(cmd *command, dir wordVal, names []string, via string, ctx shellCtx) {
	for _, n := range names {
		v := dir
		v.s = path.Join(dir.s, n)
		w.runsFile(cmd, v, "", via, ctx)
	}
}

var (
	makefiles    = []string{"GNUmakefile", "makefile", "Makefile"}
	justfiles    = []string{"justfile", "Justfile", ".justfile"}
	composeFiles = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}
	// A package manager's scripts and settings: .npmrc and .yarnrc can
	// name the shell that runs every script (script-shell).
	packageFiles  = []string{"package.json", ".npmrc", ".yarnrc", ".yarnrc.yml"}
	pmReadOnlySub = map[string]bool{
		"ls": true, "list": true, "why": true, "info": true, "view": true, "outdated": true, "audit": true,
		"config": true, "help": true, "version": true, "whoami": true, "search": true, "cache": true,
		"bin": true, "root": true, "prefix": true, "dlx": true, "exec": true, "x": true, "create": true,
		"init": true, "publish": true, "login": true, "logout": true, "link": true, "unlink": true,
		"remove": true, "rm": true, "uninstall": true, "global": true,
	}
	npmScriptSub = map[string]bool{
		"run": true, "run-script": true, "rum": true, "urn": true, "test": true, "t": true, "tst": true,
		"start": true, "stop": true, "restart": true, "install": true, "i": true, "ci": true, "add": true,
		"rebuild": true, "pack": true, "install-test": true, "it": true, "install-ci-test": true,
	}
)

// projectRuns records the project files cmd runs: a script run by path or
// given to a shell or interpreter, the Makefile of make, package.json of a
// package manager's scripts and installs, the sources of go generate, the
// compose file of docker compose up.
func (w *walker) projectRuns(cmd *command, pw wordVal, rest []wordVal, pos []int, ctx shellCtx) {
	cwd := wordVal{s: ".", static: true}
	dirOpt := func(names ...string) wordVal {
		for _, n := range names {
			if o, ok := cmd.option(n); ok {
				return wordVal{s: o.value, static: !o.dynamic, tilde: o.tilde}
			}
		}
		return cwd
	}
	if !cmd.trusted {
		w.runsFile(cmd, pw, "", "run", ctx)
	}
	switch prog := cmd.program; {
	case prog == "pytest" || prog == "py.test" || hasOptionValue(cmd, "m", "pytest") && interpreters[prog]:
		words := rest
		if prog != "pytest" && prog != "py.test" {
			// python -m pytest ARGS: pytest's words follow the module name
			if i := slices.IndexFunc(rest, func(v wordVal) bool { return v.s == "pytest" }); i >= 0 {
				words = rest[i+1:]
			}
		}
		// pytest's operands, by its spec (--junitxml /tmp/report.xml is an
		// option's value, not a test to run).
		var p argParser
		p.parse(programs["pytest"], words, false)
		for _, k := range p.positional {
			v := words[k]
			v.s, _, _ = strings.Cut(v.s, "::") // tests/test_x.py::test_a
			w.checkOutside(cmd, v, "pytest", ctx)
		}
		if len(p.positional) == 0 {
			w.checkOutside(cmd, cwd, "pytest", ctx)
		}
	case shells[prog] || interpreters[prog] || prog == "source" || prog == ".":
		if len(pos) == 0 || !rest[pos[0]].static || rest[pos[0]].s == "-" {
			return
		}
		for _, f := range [...]string{"c", "e", "E", "m", "p", "r"} {
			if _, ok := cmd.option(f); ok && !shells[prog] {
				return
			}
		}
		w.runsFile(cmd, rest[pos[0]], "", prog, ctx)
	case prog == "make" || prog == "gmake":
		if o, ok := cmd.option("f"); ok && (o.dynamic || o.value == "-") {
			w.a.find(ruleDynamic, Escalate, "make reads a makefile from standard input or from a name not statically known", truncate(cmd.text))
			return
		}
		if o, ok := cmd.option("f"); ok {
			file := o.value
			if !o.tilde && !path.IsAbs(file) {
				file = path.Join(dirOpt("C").s, file) // make -C DIR -f FILE reads DIR/FILE
			}
			w.runsFile(cmd, wordVal{s: file, static: !o.dynamic, tilde: o.tilde}, "", "make", ctx)
			return
		}
		w.runsIn(cmd, dirOpt("C"), makefiles, "make", ctx)
	case prog == "just":
		w.runsIn(cmd, cwd, justfiles, "just", ctx)
	case prog == "npm":
		if npmScriptSub[cmd.subcommand] {
			w.runsIn(cmd, dirOpt("prefix", "C"), packageFiles, "npm "+cmd.subcommand, ctx)
		}
	case prog == "pnpm" || prog == "yarn" || prog == "bun":
		if !pmReadOnlySub[cmd.subcommand] {
			w.runsIn(cmd, dirOpt("dir", "C", "cwd"), packageFiles, prog+" "+cmd.subcommand, ctx)
		}
	case prog == "go" && (cmd.subcommand == "run" || cmd.subcommand == "test"):
		// The project's own code is what go run and go test are for; code
		// outside it has no author the log knows. (A module fetched by
		// version, pkg@v1, escalates by its own rule.)
		files := 0
		for _, k := range pos[:goPackages(cmd.subcommand, rest, pos)] {
			if v := rest[k]; isPathWord(v.s, ".go") {
				files++
				w.checkOutside(cmd, v, "go "+cmd.subcommand, ctx)
			}
		}
		if files == 0 {
			w.checkOutside(cmd, cwd, "go "+cmd.subcommand, ctx) // the package in the working directory, or the ones named in it
		}
	case prog == "cargo":
		if o, ok := cmd.option("manifest-path"); ok {
			w.checkOutside(cmd, wordVal{s: o.value, static: !o.dynamic, tilde: o.tilde}, "cargo", ctx)
		} else if cmd.subcommand == "run" || cmd.subcommand == "test" || cmd.subcommand == "build" {
			w.checkOutside(cmd, cwd, "cargo "+cmd.subcommand, ctx)
		}
	case prog == "go" && cmd.subcommand == "generate":
		if len(cmd.args) == 0 {
			w.runsFile(cmd, cwd, ".go", "go generate", ctx)
		}
		for _, a := range cmd.args {
			dir := strings.TrimSuffix(strings.TrimSuffix(a.text, "..."), "/")
			if dir == "" {
				dir = "."
			}
			if strings.HasPrefix(dir, ".") || strings.HasPrefix(dir, "/") {
				w.runsFile(cmd, wordVal{s: dir, static: !a.dynamic, tilde: a.tilde}, ".go", "go generate", ctx)
			} else {
				w.runsFile(cmd, cwd, ".go", "go generate", ctx) // an import path: some package of the module
			}
		}
	case (prog == "docker" || prog == "podman") && cmd.subcommand == "compose" || prog == "docker-compose" || prog == "podman-compose":
		if o, ok := cmd.option("f"); ok {
			w.runsFile(cmd, wordVal{s: o.value, static: !o.dynamic, tilde: o.tilde}, "", "compose", ctx)
			return
		}
		w.runsIn(cmd, cwd, composeFiles, "compose", ctx)
	}
}

// checkProvenance escalates a command that runs a project file which the
// call itself writes, or which an agent changed since the baseline
// according to the call's Provenance. It marks commands whose files the log
// knows and no agent changed since the baseline; a file the log has no
// record of (created by a shell command, say) is not vouched for, and the
// command is left to the other rules.
func (a *analysis) checkProvenance() {
	prov := a.call.Provenance
	for i := range a.commands {
		cmd := &a.commands[i]
		if len(cmd.runs) == 0 {
			continue
		}
		changed, unknown := false, false
		for _, r := range cmd.runs {
			if a.writesRun(r) {
				changed = true
				a.find(ruleProvenance, Escalate, "runs "+r.display()+" ("+r.via+"), which this call writes", truncate(cmd.text))
				continue
			}
			if prov == nil {
				continue
			}
			a.consulted = true
			var c Change
			var ok bool
			if r.suffix != "" {
				c, ok = prov.LastAgentChangeUnder(r.rel, r.suffix)
			} else {
				c, ok = prov.LastChange(r.rel)
			}
			if !ok && r.suffix == "" {
				unknown = true // not in the log: perhaps created by a command the log did not see
			}
			if ok && c.SinceBaseline() {
				changed = true
				file := c.Path
				if file == "" {
					file = r.rel
				}
				a.find(ruleProvenance, Escalate, "runs "+file+" ("+r.via+"), changed by agent "+c.Agent+" at seq "+uitoa(c.Seq)+" since the baseline", truncate(cmd.text))
			}
		}
		cmd.runsUnchanged = prov != nil && !changed && !unknown
	}
}

func (r runRef) display() string {
	if r.suffix != "" {
		if r.rel == "." {
			return "the project's *" + r.suffix + " files"
		}
		return r.rel + "/**/*" + r.suffix
	}
	return r.rel
}

// writesRun reports whether the call writes the file r runs (or, for a tree,
// a file in it), or a directory holding it.
func (a *analysis) writesRun(r runRef) bool {
	for i := range a.paths {
		p := &a.paths[i]
		if p.dynamic || p.access&accessWrite == 0 || p.abs == "" {
			continue
		}
		switch {
		case p.abs == r.abs, p.recursive && within(r.abs, p.abs):
			return true
		case r.suffix != "" && within(p.abs, r.abs) && strings.HasSuffix(p.abs, r.suffix):
			return true
		}
	}
	return false
}

func uitoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// hasOptionValue reports whether cmd has option name with value v.
func hasOptionValue(cmd *command, name, v string) bool {
	o, ok := cmd.option(name)
	return ok && o.value == v
}

// goPackages returns how many of the operands (rest at pos) go run or go
// test takes as the packages or files to build: for go run the .go files
// it starts with, else its first operand; for go test its operands before
// -args. What follows is the program's own arguments (go run ./cmd/x -out
// /tmp/o).
func goPackages(sub string, rest []wordVal, pos []int) int {
	if sub == "test" {
		end := len(rest)
		for i, v := range rest {
			if v.s == "-args" || v.s == "--args" {
				end = i
				break
			}
		}
		n := 0
		for n < len(pos) && pos[n] < end {
			n++
		}
		return n
	}
	n := 0
	for n < len(pos) && strings.HasSuffix(rest[pos[n]].s, ".go") {
		n++
	}
	if n == 0 && len(pos) > 0 {
		n = 1
	}
	return n
}
