// Command reader builds projections from the event stream and serves
// queries over REST.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
	"github.com/lighthouse-ai/lighthouse/infra/bus"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
	"github.com/lighthouse-ai/lighthouse/projections"
	"github.com/lighthouse-ai/lighthouse/query"
)

type settings struct {
	data      string
	addr      string
	writerURL string
	busURL    string
	token     string
	tokenFile string
	name      string
	rate      float64
	burst     int
	logLevel  string
}

func main() {
	var s settings
	fs := flag.NewFlagSet("reader", flag.ExitOnError)
	fs.StringVar(&s.data, "data", config.Env("LIGHTHOUSE_READER_DATA", ".lighthouse/reader"), "the reader's own data directory (env LIGHTHOUSE_READER_DATA)")
	fs.StringVar(&s.addr, "addr", config.Env("LIGHTHOUSE_READER_ADDR", "127.0.0.1:8766"), "HTTP listen address (env LIGHTHOUSE_READER_ADDR)")
	fs.StringVar(&s.writerURL, "writer-url", config.Env("LIGHTHOUSE_URL", "http://127.0.0.1:8765"), "the writer, for backfill and content (env LIGHTHOUSE_URL)")
	fs.StringVar(&s.busURL, "bus-url", config.Env("LIGHTHOUSE_BUS_URL", ""), "NATS JetStream URL (env LIGHTHOUSE_BUS_URL)")
	fs.StringVar(&s.token, "token", config.Env("LIGHTHOUSE_TOKEN", ""), "bearer token for the writer (env LIGHTHOUSE_TOKEN)")
	fs.StringVar(&s.tokenFile, "token-file", "", "file holding the bearer token")
	fs.StringVar(&s.name, "name", "lighthouse-reader", "name of this reader on the bus")
	fs.Float64Var(&s.rate, "rate", 5000, "requests per second allowed per agent; 0 disables the limit")
	fs.IntVar(&s.burst, "burst", 10000, "burst of requests allowed per agent")
	fs.StringVar(&s.logLevel, "log-level", config.Env("LIGHTHOUSE_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.Parse(os.Args[1:])

	log, err := config.Logger(s.logLevel, "reader")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reader:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, s, log); err != nil {
		log.Error("reader failed", "err", err)
		fmt.Fprintln(os.Stderr, "reader:", err)
		os.Exit(1)
	}
	log.Info("reader stopped")
}

func run(parent context.Context, s settings, log *slog.Logger) error {
	ctx := parent
	if s.busURL == "" {
		return fmt.Errorf("no bus: pass --bus-url or set LIGHTHOUSE_BUS_URL")
	}
	token, err := config.Token(s.token, s.tokenFile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.data, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	agents := projections.NewAgents()
	model, err := projections.Open(filepath.Join(s.data, "projection"), log, agents)
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
	mirror := &blobstore.Mirror{Local: local, Client: writer.HTTP, URL: writer.BaseURL, Token: token}

	sub, err := bus.NewSubscriber(s.busURL, s.name, log.With("component", "bus"))
	if err != nil {
		return err
	}
	defer sub.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	caughtUp := make(chan struct{})
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		f := &bus.Follower{Subscriber: sub, Backfill: writer, Target: model, Log: log.With("component", "follower"), OnCaughtUp: func() { close(caughtUp) }}
		if err := f.Run(ctx); err != nil {
			cancel(fmt.Errorf("follow: %w", err))
		}
	}()

	api := &httpapi.Reader{
		Log:      log,
		Agents:   agents,
		Progress: model,
		WriterHead: func(ctx context.Context) (uint64, error) {
			var st httpapi.WriterStatus
			_, err := writer.Do(ctx, "GET", "/v1/status", nil, nil, &st)
			return st.Head, err
		},
		Tree:    query.TreeHandler{Model: model},
		File:    query.FileHandler{Model: model, Content: content{mirror}},
		History: query.HistoryHandler{Model: model},
		Events:  query.EventsHandler{Model: model},
		Diff:    query.DiffHandler{Model: model, Content: content{mirror}},
		Search:  query.SearchHandler{Model: model, Content: content{mirror}},
		Limits:  httpapi.Limits{RatePerSecond: s.rate, Burst: s.burst},
		MaxWait: 30 * time.Second,
		Ready: func() error {
			select {
			case <-caughtUp:
				return nil
			default:
				return fmt.Errorf("catching up")
			}
		},
	}
	err = httpapi.Serve(ctx, log, api.Handler(), s.addr, filepath.Join(s.data, "reader.addr"))
	cancel(nil)
	<-followDone
	if err == nil && parent.Err() == nil {
		err = context.Cause(ctx) // a part failed; a signal is a clean stop
	}
	return err
}

// content adapts the blob mirror to the query side.
type content struct{ m *blobstore.Mirror }

func (c content) Open(ctx context.Context, hash string) (query.ReadSeekCloser, error) {
	return c.m.Open(ctx, hash)
}
