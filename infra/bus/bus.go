// Package bus carries the event stream from the writer to every projection
// with Watermill over NATS JetStream: an embedded broker by default, any
// external JetStream cluster when configured.
package bus

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
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

// EnsureStream creates the events stream on the broker at url if it is
// missing, with the retention Lighthouse wants.
func EnsureStream(url string) error {
	nc, err := nats.Connect(url, nats.Name("lighthouse-provision"))
	if err != nil {
		return fmt.Errorf("connect to bus: %w", err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	cfg := &nats.StreamConfig{Name: Topic, Subjects: []string{Topic}, Storage: nats.FileStorage, MaxAge: retention}
	if _, err := js.StreamInfo(Topic); err == nil {
		return nil
	}
	if _, err := js.AddStream(cfg); err != nil {
		return fmt.Errorf("create stream %s: %w", Topic, err)
	}
	return nil
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

// NewSubscriber returns a Watermill subscriber that sees every message
// published from now on. It needs no durable state on the broker: the
// projection keeps its own checkpoint and backfills what came before.
func NewSubscriber(url, name string, log *slog.Logger) (*wmnats.Subscriber, error) {
	s, err := wmnats.NewSubscriber(wmnats.SubscriberConfig{
		URL:            url,
		NatsOptions:    natsOptions(name),
		Unmarshaler:    &wmnats.NATSMarshaler{},
		AckWaitTimeout: 10 * time.Second,
		CloseTimeout:   2 * time.Second,
		JetStream: wmnats.JetStreamConfig{
			AckAsync:         true,
			SubscribeOptions: []nats.SubOpt{nats.DeliverNew(), nats.AckExplicit()},
		},
	}, watermill.NewSlogLogger(log))
	if err != nil {
		return nil, fmt.Errorf("bus subscriber: %w", err)
	}
	return s, nil
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
