package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/nats-io/nats.go"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/bus"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/eventstore"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// TestReplicaRebuildsWhenTheLogIsRestored restores the writer's data from
// a backup taken at an earlier head while the reader keeps its store: the
// reader finds that the log no longer continues its projection, rebuilds
// from the log by itself, says so, and never serves the lost files.
func TestReplicaRebuildsWhenTheLogIsRestored(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		e.put(e.admin, fmt.Sprintf("kept/%d.txt", i), "kept")
	}
	// The backup: the writer's log and contents, taken while it is stopped.
	if err := e.sys.Writer.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	backup := t.TempDir()
	for _, d := range []string{"events", "blobs"} {
		if out, err := exec.Command("cp", "-a", filepath.Join(e.data, d), backup).CombinedOutput(); err != nil {
			t.Fatalf("backup: %v %s", err, out)
		}
	}
	if err := e.sys.StartWriter(ctx); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	for i := 0; i < 20; i++ {
		seq = e.put(e.admin, fmt.Sprintf("lost/%d.txt", i), "lost")
	}
	if _, err := e.readFile("lost/19.txt", seq); err != nil {
		t.Fatal(err)
	}

	// Restore the backup; the writer goes on from the older head.
	if err := e.sys.Writer.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"events", "blobs"} {
		if err := os.RemoveAll(filepath.Join(e.data, d)); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", filepath.Join(backup, d), e.data).CombinedOutput(); err != nil {
			t.Fatalf("restore: %v %s", err, out)
		}
	}
	if err := e.sys.StartWriter(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		e.put(e.admin, fmt.Sprintf("new/%d.txt", i), "new")
	}
	head := e.writerHead()
	if head >= seq {
		t.Fatalf("restored writer at %d, not behind the reader's %d", head, seq)
	}

	var st struct {
		Applied       uint64 `json:"applied"`
		WriterHead    uint64 `json:"writer_head"`
		Rebuilds      int    `json:"rebuilds"`
		RebuildReason string `json:"rebuild_reason"`
	}
	eventually(t, "the reader rebuilt from the restored log", func() error {
		if _, err := e.reader.Do(ctx, "GET", "/v1/status", nil, nil, &st); err != nil {
			return err
		}
		if st.Rebuilds == 0 || st.Applied != head {
			return fmt.Errorf("status %+v, writer head %d", st, head)
		}
		return nil
	})
	if !strings.Contains(st.RebuildReason, "writer's log") {
		t.Errorf("rebuild reason %q", st.RebuildReason)
	}
	var tree struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/tree?min_seq=%d", head), nil, nil, &tree); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, f := range tree.Files {
		counts[strings.Split(f.Path, "/")[0]]++
	}
	if counts["kept"] != 10 || counts["new"] != 5 || counts["lost"] != 0 {
		t.Fatalf("reader serves %v, want 10 kept, 5 new, 0 lost", counts)
	}
}

// TestReplicaThatCannotApplyAnEventKeepsServing puts an event in the
// writer's log that the replicas cannot apply: a snapshot.created of a
// newer schema whose seq is not a number, sealed into the hash chain as a
// writer of another version would. The reader reports it on /readyz (503 with the
// reason) and /v1/status (apply_error), stays up and keeps serving its last
// good state.
func TestReplicaThatCannotApplyAnEventKeepsServing(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	good := e.put(e.admin, "good.txt", "good\n")
	if _, err := e.readFile("good.txt", good); err != nil {
		t.Fatal(err)
	}
	if err := e.sys.Writer.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	store, err := eventstore.Open(filepath.Join(e.data, "events"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: "future-writer"}, Drafts: []domain.Draft{{
		StreamID: domain.SnapshotStreamID("future"), Type: domain.TypeSnapshotCreated, SchemaVersion: 2,
		Payload: json.RawMessage(`{"name":"future","seq":{"at":"1"}}`)}}})
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sys.StartWriter(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, e, "verify"); err != nil {
		t.Fatalf("the crafted event breaks the chain: %v\n%s", err, out)
	}
	eventually(t, "the reader reports the failure on /readyz", func() error {
		status, body, _ := e.rawRequest("GET", e.sys.ReaderURL, "/readyz", nil, nil)
		if status != 503 || !strings.Contains(string(body), fmt.Sprintf("applying the log failed at %d", good)) {
			return fmt.Errorf("/readyz %d %s", status, body)
		}
		return nil
	})
	var st struct {
		Applied    uint64 `json:"applied"`
		ApplyError string `json:"apply_error"`
	}
	if _, err := e.reader.Do(ctx, "GET", "/v1/status", nil, nil, &st); err != nil || st.Applied != good || !strings.Contains(st.ApplyError, "payload") {
		t.Fatalf("status: %+v, %v; want applied %d and an apply_error (the event at %d)", st, err, good, res.FirstSeq)
	}
	if got, err := e.readFile("good.txt", good); err != nil || got != "good\n" {
		t.Fatalf("the last good state is not served: %q, %v", got, err)
	}
	select {
	case <-e.sys.Reader.Done():
		t.Fatalf("the reader exited: %v", e.sys.Reader.Err())
	default:
	}
}

