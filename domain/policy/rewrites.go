package policy

import (
	"path"
	"slices"
	"strings"
)

// rewriters rewrite in place the files they are given and every file below
// the directories they are given (formatters and fixers), when given the
// flag named here ("": always). A program missing here writes only what
// the rest of the analysis finds.
var rewriters = map[string][]string{
	"gofmt": {"w"}, "goimports": {"w"}, "gofumpt": {"w"}, "golines": {"w"},
	"black": {""}, "isort": {""}, "autopep8": {"i", "in-place"}, "yapf": {"i", "in-place"},
	"rustfmt": {""}, "clang-format": {"i"}, "shfmt": {"w", "write"},
	"prettier": {"w", "write"}, "eslint": {"fix"}, "stylelint": {"fix"}, "biome": {"write", "fix", "apply"},
}

// defaultsToCwd are the rewriters that, given no operand, rewrite the
// working directory's tree rather than read standard input.
var defaultsToCwd = map[string]bool{"eslint": true}

// rewrites records the files a formatter, a fixer or a command that
// updates the working tree rewrites: each operand (recursively, so a lease
// below a directory it names is in the way), or the whole tree. Without
// this, gofmt -w, go fmt, black, git stash and the like wrote under other
// agents' leases unseen.
func (w *walker) rewrites(cmd *command, ops []wordVal, ctx shellCtx) {
	prog, sub, words := cmd.program, cmd.subcommand, ops
	has := cmd.hasFlag
	if interpreters[prog] || prog == "ruff" && sub == "" {
		// python -m black src, ruff format src: the module's (or ruff's
		// subcommand's) flags and operands are the words that follow
		if interpreters[prog] {
			o, ok := cmd.option("m")
			if !ok || o.dynamic || !rewritesFiles(o.value) {
				return
			}
			prog = o.value
		}
		var flags []string
		flags, words = splitFlags(nil, ops)
		has = func(f string) bool { return slices.Contains(flags, f) || cmd.hasFlag(f) }
		if prog == "ruff" && len(words) > 0 && words[0].static {
			sub, words = words[0].s, words[1:]
		}
	}
	switch {
	case prog == "go" && (sub == "fmt" || sub == "fix"):
		w.rewriteAll(cmd, goPackageDirs(words), ctx)
	case prog == "go" && sub == "tool" && len(words) > 0 && words[0].static:
		// go tool gofumpt -w .: the tool's own words follow its name
		// go's parser may already have taken the tool's flags as its own
		tool := command{program: path.Base(words[0].s), text: cmd.text}
		if _, ok := rewriters[tool.program]; ok {
			var rest []wordVal
			tool.flags, rest = splitFlags(slices.Clone(cmd.flags), words[1:])
			w.rewrites(&tool, rest, ctx)
			cmd.paths = append(cmd.paths, tool.paths...)
		}
	case prog == "patch" && !has("dry-run") && !has("C"):
		// the files a patch changes are named inside it
		w.rewriteAll(cmd, orCwd(nil), ctx)
	case prog == "golangci-lint" && has("fix"):
		w.rewriteAll(cmd, []wordVal{{s: ".", static: true}}, ctx)
	case prog == "cargo" && sub == "fmt":
		w.rewriteAll(cmd, []wordVal{{s: ".", static: true}}, ctx)
	case prog == "ruff" && (sub == "format" && !has("check") && !has("diff") || sub == "check" && has("fix")):
		w.rewriteAll(cmd, orCwd(words), ctx)
	case prog == "git":
		if all, paths := gitWorkTree(cmd, words); all {
			w.rewriteAll(cmd, []wordVal{w.worktree()}, ctx)
		} else {
			w.rewriteAll(cmd, paths, ctx)
		}
	default:
		for _, f := range rewriters[prog] {
			if f == "" && !has("check") && !has("diff") || f != "" && has(f) {
				if defaultsToCwd[prog] {
					words = orCwd(words)
				}
				w.rewriteAll(cmd, words, ctx)
				return
			}
		}
	}
}

// rewritesFiles reports a module or program whose runs may rewrite files
// (python -m black).
func rewritesFiles(prog string) bool {
	_, ok := rewriters[prog]
	return ok || prog == "ruff"
}

