package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// runUp is `lighthouse up [--project DIR]`: the whole system in the
// foreground, guarding DIR.
func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var cfg supervisor.Config
	var noMount bool
	project := fs.String("project", config.Env("LIGHTHOUSE_PROJECT", "."), "the project directory to guard and shadow (env LIGHTHOUSE_PROJECT)")
	fs.StringVar(&cfg.Data, "data", config.Env("LIGHTHOUSE_DATA", ""), "data directory (env LIGHTHOUSE_DATA; default: one per project in $XDG_STATE_HOME/lighthouse/projects, outside the project)")
	fs.StringVar(&cfg.WriterAddr, "writer-addr", config.Env("LIGHTHOUSE_WRITER_ADDR", "127.0.0.1:8765"), "writer listen address")
	fs.StringVar(&cfg.ReaderAddr, "reader-addr", config.Env("LIGHTHOUSE_READER_ADDR", "127.0.0.1:8766"), "reader listen address")
	fs.StringVar(&cfg.BusAddr, "bus-addr", config.Env("LIGHTHOUSE_BUS_ADDR", "127.0.0.1:8767"), "embedded broker listen address")
	fs.StringVar(&cfg.BusURL, "bus-url", config.Env("LIGHTHOUSE_BUS_URL", ""), "external NATS JetStream URL, or a comma-separated list of a cluster's servers, instead of the embedded broker (env LIGHTHOUSE_BUS_URL)")
	fs.StringVar(&cfg.Mount, "mount", config.Env("LIGHTHOUSE_MOUNT", ""), "FUSE mount point (default: DATA/mnt)")
	fs.BoolVar(&noMount, "no-mount", false, "do not start the fuser")
	notifyURL := fs.String("notify-url", config.Env("LIGHTHOUSE_NOTIFY_URL", ""), "post a JSON message to this webhook when an escalation opens and when it is decided (env LIGHTHOUSE_NOTIFY_URL)")
	policyFile := fs.String("policy", config.Env("LIGHTHOUSE_POLICY", ""), "project policy file (YAML) on top of the built-in policy, reloaded on change (the writer's --policy; env LIGHTHOUSE_POLICY)")
	shadowFile := fs.String("shadow-policy", config.Env("LIGHTHOUSE_SHADOW_POLICY", ""), "policy file evaluated in shadow mode: recorded in the audit, not enforced (the writer's --shadow-policy; env LIGHTHOUSE_SHADOW_POLICY)")
	reviewTimeout := fs.Duration("review-timeout", 0, "how long an escalated call waits for reviewers before it is denied (the writer's --review-timeout; default 10m)")
	fs.StringVar(&cfg.BinDir, "bin", "", "directory holding the writer, reader and fuser binaries")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	root, err := config.ProjectDir(*project)
	if err != nil {
		return usagef("up: --project: %v", err)
	}
	cfg.Project = root
	if cfg.Data == "" {
		if cfg.Data, err = config.DefaultDataDir(root); err != nil {
			return err
		}
	}
	if cfg.Data, err = filepath.Abs(cfg.Data); err != nil {
		return err
	}
	// First, before any address or file is looked at: a second `up` of
	// the same project must leave the running one alone.
	lock, err := supervisor.LockData(cfg.Data)
	if err != nil {
		return err
	}
	defer lock.Release()
	if cfg.Mount == "" && !noMount {
		cfg.Mount = filepath.Join(cfg.Data, "mnt")
	}
	if noMount {
		cfg.Mount = ""
	}
	if cfg.Mount != "" {
		if cfg.Mount, err = filepath.Abs(cfg.Mount); err != nil {
			return err
		}
	}
	if err := guardInsideProject(os.Stderr, root, cfg.Data, cfg.Mount); err != nil {
		return err
	}
	chosen := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { chosen["--"+f.Name] = true })
	ports := []portCheck{
		{"writer", "--writer-addr", &cfg.WriterAddr, chosen["--writer-addr"] || os.Getenv("LIGHTHOUSE_WRITER_ADDR") != ""},
		{"reader", "--reader-addr", &cfg.ReaderAddr, chosen["--reader-addr"] || os.Getenv("LIGHTHOUSE_READER_ADDR") != ""},
	}
	if cfg.BusURL == "" {
		ports = append(ports, portCheck{"embedded bus", "--bus-addr", &cfg.BusAddr, chosen["--bus-addr"] || os.Getenv("LIGHTHOUSE_BUS_ADDR") != ""})
	}
	if err := checkPorts(os.Stderr, ports); err != nil {
		return err
	}
	if *notifyURL != "" {
		cfg.WriterArgs = append(cfg.WriterArgs, "--notify-url", *notifyURL)
	}
	for flagName, file := range map[string]string{"--policy": *policyFile, "--shadow-policy": *shadowFile} {
		if file == "" {
			continue
		}
		abs, err := filepath.Abs(file)
		if err != nil {
			return fmt.Errorf("%s: %w", flagName, err)
		}
		real := abs
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			real = r // a link outside the project to a file inside it
		}
		if config.Within(real, root) {
			fmt.Fprintf(os.Stderr, "warning: the policy file %s is inside the project %s; the gate blocks an agent's tool that names it or moves a directory above it, "+
				"but not one that reaches it by walking a directory (find -exec, globs, grep -r) or through a symlink: keep it outside the project\n", real, root)
		}
		cfg.WriterArgs = append(cfg.WriterArgs, flagName, abs)
	}
	if *reviewTimeout < 0 {
		return usagef("up: --review-timeout must be positive")
	}
	if *reviewTimeout > 0 {
		cfg.WriterArgs = append(cfg.WriterArgs, "--review-timeout", reviewTimeout.String())
	}
	sys, err := supervisor.StartSystem(ctx, cfg)
	if err != nil {
		return err
	}
	// The summary goes out in one write, so whoever reads "lighthouse is
	// up" has the whole of it.
	adminToken, _ := config.OwnTokenFile(cfg.Data, domain.AgentAdmin)
	summary := fmt.Appendf(nil, "lighthouse is up\n  project %s\n  writer  %s\n  reader  %s\n  console %s/console/ (sign in with a token)\n  data    %s\n  admin token in %s\n",
		root, sys.WriterURL, sys.ReaderURL, sys.ReaderURL, cfg.Data, adminToken)
	switch {
	case sys.Fuser != nil:
		summary = fmt.Appendf(summary, "  mount   %s\n", cfg.Mount)
	case cfg.Mount != "":
		summary = fmt.Appendf(summary, "  mount   not available: %v (the rest runs)\n", sys.FuserError)
	}
	summary = append(summary, "Ctrl-C or SIGTERM stops everything; a process that crashes is restarted.\n"...)
	os.Stderr.Write(summary)
	superviseErr := sys.Supervise(ctx, os.Stderr, supervisor.DefaultRestartPolicy())
	stopErr := sys.Stop()
	if superviseErr != nil {
		return fmt.Errorf("%w; stopped the rest", superviseErr)
	}
	return stopErr
}

