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
	ports := []portCheck{{"writer", "--writer-addr", cfg.WriterAddr}, {"reader", "--reader-addr", cfg.ReaderAddr}}
	if cfg.BusURL == "" {
		ports = append(ports, portCheck{"embedded bus", "--bus-addr", cfg.BusAddr})
	}
	if err := checkPorts(ports); err != nil {
		return err
	}
	if *notifyURL != "" {
		cfg.WriterArgs = append(cfg.WriterArgs, "--notify-url", *notifyURL)
	}
	sys, err := supervisor.StartSystem(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "lighthouse is up\n  project %s\n  writer  %s\n  reader  %s\n  console %s/console/ (sign in with a token)\n  data    %s\n  admin token in %s\n",
		root, sys.WriterURL, sys.ReaderURL, sys.ReaderURL, cfg.Data, filepath.Join(cfg.Data, "admin.token"))
	switch {
	case sys.Fuser != nil:
		fmt.Fprintf(os.Stderr, "  mount   %s\n", cfg.Mount)
	case cfg.Mount != "":
		fmt.Fprintf(os.Stderr, "  mount   not available: %v (the rest runs)\n", sys.FuserError)
	}
	fmt.Fprintln(os.Stderr, "Ctrl-C or SIGTERM stops everything; a process that crashes is restarted.")
	superviseErr := sys.Supervise(ctx, os.Stderr, supervisor.DefaultRestartPolicy())
	stopErr := sys.Stop()
	if superviseErr != nil {
		return fmt.Errorf("%w; stopped the rest", superviseErr)
	}
	return stopErr
}

// portCheck is one address `up` listens on.
type portCheck struct{ what, flag, addr string }

// checkPorts fails, naming the address and the flag that moves it, when
// one of the addresses is already taken.
func checkPorts(ports []portCheck) error {
	for _, p := range ports {
		if p.addr == "" {
			continue
		}
		l, err := net.Listen("tcp", p.addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("the %s's address %s is already in use (another `lighthouse up`?); stop it or choose another with %s: %w", p.what, p.addr, p.flag, err)
			}
			return fmt.Errorf("the %s cannot listen on %s (%s): %w", p.what, p.addr, p.flag, err)
		}
		l.Close()
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
	return config.AddToGitignore(filepath.Join(root, ".gitignore"), ignore)
}
