// Package policy decides whether an AI coding agent's tool call may run.
//
// A Policy answers allow, escalate (ask a human) or block for one Claude Code
// PreToolUse call in microseconds. It is a pure library: no network, no
// storage, no package-level mutable state. A Policy is immutable once built
// and safe for concurrent use.
//
//	p := policy.Default()                          // built-in rules
//	p, err := policy.Parse(projectYAML, p)         // project rules on top
//	v := p.Evaluate(policy.Call{Tool: "Bash", Input: map[string]any{"command": "rm -rf /"}, ...})
//	// v.Decision == policy.Block, v.Rule == "rm-recursive-outside-project"
//
// # How a call is decided
//
// Every rule that matches contributes its decision; block overrides escalate,
// which overrides allow. Among equal decisions the earliest rule is reported
// as the deciding one (Verdict.Rule); Verdict.Matches lists them all.
//
// A rule either judges the call as a whole (no `command` key) or judges each
// command a Bash call runs (with a `command` key). Every command of a Bash
// call must be covered: a command that no command rule matches contributes
// the policy's default decision, unless an allow rule without `command`
// matched the whole call (so `{tool: Bash, roles: [admin], decision: allow}`
// lets admins run anything that no block or escalate rule catches). So
// `go test ./... && ./mystery` escalates under the default policy even though
// `go test` is allowed. When nothing matches at all the default decision
// applies (escalate in the default policy), except that a Bash call running
// no command at all (empty, comments, bare assignments or redirections) is
// allowed if no rule objects.
//
// Some checks are built in and cannot be changed by a policy file; their rule
// ids start with "builtin.". Escalated: a program name that is not statically
// known ($(echo rm) -rf /, $X, "${cmd}", a glob); a script for sh -c, eval,
// su -c, env -S or watch, or a shell's or interpreter's program read from a
// pipe, that is not statically known; a command that does not parse; nesting,
// command or path counts beyond what the analysis follows; setting PATH,
// LD_PRELOAD, BASH_ENV and similar variables that change which program runs;
// a Bash call without a command string. Blocked: a function calling itself in a pipeline or in
// the background (a fork bomb).
//
// # Shell analysis
//
// Bash commands are parsed with mvdan.cc/sh and every command is checked:
// pipelines, && || ; lists, subshells, { } blocks, if/for/while/case bodies,
// function bodies, $(...) and backticks, <(...) process substitutions,
// arithmetic and [[ ]] expressions, the scripts run by sh/bash/zsh/... -c,
// by a shell reading a here-document, here-string or a static echo from a
// pipe, by eval, su -c, env -S and watch (parsed recursively up to a bounded
// depth), and the commands run by find -exec. A line made only of plain
// words (letters, digits, _./:@%+,=- and spaces) skips the parser: splitting
// it on spaces is exactly what the shell does.
//
// Wrappers are seen through: sudo, doas, env (and VAR=x), nohup, timeout,
// nice, ionice, stdbuf, xargs (its command gets unknown extra operands),
// command, exec, time, builtin, setsid, busybox, strace, watch, and
// "uv run", "poetry run", "bundle exec", "npm exec" and similar. The wrapper
// itself is still a command (so a rule on sudo matches `sudo make`).
//
// Quoting is resolved, so all of these run rm:
//
//	rm   "rm"   r''m   \rm   $'\x72m'   /bin/rm
//
// A program given by path (/bin/rm, ./x) is matched by its base name. A
// program run from a path outside the system bin directories (./ls,
// scripts/build) is matched by block and escalate rules under its base name
// but never satisfies an allow rule unless that rule lists the path in
// program_paths, so a script named ls in the project is not trusted as ls.
//
// Flags are normalised per program: -rf, -r -f, -fr, -R -f and --recursive
// --force are the same set {f, r} for rm. Long flags map to short ones through
// a per-program alias table (rm --recursive=r, git push --force=f, chmod
// --recursive=R, curl --request=X, ...); unknown long flags keep their name.
// Flags known to take a value record it as an option (curl -X POST gives flag
// X with value POST).
//
// Paths a command touches are resolved against the working directory, which
// follows cd within the command line; ~, $HOME and ${HOME} expand to
// Call.Home (or an unknown home outside the project). Written paths: the
// targets of >, >>, >|, &>, &>>, >&file and <>, operands of rm, rmdir,
// unlink, shred, touch, mkdir, tee, truncate and mv, the destination of cp,
// ln, install, rsync and scp, chmod/chown operands, dd of=, sed -i files,
// sort -o, curl -o, wget -O and find -delete start points. Read paths: < and
// operands of cat, head, tail, less, grep (after the pattern), sed, awk,
// sort, diff, source, the sources of cp, rsync and scp, dd if=, curl -T and
// -d @file, and find start points. /dev/null and the standard streams are
// ignored. ln's link targets count as reads, so a link to a file outside the
// project is seen. Words only printed (echo "rm -rf /", git commit -m "rm -rf",
// grep "rm -rf") are operands, never commands.
//
// # Policy file
//
// A policy file is YAML:
//
//	version: 1            # optional; must be 1
//	default: escalate     # optional; decision when nothing matches
//	rules:
//	  - id: push-review             # required; letters, digits, - _ .
//	    reason: pushes need two reviewers   # or description
//	    decision: escalate          # allow | escalate | block
//	    approvals: 2                # escalate only: approvers required (default 1)
//	    tool: Bash                  # string or list; globs: mcp__github__*
//	    roles: [builder, expert]    # string or list; agent roles
//	    command:                    # judge each command of a Bash call
//	      program: git              # base names; globs: mkfs.*
//	      subcommand: push          # first operand of git, go, npm, docker, kubectl, cargo, make, ...
//	      flags: [f]                # all of these (normalised: force = f for git)
//	      any_flags: [force, force-with-lease]   # at least one of these
//	      options: {X: [POST, PUT]} # flag with a value matching a glob ("" = flag present)
//	      args: ["+*"]              # at least one operand matches a glob
//	      not_args: ["http://localhost*"]        # no operand matches
//	      piped_from: [curl, wget]  # fed by an earlier pipeline stage or substitution
//	      program_paths: [scripts/*.sh]          # program run from these paths
//	      paths: {inside_project: false}         # paths this command touches
//	    paths:                      # paths the whole call touches
//	      access: write             # read | write | any (default any)
//	      globs: [.git/**, "**/.env*", ~/.ssh/**, /etc/**]   # or match:
//	      exclude: [/tmp/**]
//	      inside_project: false
//	      dynamic: true             # only paths not statically known ($DIR)
//	    when: role == "builder" && len(writes) > 3   # expr-lang condition on Env
//	  - id: git-push                # same id as a base rule: replaces it
//	    decision: allow
//	    command: {program: git, subcommand: push}
//	  - id: bash-read-outside-project
//	    disabled: true              # removes a base rule
//
// All criteria of a rule must hold for it to match; list criteria match when
// any element does. `paths` may be a plain list of globs. Globs: segments
// separated by /, each a path.Match pattern, ** for any number of segments. A
// glob starting with / matches absolute paths, one starting with ~/ paths in
// the home directory, "." the project root itself, and any other glob the
// project-relative path (a leading **/ also matches anywhere on disk). Paths
// that are not statically known match only `dynamic: true`. Block and
// escalate rules match when any path matches; allow rules only when every
// path of the requested access matches, so an allow rule never lets an
// unmatched path through.
//
// `when` is compiled once with github.com/expr-lang/expr against Env; a rule
// whose expression fails at run time counts as matching if it blocks or
// escalates and as not matching if it allows.
//
// # Default policy
//
// Default compiles default.yaml (DefaultYAML returns it). It blocks writes to
// .git internals, .env files, credentials, shell start-up files and system
// directories; reading SSH keys and cloud credentials; file-tool writes
// outside the project; shell writes outside the project (temporary
// directories excepted); recursive rm
// outside the project or of the project root; chmod -R 777; disk formatting;
// dd to devices; downloads piped to a shell; force pushes. It escalates
// reading .env files, reads outside the project, shell writes to paths not
// statically known ($OUT, xargs operands), edits of .claude/,
// .lighthouse/ and .mcp.json, git push, git -c, git reset --hard, sudo/su/doas,
// uploads with curl/wget, ssh/scp/rsync/nc, package installs (npm -g, pip,
// apt-get, brew, cargo install, go install pkg@v), package publishing, inline
// interpreter code (python -c, node -e), and any command or tool it does not
// know. It allows reads and edits inside the project, ordinary read-only and
// file commands, build/test/lint tools, local git and package scripts.
// Observers may not write files.
//
// # Learned approvals
//
// Shape returns a canonical string for calls of the same shape (git push
// origin feature-1 and git push origin feature-2 share one; git push --force
// does not), for remembering a human's approvals.
//
// # Policy tests
//
// RunTests runs a YAML list of cases against a policy; see RunTests.
package policy
