// Package replica is what the reader and the fuser share: a projection in
// its own Pebble directory, kept current from the bus and the writer's log,
// with a local mirror of the contents it serves.
package replica

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
	"github.com/lighthouse-ai/lighthouse/infra/bus"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// Settings are the flags every replica process takes.
type Settings struct {
	Data      string
	WriterURL string
	BusURL    string
	Token     string
	TokenFile string
	Name      string
	LogLevel  string
	DebugAddr string
	// Cache sizes the projection's Pebble block cache (and so its
	// memtables, see pebbledb.Sizes).
	Cache *pebbledb.CacheFlag
	// PageSize is how many events a catch-up asks the writer for at once
	// (minPageSize to maxPageSize).
	PageSize int
	pageEnv  string // the variable that sets PageSize, for errors
	pageErr  error  // a value of pageEnv that is not a number
	// gcPercent is the collector's target (GOGC) when the environment sets
	// no GOGC.
	gcPercent int
}

// Bounds of Settings.PageSize. A catch-up asks for one event more than its
// page (the projection's last, to compare with the writer's), and the
// writer answers at most domain.MaxEventsPage.
const (
	minPageSize = 100
	maxPageSize = domain.MaxEventsPage - 1
)

// defaultPageSize is a replica's backfill page unless told otherwise. While
// it catches up, a replica holds the page it applies, the next one (fetched
// meanwhile) and the page's Pebble batch. The fuser's RSS peaks then, and a
// page of 1,000 took ~45 MiB off that peak with its catch-up within the
// noise; the reader's catch-up was 15-25 % slower with it, so the reader
// keeps 5,000 (docs/bench-perf.txt).
func defaultPageSize(process string) int {
	if process == "fuser" {
		return 1000
	}
	return 5000
}

// defaultCacheMiB is a replica's block cache unless told otherwise. The
// reader answers past trees over REST, whose seeks into the revision index
// want it cached; the fuser serves current/ mostly from the kernel's page
// cache and keeps a quarter of that (measured in docs/bench-perf.txt: its
// peak RSS halves, its catch-up and cold reads stay within the noise).
func defaultCacheMiB(process string) int {
	if process == "fuser" {
		return 32
	}
	return pebbledb.DefaultCacheMiB
}

// defaultGCPercent is a replica's GOGC unless its environment sets one. The
// fuser keeps the mount's tree (about 90 bytes a file) for as long as it
// runs, and at Go's default of 100 its heap peaked at about twice that
// while it caught up. At 50 its peak RSS fell by ~25 MiB (162-169 to
// 138-144 MiB) with its catch-up within the noise, after the events file's
// index stopped decoding every event (docs/bench-perf.txt item 18). The
// reader keeps Go's default: a lower GOGC is more collections, and the
// reader has no tree to hold.
func defaultGCPercent(process string) int {
	if process == "fuser" {
		return 50
	}
	return 100
}

