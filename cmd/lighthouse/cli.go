package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// cmdFunc runs a subcommand with its arguments (flags included: each
// command parses its own, with the standard flag package, so flags go
// before or after the arguments and -flag and --flag both work).
type cmdFunc func(ctx context.Context, args []string) error

// Exit statuses of the CLI. Hooks exit with their own codes (hook.go).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := config.SignalContext(context.Background())
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs the CLI with args and returns the exit status: 0, 1 for a
// failure, 2 for bad usage (unknown command, bad flag, wrong arguments).
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var se statusError
	if errors.As(err, &se) && se.err == nil {
		return se.code
	}
	var re runError
	if !errors.As(err, &re) {
		// cobra's own errors: an unknown command or a bad argument count.
		fmt.Fprintln(stderr, "lighthouse:", err)
		fmt.Fprintln(stderr, "Run `lighthouse help` for the commands.")
		return exitUsage
	}
	fmt.Fprintln(stderr, "lighthouse:", re.err)
	var ce *client.Error
	if errors.As(re.err, &ce) && ce.URL != "" && !strings.Contains(re.err.Error(), ce.URL) {
		fmt.Fprintf(stderr, "(answered %s %s)\n", ce.Method, ce.URL)
	}
	if hint := unreachableHint(re.err); hint != "" {
		fmt.Fprintln(stderr, hint)
	}
	var ue usageError
	if errors.As(re.err, &ue) {
		if re.use != "" {
			fmt.Fprintf(stderr, "Usage: %s\nRun `%s --help` for its flags and examples.\n", re.use, re.path)
		}
		return exitUsage
	}
	if errors.As(re.err, &se) {
		return se.code
	}
	return exitFailure
}

// runError is an error a command returned, as opposed to one of cobra's,
// with the command's usage line and path for usage errors.
type runError struct {
	err       error
	use, path string
}

func (e runError) Error() string { return e.err.Error() }
func (e runError) Unwrap() error { return e.err }

// statusError is a command's own exit status, for commands whose statuses
// follow a convention other than the CLI's (grep: 1 for no match, 2 for an
// error). A nil err exits silently.
type statusError struct {
	code int
	err  error
}

func (e statusError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e statusError) Unwrap() error { return e.err }

// unreachableHint explains a failed connection to the writer or reader,
// naming the URL tried.
func unreachableHint(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return ""
	}
	var oe *net.OpError
	if !errors.As(err, &oe) && !errors.Is(err, syscall.ECONNREFUSED) {
		return ""
	}
	base := ue.URL
	if u, perr := url.Parse(ue.URL); perr == nil {
		base = u.Scheme + "://" + u.Host
	}
	return fmt.Sprintf("hint: nothing answered at %s. Is `lighthouse up` running for this project? "+
		"Commands find it through the data directory (--data, LIGHTHOUSE_DATA); --url / LIGHTHOUSE_URL name the writer, "+
		"--reader-url / LIGHTHOUSE_READER_URL the reader.", base)
}

// spec describes one command built on an existing cmdFunc.
type spec struct {
	use     string
	short   string
	long    string
	example string
	run     cmdFunc
	// prefix is passed before the arguments (a subcommand's name for
	// commands that dispatch on their first argument).
	prefix []string
	// aliases are other names of the command.
	aliases []string
	// flags prints the command's flags for help; nil runs it with -h.
	flags func()
	// ownHelp passes -h and --help to run (the hooks answer them with
	// their own exit codes).
	ownHelp bool
}

