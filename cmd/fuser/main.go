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
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
	"github.com/lighthouse-ai/lighthouse/infra/bus"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/fusefs"
	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
	"github.com/lighthouse-ai/lighthouse/projections"
)

type settings struct {
	data      string
	mount     string
	addr      string
	writerURL string
	busURL    string
	token     string
	tokenFile string
	name      string
	logLevel  string
}

// exitNoFUSE is the exit status when FUSE cannot be mounted here.
const exitNoFUSE = 3

func main() {
	var s settings
	fs := flag.NewFlagSet("fuser", flag.ExitOnError)
	fs.StringVar(&s.data, "data", config.Env("LIGHTHOUSE_FUSER_DATA", ".lighthouse/fuser"), "the fuser's own data directory (env LIGHTHOUSE_FUSER_DATA)")
	fs.StringVar(&s.mount, "mount", config.Env("LIGHTHOUSE_MOUNT", ".lighthouse/mnt"), "mount point (env LIGHTHOUSE_MOUNT)")
	fs.StringVar(&s.addr, "addr", config.Env("LIGHTHOUSE_FUSER_ADDR", "127.0.0.1:8768"), "health endpoint address (env LIGHTHOUSE_FUSER_ADDR)")
	fs.StringVar(&s.writerURL, "writer-url", config.Env("LIGHTHOUSE_URL", "http://127.0.0.1:8765"), "the writer, for backfill and content (env LIGHTHOUSE_URL)")
	fs.StringVar(&s.busURL, "bus-url", config.Env("LIGHTHOUSE_BUS_URL", ""), "NATS JetStream URL (env LIGHTHOUSE_BUS_URL)")
	fs.StringVar(&s.token, "token", config.Env("LIGHTHOUSE_TOKEN", ""), "bearer token for the writer (env LIGHTHOUSE_TOKEN)")
	fs.StringVar(&s.tokenFile, "token-file", "", "file holding the bearer token")
	fs.StringVar(&s.name, "name", "lighthouse-fuser", "name of this fuser on the bus")
	fs.StringVar(&s.logLevel, "log-level", config.Env("LIGHTHOUSE_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.Parse(os.Args[1:])

	log, err := config.Logger(s.logLevel, "fuser")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuser:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, s, log); err != nil {
		log.Error("fuser failed", "err", err)
		fmt.Fprintln(os.Stderr, "fuser:", err)
		if errors.Is(err, errNoFUSE) {
			os.Exit(exitNoFUSE)
		}
		os.Exit(1)
	}
	log.Info("fuser stopped")
}

var errNoFUSE = errors.New("FUSE is not available")

func run(parent context.Context, s settings, log *slog.Logger) error {
	if s.busURL == "" {
		return fmt.Errorf("no bus: pass --bus-url or set LIGHTHOUSE_BUS_URL")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("%w: /dev/fuse is missing (install fuse3, or in a container add the /dev/fuse device and SYS_ADMIN)", errNoFUSE)
	}
	token, err := config.Token(s.token, s.tokenFile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.data, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := os.MkdirAll(s.mount, 0o755); err != nil {
		return fmt.Errorf("create mount point: %w", err)
	}
	model, err := projections.Open(filepath.Join(s.data, "projection"), log, projections.NewAgents())
	if err != nil {
		return err
	}
	defer model.Close()
	log.Info("projection opened", "position", model.Head())
	local, err := blobstore.Open(filepath.Join(s.data, "blobs"), model)
	if err != nil {
		return err
	}
	writer := client.New(s.writerURL, token)
	src := &source{model: model, blobs: &blobstore.Mirror{Local: local, Client: writer.HTTP, URL: writer.BaseURL, Token: token}}
	fsys := fusefs.New(src, fusefs.Options{Logger: log.With("component", "fuse")})
	model.OnChange(func(seq uint64, paths []string) {
		if paths == nil {
			paths = []string{}
		}
		fsys.Changed(seq, paths)
	})

	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	mnt, err := fsys.Mount(ctx, s.mount)
	if err != nil {
		return fmt.Errorf("%w: mount %s: %v", errNoFUSE, s.mount, err)
	}
	defer mnt.Close()
	log.Info("mounted", "mount", s.mount)

	sub, err := bus.NewSubscriber(s.busURL, s.name, log.With("component", "bus"))
	if err != nil {
		return err
	}
	defer sub.Close()
	caughtUp := make(chan struct{})
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		f := &bus.Follower{Subscriber: sub, Backfill: writer, Target: model, Log: log.With("component", "follower"), OnCaughtUp: func() { close(caughtUp) }}
		if err := f.Run(ctx); err != nil {
			cancel(fmt.Errorf("follow: %w", err))
		}
	}()
	go func() {
		mnt.Wait() // unmounted from outside: stop
		cancel(errors.New("unmounted from outside"))
	}()
	health := httpapi.HealthHandler(log, func() error {
		select {
		case <-caughtUp:
			return nil
		default:
			return fmt.Errorf("catching up")
		}
	})
	err = httpapi.Serve(ctx, log, health, s.addr, filepath.Join(s.data, "fuser.addr"))
	cancel(nil)
	<-followDone
	if err == nil && parent.Err() == nil {
		err = context.Cause(ctx)
	}
	return err
}