// TestReplicaInAnOlderLayoutRebuilds is an upgrade: the reader's projection
// was written by a release with another key layout (before revisions were
// stored newest first, its position named no layout). The new reader
// empties it at start, says why, rebuilds from the log, and answers trees
// and files at past points as the log has them.
func TestReplicaInAnOlderLayoutRebuilds(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	e.put(e.admin, "a.txt", "one")
	mid := e.put(e.admin, "b.txt", "two")
	if _, err := e.admin.DeleteFile(ctx, "a.txt"); err != nil {
		t.Fatal(err)
	}
	head := e.put(e.admin, "b.txt", "three")
	if _, err := e.readFile("b.txt", head); err != nil {
		t.Fatal(err)
	}
	if err := e.sys.Reader.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// What an older release leaves: its position names no key layout.
	dir := filepath.Join(e.data, "reader", "projection")
	db, err := pebbledb.Open(dir, pebbledb.DefaultSizes(), pebbledb.Logged, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	raw, ok, err := pebbledb.Get(db, []byte("m/pos"))
	var pos map[string]any
	if err == nil && ok {
		err = json.Unmarshal(raw, &pos)
	}
	if err != nil || pos["layout"] == nil {
		t.Fatalf("the projection's position %s (%v) names no layout: the test changes nothing", raw, err)
	}
	delete(pos, "layout")
	raw, _ = json.Marshal(pos)
	if err := db.Set([]byte("m/pos"), raw, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := e.sys.StartReader(ctx); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Applied       uint64 `json:"applied"`
		Rebuilds      int    `json:"rebuilds"`
		RebuildReason string `json:"rebuild_reason"`
	}
	eventually(t, "the reader rebuilt from the log", func() error {
		if _, err := e.reader.Do(ctx, "GET", "/v1/status", nil, nil, &st); err != nil {
			return err
		}
		if st.Applied < head {
			return fmt.Errorf("status %+v, head %d", st, head)
		}
		return nil
	})
	if st.Rebuilds != 1 || !strings.Contains(st.RebuildReason, "layout") {
		t.Fatalf("status %+v: want one rebuild for the key layout", st)
	}
	for _, tc := range []struct {
		at   uint64
		want string
	}{{mid, "a.txt b.txt"}, {head, "b.txt"}} {
		var tree struct {
			Files []struct {
				Path string `json:"path"`
			} `json:"files"`
		}
		if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/tree?at=%d", tc.at), nil, nil, &tree); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range tree.Files {
			got = append(got, f.Path)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("tree at %d = %v, want %s", tc.at, got, tc.want)
		}
	}
	if body, err := e.readFile("b.txt", head); err != nil || body != "three" {
		t.Fatalf("b.txt = %q, %v", body, err)
	}
}

