package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
	"github.com/lighthouse-ai/lighthouse/infra/watcher"
)

// runWatch is `lighthouse watch DIR`: the working-tree watcher in the
// foreground (`up` runs the same as its own process).
func runWatch(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	writerURL := fs.String("url", config.Env("LIGHTHOUSE_URL", ""), "writer URL (env LIGHTHOUSE_URL; default: the address in DATA/writer.addr)")
	data := fs.String("data", config.Env("LIGHTHOUSE_DATA", ".lighthouse"), "data directory: the watcher's token, spool and socket (env LIGHTHOUSE_DATA)")
	tokenFile := fs.String("token-file", "", "the watcher identity's token (default DATA/watcher.token)")
	mount := fs.String("skip", "", "another directory never shadowed (the mount)")
	poll := fs.Bool("poll", false, "scan periodically instead of using kernel file notifications")
	interval := fs.Duration("scan-interval", time.Second, "time between scans when polling")
	level := fs.String("log-level", config.Env("LIGHTHOUSE_LOG_LEVEL", "info"), "debug, info, warn or error")
	pos, err := parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	if *writerURL == "" {
		// Never a default port: the watcher's token would go to whatever
		// listens there (cli.Connection.URLs says the same).
		file := filepath.Join(*data, "writer.addr")
		if *writerURL = config.AddrURL(file); *writerURL == "" {
			return fmt.Errorf("watch: no writer address in %s: is the project's writer running? (or set --url)", file)
		}
	}
	if *tokenFile == "" {
		*tokenFile, _ = config.OwnTokenFile(*data, domain.AgentWatcher)
	}
	token, err := config.Token("", *tokenFile)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	log, err := config.Logger(*level, "watcher")
	if err != nil {
		return err
	}
	var skip []string
	if *mount != "" {
		skip = append(skip, *mount)
	}
	writer := client.New(*writerURL, token)
	client.FollowTokenFile(writer, *tokenFile) // so `agent rotate lighthouse-watcher` needs no restart
	w, err := watcher.New(watcher.Config{Metrics: metrics.Handler(metrics.NewRegistry("watcher")), Dir: dir, Data: *data, Skip: skip, Writer: writer,
		Log: log, Poll: *poll, ScanInterval: *interval})
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-w.Ready():
			fmt.Fprintf(os.Stderr, "watching %s (socket %s)\n", dir, filepath.Join(*data, watcher.SocketName))
		case <-ctx.Done():
		}
	}()
	if err := w.Run(ctx); err != nil {
		log.Error("watcher failed", "err", err)
		return err
	}
	log.Info("watcher stopped")
	return nil
}
