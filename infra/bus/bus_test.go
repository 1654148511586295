package bus

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestEnsureStreamStorage checks where each broker keeps the stream: the
// embedded one in memory with a byte bound (replacing a stream an older
// writer kept on its disk), an external one on disk, as it was.
func TestEnsureStreamStorage(t *testing.T) {
	t.Parallel()
	onDisk := &nats.StreamConfig{Name: Topic, Subjects: []string{Topic}, Storage: nats.FileStorage, MaxAge: retention}
	tests := []struct {
		name      string
		existing  *nats.StreamConfig
		embedded  bool
		storage   nats.StorageType
		maxBytes  int64
		keepsMsgs bool
	}{
		{"embedded, new", nil, true, nats.MemoryStorage, embeddedStreamBytes, false},
		{"embedded, an older writer's stream on disk", onDisk, true, nats.MemoryStorage, embeddedStreamBytes, false},
		{"external, new", nil, false, nats.FileStorage, -1, false},
		{"external, existing", onDisk, false, nats.FileStorage, -1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emb, err := StartEmbedded("127.0.0.1:0", t.TempDir(), "tok")
			if err != nil {
				t.Fatal(err)
			}
			defer emb.Close()
			js := jetStream(t, emb.URL())
			if tc.existing != nil {
				if _, err := js.AddStream(tc.existing); err != nil {
					t.Fatal(err)
				}
				if _, err := js.Publish(Topic, []byte(`[]`)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			for range 2 { // a second start finds the stream as the first left it
				if replicas, err := EnsureStream(ctx, emb.URL(), tc.embedded, log); err != nil || replicas != 1 {
					t.Fatalf("EnsureStream = %d, %v; want 1 replica", replicas, err)
				}
			}
			info, err := js.StreamInfo(Topic)
			if err != nil {
				t.Fatal(err)
			}
			if info.Config.Storage != tc.storage || info.Config.MaxBytes != tc.maxBytes || info.Config.MaxAge != retention {
				t.Errorf("stream storage %v, max bytes %d, max age %s; want %v, %d, %s",
					info.Config.Storage, info.Config.MaxBytes, info.Config.MaxAge, tc.storage, tc.maxBytes, retention)
			}
			if kept := info.State.Msgs > 0; kept != tc.keepsMsgs {
				t.Errorf("stream holds %d messages; want kept=%v", info.State.Msgs, tc.keepsMsgs)
			}
		})
	}
}

// TestSubscriberSignalsALostConsumer checks both ways a subscription's
// consumer goes without the subscription closing: deleted on the broker
// (as when its cluster node dies), its heartbeats stop; the broker restarts
// (as the embedded one does with the writer), the connection is made again.
func TestSubscriberSignalsALostConsumer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		lose func(t *testing.T, emb **Embedded, js nats.JetStreamContext, addr, dir string)
	}{
		{"consumer deleted", func(t *testing.T, _ **Embedded, js nats.JetStreamContext, _, _ string) {
			for name := range js.ConsumerNames(Topic) {
				if err := js.DeleteConsumer(Topic, name); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"broker restarted", func(t *testing.T, emb **Embedded, _ nats.JetStreamContext, addr, dir string) {
			(*emb).Close()
			again, err := StartEmbedded(addr, dir, "tok")
			if err != nil {
				t.Fatal(err)
			}
			*emb = again
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			emb, err := StartEmbedded("127.0.0.1:0", dir, "tok")
			if err != nil {
				t.Fatal(err)
			}
			defer func() { emb.Close() }()
			addr := emb.srv.Addr().String()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := EnsureStream(ctx, emb.URL(), true, log); err != nil {
				t.Fatal(err)
			}
			sub, err := NewSubscriber(emb.URL(), "test", log)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if _, err := sub.Subscribe(ctx, Topic); err != nil {
				t.Fatal(err)
			}
			js := jetStream(t, emb.URL())
			// Heartbeats flow while the consumer lives: no signal.
			select {
			case <-sub.Lost():
				t.Fatal("a live consumer was reported lost")
			case <-time.After(4 * consumerHeartbeat):
			}
			tc.lose(t, &emb, js, addr, dir)
			select {
			case <-sub.Lost():
			case <-ctx.Done():
				t.Fatal("the lost consumer was never reported")
			}
		})
	}
}

// jetStream connects to the broker at url for the length of the test.
func jetStream(t *testing.T, url string) nats.JetStreamContext {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	return js
}