// TestReplicaBehindTheBoundedBusCatchesUp stops the reader while more events
// pass than the embedded broker's stream holds (it keeps them in memory, up
// to a bound), so the broker drops messages the reader never received. Once
// resumed, the reader fills the gap from the writer's log and serves every
// file.
func TestReplicaBehindTheBoundedBusCatchesUp(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	nc, err := nats.Connect(e.sys.BusURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.StreamInfo(bus.Topic)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Storage != nats.MemoryStorage || info.Config.MaxBytes <= 0 {
		t.Fatalf("embedded stream: storage %v, max bytes %d; want memory with a bound", info.Config.Storage, info.Config.MaxBytes)
	}

	first := e.put(e.admin, "first.txt", "first")
	if _, err := e.readFile("first.txt", first); err != nil {
		t.Fatal(err)
	}
	reader := e.sys.Reader.Pid()
	if err := syscall.Kill(reader, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(reader, syscall.SIGCONT)
	// Change sets of long paths (~1 KiB an event) until the stream has
	// dropped messages the reader did not receive.
	dir := strings.Repeat("d", 200) + "/" + strings.Repeat("e", 200) + "/" + strings.Repeat("f", 200)
	var res client.CommandResult
	sets := 0
	for ; ; sets++ {
		if info, err = js.StreamInfo(bus.Topic); err != nil {
			t.Fatal(err)
		}
		if info.State.FirstSeq > 1 {
			break
		}
		if sets == 100 {
			t.Fatalf("the stream kept every message (%d, %d bytes) after %d change sets", info.State.Msgs, info.State.Bytes, sets)
		}
		ops := make([]map[string]any, command.MaxOps)
		for i := range ops {
			ops[i] = map[string]any{"op": "write", "path": fmt.Sprintf("%s/%d/%d.txt", dir, sets, i), "content": fmt.Sprintf("%d/%d", sets, i)}
		}
		if err := e.admin.PostJSON(ctx, "/v1/changes", map[string]any{"ops": ops}, &res); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Kill(reader, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for _, f := range [][2]int{{0, 0}, {0, command.MaxOps - 1}, {sets - 1, command.MaxOps - 1}} {
		path := fmt.Sprintf("%s/%d/%d.txt", dir, f[0], f[1])
		if got, err := e.readFile(path, res.Seq); err != nil || got != fmt.Sprintf("%d/%d", f[0], f[1]) {
			t.Errorf("read %s = %q, %v", path, got, err)
		}
	}
}

// TestReplicaSubscribesAgainWhenTheWriterRestarts kills the writer, whose
// embedded broker keeps no consumers, and starts it again: the reader
// subscribes again as soon as its bus connection is back, before anything
// is written (its idle check would only act on a write the bus missed),
// and what is written next comes to it over the bus.
func TestReplicaSubscribesAgainWhenTheWriterRestarts(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	seq := e.put(e.admin, "before.txt", "before")
	if _, err := e.readFile("before.txt", seq); err != nil {
		t.Fatal(err)
	}
	e.sys.Writer.Kill()
	<-e.sys.Writer.Done()
	if err := e.sys.StartWriter(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reader subscribed again", func() error {
		if n := sumMetric(t, e.sys.ReaderURL, "lighthouse_bus_resubscribes_total", nil); n < 1 {
			return fmt.Errorf("%v resubscriptions", n)
		}
		return nil
	})
	bus := map[string]string{"source": "bus"}
	before := sumMetric(t, e.sys.ReaderURL, "lighthouse_replica_applied_events_total", bus)
	for i := range 3 {
		path := fmt.Sprintf("after%d.txt", i)
		seq := e.put(e.admin, path, "after")
		if got, err := e.readFile(path, seq); err != nil || got != "after" {
			t.Fatalf("read %s = %q, %v", path, got, err)
		}
	}
	if after := sumMetric(t, e.sys.ReaderURL, "lighthouse_replica_applied_events_total", bus); after <= before {
		t.Fatalf("events applied from the bus: %v before the writes, %v after; want the new subscription to deliver", before, after)
	}
	if !strings.Contains(e.out.String(), "may have lost its consumer; subscribing again") {
		t.Error("the reader did not log its new subscription")
	}
}
