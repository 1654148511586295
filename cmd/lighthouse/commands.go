package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lighthouse-ai/lighthouse/bench"
	"github.com/lighthouse-ai/lighthouse/integrations/claudecode"
	"github.com/lighthouse-ai/lighthouse/integrations/mcpserver"
)

// systemCommands start, check and administer the system.
func systemCommands() []*cobra.Command {
	return []*cobra.Command{
		leaf(spec{use: "up [--project DIR]", short: "run writer, bus, reader, fuser and watcher in the foreground", run: runUp,
			long: `up runs the whole system in the foreground, guarding and shadowing the
project directory. Its banner names the project, the writer, the reader,
the console, the data directory and the mount. Ctrl-C or SIGTERM stops it.`,
			example: "  lighthouse up --project ~/shop\n  lighthouse up --no-mount --writer-addr 127.0.0.1:9765 --reader-addr 127.0.0.1:9766 --bus-addr 127.0.0.1:9767"}),
		group("agent", "manage agents: names, roles and tokens", "", "  lighthouse agent add claude-2 --role builder\n  lighthouse agent list --json",
			leaf(spec{use: "add NAME --role ROLE", short: "create an agent and print its token (shown once)", run: runAgent, prefix: []string{"add"},
				example: "  lighthouse agent add alice --role reviewer"}),
			leaf(spec{use: "list [--json]", short: "list agents with their roles", run: runAgent, prefix: []string{"list"},
				example: "  lighthouse agent list\n  lighthouse agent list --json"}),
			leaf(spec{use: "capabilities NAME [CAP[,CAP...]]", short: "set an agent's capabilities (none when absent); tasks and messages to capability:CAP follow", run: runAgent, prefix: []string{"capabilities"},
				example: "  lighthouse agent capabilities sec-1 security,performance"}),
			leaf(spec{use: "remove NAME", short: "remove an agent; its token stops working", run: runAgent, prefix: []string{"remove"},
				example: "  lighthouse agent remove claude-2"}),
			leaf(spec{use: "rotate NAME", short: "give an agent a new token (shown once)", run: runAgent, prefix: []string{"rotate"},
				example: "  lighthouse agent rotate claude"}),
		),
		leaf(spec{use: "status [--json]", short: "writer head, reader applied and lag", run: runStatus,
			example: "  lighthouse status\n  lighthouse status --json"}),
		leaf(spec{use: "verify [--json]", short: "check the whole hash chain of the log", run: runVerify,
			example: "  lighthouse verify"}),
		leaf(spec{use: "bench [--json] [--quick]", short: "measure the system", run: runBench,
			example: "  lighthouse bench --quick\n  lighthouse bench --json --out bench.json"}),
		group("policy", "work on policy files", "", "  lighthouse policy check --policy lighthouse.policy\n  lighthouse policy explain --bash 'rm -rf ~'",
			leaf(spec{use: "check", short: "parse the policy file and report its revision", run: runPolicy, prefix: []string{"check"},
				example: "  lighthouse policy check --policy lighthouse.policy"}),
			leaf(spec{use: "test FILE", short: "run a file of policy test cases", run: runPolicy, prefix: []string{"test"},
				example: "  lighthouse policy test cases.txt"}),
			leaf(spec{use: "explain --bash CMD | --tool T --input JSON", short: "show how the gate decides one call", run: runPolicy, prefix: []string{"explain"},
				example: "  lighthouse policy explain --bash 'git push --force'"}),
		),
		leaf(spec{use: "watch [DIR]", short: "record every change to the working tree (`up --project` runs it)", run: runWatch,
			example: "  lighthouse watch --data DATA ."}),
		leaf(spec{use: "mcp [--token-file F]", short: "serve the Model Context Protocol on stdio, as the agent LIGHTHOUSE_TOKEN names", run: mcpserver.Run,
			example: "  LIGHTHOUSE_TOKEN=lh_... lighthouse mcp"}),
		group("msg", "messages between agents and people", "", "  lighthouse msg send --to sec-1,role:reviewer -s 'check the cart' -m 'see src/cart'\n  lighthouse msg inbox --unread",
			leaf(spec{use: "send --to R[,R...] [-s SUBJECT] [-m BODY] [--thread ID] [--reply-to ID] [--ack]", short: "send a message to agents by name, role:ROLE or capability:NAME", run: runMsg, prefix: []string{"send"},
				example: "  lighthouse msg send --to capability:security -s 'review auth' -m 'src/auth changed'"}),
			leaf(spec{use: "inbox [--unread] [--wait 30s] [--json]", short: "your messages (waits for one with --wait)", run: runMsg, prefix: []string{"inbox"},
				example: "  lighthouse msg inbox --unread --wait 30s"}),
			leaf(spec{use: "read ID...", short: "mark messages read", run: runMsg, prefix: []string{"read"}, example: "  lighthouse msg read 3f2a..."}),
			leaf(spec{use: "ack ID...", short: "acknowledge messages", run: runMsg, prefix: []string{"ack"}, example: "  lighthouse msg ack 3f2a..."}),
			leaf(spec{use: "thread ID [--json]", short: "the messages of a thread", run: runMsg, prefix: []string{"thread"}, example: "  lighthouse msg thread 3f2a..."}),
		),
		group("task", "work routed to the agents with a capability", "", "  lighthouse task create --capability security --title 'audit the login' --deadline 30m\n  lighthouse task show ID --wait 5m",
			leaf(spec{use: "create --capability CAP --title T [-m BODY] [--paths P[,P...]] [--deadline D] [--json]", short: "ask for work by any agent with a capability; prints the task id", run: runTask, prefix: []string{"create"},
				example: "  lighthouse task create --capability security --title 'audit src/auth' --paths src/auth/login.go --deadline 30m"}),
			leaf(spec{use: "list [--capability CAP] [--status S] [--json]", short: "tasks, by capability and status (open, claimed, completed, failed, expired)", run: runTask, prefix: []string{"list"},
				example: "  lighthouse task list --capability security --status open"}),
			leaf(spec{use: "show ID [--wait D] [--json]", short: "a task; with --wait, waits for it to finish", run: runTask, prefix: []string{"show"},
				example: "  lighthouse task show 3f2a... --wait 10m"}),
			leaf(spec{use: "claim ID", short: "take a task (only agents with its capability; one at a time)", run: runTask, prefix: []string{"claim"},
				example: "  lighthouse task claim 3f2a..."}),
			leaf(spec{use: "complete ID [-m RESULT]", short: "finish a task you claimed, with its result", run: runTask, prefix: []string{"complete"},
				example: "  lighthouse task complete 3f2a... -m 'no injection; see review notes'"}),
			leaf(spec{use: "fail ID -m REASON", short: "give up on a task you claimed, saying why", run: runTask, prefix: []string{"fail"},
				example: "  lighthouse task fail 3f2a... -m 'needs the staging keys'"}),
			leaf(spec{use: "release ID", short: "give a task you claimed back: it is open again", run: runTask, prefix: []string{"release"},
				example: "  lighthouse task release 3f2a..."}),
		),
		group("lease", "hold project paths against other agents' writes", "", "  lighthouse lease add 'src/cart/**' --ttl 30m -m 'reworking the cart'\n  lighthouse lease list",
			leaf(spec{use: "add GLOB... [--ttl D] [--shared] [-m REASON]", short: "lease paths (globs relative to the project root)", run: runLease, prefix: []string{"add"},
				example: "  lighthouse lease add 'src/cart/**' --ttl 30m -m 'reworking the cart'"}),
			leaf(spec{use: "list [--json]", short: "the active leases, with holder names", run: runLease, prefix: []string{"list"},
				example: "  lighthouse lease list"}),
			leaf(spec{use: "release ID", short: "release a lease", run: runLease, prefix: []string{"release"},
				example: "  lighthouse lease release 3f2a"}),
		),
		leaf(spec{use: "annotate PATH:START[-END] [--kind note|warning|todo|review] BODY... | --resolve ID...", short: "anchor a note to lines of a file; it follows later edits", run: runAnnotate,
			example: "  lighthouse annotate src/cart/cart.go:12-18 --kind warning 'total ignores discounts'\n  lighthouse annotate --resolve 3f2a..."}),
		leaf(spec{use: "annotations [PATH] [--at POINT] [--json]", short: "the annotations (of one file) with their lines now or at a point", run: runAnnotations,
			example: "  lighthouse annotations src/cart/cart.go\n  lighthouse annotations --at 120 --json"}),
		leaf(spec{use: "sessions [--json]", short: "the active agent sessions, with when each was last seen", run: runSessions,
			example: "  lighthouse sessions"}),
	}
}

