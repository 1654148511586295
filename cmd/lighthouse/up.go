package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var cfg supervisor.Config
	var noMount bool
	fs.StringVar(&cfg.Data, "data", config.Env("LIGHTHOUSE_DATA", ".lighthouse"), "data directory (env LIGHTHOUSE_DATA)")
	fs.StringVar(&cfg.WriterAddr, "writer-addr", config.Env("LIGHTHOUSE_WRITER_ADDR", "127.0.0.1:8765"), "writer listen address")
	fs.StringVar(&cfg.ReaderAddr, "reader-addr", config.Env("LIGHTHOUSE_READER_ADDR", "127.0.0.1:8766"), "reader listen address")
	fs.StringVar(&cfg.BusAddr, "bus-addr", config.Env("LIGHTHOUSE_BUS_ADDR", "127.0.0.1:8767"), "embedded broker listen address")
	fs.StringVar(&cfg.BusURL, "bus-url", config.Env("LIGHTHOUSE_BUS_URL", ""), "external NATS JetStream URL instead of the embedded broker")
	fs.StringVar(&cfg.Mount, "mount", config.Env("LIGHTHOUSE_MOUNT", ""), "FUSE mount point (default DATA/../mnt is not assumed: DATA/mnt)")
	fs.BoolVar(&noMount, "no-mount", false, "do not start the fuser")
	fs.StringVar(&cfg.BinDir, "bin", "", "directory holding the writer, reader and fuser binaries")
	fs.StringVar(&cfg.Project, "project", "", "project directory the watcher shadows (issue 8 resolves the default)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if cfg.Mount == "" && !noMount {
		cfg.Mount = filepath.Join(cfg.Data, "mnt")
	}
	if noMount {
		cfg.Mount = ""
	}
	sys, err := supervisor.StartSystem(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "lighthouse is up\n  writer  %s\n  reader  %s\n  admin token in %s\n",
		sys.WriterURL, sys.ReaderURL, filepath.Join(cfg.Data, "admin.token"))
	switch {
	case sys.Fuser != nil:
		fmt.Fprintf(os.Stderr, "  mount   %s\n", cfg.Mount)
	case cfg.Mount != "":
		fmt.Fprintf(os.Stderr, "  mount   not available: %v (the rest runs)\n", sys.FuserError)
	}
	fmt.Fprintln(os.Stderr, "Ctrl-C or SIGTERM stops everything.")
	var exited *supervisor.Process
	select {
	case <-ctx.Done():
	case <-sys.Writer.Done():
		exited = sys.Writer
	case <-sys.Reader.Done():
		exited = sys.Reader
	case <-fuserDone(sys):
		exited = sys.Fuser
	case <-watcherDone(sys):
		exited = sys.Watcher
	}
	stopErr := sys.Stop()
	if exited != nil {
		return fmt.Errorf("%s exited unexpectedly (%v); stopped the rest", exited.Name, exited.Err())
	}
	return stopErr
}

func fuserDone(sys *supervisor.System) <-chan struct{} {
	if sys.Fuser == nil {
		return nil
	}
	return sys.Fuser.Done()
}

func watcherDone(sys *supervisor.System) <-chan struct{} {
	if sys.Watcher == nil {
		return nil
	}
	return sys.Watcher.Done()
}
