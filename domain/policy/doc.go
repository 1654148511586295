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
// as the deciding one (Verdict.Rule); Explain also lists them all.
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
// a Bash call without a command string; configuration that makes a program
// load code the gate cannot see (builtin.program-environment); running a
// project file the same call writes, or one an agent changed since the
// baseline (builtin.runs-changed-file, see Provenance). Blocked: a function
// calling itself in a pipeline or in the background (a fork bomb).
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
// Programs that run programs are judged by what they run, not by their
// name. These are analysed as the commands they hold (a literal is parsed
// and checked like any command line; one built at run time escalates as
// builtin.dynamic-command): awk's system(), print | "cmd" and "cmd" | getline
// (and print "script" | "sh"), sed's e command and s///e flag, git -c keys
// that run programs (core.pager, core.sshCommand, core.editor, !aliases,
// credential.helper, diff/merge/filter drivers, ...), git rebase --exec, grep
// --open-files-in-pager, bisect run, submodule foreach and --upload-pack, tar
// --to-command, --checkpoint-action=exec=, --use-compress-program (-I) and
// --info-script, and variables that name a program another one runs
// (GIT_SSH_COMMAND, GIT_PAGER, PAGER, GIT_EDITOR, EDITOR, VISUAL,
// GIT_EXTERNAL_DIFF, GIT_ASKPASS, ...), whether set before a command, with env
// or export. Configuration the gate cannot see (git -c include.path,
// core.hooksPath, GIT_DIR, GIT_CONFIG_*, GIT_EXEC_PATH, NODE_OPTIONS, ...)
// escalates as builtin.program-environment.
//
// Targets known only at run time keep the severity of where they come from.
// find yields its start points themselves (and everything below them) when
// no predicate (-name, -path, -mtime, ...) narrows the search, else files
// below them, written START/<found>: -exec, -execdir, -ok and -okdir run
// their command once per start point with {} replaced, -delete writes what
// find yields, and xargs fed by such a find (or by a static echo) runs its
// command on those paths, so find ~ -exec rm -f {} + is as blocked as
// rm -f ~ and find . -name __pycache__ -exec rm -rf {} + is an ordinary
// delete inside the project. cat or tee passing a here-document to a shell
// is read as the script. A glob whose last segment matches every name (*,
// ./*, .*, .[!.]*) names its directory, so rm -rf * at the project root
// deletes the project. $TMPDIR (at the start of a word) is a temporary
// directory unless the call assigns TMPDIR.
//
// Wrappers are seen through: sudo, doas, env (and VAR=x), nohup, timeout,
// nice, ionice, stdbuf, xargs (its command gets the operands its input is
// known to carry, else unknown extra operands),
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
// -d @file, and find start points. Archivers and data tools: tar (the
// archive, operands relative to -C, the extraction directory), zip and unzip
// (the archive, the files, -d), gzip/xz/zstd/..., jq and yq (files after the
// filter, --slurpfile, -f), base64, xxd and similar; awk print > "file", sed
// w/r and find -fprint* files; the directory python -m http.server
// publishes. A recursive read or write (tar, zip -r, cp -r, rsync -a, grep
// -r, rg, a find start point given to -exec, http.server) also matches
// block and escalate rules whose absolute or ~/ globs match something below
// it: zip -r of ~ reads ~/.ssh. /dev/null and the standard streams are
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
//	leases: block         # optional; block (default) or escalate a write under another agent's exclusive lease
//	rules:
//	  - id: push-review             # required; letters, digits, - _ .
//	    reason: pushes need two reviewers   # or description
//	    decision: escalate          # allow | escalate | block
//	    approvals: 2                # escalate only: approvers required (default 1)
//	    route: capability:security  # escalate only: the agents with this capability may decide, and are told in their inbox
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
//	      effects: [pushes-protected-branch]     # all of these (see below)
//	      runs_unchanged: true      # it runs project files no agent changed (see Provenance)
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
// Effects are what a command's arguments make it do, derived by the
// analysis: discards-work (git checkout -- . / -f, restore without
// --staged, switch --discard-changes, stash drop/clear, reflog
// expire/delete, gc --prune, clean -f, rm -f or rm -r ., branch -D/-M/-f,
// worktree remove --force, reset --hard/--merge/--keep, filter-branch),
// pushes-protected-branch (a push to main, master, trunk, develop, staging,
// production, release*, releases/*, hotfix/*, a tag or refs/*, HEAD, or with
// no refspec, --all, --mirror or --tags), force-push (--force,
// --force-with-lease or a +refspec), deletes-remote-branch (--delete or
// :branch) and deletes-protected-branch.
//
// `when` is compiled once with github.com/expr-lang/expr against Env; a rule
// whose expression fails at run time counts as matching if it blocks or
// escalates and as not matching if it allows.
//
// # Default policy
//
// Default compiles default.yaml (DefaultYAML returns it). It blocks writes to
// .git internals, .env files (not .env.example, .sample, .template or
// .dist), credentials, shell start-up files and system directories; reading
// SSH keys and cloud credentials (also through a recursive read of a
// directory holding them); file-tool writes outside the project; shell
// writes outside the project (temporary directories excepted); recursive rm
// outside the project (below /tmp, /var/tmp and $TMPDIR excepted) or of the
// project root (rm -rf *, find . -delete); chmod -R 777; disk formatting;
// dd to devices; downloads piped to a shell; force pushes to, and deletion
// of, the default and release branches. It escalates reading .env files,
// reads outside the project, shell writes to paths not statically known
// ($OUT, xargs operands), edits of .claude/, .lighthouse/ and .mcp.json,
// pushes to the default or release branches (or to an unnamed branch), other
// force pushes and remote branch deletions, git --config-env, git commands
// that discard work, sudo/su/doas, uploads with curl/wget,
// ssh/scp/rsync/nc, package installs (npm -g, pip, apt-get, brew, cargo
// install, go install pkg@v), remote code (go run mod@v, npx, pnpm/yarn dlx,
// bunx, uvx, npm exec), package publishing, inline interpreter code (python
// -c, node -e, perl -e, ...), privileged containers and host mounts, and any
// command or tool it does not know. It allows reads and edits inside the
// project, ordinary read-only and file commands, archivers, build/test/lint
// tools, local git, feature-branch pushes, package scripts, sourcing project
// files (.venv/bin/activate), docker build and docker compose
// up/down/build/logs, WebFetch of public https pages, and running project
// files no agent changed (with a Provenance). Observers may not write files.
//
// # Provenance
//
// Call.Provenance, when set, tells the policy who last changed each project
// file (Change: agent, human, watcher or reviewer-approved, with the agent's
// name and the log sequence). A command that runs a project file — a script
// run by path or given to a shell, an interpreter or source; the Makefile
// (GNUmakefile, makefile) of make, -f and -C followed; justfile; package.json
// of npm run/test/start/install/ci/... and of pnpm, yarn and bun scripts and
// installs; the .go files below the packages of go generate; the compose
// file of docker compose — is escalated (builtin.runs-changed-file, with a
// reason naming the file, the agent and the sequence) when an agent changed
// the file since the baseline. The baseline is the import (recorded by the
// watcher) or the last change made by a human or approved by a reviewer.
// Writing a file and running it in the same call counts as changed, with or
// without a Provenance. A command whose files the log knows and no agent
// changed matches `runs_unchanged: true` (rule run-unchanged-project-file
// allows it); a file the log has no record of is not vouched for. A verdict
// that consulted the Provenance has Verdict.FileDependent set (it must not be
// cached by input) and its escalations have no shape (no learned approval
// decides them).
//
// # Learned approvals
//
// Shape returns a canonical string for calls of the same shape (git push
// origin feature-1 and git push origin feature/2 share one; git push --force
// does not; a push to main or a release branch keeps the branch name), for
// remembering a human's approvals. git operands are refs, never generalised
// as paths.
//
// # Policy tests
//
// RunTests runs a YAML list of cases against a policy; see RunTests.
package policy
