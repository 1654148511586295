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
			nc, err := nats.Connect(emb.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, err := nc.JetStream()
			if err != nil {
				t.Fatal(err)
			}
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
