package policy

import (
	"strings"
)

// Effects the analysis derives from a command's arguments, matched by a
// rule's `effects` key. They name what a command does when its program and
// flags alone do not say it.
const (
	effectDiscardsWork        = "discards-work"           // git: throws away uncommitted or unreachable work
	effectPushesProtected     = "pushes-protected-branch" // git push to a default or release branch, a tag, or a branch not named
	effectForcePush           = "force-push"              // git push --force or a +refspec
	effectDeletesRemoteBranch = "deletes-remote-branch"   // git push --delete or :branch
	effectDeletesProtected    = "deletes-protected-branch"
)

// knownEffects are the values a rule's `effects` key accepts.
var knownEffects = map[string]bool{
	effectDiscardsWork: true, effectPushesProtected: true, effectForcePush: true,
	effectDeletesRemoteBranch: true, effectDeletesProtected: true,
}

func (c *command) addEffect(e string) {
	for _, x := range c.effects {
		if x == e {
			return
		}
	}
	c.effects = append(c.effects, e)
}

func (c *command) hasEffect(e string) bool {
	for _, x := range c.effects {
		if x == e {
			return true
		}
	}
	return false
}

// protectedBranch reports branch names that are a project's default or
// release lines, where a push publishes and a force or delete loses history.
func protectedBranch(ref string) bool {
	ref = strings.TrimPrefix(ref, "refs/heads/")
	ref = strings.TrimPrefix(ref, "heads/") // git reads heads/main as refs/heads/main
	if strings.HasPrefix(ref, "refs/") || strings.HasPrefix(ref, "tags/") {
		return true
	}
	switch ref {
	case "main", "master", "trunk", "develop", "development", "dev", "prod", "production",
		"staging", "stable", "live", "gh-pages", "HEAD", "@":
		return true
	}
	for _, p := range [...]string{"release", "releases/", "hotfix/", "support/"} {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	return false
}

// git analyses what a git command runs and throws away: program-running
// configuration (-c core.pager=..., aliases with !), options that run
// commands (rebase --exec, grep --open-files-in-pager, bisect run,
// submodule foreach, --upload-pack), and the effects of pushes and of
// commands that discard work.
func (w *walker) git(cmd *command, rest []wordVal, subIdx int, ctx shellCtx) {
	for _, o := range cmd.options {
		switch o.name {
		case "c":
			key, val, _ := strings.Cut(o.value, "=")
			w.gitConfig(cmd, key, wordVal{s: val, static: !o.dynamic}, ctx)
		case "config-env":
			key, _, _ := strings.Cut(o.value, "=")
			if gitConfigKind(key) != gitConfigPlain {
				w.a.find(ruleDynamic, Escalate, "git --config-env sets "+key+", which runs a program, from the environment", truncate(cmd.text))
			}
		case "exec-path", "upload-pack", "receive-pack":
			w.runString(cmd, "git --"+o.name, wordVal{s: o.value, static: !o.dynamic}, ctx)
		}
	}
	if subIdx < 0 {
		return
	}
	after := rest[subIdx+1:]
	for i := 0; i < len(after); i++ {
		v := after[i]
		if !v.static {
			continue
		}
		name, val, hasVal := strings.Cut(v.s, "=")
		switch {
		case cmd.subcommand == "rebase" && (name == "--exec" || name == "-x"):
			if hasVal {
				w.runString(cmd, "git rebase --exec", wordVal{s: val, static: true}, ctx)
			} else if i+1 < len(after) {
				w.runString(cmd, "git rebase --exec", after[i+1], ctx)
				i++
			}
		case cmd.subcommand == "rebase" && strings.HasPrefix(v.s, "-x") && len(v.s) > 2:
			w.runString(cmd, "git rebase -x", wordVal{s: v.s[2:], static: true}, ctx)
		case cmd.subcommand == "grep" && name == "--open-files-in-pager" && hasVal:
			w.runString(cmd, "git grep --open-files-in-pager", wordVal{s: val, static: true}, ctx)
		case cmd.subcommand == "grep" && strings.HasPrefix(v.s, "-O") && len(v.s) > 2:
			w.runString(cmd, "git grep -O", wordVal{s: v.s[2:], static: true}, ctx)
		case (cmd.subcommand == "difftool" || cmd.subcommand == "mergetool") && (name == "--extcmd" || name == "-x"):
			if hasVal {
				w.runString(cmd, "git difftool --extcmd", wordVal{s: val, static: true}, ctx)
			} else if i+1 < len(after) {
				w.runString(cmd, "git difftool --extcmd", after[i+1], ctx)
				i++
			}
		case cmd.subcommand != "rebase" && name == "--exec" && hasVal:
			// push, fetch, clone, ls-remote: the remote side's program, run
			// locally for a local remote
			w.runString(cmd, "git --exec", wordVal{s: val, static: true}, ctx)
		}
	}
	switch cmd.subcommand {
	case "bisect":
		if len(cmd.args) > 0 && cmd.args[0].text == "run" {
			if inner := gitOperandWords(after, "run"); len(inner) > 0 {
				w.execArgs(inner, ctx.deeper(), w.textOf(inner, cmd.text), false)
			}
		}
	case "submodule":
		if inner := gitOperandWords(after, "foreach"); len(inner) > 0 {
			w.runJoined(cmd, inner, ctx)
		}
	case "push":
		gitPushEffects(cmd)
	}
	if gitDiscards(cmd, after) {
		cmd.addEffect(effectDiscardsWork)
	}
}

// gitOperandWords returns the words after the operand word (bisect run,
// submodule foreach), skipping flags before it.
func gitOperandWords(after []wordVal, word string) []wordVal {
	for i, v := range after {
		if v.static && v.s == word {
			inner := after[i+1:]
			for len(inner) > 0 && isFlagWord(inner[0]) && word == "foreach" {
				inner = inner[1:]
			}
			return inner
		}
		if !isFlagWord(v) {
			return nil
		}
	}
	return nil
}

// gitConfigKind says what a configuration key does with its value.
type gitConfigKindT uint8

const (
	gitConfigPlain   gitConfigKindT = iota // data
	gitConfigCommand                       // a command line git runs
	gitConfigOpaque                        // makes git load code or config the gate cannot see
)

func gitConfigKind(key string) gitConfigKindT {
	k := strings.ToLower(key)
	section, rest, _ := strings.Cut(k, ".")
	name := rest
	if i := strings.LastIndexByte(rest, '.'); i >= 0 {
		name = rest[i+1:]
	}
	switch section {
	case "alias", "pager":
		return gitConfigCommand
	case "include", "includeif", "protocol":
		return gitConfigOpaque
	case "core":
		switch name {
		case "pager", "editor", "sshcommand", "askpass", "fsmonitor", "gitproxy":
			return gitConfigCommand
		case "hookspath", "worktree":
			return gitConfigOpaque
		}
	case "diff", "merge", "difftool", "mergetool", "filter", "browser", "man":
		switch name {
		case "external", "textconv", "command", "driver", "cmd", "clean", "smudge", "process", "tool":
			return gitConfigCommand
		}
	case "credential":
		if name == "helper" {
			return gitConfigCommand
		}
	case "sequence":
		if name == "editor" {
			return gitConfigCommand
		}
	case "gpg":
		if name == "program" {
			return gitConfigCommand
		}
	case "remote":
		switch name {
		case "uploadpack", "receivepack", "proxy":
			return gitConfigCommand
		}
	case "uploadpack":
		if name == "packobjectshook" {
			return gitConfigCommand
		}
	case "interactive":
		if name == "difffilter" {
			return gitConfigCommand
		}
	case "web":
		if name == "browser" {
			return gitConfigCommand
		}
	case "sendemail":
		return gitConfigCommand
	}
	return gitConfigPlain
}

// gitConfig analyses one -c key=value.
func (w *walker) gitConfig(cmd *command, key string, val wordVal, ctx shellCtx) {
	switch gitConfigKind(key) {
	case gitConfigOpaque:
		w.a.find(ruleEnv, Escalate, "git -c "+key+" makes git load code or configuration the gate cannot see", truncate(cmd.text))
	case gitConfigCommand:
		if !val.static {
			w.runString(cmd, "git -c "+key, val, ctx)
			return
		}
		s := strings.TrimSpace(val.s)
		lk := strings.ToLower(key)
		switch {
		case strings.HasPrefix(lk, "alias."):
			if !strings.HasPrefix(s, "!") {
				return // an alias for a git subcommand
			}
			s = s[1:]
		case strings.HasPrefix(lk, "pager.") || lk == "core.fsmonitor":
			if isGitBool(s) {
				return
			}
		case lk == "credential.helper":
			if !strings.HasPrefix(s, "!") && !strings.Contains(s, "/") && !strings.Contains(s, " ") {
				s = "git-credential-" + s
			}
			s = strings.TrimPrefix(s, "!")
		}
		w.runString(cmd, "git -c "+key, wordVal{s: s, static: true}, ctx)
	}
}

func isGitBool(s string) bool {
	switch strings.ToLower(s) {
	case "", "true", "false", "yes", "no", "on", "off", "1", "0":
		return true
	}
	return false
}

// gitPushEffects derives what a push publishes or destroys.
func gitPushEffects(cmd *command) {
	force := cmd.hasFlag("f") || cmd.hasFlag("force-with-lease") || cmd.hasFlag("force-if-includes")
	del := cmd.hasFlag("d")
	if cmd.hasFlag("a") || cmd.hasFlag("mirror") || cmd.hasFlag("tags") || cmd.hasFlag("branches") {
		cmd.addEffect(effectPushesProtected)
		if cmd.hasFlag("mirror") {
			cmd.addEffect(effectDeletesRemoteBranch)
			cmd.addEffect(effectDeletesProtected)
		}
	}
	refspecs := cmd.args
	if len(refspecs) > 0 {
		refspecs = refspecs[1:] // the remote
	}
	if len(refspecs) == 0 && !del {
		cmd.addEffect(effectPushesProtected) // the current branch, which may be the default one
	}
	for _, r := range refspecs {
		if r.dynamic {
			cmd.addEffect(effectPushesProtected)
			if del {
				cmd.addEffect(effectDeletesRemoteBranch)
				cmd.addEffect(effectDeletesProtected)
			}
			continue
		}
		s := r.text
		if strings.HasPrefix(s, "+") {
			force = true
			s = s[1:]
		}
		src, dst, hasDst := strings.Cut(s, ":")
		if !hasDst {
			dst = src
		}
		if del || (hasDst && src == "") {
			cmd.addEffect(effectDeletesRemoteBranch)
			if protectedBranch(dst) {
				cmd.addEffect(effectDeletesProtected)
			}
			continue
		}
		if protectedBranch(dst) {
			cmd.addEffect(effectPushesProtected)
		}
	}
	if force {
		cmd.addEffect(effectForcePush)
	}
}

// gitDiscards reports git commands that throw away work that is not
// committed (or no longer reachable).
func gitDiscards(cmd *command, after []wordVal) bool {
	args := cmd.args
	first := ""
	if len(args) > 0 {
		first = args[0].text
	}
	dashdash := false
	nAfterDash := 0
	for _, v := range after {
		if dashdash {
			nAfterDash++
		} else if v.static && v.s == "--" {
			dashdash = true
		}
	}
	anyWhole := false // an operand naming everything: . or :/ or *
	for _, a := range args {
		if !a.dynamic && (a.text == "." || a.text == "./" || a.text == ":/" || a.text == "*" || a.text == ":") {
			anyWhole = true
		}
	}
	switch cmd.subcommand {
	case "checkout":
		return cmd.hasFlag("f") || cmd.hasFlag("force") || (dashdash && nAfterDash > 0) || anyWhole
	case "restore":
		staged := cmd.hasFlag("staged") || cmd.hasFlag("S")
		worktree := cmd.hasFlag("worktree") || cmd.hasFlag("W")
		return !staged || worktree
	case "switch":
		return cmd.hasFlag("discard-changes") || cmd.hasFlag("f") || cmd.hasFlag("force")
	case "stash":
		return first == "drop" || first == "clear"
	case "reflog":
		return first == "expire" || first == "delete"
	case "gc":
		_, prune := cmd.option("prune")
		return prune || cmd.hasFlag("prune")
	case "prune":
		return true
	case "clean":
		return (cmd.hasFlag("f") || cmd.hasFlag("i")) && !cmd.hasFlag("n")
	case "rm":
		return !cmd.hasFlag("cached") && (cmd.hasFlag("f") || cmd.hasFlag("r") && anyWhole)
	case "branch":
		return cmd.hasFlag("D") || cmd.hasFlag("M") || cmd.hasFlag("C") || cmd.hasFlag("f")
	case "worktree":
		return first == "remove" && cmd.hasFlag("f")
	case "reset":
		return cmd.hasFlag("hard") || cmd.hasFlag("merge") || cmd.hasFlag("keep")
	case "update-ref":
		return cmd.hasFlag("d")
	case "filter-branch", "filter-repo", "replace":
		return true
	}
	return false
}
