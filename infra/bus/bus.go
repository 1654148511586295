// Package bus carries the event stream from the writer to every projection
// with Watermill over NATS JetStream: an embedded broker by default, any
// external JetStream cluster when configured.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lighthouse-ai/lighthouse/domain"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Topic is the JetStream stream and subject that carries the events. Each
// message holds a contiguous run of events as a JSON array.
const Topic = "lighthouse_events"

// retention bounds how long the broker keeps messages: consumers that fall
// further behind backfill from the writer's log, which keeps everything.
const retention = 24 * time.Hour

// embeddedStreamBytes bounds the embedded broker's stream, which it keeps in
// memory. The writer's log is the durable copy and every follower fills a gap
// from it, so the stream only needs to cover the moments a subscriber is
// behind; a stream on disk held ~60 MB of 8 MiB block buffers in the
// writer's heap and wrote every message twice (message, consumer state).
// 4 MiB is ~6,000 events: at 16 MiB the stream was ~13 MB of the writer's
// live heap and ~22 MiB of its peak RSS in the time-travel build, whose
// reader still took every event from the bus at 4 (docs/bench-perf.txt
// item 40).
const embeddedStreamBytes = 4 << 20

// Embedded is a NATS JetStream server inside the writer process.
type Embedded struct {
	srv *server.Server
	url string
}

