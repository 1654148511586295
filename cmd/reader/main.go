// Command reader builds projections from the event stream and serves
// queries over REST.
package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/console"
	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
	"github.com/lighthouse-ai/lighthouse/infra/replica"
	"github.com/lighthouse-ai/lighthouse/query"
)

type settings struct {
	replica.Settings
	addr  string
	rate  float64
	burst int
}

func main() {
	var s settings
	fs := flag.NewFlagSet("reader", flag.ExitOnError)
	s.Register(fs, "reader")
	fs.StringVar(&s.addr, "addr", config.Env("LIGHTHOUSE_READER_ADDR", "127.0.0.1:8766"), "HTTP listen address (env LIGHTHOUSE_READER_ADDR)")
	fs.Float64Var(&s.rate, "rate", 5000, "requests per second allowed per agent; 0 disables the limit")
	fs.IntVar(&s.burst, "burst", 10000, "burst of requests allowed per agent")
	fs.Parse(os.Args[1:])

	config.RunDaemon("reader", s.LogLevel, func(ctx context.Context, log *slog.Logger) error { return run(ctx, s, log) })
}

func run(parent context.Context, s settings, log *slog.Logger) error {
	reg := metrics.NewRegistry("reader")
	r, err := replica.Open(s.Settings, log, reg)
	if err != nil {
		return err
	}
	defer r.Close()

	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		if err := r.Run(ctx); err != nil {
			cancel(err)
		}
	}()

	model, blobs := r.Model, content{r.Blobs}
	api := &httpapi.Reader{
		Log:      log,
		Agents:   r.Agents,
		Progress: model,
		WriterHead: func(ctx context.Context) (uint64, error) {
			var st httpapi.WriterStatus
			_, err := r.Writer.Do(ctx, "GET", "/v1/status", nil, nil, &st)
			return st.Head, err
		},
		Tree:        query.TreeHandler{Model: model},
		File:        query.FileHandler{Model: model, Content: blobs},
		History:     query.HistoryHandler{Model: model},
		Events:      query.EventsHandler{Model: model},
		Diff:        query.DiffHandler{Model: model, Content: blobs},
		Search:      query.SearchHandler{Model: model, Content: blobs},
		Leases:      model.Leases(),
		Sessions:    model.Sessions(),
		Messages:    model.Messages(),
		Tasks:       model.Tasks(),
		Annotations: model.Annotations(),
		Limits:      httpapi.Limits{RatePerSecond: s.rate, Burst: s.burst},
		MaxWait:     30 * time.Second,
		Ready:       r.Ready,
		Failure:     r.Failure,
		Metrics:     httpapi.Metrics{HTTP: metrics.NewHTTP(reg), Handler: metrics.Handler(reg)},
	}
	// The web console lives beside the API: it reads through the API in
	// process and acts through the writer's API, with the person's token.
	apiHandler := api.Handler()
	con := &console.Server{WriterURL: r.Writer.BaseURL, Reader: apiHandler, Log: log.With("component", "console")}
	mux := http.NewServeMux()
	mux.Handle("/console", con.Handler())
	mux.Handle("/console/", con.Handler())
	mux.Handle("/", apiHandler)
	err = httpapi.Serve(ctx, log, mux, httpapi.ServeOptions{Addr: s.addr, AddrFile: filepath.Join(s.Data, "reader.addr")})
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

func (c content) Prefetch(ctx context.Context, hashes []string) error {
	return c.m.Prefetch(ctx, hashes)
}
