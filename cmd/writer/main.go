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
	"slices"
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
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
	"github.com/lighthouse-ai/lighthouse/infra/notify"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
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
	protect      pathList
	reviewTTL    time.Duration
	debugAddr    string
	maxConns     int
	minFree      uint64
	bodyIdle     time.Duration
	bodyMemory   int64  // MiB
	bodyMemEnv   error  // a LIGHTHOUSE_WRITER_BODY_MEMORY_MIB that is no number
	notifyURL    string // webhook for review notifications
	consoleURL   string // the console, linked from notifications
	cache        *pebbledb.CacheFlag
}

func main() {
	var s settings
	fs := flag.NewFlagSet("writer", flag.ExitOnError)
	fs.StringVar(&s.data, "data", config.Env("LIGHTHOUSE_DATA", ".lighthouse"), "data directory (env LIGHTHOUSE_DATA)")
	fs.StringVar(&s.addr, "addr", config.Env("LIGHTHOUSE_WRITER_ADDR", "127.0.0.1:8765"), "HTTP listen address (env LIGHTHOUSE_WRITER_ADDR)")
	fs.StringVar(&s.busURL, "bus-url", config.Env("LIGHTHOUSE_BUS_URL", ""), "external NATS JetStream URL, or a comma-separated list of a cluster's servers; empty runs an embedded broker (env LIGHTHOUSE_BUS_URL)")
	fs.StringVar(&s.busAddr, "bus-addr", config.Env("LIGHTHOUSE_BUS_ADDR", "127.0.0.1:8767"), "listen address of the embedded broker (env LIGHTHOUSE_BUS_ADDR)")
	fs.Int64Var(&s.maxFileBytes, "max-file-bytes", 256<<20, "largest file accepted, in bytes")
	fs.Float64Var(&s.rate, "rate", 5000, "requests per second allowed per agent; 0 disables the limit")
	fs.IntVar(&s.burst, "burst", 10000, "burst of requests allowed per agent")
	fs.StringVar(&s.policy, "policy", config.Env("LIGHTHOUSE_POLICY", ""), "project policy file (YAML) on top of the built-in policy; reloaded on change and SIGHUP (env LIGHTHOUSE_POLICY)")
	fs.StringVar(&s.shadowPolicy, "shadow-policy", config.Env("LIGHTHOUSE_SHADOW_POLICY", ""), "policy file evaluated in shadow mode: recorded, not enforced")
	fs.StringVar(&s.projectRoot, "project-root", config.Env("LIGHTHOUSE_PROJECT_ROOT", ""), "absolute project root the gate confines paths to (default: the working directory)")
	fs.Var(&s.protect, "protect", "an absolute path no agent may read, write or run from (repeatable); the data directory always is")
	fs.DurationVar(&s.reviewTTL, "review-timeout", 10*time.Minute, "how long an escalated call waits for reviewers before it is denied")
	fs.Uint64Var(&s.minFree, "min-free", 64<<20, "bytes the data disk keeps free: appends past it answer 507 insufficient_storage; 0 disables")
	fs.IntVar(&s.maxConns, "max-conns", httpapi.DefaultMaxConns, "concurrent HTTP connections accepted; more wait")
	fs.Int64Var(&s.bodyMemory, "body-memory-mib", httpapi.DefaultBodyMemory>>20, "MiB of request bodies read into memory at once (bodies over 64 KiB); a request past it waits (1 to 1048576) (env LIGHTHOUSE_WRITER_BODY_MEMORY_MIB)")
	s.bodyMemEnv = config.SetFromEnv(fs, "body-memory-mib", "LIGHTHOUSE_WRITER_BODY_MEMORY_MIB")
	fs.DurationVar(&s.bodyIdle, "body-timeout", httpapi.DefaultBodyIdle, "how long a request body may stop arriving before the request fails (408)")
	fs.StringVar(&s.notifyURL, "notify-url", config.Env("LIGHTHOUSE_NOTIFY_URL", ""), "post a JSON message (with a text field) to this webhook when an escalation opens and when it is decided (env LIGHTHOUSE_NOTIFY_URL)")
	fs.StringVar(&s.consoleURL, "console-url", config.Env("LIGHTHOUSE_CONSOLE_URL", ""), "the web console's URL, linked from notifications (env LIGHTHOUSE_CONSOLE_URL; default: the reader's in DATA/reader)")
	fs.StringVar(&s.debugAddr, "debug-addr", "", "serve Go's pprof profiles on this address (off when empty)")
	s.cache = pebbledb.RegisterCacheFlag(fs, "the log", eventstore.DefaultCacheMiB, "LIGHTHOUSE_WRITER_CACHE_MIB")
	fs.StringVar(&s.logLevel, "log-level", config.Env("LIGHTHOUSE_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.Parse(os.Args[1:])

	config.RunDaemon("writer", s.logLevel, func(ctx context.Context, log *slog.Logger) error { return run(ctx, s, log) })
}

func run(parent context.Context, s settings, log *slog.Logger) error {
	ctx := parent
	sizes, err := s.cache.Sizes()
	if err != nil {
		return err
	}
	if s.bodyMemEnv != nil {
		return fmt.Errorf("--body-memory-mib: %w", s.bodyMemEnv)
	}
	if s.bodyMemory < 1 || s.bodyMemory > 1<<20 {
		return fmt.Errorf("--body-memory-mib (env LIGHTHOUSE_WRITER_BODY_MEMORY_MIB): %d MiB is not within 1 to 1048576", s.bodyMemory)
	}
	config.ServeDebug(s.debugAddr, log)
	if err := os.MkdirAll(s.data, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	reg := metrics.NewRegistry("writer")
	store, err := eventstore.Open(filepath.Join(s.data, "events"), log, eventstore.WithSizes(sizes), eventstore.WithReserve(s.minFree), eventstore.WithMetrics(metrics.NewStore(reg)))
	if err != nil {
		return err
	}
	defer store.Close()
	blobs, err := blobstore.Open(filepath.Join(s.data, "blobs"), store.Blobs(), blobstore.WithReserve(s.minFree))
	if err != nil {
		return err
	}
	root, err := projectRoot(s.projectRoot, log)
	if err != nil {
		return err
	}
	// The policy files too: an agent that rewrote the policy the writer
	// reloads would choose its own rules.
	extra := slices.DeleteFunc([]string{s.policy, s.shadowPolicy}, func(p string) bool { return p == "" })
	protected, err := protectedPaths(root, s.data, append(extra, s.protect...))
	if err != nil {
		return err
	}
	log.Info("guarding project", "project_root", root, "protected", protected)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// In-memory views the writer keeps current with its own appends.
	agents := projections.NewAgents()
	reviews := projections.NewReviews()
	learned := projections.NewLearned()
	provenance := projections.NewProvenance()
	leases, sessions, freshness := projections.NewLeases(), projections.NewSessions(), projections.NewFreshness(provenance)
	events := store
	coord := command.NewCoordination(events, leases, sessions, freshness)
	messages := projections.NewMessages()
	messaging := command.NewMessaging(events, agents, messages)
	expiry := command.NewLeaseExpiry(ctx, coord, log.With("component", "leases"))
	reviewHandler := command.NewReviewHandler(events, store)
	deadlines := command.NewReviewDeadlines(ctx, reviewHandler, log.With("component", "reviews"))
	tasks := projections.NewTasks()
	taskHandler := command.NewTaskHandler(events, store, agents, tasks)
	taskDeadlines := command.NewTaskDeadlines(ctx, taskHandler, log.With("component", "tasks"))
	// File events carry their file's whole state, so the views need only
	// each file's newest one: start costs one event per file, not one per
	// change in the log's history.
	for _, load := range []struct {
		prefix string
		replay func(string, func(domain.Event) error) error
		views  []command.Observer
	}{
		{"agent:", store.ReplayStreams, []command.Observer{agents, provenance}},
		{"review:", store.ReplayStreams, []command.Observer{reviews, deadlines}},
		{"learned:", store.ReplayStreams, []command.Observer{learned}},
		{"file:", store.ReplayLatest, []command.Observer{provenance}},
		{"session:", store.ReplayStreams, []command.Observer{sessions}},
		{"lease:", store.ReplayStreams, []command.Observer{leases}},
		{"message:", store.ReplayStreams, []command.Observer{messages}},
		{"task:", store.ReplayStreams, []command.Observer{tasks}},
	} {
		if err := load.replay(load.prefix, func(e domain.Event) error {
			for _, v := range load.views {
				if err := v.Apply(e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("load %s views: %w", load.prefix, err)
		}
	}
	events.Observe(agents, reviews, learned, deadlines, provenance, leases, sessions, freshness, expiry, messages, tasks, taskDeadlines)
	freshness.Live()
	// Expiry timers start once every view is loaded: a lease that ran out
	// while the writer was down expires now, through the full log.
	if err := store.ReplayStreams("lease:", expiry.Apply); err != nil {
		return fmt.Errorf("load lease expiries: %w", err)
	}
	// Likewise task deadlines: one that passed while the writer was down
	// expires now.
	if err := store.ReplayStreams("task:", taskDeadlines.Apply); err != nil {
		return fmt.Errorf("load task deadlines: %w", err)
	}
	metrics.NewCoordination(reg, func() int { return len(reviews.List(domain.ReviewPending)) }, func() int { return len(leases.List("")) }, tasks.Open)
	if s.notifyURL != "" {
		console := func() string {
			if s.consoleURL != "" {
				return s.consoleURL
			}
			// The reader serves the console; `up` runs it in DATA/reader.
			if u := config.AddrURL(filepath.Join(s.data, "reader", "reader.addr")); u != "" {
				return u + "/console"
			}
			return ""
		}
		n := notify.New(notify.Config{URL: s.notifyURL, ConsoleURL: console, Log: log.With("component", "notify"), Name: func(id string) string {
			for _, a := range agents.List() {
				if a.ID == id {
					return a.Name
				}
			}
			return id
		}})
		if err := store.ReplayStreams("review:", n.Seen); err != nil {
			return fmt.Errorf("load reviews for notifications: %w", err)
		}
		events.Observe(n)
		go n.Run(ctx)
		log.Info("notifying", "url", s.notifyURL)
	}
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

	busURL, embedded := s.busURL, s.busURL == ""
	if embedded {
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
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	replicas, err := bus.EnsureStream(sctx, busURL, embedded, log.With("component", "bus"))
	scancel()
	if err != nil {
		return err
	}
	log.Info("bus stream ready", "stream", bus.Topic, "replicas", replicas, "servers", redact(busURL))
	if !embedded {
		if err := checkForeignStream(ctx, busURL, store); err != nil {
			return err
		}
	}
	pub, err := bus.NewPublisher(busURL, log.With("component", "bus"))
	if err != nil {
		return err
	}
	defer pub.Close()

	relayMetrics := metrics.NewRelay(reg)
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		r := &bus.Relay{Outbox: store, Publisher: message.Publisher(pub), Log: log.With("component", "relay"), Metrics: relayMetrics}
		if err := r.Run(ctx); err != nil {
			cancel(fmt.Errorf("relay: %w", err))
		}
	}()

	api := &httpapi.Writer{
		Log:          log,
		Files:        command.NewChangeFilesHandler(events),
		Register:     register,
		ChangeAgent:  command.NewChangeAgentHandler(events, agents, store),
		Agents:       agents,
		Events:       store,
		Blobs:        blobs,
		MaxFileBytes: s.maxFileBytes,
		Limits:       httpapi.Limits{RatePerSecond: s.rate, Burst: s.burst},
		Ready:        store.Ready,
		History:      command.NewHistoryHandler(events, store),
		ProjectRoot:  root,
		Disk:         watcherRestorer{data: s.data},
		Coordination: &httpapi.Coordination{Handler: coord},
		Messaging:    &httpapi.Messaging{Handler: messaging},
		Tasks:        &httpapi.Tasks{Handler: taskHandler},
		Annotating:   &httpapi.Annotating{Handler: command.NewAnnotations(events, blobReader(blobs))},
		Metrics:      httpapi.Metrics{HTTP: metrics.NewHTTP(reg), Handler: metrics.Handler(reg)},
		Gate: &httpapi.Gate{
			Validate: command.NewValidateHandler(events, holder, learned, command.GateConfig{ProjectRoot: root, Protected: protected, ReviewTimeout: s.reviewTTL,
				Provenance: provenance, Coordination: coord, Agents: agents}),
			Reviews: reviewHandler,
			View:    reviews,
			Learned: learned,
			Metrics: metrics.NewGate(reg),
			Agents:  agents,
			Policy: func() httpapi.PolicyStatus {
				st := watcher.Status()
				return httpapi.PolicyStatus{Revision: st.Revision, ShadowRevision: st.ShadowRevision, Source: st.Source, LoadedAt: st.LoadedAt, LastError: st.LastError, ProjectRoot: root, Protected: protected}
			},
		},
	}
	err = httpapi.Serve(ctx, log, api.Handler(), httpapi.ServeOptions{Addr: s.addr, AddrFile: filepath.Join(s.data, "writer.addr"),
		MaxConns: s.maxConns, BodyIdle: s.bodyIdle, BodyMemory: s.bodyMemory << 20})
	cancel(nil)
	<-relayDone
	if err == nil && parent.Err() == nil {
		err = context.Cause(ctx) // a part failed; a signal is a clean stop
	}
	return err
}

// bootstrap creates the first admin (and the service identity the reader
// and fuser use, and the watcher's) when the log has none. Tokens are written to disk before the
// agents are registered, so a crash in between loses nothing.
func bootstrap(ctx context.Context, data string, agents *projections.Agents, register command.RegisterAgentHandler, log *slog.Logger) error {
	for _, a := range []struct {
		name string
		role domain.Role
	}{
		{domain.AgentAdmin, domain.RoleAdmin},
		{domain.AgentService, domain.RoleObserver},
		{domain.AgentWatcher, domain.RoleBuilder}, // the working-tree watcher's own identity
	} {
		if _, ok := agents.ByName(a.name); ok {
			continue
		}
		path, _ := config.OwnTokenFile(data, a.name)
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

// checkForeignStream refuses to start when the newest event on an
// external bus stream is not this writer's: another writer publishes on the
// same NATS account (the stream name is fixed, so two writers share it), or
// the stream holds a log this writer's data directory no longer has (an
// older backup, a new data directory). Publishing on would give the
// replicas two histories under one sequence. Its own log is durable before
// it publishes, so an event of its own is always in it. A bus it cannot
// read is left to the publisher, which fails on it as well.
func checkForeignStream(ctx context.Context, url string, store *eventstore.Store) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	last, ok, err := bus.LastEvent(cctx, url)
	if err != nil || !ok {
		return nil
	}
	mine, err := store.Event(last.Seq)
	if err == nil && mine.Hash == last.Hash {
		return nil
	}
	head, _ := store.Head()
	return fmt.Errorf("the bus stream %s holds event %d (hash %.12s) that is not in this writer's log (head %d): "+
		"another writer publishes on this NATS account, or the stream holds an older log. Run one writer per account "+
		"(docs/scale.md): stop the other writer, or delete the stream if its log is no longer wanted (nats stream rm %s)",
		bus.Topic, last.Seq, last.Hash, head, bus.Topic)
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

// projectRoot returns the project root the gate guards: absolute, with
// symlinks resolved (the working directory by default). `lighthouse up`
// checks that it exists; a root that does not exist (yet) is kept as given.
func projectRoot(flagValue string, log *slog.Logger) (string, error) {
	if flagValue == "" {
		flagValue = "."
	}
	abs, err := filepath.Abs(flagValue)
	if err != nil {
		return "", fmt.Errorf("project root: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		log.Warn("project root cannot be resolved; using it as given", "project_root", abs, "err", err)
		return abs, nil
	}
	return real, nil
}

// protectedPaths returns the absolute paths the gate keeps every agent
// away from: Lighthouse's state directory (every guarded project's data
// directory: one project's agent must not read another project's tokens),
// this writer's data directory (the tokens and the store) and those given
// in extra (the policy files, --protect). The state directory is left out if the project lies
// inside it. Symlinks are resolved where the path exists, and both
// spellings are kept.
func protectedPaths(root, data string, extra []string) ([]string, error) {
	paths := []string{data}
	if state, err := config.StateHome(); err == nil && !config.Within(root, state) {
		paths = append(paths, state)
	}
	var out []string
	for _, p := range append(paths, extra...) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("protected path %q: %w", p, err)
		}
		out = append(out, abs)
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
			out = append(out, real)
		}
	}
	return out, nil
}

// pathList is a repeatable path flag.
type pathList []string

func (l *pathList) String() string { return strings.Join(*l, ",") }

func (l *pathList) Set(v string) error {
	if v == "" {
		return fmt.Errorf("empty path")
	}
	*l = append(*l, v)
	return nil
}

// redact hides the credentials in a bus URL, or in each URL of a
// comma-separated list, for logs.
func redact(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if j := strings.Index(p, "://"); j >= 0 && j < at {
				parts[i] = p[:j+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// blobReader reads the writer's stored content for the command handlers.
func blobReader(blobs *blobstore.Store) command.ContentReader {
	return func(_ context.Context, hash string) ([]byte, error) {
		b, err := blobs.Open(hash)
		if err != nil {
			return nil, err
		}
		return blobstore.ReadAll(b, domain.MaxAnnotatedBytes)
	}
}