// portCheck is one address `up` listens on. Chosen is true when the user
// named it (flag or environment); a default may move, a chosen one never.
type portCheck struct {
	what, flag string
	addr       *string
	chosen     bool
}

// checkPorts makes sure every address can be listened on. A default
// address already in use (typically another project's `lighthouse up`)
// moves to a free port on the same host, said on w: every command finds
// the address in the project's data directory, so a second project runs
// without flags. A chosen address in use is an error naming it and its flag.
func checkPorts(w io.Writer, ports []portCheck) error {
	for _, p := range ports {
		if *p.addr == "" {
			continue
		}
		l, err := net.Listen("tcp", *p.addr)
		if err == nil {
			l.Close()
			continue
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("the %s cannot listen on %s (%s): %w", p.what, *p.addr, p.flag, err)
		}
		if p.chosen {
			return fmt.Errorf("the %s's address %s is already in use (another `lighthouse up`?); stop it or choose another with %s: %w", p.what, *p.addr, p.flag, err)
		}
		host, _, splitErr := net.SplitHostPort(*p.addr)
		if splitErr != nil {
			return fmt.Errorf("the %s's address %s (%s): %w", p.what, *p.addr, p.flag, splitErr)
		}
		fmt.Fprintf(w, "note: the %s's default address %s is in use (another project's `lighthouse up`?); it takes a free port instead, which every command finds in the data directory\n", p.what, *p.addr)
		*p.addr = net.JoinHostPort(host, "0")
	}
	return nil
}

// guardInsideProject warns when Lighthouse's data directory or mount lies
// inside the guarded project, and lists them in the project's .gitignore so
// the store and the tokens are never committed. The writer protects both
// from the agents wherever they are (--protect and its own data directory).
func guardInsideProject(w io.Writer, root string, paths ...string) error {
	var ignore []string
	for _, p := range paths {
		if p == "" || !config.Within(p, root) {
			continue
		}
		if p == root {
			return usagef("up: %s is the project itself; Lighthouse's data and mount must not be the project", p)
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(w, "warning: %s is inside the project %s; the gate blocks every agent access to it, but keep it outside (the default) so agents never come across it\n", p, root)
		ignore = append(ignore, "/"+filepath.ToSlash(rel)+"/")
	}
	if len(ignore) == 0 {
		return nil
	}
	return config.AddToGitignore(filepath.Join(root, ".gitignore"), "its own data (tokens, store, mount)", ignore)
}
