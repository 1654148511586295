// Command lighthouse is the one CLI people and agents' hooks run: it starts
// the system, manages agents and talks to the writer and the reader.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// cmdFunc runs a subcommand with its arguments.
type cmdFunc func(ctx context.Context, args []string) error

type subcommand struct {
	run     cmdFunc
	summary string
}

func commands() map[string]subcommand {
	return map[string]subcommand{
		"up":       {runUp, "run writer, bus, reader (and fuser) in the foreground"},
		"agent":    {runAgent, "agent add NAME --role ROLE | agent list | agent remove NAME | agent rotate NAME"},
		"put":      {runPut, "put PATH [FILE] — write a file (stdin when FILE is absent)"},
		"cat":      {runCat, "cat PATH — print a file as the reader has it"},
		"rm":       {runRm, "rm PATH — delete a file"},
		"mv":       {runMv, "mv FROM TO — move a file"},
		"tree":     {runTree, "tree [PREFIX] — list files"},
		"log":      {runLog, "log [--path P] [--agent ID] [--type T] — list events"},
		"show":     {runShow, "show PATH[@POINT] — print a file as of a point (sequence, RFC 3339 time or snapshot)"},
		"diff":     {runDiff, "diff FROM [TO] [--stat] [--path P] — what changed between two points"},
		"snapshot": {runSnapshot, "snapshot NAME [-m DESCRIPTION] — name the current point"},
		"restore":  {runRestore, "restore POINT [PATH...] [--force] [--log-only] — bring files back as of a point, as new events and on disk"},
		"grep":     {runGrep, "grep PATTERN [@POINT] [-F] [-i] [--glob G] — search file contents at a point"},
		"status":   {runStatus, "status — writer head, reader applied, lag"},
		"verify":   {runVerify, "verify — check the whole hash chain of the log"},
		"bench":    {runBench, "bench [--json] [--quick] [--bin DIR] [--out FILE] [--dir DIR] [--keep] — measure the system"},
		"policy":   {runPolicy, "policy check | policy test FILE | policy explain --bash CMD — work on policy files"},
		"hook":     {runHook, "hook pre|post — Claude Code PreToolUse / PostToolUse command hooks"},
		"watch":    {runWatch, "watch [DIR] — record every change to the working tree (import, watch, spool); `up --project` runs it"},
		"init":     {runInit, "init claude [--dir DIR] [--agent NAME] [--role ROLE] — create the project's agent and add the hooks to DIR/.claude/settings.local.json"},
		"lease":    {runLease, "lease add GLOB... [--ttl D] [--shared] [-m REASON] | lease list | lease release ID — hold project paths against other agents' writes"},
		"sessions": {runSessions, "sessions — the active agent sessions, with when each was last seen"},
		"doctor":   {runDoctor, "doctor [--dir DIR] — check the Claude Code hooks of DIR, their token and the writer they reach"},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lighthouse COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nenvironment: LIGHTHOUSE_URL (writer), LIGHTHOUSE_READER_URL, LIGHTHOUSE_TOKEN, LIGHTHOUSE_DATA")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage(os.Stdout)
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands()[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "lighthouse: unknown command %q\n\n", os.Args[1])
		usage(os.Stderr)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "lighthouse:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is bad command-line input (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// connection holds the flags every client command shares.
type connection struct {
	writerURL string
	readerURL string
	token     string
	tokenFile string
	data      string
	// noAdmin refuses the fallback to DATA/admin.token: hooks run for
	// agents and must never act as the admin unless given its token.
	noAdmin bool
}

func (c *connection) register(fs *flag.FlagSet) {
	fs.StringVar(&c.writerURL, "url", config.Env("LIGHTHOUSE_URL", ""), "writer URL (env LIGHTHOUSE_URL; default: the address in DATA/writer.addr, else http://127.0.0.1:8765)")
	fs.StringVar(&c.readerURL, "reader-url", config.Env("LIGHTHOUSE_READER_URL", ""), "reader URL (env LIGHTHOUSE_READER_URL; default: the address in DATA/reader/reader.addr, else http://127.0.0.1:8766)")
	fs.StringVar(&c.token, "token", config.Env("LIGHTHOUSE_TOKEN", ""), "bearer token (env LIGHTHOUSE_TOKEN)")
	fs.StringVar(&c.tokenFile, "token-file", config.Env("LIGHTHOUSE_TOKEN_FILE", ""), "file holding the bearer token, used when no token is given (env LIGHTHOUSE_TOKEN_FILE)")
	fs.StringVar(&c.data, "data", config.Env("LIGHTHOUSE_DATA", ""), "data directory (env LIGHTHOUSE_DATA; default: the one `lighthouse up` uses for the project this directory is in)")
}

// dataDir returns the data directory: --data, else that of the project the
// working directory is in.
func (c *connection) dataDir() (string, error) {
	if c.data != "" {
		return c.data, nil
	}
	d, err := config.FindDataDir(".")
	if err != nil {
		return "", err
	}
	c.data = d
	return d, nil
}

// resolveToken returns the token: --token or LIGHTHOUSE_TOKEN, else the
// content of --token-file, else (for people, never for hooks or inside a
// Claude Code session) the local admin token, so the quick start works
// without exporting anything.
func (c *connection) resolveToken() (string, error) {
	if c.token != "" || c.tokenFile != "" {
		t, err := config.Token(c.token, c.tokenFile)
		if err != nil {
			return "", fmt.Errorf("no token: %w", err)
		}
		return t, nil
	}
	if c.noAdmin {
		return "", errors.New("no token for this agent: set LIGHTHOUSE_TOKEN, or run `lighthouse init claude` to store one for the project (the admin token is never used by hooks)")
	}
	if os.Getenv("CLAUDECODE") != "" {
		return "", errors.New("no token: inside a Claude Code session the admin token is not used; set LIGHTHOUSE_TOKEN")
	}
	data, err := c.dataDir()
	if err != nil {
		return "", fmt.Errorf("no token: set LIGHTHOUSE_TOKEN or --token (%v)", err)
	}
	t, err := config.Token("", filepath.Join(data, "admin.token"))
	if err != nil {
		return "", fmt.Errorf("no token: set LIGHTHOUSE_TOKEN or --token (%v)", err)
	}
	return t, nil
}

// urls returns the writer's and the reader's URLs: flags or environment,
// else the addresses the running processes wrote into the data directory,
// else the defaults.
func (c *connection) urls() (writer, reader string) {
	writer, reader = c.writerURL, c.readerURL
	if writer == "" || reader == "" {
		data, err := c.dataDir()
		if writer == "" && err == nil {
			writer = config.AddrURL(filepath.Join(data, "writer.addr"))
		}
		if reader == "" && err == nil {
			reader = config.AddrURL(filepath.Join(data, "reader", "reader.addr"))
		}
	}
	if writer == "" {
		writer = "http://127.0.0.1:8765"
	}
	if reader == "" {
		reader = "http://127.0.0.1:8766"
	}
	return writer, reader
}

func (c *connection) writer() (*client.Client, error) {
	t, err := c.resolveToken()
	if err != nil {
		return nil, err
	}
	w, _ := c.urls()
	return client.New(w, t), nil
}

func (c *connection) reader() (*client.Client, error) {
	t, err := c.resolveToken()
	if err != nil {
		return nil, err
	}
	_, r := c.urls()
	return client.New(r, t), nil
}

// writerHead returns the writer's head sequence, or 0 when the writer
// cannot tell. Reads that wait for it see everything written before them.
func (c *connection) writerHead(ctx context.Context) uint64 {
	w, err := c.writer()
	if err != nil {
		return 0
	}
	var st struct {
		Head uint64 `json:"head"`
	}
	if _, err := w.Do(ctx, "GET", "/v1/status", nil, nil, &st); err != nil {
		return 0
	}
	return st.Head
}

// parseWriter parses a client command's arguments and returns a writer client.
func (c *connection) parseWriter(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, *client.Client, error) {
	pos, err := parse(fs, args, minArgs, maxArgs)
	if err != nil {
		return nil, nil, err
	}
	w, err := c.writer()
	return pos, w, err
}

// parseReader parses a client command's arguments and returns a reader client.
func (c *connection) parseReader(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, *client.Client, error) {
	pos, err := parse(fs, args, minArgs, maxArgs)
	if err != nil {
		return nil, nil, err
	}
	r, err := c.reader()
	return pos, r, err
}

// parse parses flags that may come before or after the positional
// arguments, and checks the count of positionals.
func parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stdout)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minArgs || (maxArgs >= 0 && len(pos) > maxArgs) {
		return nil, usagef("%s: wrong number of arguments (%s)", fs.Name(), strings.Join(pos, " "))
	}
	return pos, nil
}