// leaf wraps a cmdFunc in a cobra command. The command parses its own
// flags, so cobra hands it every argument; -h and --help print cobra's
// help followed by the command's flags.
func leaf(s spec) *cobra.Command {
	c := &cobra.Command{
		Use:                s.use,
		Short:              s.short,
		Long:               s.long,
		Example:            s.example,
		Aliases:            s.aliases,
		DisableFlagParsing: true,
		// The use line lists the flags people need; --help prints them all.
		DisableFlagsInUseLine: true,
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if !s.ownHelp && wantsHelp(args) {
			return cmd.Help()
		}
		if err := s.run(cmd.Context(), append(append([]string{}, s.prefix...), args...)); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return runError{err: err, use: cmd.UseLine(), path: cmd.CommandPath()}
		}
		return nil
	}
	c.SetHelpFunc(func(cmd *cobra.Command, _ []string) {
		w := cmd.OutOrStdout()
		if cmd.Long != "" {
			fmt.Fprintln(w, strings.TrimSpace(cmd.Long))
		} else {
			fmt.Fprintln(w, cmd.Short)
		}
		fmt.Fprintf(w, "\nUsage:\n  %s\n", cmd.UseLine())
		if cmd.Example != "" {
			fmt.Fprintf(w, "\nExamples:\n%s\n", cmd.Example)
		}
		fmt.Fprintln(w, "\nFlags:")
		printFlags(s)
	})
	return c
}

// printFlags prints the flags of s: by default its cmdFunc run with -h,
// which prints them on stdout.
func printFlags(s spec) {
	if s.flags != nil {
		s.flags()
		return
	}
	if s.run != nil {
		_ = s.run(context.Background(), append(append([]string{}, s.prefix...), "-h"))
	}
}

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// group is a command whose subcommands do the work.
func group(use, short, long, example string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Long: long, Example: example,
		RunE: func(cmd *cobra.Command, args []string) error {
			_ = cmd.Help()
			return runError{err: usagef("%s: want a subcommand", cmd.CommandPath())}
		}}
	c.Args = noSubcommand
	c.AddCommand(subs...)
	return c
}

// noSubcommand is the Args check of a command with subcommands: an
// argument is an unknown subcommand, reported with the closest names.
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return runError{err: usagef("%s; the commands of %s: %s", msg, cmd.CommandPath(), subcommandNames(cmd))}
}

// subcommandNames lists the names of c's available subcommands.
func subcommandNames(c *cobra.Command) string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return strings.Join(names, ", ")
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "lighthouse",
		Short: "gate, shadow and review AI coding agents' tool calls",
		Long: `lighthouse starts the system (up), manages agents, files, history and
policies, runs Claude Code's hooks and lets people review escalated calls.

Every command run inside a guarded project finds its data directory, and
from it the writer's and the reader's addresses. Environment:
  LIGHTHOUSE_DATA        the data directory (--data)
  LIGHTHOUSE_URL         the writer (--url)
  LIGHTHOUSE_READER_URL  the reader (--reader-url)
  LIGHTHOUSE_TOKEN       a bearer token (--token); LIGHTHOUSE_TOKEN_FILE a file holding one

Exit status: 0 ok, 1 failure, 2 bad usage. Hooks keep Claude Code's codes.`,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noSubcommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			_ = cmd.Help()
			return runError{err: usagef("want a command")}
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.CompletionOptions.HiddenDefaultCmd = false
	root.AddCommand(systemCommands()...)
	root.AddCommand(fileCommands()...)
	root.AddCommand(reviewCommands()...)
	root.AddCommand(claudeCommands()...)
	root.AddCommand(leaf(spec{use: "version [--json]", short: "print the version of this binary", run: runVersion,
		example: "  lighthouse version\n  lighthouse version --json"}))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })
	return root
}

// buildInfo is what `lighthouse version` prints.
type buildInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	Commit  string `json:"commit,omitempty"`
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				b.Commit = s.Value
			}
		}
	}
	return b
}

func versionString() string {
	b := readBuildInfo()
	s := fmt.Sprintf("lighthouse %s %s %s/%s", b.Version, b.Go, b.OS, b.Arch)
	if b.Commit != "" {
		s += " " + b.Commit
	}
	return s
}

func runVersion(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(readBuildInfo())
	}
	fmt.Println(versionString())
	return nil
}

// printReaderJSON prints a JSON answer of the reader as it came, every field
// of it, indented.
func printReaderJSON(ctx context.Context, r *client.Client, path string) error {
	var raw json.RawMessage
	if _, err := r.Do(ctx, http.MethodGet, path, nil, nil, &raw); err != nil {
		return err
	}
	return printJSON(raw)
}

// printJSON prints v as indented JSON on stdout.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
