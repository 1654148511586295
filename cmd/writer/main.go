// Command writer takes commands over HTTP, appends their events to the
// durable log and publishes them on the bus.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
	"github.com/lighthouse-ai/lighthouse/infra/bus"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/eventstore"
	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
	"github.com/lighthouse-ai/lighthouse/infra/policyfile"
	"github.com/lighthouse-ai/lighthouse/projections"
)

type settings struct {
	data         string
	addr         string
	busURL       string
	busAddr      string
	maxFileBytes int64
	rate         float64
	burst        int
	logLevel     string
	policy       string
	shadowPolicy string
	projectRoot  string
	reviewTTL    time.Duration
	debugAddr    string
	maxConns     int
	minFree      uint64
	bodyIdle     time.Duration
}

func main() {
	var s settings
	fs := flag.NewFlagSet("writer", flag.ExitOnError)
	fs.StringVar(&s.data, "data", config.Env("LIGHTHOUSE_DATA", ".lighthouse"), "data directory (env LIGHTHOUSE_DATA)")
	fs.StringVar(&s.addr, "addr", config.Env("LIGHTHOUSE_WRITER_ADDR", "127.0.0.1:8765"), "HTTP listen address (env LIGHTHOUSE_WRITER_ADDR)")
	fs.StringVar(&s.busURL, "bus-url", config.Env("LIGHTHOUSE_BUS_URL", ""), "external NATS JetStream URL; empty runs an embedded broker (env LIGHTHOUSE_BUS_URL)")
	fs.StringVar(&s.busAddr, "bus-addr", config.Env("LIGHTHOUSE_BUS_ADDR", "127.0.0.1:8767"), "listen address of the embedded broker (env LIGHTHOUSE_BUS_ADDR)")
	fs.Int64Var(&s.maxFileBytes, "max-file-bytes", 256<<20, "largest file accepted, in bytes")
	fs.Float64Var(&s.rate, "rate", 5000, "requests per second allowed per agent; 0 disables the limit")
	fs.IntVar(&s.burst, "burst", 10000, "burst of requests allowed per agent")
	fs.StringVar(&s.policy, "policy", config.Env("LIGHTHOUSE_POLICY", ""), "project policy file (YAML) on top of the built-in policy; reloaded on change and SIGHUP (env LIGHTHOUSE_POLICY)")
	fs.StringVar(&s.shadowPolicy, "shadow-policy", config.Env("LIGHTHOUSE_SHADOW_POLICY", ""), "policy file evaluated in shadow mode: recorded, not enforced")
	fs.StringVar(&s.projectRoot, "project-root", config.Env("LIGHTHOUSE_PROJECT_ROOT", ""), "absolute project root the gate confines paths to (default: the working directory)")
	fs.DurationVar(&s.reviewTTL, "review-timeout", 10*time.Minute, "how long an escalated call waits for reviewers before it is denied")
	fs.Uint64Var(&s.minFree, "min-free", 64<<20, "bytes the data disk keeps free: appends past it answer 507 insufficient_storage; 0 disables")
	fs.IntVar(&s.maxConns, "max-conns", httpapi.DefaultMaxConns, "concurrent HTTP connections accepted; more wait")
	fs.DurationVar(&s.bodyIdle, "body-timeout", httpapi.DefaultBodyIdle, "how long a request body may stop arriving before the request fails (408)")
	fs.StringVar(&s.debugAddr, "debug-addr", "", "serve Go's pprof profiles on this address (off when empty)")
	fs.StringVar(&s.logLevel, "log-level", config.Env("LIGHTHOUSE_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.Parse(os.Args[1:])

	config.RunDaemon("writer", s.logLevel, func(ctx context.Context, log *slog.Logger) error { return run(ctx, s, log) })
}

func run(parent context.Context, s settings, log *slog.Logger) error {
	ctx := parent
	config.ServeDebug(s.debugAddr, log)
	if err := os.MkdirAll(s.data, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	store, err := eventstore.Open(filepath.Join(s.data, "events"), log, eventstore.WithReserve(s.minFree))
	if err != nil {
		return err
	}
	defer store.Close()
	blobs, err := blobstore.Open(filepath.Join(s.data, "blobs"), store.Blobs(), blobstore.WithReserve(s.minFree))
	if err != nil {
		return err
	}
	root, err := projectRoot(s.projectRoot)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// In-memory views the writer keeps current with its own appends.
	agents := projections.NewAgents()
	reviews := projections.NewReviews()
	learned := projections.NewLearned()
	events := command.NewObservedLog(store)
	reviewHandler := command.NewReviewHandler(events, store)
	deadlines := command.NewReviewDeadlines(ctx, reviewHandler, log.With("component", "reviews"))
	for prefix, views := range map[string][]command.Observer{"agent:": {agents}, "review:": {reviews, deadlines}, "learned:": {learned}} {
		if err := store.ReplayStreams(prefix, func(e domain.Event) error {
			for _, v := range views {
				if err := v.Apply(e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("load %s views: %w", prefix, err)
		}
	}
	events.Observe(agents, reviews, learned, deadlines)
	register := command.NewRegisterAgentHandler(events)
	if err := bootstrap(ctx, s.data, agents, register, log); err != nil {
		return err
	}

	holder := command.NewPolicyHolder(command.Policies{Enforced: policy.Default()})
	watcher := &policyfile.Watcher{Path: s.policy, ShadowPath: s.shadowPolicy, Holder: holder, Log: log.With("component", "policy"),
		OnActivate: func(rev, source string, shadow bool) {
			if err := recordPolicy(ctx, events, store, rev, source, shadow); err != nil {
				log.Error("record policy activation", "err", err)
			}
		}}
	if err := watcher.Reload(); err != nil {
		return err
	}
	go watcher.Run(ctx, time.Second)

	busURL := s.busURL
	if busURL == "" {
		emb, err := startEmbeddedBus(s)
		if err != nil {
			return err
		}
		defer emb.Close()
		busURL = emb.URL()
		log.Info("embedded bus started", "url", redact(busURL))
	}
	if err := config.WriteSecret(filepath.Join(s.data, "bus.url"), busURL); err != nil {
		return err
	}
	if err := bus.EnsureStream(busURL); err != nil {
		return err
	}
	pub, err := bus.NewPublisher(busURL, log.With("component", "bus"))
	if err != nil {
		return err
	}
	defer pub.Close()

	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		r := &bus.Relay{Outbox: store, Publisher: message.Publisher(pub), Log: log.With("component", "relay")}
		if err := r.Run(ctx); err != nil {
			cancel(fmt.Errorf("relay: %w", err))
		}
	}()

	api := &httpapi.Writer{
		Log:          log,
		Files:        command.NewChangeFilesHandler(events),
		Register:     register,
		Agents:       agents,
		Events:       store,
		Blobs:        blobs,
		MaxFileBytes: s.maxFileBytes,
		Limits:       httpapi.Limits{RatePerSecond: s.rate, Burst: s.burst},
		Ready:        store.Ready,
		History:      command.NewHistoryHandler(events, store),
		Gate: &httpapi.Gate{
			Validate: command.NewValidateHandler(events, holder, learned, command.GateConfig{ProjectRoot: root, Home: os.Getenv("HOME"), ReviewTimeout: s.reviewTTL}),
			Reviews:  reviewHandler,
			View:     reviews,
			Learned:  learned,
			Policy: func() httpapi.PolicyStatus {
				st := watcher.Status()
				return httpapi.PolicyStatus{Revision: st.Revision, ShadowRevision: st.ShadowRevision, Source: st.Source, LoadedAt: st.LoadedAt, LastError: st.LastError}
			},
		},
	}
	err = httpapi.Serve(ctx, log, api.Handler(), httpapi.ServeOptions{Addr: s.addr, AddrFile: filepath.Join(s.data, "writer.addr"),
		MaxConns: s.maxConns, BodyIdle: s.bodyIdle})
	cancel(nil)
	<-relayDone
	if err == nil && parent.Err() == nil {
		err = context.Cause(ctx) // a part failed; a signal is a clean stop
	}
	return err
}

// bootstrap creates the first admin (and the service identity the reader
// and fuser use) when the log has none. Tokens are written to disk before the
// agents are registered, so a crash in between loses nothing.
func bootstrap(ctx context.Context, data string, agents *projections.Agents, register command.RegisterAgentHandler, log *slog.Logger) error {
	for _, a := range []struct {
		name, file string
		role       domain.Role
	}{
		{"admin", "admin.token", domain.RoleAdmin},
		{"lighthouse-service", "service.token", domain.RoleObserver},
	} {
		if _, ok := agents.ByName(a.name); ok {
			continue
		}
		path := filepath.Join(data, a.file)
		token, err := config.Token("", path)
		if err != nil {
			if token, err = command.NewToken(); err != nil {
				return err
			}
			if err := config.WriteSecret(path, token); err != nil {
				return err
			}
		}
		if _, err := register.Handle(ctx, command.RegisterAgent{Meta: domain.Metadata{AgentID: "system"}, Name: a.name, Role: a.role, Token: token}); err != nil {
			return fmt.Errorf("bootstrap %s: %w", a.name, err)
		}
		log.Info("created agent", "name", a.name, "role", a.role, "token_file", path)
	}
	return nil
}

func startEmbeddedBus(s settings) (*bus.Embedded, error) {
	tokenFile := filepath.Join(s.data, "bus.token")
	token, err := config.Token("", tokenFile)
	if err != nil {
		if token, err = command.NewToken(); err != nil {
			return nil, err
		}
		if err := config.WriteSecret(tokenFile, token); err != nil {
			return nil, err
		}
	}
	return bus.StartEmbedded(s.busAddr, filepath.Join(s.data, "bus"), token)
}

// recordPolicy appends a policy.activated event when the revision in force
// differs from the last one recorded, so restarts add nothing.
func recordPolicy(ctx context.Context, events command.EventLog, store *eventstore.Store, rev, source string, shadow bool) error {
	stream := "policy"
	if shadow {
		stream = "policy-shadow"
	}
	last, ok, err := store.LastEvent(stream)
	if err != nil {
		return err
	}
	if ok {
		var p domain.PolicyActivated
		if err := last.DecodePayload(&p); err == nil && p.Revision == rev {
			return nil
		}
	}
	_, err = events.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: "system"}, Drafts: []domain.Draft{{
		StreamID: stream, Type: domain.TypePolicyActivated, SchemaVersion: 1,
		Payload: domain.PolicyActivated{Revision: rev, Source: source, Shadow: shadow}}}})
	return err
}

// projectRoot returns the absolute project root, the working directory by default.
func projectRoot(flagValue string) (string, error) {
	if flagValue == "" {
		return os.Getwd()
	}
	abs, err := filepath.Abs(flagValue)
	if err != nil {
		return "", fmt.Errorf("project root: %w", err)
	}
	return abs, nil
}

// redact hides the credentials in a bus URL for logs.
func redact(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			return u[:i+3] + "***" + u[at:]
		}
	}
	return u
}