// splitFlags appends the flag names among words (-w, --write: w, write)
// to flags and returns the other words: a program run by another (python
// -m black, go tool gofumpt) whose words its runner's parser left whole.
func splitFlags(flags []string, words []wordVal) ([]string, []wordVal) {
	var rest []wordVal
	for _, v := range words {
		if v.static && strings.HasPrefix(v.s, "-") {
			flags = append(flags, strings.TrimLeft(v.s, "-"))
		} else {
			rest = append(rest, v)
		}
	}
	return flags, rest
}

func (w *walker) rewriteAll(cmd *command, words []wordVal, ctx shellCtx) {
	for _, v := range words {
		v.recursive = true
		w.addOperand(cmd, v, accessWrite, ctx)
	}
}

// worktree is the git working tree a command rewrites whole: the project
// root the gate guards (the repository's top), else the working directory.
func (w *walker) worktree() wordVal {
	if root := w.a.call.ProjectRoot; root != "" {
		return wordVal{s: root, static: true}
	}
	return wordVal{s: ".", static: true}
}

func orCwd(words []wordVal) []wordVal {
	if len(words) == 0 {
		return []wordVal{{s: ".", static: true}}
	}
	return words
}

// goPackageDirs maps go fmt's package patterns to the directories they
// name: ./... is the working directory's tree, ./x/... and ./x are x; no
// pattern is the working directory's package. An import path is taken as
// the working directory's tree: it cannot be mapped to a directory here.
func goPackageDirs(words []wordVal) []wordVal {
	if len(words) == 0 {
		return []wordVal{{s: ".", static: true}}
	}
	out := make([]wordVal, 0, len(words))
	for _, v := range words {
		s := strings.TrimSuffix(strings.TrimSuffix(v.s, "..."), "/")
		switch {
		case !v.static:
		case s == "" || s == ".":
			v.s = "."
		case strings.HasPrefix(s, ".") || strings.HasPrefix(s, "/"):
			v.s = s
		default:
			v = wordVal{s: ".", static: true}
		}
		out = append(out, v)
	}
	return out
}

// gitWorkTree reports what a git command rewrites in the working tree:
// all of it (a branch switch, a stash, a hard reset, a merge), or the
// paths it names (restore src, clean -f build), or nothing.
func gitWorkTree(cmd *command, args []wordVal) (all bool, paths []wordVal) {
	first := ""
	if len(args) > 0 && args[0].static {
		first = args[0].s
	}
	switch cmd.subcommand {
	case "stash":
		switch first {
		case "", "push", "save", "pop", "apply", "-":
			return true, nil
		}
	case "checkout", "switch":
		if cmd.hasFlag("p") || cmd.hasFlag("patch") {
			return true, nil // picks hunks into the working tree
		}
		// -b NAME (checkout) or -c NAME (switch) alone makes a branch at
		// HEAD: no file changes; with a start point it switches to it.
		// The name is an option's value or the first operand.
		newBranch := false
		for _, f := range [...]string{"b", "B", "c", "C"} {
			if o, ok := cmd.option(f); ok {
				newBranch = true
				if o.value != "" {
					return len(args) > 0, nil // the operands are the start point
				}
			}
			newBranch = newBranch || cmd.hasFlag(f)
		}
		if newBranch {
			return len(args) > 1, nil
		}
		return len(args) > 0, nil
	case "bisect":
		// start, good, bad, skip, reset and run check out other commits
		switch first {
		case "log", "visualize", "view", "terms", "help", "replay":
			return false, nil
		}
		return true, nil
	case "restore":
		if (cmd.hasFlag("staged") || cmd.hasFlag("S")) && !(cmd.hasFlag("worktree") || cmd.hasFlag("W")) {
			return false, nil
		}
		if len(args) == 0 {
			return true, nil
		}
		return false, args
	case "reset":
		return cmd.hasFlag("hard") || cmd.hasFlag("merge") || cmd.hasFlag("keep"), nil
	case "clean":
		if !(cmd.hasFlag("f") || cmd.hasFlag("i")) || cmd.hasFlag("n") {
			return false, nil
		}
		if len(args) == 0 {
			return true, nil
		}
		return false, args
	case "rm", "mv":
		if cmd.hasFlag("cached") {
			return false, nil
		}
		return false, args
	case "pull", "merge", "rebase", "cherry-pick", "revert", "am":
		return true, nil
	case "apply":
		return !(cmd.hasFlag("cached") || cmd.hasFlag("check") || cmd.hasFlag("stat") || cmd.hasFlag("numstat") || cmd.hasFlag("summary")), nil
	}
	return false, nil
}
