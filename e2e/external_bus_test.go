package e2e

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/lighthouse-ai/lighthouse/infra/bus"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// TestExternalBroker runs the same binaries against a JetStream server that
// is not the writer's embedded one, as a cluster deployment would.
func TestExternalBroker(t *testing.T) {
	t.Parallel()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true, Authorization: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("broker did not start")
	}
	defer srv.Shutdown()
	busURL := (&url.URL{Scheme: "nats", User: url.User("s3cret"), Host: srv.Addr().String()}).String()

	out := &syncBuffer{}
	sys, err := supervisor.StartSystem(context.Background(), supervisor.Config{Data: t.TempDir(), BinDir: binDir, Output: out, BusURL: busURL})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, out.String())
	}
	defer sys.Stop()
	if sys.BusURL != busURL {
		t.Fatalf("system uses bus %s, want the external one", sys.BusURL)
	}
	e := &env{t: t, sys: sys, out: out, admin: client.New(sys.WriterURL, sys.AdminToken), reader: client.New(sys.ReaderURL, sys.AdminToken)}
	var seq uint64
	for i := 0; i < 20; i++ {
		seq = e.put(e.admin, fmt.Sprintf("f%d", i), fmt.Sprint(i))
	}
	if got, err := e.readFile("f19", seq); err != nil || got != "19" {
		t.Fatalf("read through external bus = %q, %v\n%s", got, err, out.String())
	}
	// The events went through the external broker's stream.
	nc, err := nats.Connect(busURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	info, err := js.StreamInfo(bus.Topic)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs == 0 || info.Config.MaxAge == 0 {
		t.Fatalf("stream %s holds %d messages (max age %s), want the published events", bus.Topic, info.State.Msgs, info.Config.MaxAge)
	}
	// An external cluster keeps the stream on its disks, unbounded but by age.
	if info.Config.Storage != nats.FileStorage || info.Config.MaxBytes > 0 {
		t.Fatalf("stream %s: storage %v, max bytes %d; want file storage without a byte bound", bus.Topic, info.Config.Storage, info.Config.MaxBytes)
	}
}