// runBench is `lighthouse bench`: the suite lives in package bench.
func runBench(ctx context.Context, args []string) error {
	err := bench.Run(ctx, args)
	if errors.Is(err, bench.ErrUsage) {
		return usageError{Msg: err.Error()}
	}
	return err
}

// fileCommands read and write the project's files and history.
func fileCommands() []*cobra.Command {
	return []*cobra.Command{
		leaf(spec{use: "put PATH [FILE]", short: "write a file (stdin when FILE is absent): in the log and, in a watched project, on disk", run: runPut,
			long: `put writes a file (from FILE, else stdin) into the log as you. When a
watcher records the project (lighthouse up --project), the file on disk is
written too, so the watcher keeps the change; otherwise only the log changes
and a warning says so. rm and mv work the same way. PATH is relative to the
working directory inside the project, else to the project root.`,
			example: "  lighthouse put docs/notes.md notes.md\n  echo hi | lighthouse put hello.txt"}),
		leaf(spec{use: "cat PATH", short: "print a file as the reader has it", run: runCat,
			example: "  lighthouse cat main.go"}),
		leaf(spec{use: "rm PATH", short: "delete a file, in the log and (watched project) on disk", run: runRm, example: "  lighthouse rm old.txt"}),
		leaf(spec{use: "mv FROM TO", short: "move a file, in the log and (watched project) on disk", run: runMv, example: "  lighthouse mv a.go b.go"}),
		leaf(spec{use: "tree [PREFIX] [--json]", short: "list files", run: runTree, example: "  lighthouse tree internal/\n  lighthouse tree --json"}),
		leaf(spec{use: "log [--path P] [--agent NAME] [--type T] [--until SEQ | --after SEQ] [--json]", short: "list events, the newest first page unless --after, agents by name", run: runLog,
			example: "  lighthouse log --agent claude --limit 20\n  lighthouse log --type review. --json"}),
		leaf(spec{use: "show PATH[@POINT]", short: "print a file as of a point (sequence, RFC 3339 time or snapshot)", run: runShow,
			example: "  lighthouse show main.go@before-refactor\n  lighthouse show main.go@42"}),
		leaf(spec{use: "diff FROM [TO] [--stat] [--path P] [--json]", short: "what changed between two points", run: runDiff,
			example: "  lighthouse diff before-refactor\n  lighthouse diff 10 20 --stat --json"}),
		leaf(spec{use: "snapshot NAME [-m DESCRIPTION]", short: "name the current point", run: runSnapshot,
			example: "  lighthouse snapshot before-refactor -m 'before the big rename'"}),
		leaf(spec{use: "restore POINT [PATH...] [--force] [--log-only]", short: "bring files back as of a point, as new events and on disk", run: runRestore,
			example: "  lighthouse restore before-refactor internal/"}),
		leaf(spec{use: "grep PATTERN [@POINT] [-F] [-i] [--glob G] [--json]", short: "search file contents at a point", run: runGrep,
			example: "  lighthouse grep TODO @before-refactor\n  lighthouse grep -F 'panic(' --glob '*.go' --json"}),
	}
}