// StartEmbedded starts a JetStream broker on addr (host:port; port 0 picks
// one) storing its data in dir, reachable only with token.
func StartEmbedded(addr, dir, token string) (*Embedded, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("bus address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("bus port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	srv, err := server.NewServer(&server.Options{
		Host: host, Port: port, JetStream: true, StoreDir: dir,
		NoSigs: true, NoLog: true, Authorization: token,
		MaxPayload: 8 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("create embedded broker: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded broker on %s did not start", addr)
	}
	u := &url.URL{Scheme: "nats", User: url.User(token), Host: srv.Addr().String()}
	return &Embedded{srv: srv, url: u.String()}, nil
}

// URL is the broker's client URL, token included.
func (e *Embedded) URL() string { return e.url }

// Close stops the broker.
func (e *Embedded) Close() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// maxReplicas is the stream replication Lighthouse asks of a cluster.
const maxReplicas = 3

// EnsureStream creates the events stream on the broker at url (one URL or a
// comma-separated list of a cluster's servers) if it is missing, with the
// retention Lighthouse wants, and returns its replica count. The embedded
// broker's stream lives in its memory, at most embeddedStreamBytes; a stream
// it kept on disk (an older writer's) is replaced. On a cluster the
// stream gets 3 replicas when the cluster can place them (3 or more
// JetStream nodes), else 1; an existing single-replica stream on such a
// cluster is raised to 3. It retries until ctx ends while JetStream is not
// ready (a cluster electing its meta leader right after a start).
func EnsureStream(ctx context.Context, url string, embedded bool, log *slog.Logger) (int, error) {
	nc, err := nats.Connect(url, nats.Name("lighthouse-provision"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return 0, fmt.Errorf("connect to bus: %w", err)
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.Context(ctx))
	if err != nil {
		return 0, fmt.Errorf("jetstream: %w", err)
	}
	backoff := 100 * time.Millisecond
	start := time.Now()
	for {
		patient := time.Since(start) < placementPatience
		replicas, err := ensureStream(js, embedded, nc.ConnectedClusterName() != "", patient, log)
		if err == nil {
			return replicas, nil
		}
		log.Warn("bus stream not ready; retrying", "err", err)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("create stream %s: %w (gave up: %w)", Topic, err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// placementPatience is how long EnsureStream waits for a cluster node that
// is offline (one just started, not yet caught up with the meta leader)
// before it settles for fewer replicas than the cluster can hold.
const placementPatience = 20 * time.Second

// ensureStream is one attempt of EnsureStream. patient: a replica that cannot
// be placed because a peer is offline is worth another attempt.
func ensureStream(js nats.JetStreamContext, embedded, clustered, patient bool, log *slog.Logger) (int, error) {
	if _, err := js.AccountInfo(); err != nil {
		return 0, fmt.Errorf("jetstream account: %w", err)
	}
	want := 1
	if clustered {
		want = maxReplicas
	}
	info, err := js.StreamInfo(Topic)
	if err == nil && embedded && info.Config.Storage != nats.MemoryStorage {
		if err := js.DeleteStream(Topic); err != nil {
			return 0, fmt.Errorf("replace the embedded broker's stream on disk: %w", err)
		}
		log.Info("embedded bus stream moved from disk to memory")
		info, err = nil, nats.ErrStreamNotFound
	}
	switch {
	case err == nil:
		if info.Config.Replicas >= want {
			return info.Config.Replicas, nil
		}
		cfg := info.Config
		cfg.Replicas = want
		if _, err := js.UpdateStream(&cfg); err != nil {
			log.Warn("bus stream keeps its replicas: the cluster cannot place more", "replicas", info.Config.Replicas, "wanted", want, "err", err)
		} else {
			log.Info("bus stream replicas raised", "replicas", want)
			return want, nil
		}
		return info.Config.Replicas, nil
	case !errors.Is(err, nats.ErrStreamNotFound):
		return 0, fmt.Errorf("stream info: %w", err)
	}
	cfg := &nats.StreamConfig{Name: Topic, Subjects: []string{Topic}, Storage: nats.FileStorage, MaxAge: retention, Replicas: want}
	if embedded {
		cfg.Storage, cfg.MaxBytes = nats.MemoryStorage, embeddedStreamBytes
	}
	_, err = js.AddStream(cfg)
	if err != nil && want > 1 && patient && strings.Contains(err.Error(), "offline") {
		return 0, fmt.Errorf("create stream %s with %d replicas: %w", Topic, want, err)
	}
	if err != nil && want > 1 && isInsufficientResources(err) {
		// A cluster with fewer than 3 JetStream nodes.
		log.Warn("bus cluster cannot place 3 replicas; creating the stream with 1", "err", err)
		cfg.Replicas = 1
		_, err = js.AddStream(cfg)
	}
	if err != nil {
		return 0, fmt.Errorf("create stream %s: %w", Topic, err)
	}
	log.Info("bus stream created", "stream", Topic, "replicas", cfg.Replicas)
	return cfg.Replicas, nil
}

// LastEvent returns the newest event on the stream, ok=false when the
// stream holds none. A writer compares it with its own log at start: one
// that is not there is another writer's, publishing on the same account.
func LastEvent(ctx context.Context, url string) (e domain.Event, ok bool, err error) {
	nc, err := nats.Connect(url, nats.Name("lighthouse-provision"))
	if err != nil {
		return e, false, fmt.Errorf("connect to bus: %w", err)
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.Context(ctx))
	if err != nil {
		return e, false, fmt.Errorf("jetstream: %w", err)
	}
	msg, err := js.GetLastMsg(Topic, Topic, nats.Context(ctx))
	if errors.Is(err, nats.ErrMsgNotFound) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("last message of %s: %w", Topic, err)
	}
	events, err := decodeBatch(msg.Data)
	if err != nil || len(events) == 0 {
		return e, false, err
	}
	return events[len(events)-1], true, nil
}

func isInsufficientResources(err error) bool {
	var apiErr *nats.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == nats.JSErrCodeInsufficientResourcesErr ||
		apiErr.ErrorCode == 10005 /* no suitable peers for placement */ || apiErr.ErrorCode == 10074 /* not clustered */)
}

// NewPublisher returns a Watermill publisher to the broker at url; each
// publish returns once JetStream has stored the message.
func NewPublisher(url string, log *slog.Logger) (*wmnats.Publisher, error) {
	p, err := wmnats.NewPublisher(wmnats.PublisherConfig{
		URL:         url,
		NatsOptions: natsOptions("lighthouse-writer"),
		Marshaler:   &wmnats.NATSMarshaler{},
		JetStream:   wmnats.JetStreamConfig{},
	}, watermill.NewSlogLogger(log))
	if err != nil {
		return nil, fmt.Errorf("bus publisher: %w", err)
	}
	return p, nil
}

// Subscriber is a Watermill subscriber to the events stream that also
// tells when its subscription may have lost its consumer on the broker.
type Subscriber struct {
	*wmnats.Subscriber
	lost chan struct{}
}

// Lost receives a value when the subscription may have lost its consumer:
// the connection to the broker was lost and made again (an embedded broker
// restarted with the writer keeps no consumers), or the consumer's
// heartbeats stopped (its cluster node went down while this connection's
// did not). Signals that come while one is pending are merged into it.
func (s *Subscriber) Lost() <-chan struct{} { return s.lost }

// consumerHeartbeat is how often an idle consumer tells its subscriber it
// is alive. The client counts it lost after two intervals without a
// message or a heartbeat, checked every two intervals: 0.5-1 s.
const consumerHeartbeat = 250 * time.Millisecond

// NewSubscriber returns a Watermill subscriber that sees every message
// published from now on. It needs no durable state on the broker: the
// projection keeps its own checkpoint and backfills what came before.
func NewSubscriber(url, name string, log *slog.Logger) (*Subscriber, error) {
	lost := make(chan struct{}, 1)
	signal := func() {
		select {
		case lost <- struct{}{}:
		default:
		}
	}
	opts := append(natsOptions(name),
		nats.ReconnectHandler(func(*nats.Conn) { signal() }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrConsumerNotActive) {
				signal()
				return
			}
			log.Warn("bus connection error", "err", err)
		}))
	s, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{
		URL:            url,
		NatsOptions:    opts,
		Unmarshaler:    &wmnats.NATSMarshaler{},
		AckWaitTimeout: 10 * time.Second,
		CloseTimeout:   2 * time.Second,
		JetStream: wmnats.JetStreamConfig{
			AckAsync:         true,
			SubscribeOptions: []nats.SubOpt{nats.DeliverNew(), nats.AckExplicit(), nats.IdleHeartbeat(consumerHeartbeat)},
		},
	}, watermill.NewSlogLogger(log))
	if err != nil {
		return nil, fmt.Errorf("bus subscriber: %w", err)
	}
	return &Subscriber{Subscriber: s, lost: lost}, nil
}

func natsOptions(name string) []nats.Option {
	return []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
}

// encodeBatch puts raw event JSONs into one message payload.
func encodeBatch(events []json.RawMessage) []byte {
	n := 2
	for _, e := range events {
		n += len(e) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, ']')
}