// Register adds the settings' flags to fs; process names the defaults
// ("reader", "fuser").
func (s *Settings) Register(fs *flag.FlagSet, process string) {
	env := "LIGHTHOUSE_" + map[string]string{"reader": "READER", "fuser": "FUSER"}[process] + "_DATA"
	fs.StringVar(&s.Data, "data", config.Env(env, ".lighthouse/"+process), "this process's own data directory (env "+env+")")
	fs.StringVar(&s.WriterURL, "writer-url", config.Env("LIGHTHOUSE_URL", "http://127.0.0.1:8765"), "the writer, for backfill and content (env LIGHTHOUSE_URL)")
	fs.StringVar(&s.BusURL, "bus-url", config.Env("LIGHTHOUSE_BUS_URL", ""), "NATS JetStream URL, or a comma-separated list of a cluster's servers (env LIGHTHOUSE_BUS_URL)")
	fs.StringVar(&s.Token, "token", config.Env("LIGHTHOUSE_TOKEN", ""), "bearer token for the writer (env LIGHTHOUSE_TOKEN)")
	fs.StringVar(&s.TokenFile, "token-file", "", "file holding the bearer token")
	fs.StringVar(&s.Name, "name", "lighthouse-"+process, "name of this "+process+" on the bus")
	fs.StringVar(&s.LogLevel, "log-level", config.Env("LIGHTHOUSE_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.StringVar(&s.DebugAddr, "debug-addr", "", "serve Go's pprof profiles on this address (off when empty)")
	s.Cache = pebbledb.RegisterCacheFlag(fs, "the projection", defaultCacheMiB(process), "LIGHTHOUSE_"+strings.ToUpper(process)+"_CACHE_MIB")
	s.pageEnv = "LIGHTHOUSE_" + strings.ToUpper(process) + "_BACKFILL_PAGE"
	fs.IntVar(&s.PageSize, "backfill-page", defaultPageSize(process),
		fmt.Sprintf("events asked of the writer at once while catching up (%d to %d; env %s)", minPageSize, maxPageSize, s.pageEnv))
	s.pageErr = config.SetFromEnv(fs, "backfill-page", s.pageEnv)
	s.gcPercent = defaultGCPercent(process)
}

// Check returns an error naming the flag for settings no replica can run
// with. Open checks them first; a process with checks of its own (the
// fuser's /dev/fuse) calls it before them, so a wrong flag is what it
// reports.
func (s Settings) Check() error {
	if _, err := s.Cache.Sizes(); err != nil {
		return err
	}
	if s.BusURL == "" {
		return fmt.Errorf("no bus: pass --bus-url or set LIGHTHOUSE_BUS_URL")
	}
	if s.pageErr != nil {
		return s.pageErr
	}
	if s.PageSize < minPageSize || s.PageSize > maxPageSize {
		return fmt.Errorf("--backfill-page %d (env %s): must be between %d and %d events", s.PageSize, s.pageEnv, minPageSize, maxPageSize)
	}
	return nil
}

// Replica is an open projection with its content mirror and bus subscription.
type Replica struct {
	Model  *projections.Store
	Agents *projections.Agents
	Blobs  *blobstore.Mirror
	Writer *client.Client

	log      *slog.Logger
	page     int // backfill page, events
	sub      *bus.Subscriber
	caughtUp chan struct{}
	failure  atomic.Pointer[error] // the last failure to apply the log, nil when applying works
	metrics  *metrics.Follower
}

// Open opens the replica's projection and connects to the bus, registering
// the replica's metrics (applied sequence, lag, consumption) on reg. Call
// OnChange hooks on Model before Run.
func Open(s Settings, log *slog.Logger, reg prometheus.Registerer) (*Replica, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	sizes, _ := s.Cache.Sizes()                     // checked above
	if s.gcPercent > 0 && os.Getenv("GOGC") == "" { // 0: Settings not from Register
		debug.SetGCPercent(s.gcPercent)
	}
	config.ServeDebug(s.DebugAddr, log)
	token, err := config.Token(s.Token, s.TokenFile)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Data, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	agents := projections.NewAgents()
	model, err := projections.OpenOrRebuild(filepath.Join(s.Data, "projection"), sizes, log, agents)
	if err != nil {
		return nil, err
	}
	log.Info("projection opened", "position", model.Head())
	local, err := blobstore.Open(filepath.Join(s.Data, "blobs"), model.Blobs())
	if err != nil {
		model.Close()
		return nil, err
	}
	writer := client.New(s.WriterURL, token)
	if s.Token == "" {
		// The token from its file (`up` passes lighthouse-service's):
		// followed there when `agent rotate` writes a new one.
		client.FollowTokenFile(writer, s.TokenFile)
	}
	sub, err := bus.NewSubscriber(s.BusURL, s.Name, log.With("component", "bus"))
	if err != nil {
		model.Close()
		return nil, err
	}
	mirror := &blobstore.Mirror{Local: local, Client: writer.HTTP, URL: writer.BaseURL, Token: token}
	model.UseContent(func(ctx context.Context, hash string) ([]byte, error) {
		b, err := mirror.Open(ctx, hash)
		if err != nil {
			return nil, err
		}
		return blobstore.ReadAll(b, domain.MaxAnnotatedBytes)
	})
	return &Replica{
		Model: model, Agents: agents, Writer: writer, Blobs: mirror,
		log: log, page: s.PageSize, sub: sub, caughtUp: make(chan struct{}), metrics: metrics.NewFollower(reg),
	}, nil
}

// Run follows the stream until ctx ends or the follower fails.
func (r *Replica) Run(ctx context.Context) error {
	f := &bus.Follower{Subscriber: r.sub, Lost: r.sub.Lost(), Backfill: r.Writer, Target: r.Model, Log: r.log.With("component", "follower"),
		OnCaughtUp: func() { close(r.caughtUp) }, Metrics: r.metrics, PageSize: r.page,
		OnFailure: func(err error) {
			if err == nil {
				r.failure.Store(nil)
			} else {
				r.failure.Store(&err)
			}
		}}
	if err := f.Run(ctx); err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	return nil
}

// Ready reports whether the first catch-up is done and applying the log
// works; a replica that cannot apply an event keeps serving its last good
// state, not ready, with the reason.
func (r *Replica) Ready() error {
	if err := r.Failure(); err != nil {
		return fmt.Errorf("applying the log failed at %d: %w", r.Model.Head(), err)
	}
	select {
	case <-r.caughtUp:
		return nil
	default:
		return fmt.Errorf("catching up")
	}
}

// Failure returns the last failure to apply the log, nil when it works.
func (r *Replica) Failure() error {
	if p := r.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// Close releases the subscription and the projection.
func (r *Replica) Close() error {
	r.sub.Close()
	return r.Model.Close()
}