// claudeCommands are the Claude Code integration: the hooks, init and doctor.
//
// The hooks parse their own flags and exit with Claude Code's codes (hook
// pre: 0 or 2, never 1; hook post: 0 or 1) whatever the input, so cobra
// never sees their flags.
func claudeCommands() []*cobra.Command {
	hookHelp := func(which string) func() {
		return func() { claudecode.PrintHookFlags(which, os.Stdout) }
	}
	hook := leaf(spec{use: "hook pre|post", short: "Claude Code PreToolUse / PostToolUse command hooks", run: claudecode.RunHook,
		long: `hook pre and hook post are Claude Code command hooks: the event is one
JSON object on stdin. hook pre asks the gate; it never exits 1: 0 with the
decision on stdout, or 2 with one line on stderr (blocked). hook post copies
an edited file to the writer; its failures exit 1 and the agent carries on.`,
		example: "  echo '{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls\"}}' | lighthouse hook pre --data DATA --token-file TOKEN",
		flags:   func() { fmt.Println("  see `lighthouse help hook pre` and `lighthouse help hook post`") }, ownHelp: true})
	hook.AddCommand(
		leaf(spec{use: "pre", short: "PreToolUse: ask the gate whether the call may run", run: claudecode.RunHook, prefix: []string{"pre"}, ownHelp: true,
			example: "  lighthouse hook pre --data DATA --token-file TOKEN --wait 100s < event.json", flags: hookHelp("pre")}),
		leaf(spec{use: "post", short: "PostToolUse: copy the edited file to the writer", run: claudecode.RunHook, prefix: []string{"post"}, ownHelp: true,
			example: "  lighthouse hook post --data DATA --token-file TOKEN < event.json", flags: hookHelp("post")}),
		leaf(spec{use: "session-start", short: "SessionStart: record the session and answer with who is working on what", run: claudecode.RunHook,
			prefix: []string{"session-start"}, ownHelp: true, example: "  lighthouse hook session-start --data DATA --token-file TOKEN < event.json"}),
		leaf(spec{use: "session-end", short: "SessionEnd: end the session and release its leases", run: claudecode.RunHook,
			prefix: []string{"session-end"}, ownHelp: true, example: "  lighthouse hook session-end --data DATA --token-file TOKEN < event.json"}),
		leaf(spec{use: "prompt", short: "UserPromptSubmit: add the agent's new messages to its context", run: claudecode.RunHook,
			prefix: []string{"prompt"}, ownHelp: true, example: "  lighthouse hook prompt --data DATA --token-file TOKEN < event.json"}),
	)
	return []*cobra.Command{
		hook,
		group("init", "set up an agent tool for the project", "", "  lighthouse init claude",
			leaf(spec{use: "claude [--dir DIR] [--agent NAME] [--role ROLE]", short: "create the project's agent and add the hooks to DIR/.claude/settings.local.json",
				run: claudecode.RunInit, prefix: []string{"claude"}, example: "  lighthouse init claude\n  lighthouse init claude --agent claude-2 --dir ~/shop"})),
		leaf(spec{use: "doctor [--dir DIR]", short: "check the Claude Code hooks of DIR, their token and the writer they reach", run: claudecode.RunDoctor,
			example: "  lighthouse doctor\n  lighthouse doctor --dir ~/shop"}),
	}
}
