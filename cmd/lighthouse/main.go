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
		"agent":    {runAgent, "agent add NAME --role ROLE | agent list"},
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
		"init":     {runInit, "init claude [--dir DIR] [--command CMD] — add the hooks to DIR/.claude/settings.json"},
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
	data      string
}

func (c *connection) register(fs *flag.FlagSet) {
	fs.StringVar(&c.writerURL, "url", config.Env("LIGHTHOUSE_URL", "http://127.0.0.1:8765"), "writer URL (env LIGHTHOUSE_URL)")
	fs.StringVar(&c.readerURL, "reader-url", config.Env("LIGHTHOUSE_READER_URL", "http://127.0.0.1:8766"), "reader URL (env LIGHTHOUSE_READER_URL)")
	fs.StringVar(&c.token, "token", config.Env("LIGHTHOUSE_TOKEN", ""), "bearer token (env LIGHTHOUSE_TOKEN; default: DATA/admin.token)")
	fs.StringVar(&c.data, "data", config.Env("LIGHTHOUSE_DATA", ".lighthouse"), "data directory, for the default token (env LIGHTHOUSE_DATA)")
}

// resolveToken falls back to the local admin token, so the quick start works
// without exporting anything.
func (c *connection) resolveToken() (string, error) {
	t, err := config.Token(c.token, filepath.Join(c.data, "admin.token"))
	if err != nil {
		return "", fmt.Errorf("no token: set LIGHTHOUSE_TOKEN or --token (%v)", err)
	}
	return t, nil
}

func (c *connection) writer() (*client.Client, error) {
	t, err := c.resolveToken()
	if err != nil {
		return nil, err
	}
	return client.New(c.writerURL, t), nil
}

func (c *connection) reader() (*client.Client, error) {
	t, err := c.resolveToken()
	if err != nil {
		return nil, err
	}
	return client.New(c.readerURL, t), nil
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
