// Command fuser builds its own projection from the event stream and serves
// it as a read-only FUSE filesystem.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/fusefs"
	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
	"github.com/lighthouse-ai/lighthouse/infra/replica"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

type settings struct {
	replica.Settings
	mount string
	addr  string
}

func main() {
	var s settings
	fs := flag.NewFlagSet("fuser", flag.ExitOnError)
	s.Register(fs, "fuser")
	fs.StringVar(&s.mount, "mount", config.Env("LIGHTHOUSE_MOUNT", ".lighthouse/mnt"), "mount point (env LIGHTHOUSE_MOUNT)")
	fs.StringVar(&s.addr, "addr", config.Env("LIGHTHOUSE_FUSER_ADDR", "127.0.0.1:8768"), "health endpoint address (env LIGHTHOUSE_FUSER_ADDR)")
	fs.Parse(os.Args[1:])

	config.RunDaemon("fuser", s.LogLevel, func(ctx context.Context, log *slog.Logger) error { return run(ctx, s, log) })
}

// noFUSE is a failure to mount: the fuser exits with the status the
// supervisor reads as "FUSE is not available here".
type noFUSE struct{ reason string }

func (e noFUSE) Error() string { return "FUSE is not available: " + e.reason }
func (noFUSE) ExitCode() int   { return supervisor.FuserExitNoFUSE }

func run(parent context.Context, s settings, log *slog.Logger) error {
	if err := s.Check(); err != nil {
		return err
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return noFUSE{"/dev/fuse is missing (install fuse3, or in a container add the /dev/fuse device and SYS_ADMIN)"}
	}
	// The mount point is not touched here: after a crash it may be a stale
	// FUSE mount that every stat or mkdir fails on. Mount detaches it first,
	// then creates the directory.
	reg := metrics.NewRegistry("fuser")
	r, err := replica.Open(s.Settings, log, reg)
	if err != nil {
		return err
	}
	defer r.Close()
	fsys := fusefs.New(&source{model: r.Model, blobs: r.Blobs}, fusefs.Options{Logger: log.With("component", "fuse"), Metrics: metrics.NewFUSE(reg)})
	r.Model.OnChange(fsys.Changed)
	// A projection rebuilt from the log may differ anywhere.
	r.Model.OnReset(func() { fsys.Changed(0, nil) })

	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	mnt, err := fsys.Mount(ctx, s.mount)
	if err != nil {
		return noFUSE{fmt.Sprintf("mount %s: %v", s.mount, err)}
	}
	defer mnt.Close()
	log.Info("mounted", "mount", s.mount)

	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		if err := r.Run(ctx); err != nil {
			cancel(err)
		}
	}()
	go func() {
		mnt.Wait()
		cancel(errors.New("unmounted from outside"))
	}()
	err = httpapi.Serve(ctx, log, httpapi.HealthHandler(log, r.Ready, httpapi.Metrics{HTTP: metrics.NewHTTP(reg), Handler: metrics.Handler(reg)}),
		httpapi.ServeOptions{Addr: s.addr, AddrFile: filepath.Join(s.Data, "fuser.addr")})
	cancel(nil)
	<-followDone
	if err == nil && parent.Err() == nil {
		err = context.Cause(ctx) // a part failed; a signal is a clean stop
	}
	return err
}
