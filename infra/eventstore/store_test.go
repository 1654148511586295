package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lighthouse-ai/lighthouse/domain"
)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func write(stream string) domain.Draft {
	return domain.Draft{StreamID: stream, Type: domain.TypeFileWritten, SchemaVersion: 1, Payload: domain.FileWritten{Path: "x", Hash: "h"}}
}

func TestConcurrentAppendsAreGapFreeAndChained(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	var wg sync.WaitGroup
	const writers, each = 32, 40
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				req := domain.AppendRequest{Meta: domain.Metadata{AgentID: "a"}, Drafts: []domain.Draft{write(fmt.Sprintf("s%d", w)), write("shared")}}
				if _, err := s.Append(ctx, req); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	head, hash := s.Head()
	if head != writers*each*2 {
		t.Fatalf("head = %d, want %d", head, writers*each*2)
	}
	if n, err := s.Verify(); err != nil || n != head {
		t.Fatalf("verify = %d, %v", n, err)
	}
	if v, _ := s.StreamVersion("shared"); v != writers*each {
		t.Fatalf("shared stream version = %d", v)
	}
	s.Close()
	// Reopening keeps the head and the chain continues from it.
	s = open(t, dir)
	defer s.Close()
	if h, hh := s.Head(); h != head || hh != hash {
		t.Fatalf("reopened head = %d %s, want %d %s", h, hh, head, hash)
	}
	res, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write("after")}})
	if err != nil || res.FirstSeq != head+1 {
		t.Fatalf("append after reopen = %+v, %v", res, err)
	}
	if n, err := s.Verify(); err != nil || n != head+1 {
		t.Fatalf("verify after reopen = %d, %v", n, err)
	}
}

func TestExpectationsAndIdempotency(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	meta := domain.Metadata{AgentID: "a"}
	if _, err := s.Append(ctx, domain.AppendRequest{Meta: meta, Drafts: []domain.Draft{write("f")}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		req     domain.AppendRequest
		wantErr bool
		dup     bool
	}{
		{"stale", domain.AppendRequest{Meta: meta, Expect: []domain.Expectation{{StreamID: "f", Version: 0}}, Drafts: []domain.Draft{write("f")}}, true, false},
		{"current", domain.AppendRequest{Meta: meta, Expect: []domain.Expectation{{StreamID: "f", Version: 1}}, Drafts: []domain.Draft{write("f")}, CommandID: "c1"}, false, false},
		{"retry", domain.AppendRequest{Meta: meta, Expect: []domain.Expectation{{StreamID: "f", Version: 1}}, Drafts: []domain.Draft{write("f")}, CommandID: "c1"}, false, true},
		{"other agent same id", domain.AppendRequest{Meta: domain.Metadata{AgentID: "b"}, Drafts: []domain.Draft{write("g")}, CommandID: "c1"}, false, false},
		{"new stream", domain.AppendRequest{Meta: meta, Expect: []domain.Expectation{{StreamID: "h", Version: 0}}, Drafts: []domain.Draft{write("h")}}, false, false},
	}
	for _, tc := range cases {
		before, _ := s.Head()
		res, err := s.Append(ctx, tc.req)
		var ce *domain.ConflictError
		if tc.wantErr != errors.As(err, &ce) || res.Duplicate != tc.dup {
			t.Fatalf("%s: %+v, %v", tc.name, res, err)
		}
		after, _ := s.Head()
		if grew := after > before; grew == (tc.wantErr || tc.dup) {
			t.Fatalf("%s: head %d → %d", tc.name, before, after)
		}
	}
}

func TestCommandIDMeansOneRequest(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	req := func(id, fp, stream string) domain.AppendRequest {
		return domain.AppendRequest{CommandID: id, Fingerprint: fp, Meta: domain.Metadata{AgentID: "a"}, Drafts: []domain.Draft{write(stream)}}
	}
	cases := []struct {
		name string
		req  domain.AppendRequest
		code string // the rule broken, "" for none
		dup  bool
	}{
		{"first", req("k", "fp1", "f"), "", false},
		{"retry", req("k", "fp1", "f"), "", true},
		{"other request", req("k", "fp2", "f"), "command_id_reused", false},
		{"no fingerprint", req("k", "", "f"), "", true},
		{"other id", req("k2", "fp2", "g"), "", false},
	}
	for _, tc := range cases {
		res, err := s.Append(ctx, tc.req)
		var re *domain.RuleError
		if (tc.code != "") != (errors.As(err, &re) && re.Code == tc.code) || (tc.code == "" && err != nil) || res.Duplicate != tc.dup {
			t.Errorf("%s: %+v, %v", tc.name, res, err)
		}
	}
}

func TestGuardSeesTheLogAndRefuses(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	for _, stream := range []string{"file:d/a", "file:d/b", "file:e"} {
		if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write(stream)}}); err != nil {
			t.Fatal(err)
		}
	}
	refused := errors.New("refused")
	var seen []string
	guard := func(log domain.StreamLookup) error {
		seen = seen[:0]
		if err := log.EachStream("file:d/", func(stream string) bool { seen = append(seen, stream); return true }); err != nil {
			return err
		}
		if _, ok, err := log.LastEvent("file:e"); err != nil || !ok {
			return fmt.Errorf("last event of file:e: %v %v", ok, err)
		}
		return refused
	}
	before, _ := s.Head()
	if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write("x")}, Guard: guard}); !errors.Is(err, refused) {
		t.Fatalf("guarded append: %v", err)
	}
	if after, _ := s.Head(); after != before {
		t.Fatalf("a refused append moved the head %d → %d", before, after)
	}
	if fmt.Sprint(seen) != "[file:d/a file:d/b]" {
		t.Fatalf("guard saw streams %v", seen)
	}
}

func BenchmarkAppendParallel(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	ctx := context.Background()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write("b")}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestDamagedStoreIsNotReady flips bytes in the log's table file: reading
// the log fails, and from then on the store is not ready, with the reason.
func TestDamagedStoreIsNotReady(t *testing.T) {
	t.Parallel()
	for _, damage := range []bool{false, true} {
		dir := t.TempDir()
		s := open(t, dir)
		ctx := context.Background()
		for i := 0; i < 20; i++ {
			req := domain.AppendRequest{Meta: domain.Metadata{AgentID: "a"}}
			for j := 0; j < 100; j++ {
				req.Drafts = append(req.Drafts, write(fmt.Sprintf("file:%d/%d", i, j)))
			}
			if _, err := s.Append(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if damage {
			tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
			if len(tables) == 0 {
				t.Fatal("no table file to damage")
			}
			for _, tbl := range tables {
				raw, err := os.ReadFile(tbl)
				if err != nil {
					t.Fatal(err)
				}
				for i := len(raw) / 4; i < len(raw)/2; i += 512 {
					raw[i] ^= 0xff
				}
				if err := os.WriteFile(tbl, raw, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		s, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			if damage {
				continue // refusing to open at all is as clear
			}
			t.Fatal(err)
		}
		_, readErr := s.Read(0, 10000)
		ready := s.Ready()
		s.Close()
		if damage && (readErr == nil || ready == nil || !strings.Contains(ready.Error(), "damaged")) {
			t.Errorf("damaged store: read %v, ready %v", readErr, ready)
		}
		if !damage && (readErr != nil || ready != nil) {
			t.Errorf("intact store: read %v, ready %v", readErr, ready)
		}
	}
}

// observerFunc adapts a function to Observer.
type observerFunc func(domain.Event) error

func (f observerFunc) Apply(e domain.Event) error { return f(e) }

// TestViewsSeeEventsBeforeReaders: while a view applies an event, the
// log's readers (Read, ReadRaw, Head: what the relay publishes and the
// replicas backfill) do not see it yet, and the append has not returned:
// whoever sees an event can act on it at the writer at once.
func TestViewsSeeEventsBeforeReaders(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write("first")}}); err != nil {
		t.Fatal(err)
	}
	var seen []uint64
	s.Observe(observerFunc(func(e domain.Event) error {
		head, _ := s.Head()
		evs, err := s.Read(0, 100)
		raws, rerr := s.ReadRaw(0, 100)
		if err != nil || rerr != nil || head >= e.Seq || len(evs) >= int(e.Seq) || len(raws) >= int(e.Seq) {
			t.Errorf("while a view applies event %d: head %d, Read %d events, ReadRaw %d (%v %v)", e.Seq, head, len(evs), len(raws), err, rerr)
		}
		seen = append(seen, e.Seq)
		return nil
	}))
	res, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write("a"), write("b")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != res.FirstSeq || seen[1] != res.LastSeq {
		t.Fatalf("the view saw %v before the append of %d-%d returned", seen, res.FirstSeq, res.LastSeq)
	}
	if evs, err := s.Read(0, 100); err != nil || len(evs) != 3 {
		t.Fatalf("after the append, Read gives %d events (%v), want 3", len(evs), err)
	}
}

// TestReplayLatestSeesEachStreamsNewestEvent checks ReplayLatest against
// ReplayStreams: the same streams, in the same order, each with only its
// newest event, and nothing outside the prefix.
func TestReplayLatestSeesEachStreamsNewestEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, t.TempDir())
	defer s.Close()
	for _, stream := range []string{"file:a", "file:b", "file:a", "file:c/d", "file:a", "filex:z", "agent:1", "file:b"} {
		if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write(stream)}}); err != nil {
			t.Fatal(err)
		}
	}
	newest := map[string]uint64{}
	var order []string
	if err := s.ReplayStreams("file:", func(e domain.Event) error {
		if _, ok := newest[e.StreamID]; !ok {
			order = append(order, e.StreamID)
		}
		newest[e.StreamID] = e.Seq
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.ReplayLatest("file:", func(e domain.Event) error {
		if e.Seq != newest[e.StreamID] {
			t.Errorf("stream %s: replayed seq %d, newest is %d", e.StreamID, e.Seq, newest[e.StreamID])
		}
		got = append(got, e.StreamID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(order) || len(got) != 3 {
		t.Errorf("ReplayLatest streams %v, want %v (3 streams)", got, order)
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.ReplayLatest("file:", func(domain.Event) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("an error from fn: got %v after %d calls, want it returned after 1", err, calls)
	}
}

// TestStreamHeadsAcrossReopen: each stream's version and newest event are
// the log's, whether the stream was appended to before the store was
// opened (read from disk at open) or after (kept from the commit), and a
// group that fails to commit moves none of them.
func TestStreamHeadsAcrossReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	for _, stream := range []string{"file:a", "file:b", "file:a"} {
		if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write(stream)}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)), WithReserve(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, want map[string][2]uint64) {
		t.Helper()
		for stream, w := range want {
			v, err := s.StreamVersion(stream)
			e, ok, lerr := s.LastEvent(stream)
			if err != nil || lerr != nil || v != w[0] || ok != (w[0] > 0) || e.Seq != w[1] || ok && e.StreamVersion != v {
				t.Errorf("%s: %s at version %d (%v), last event seq %d version %d (%t, %v); want version %d, seq %d",
					when, stream, v, err, e.Seq, e.StreamVersion, ok, lerr, w[0], w[1])
			}
		}
	}
	before := map[string][2]uint64{"file:a": {2, 3}, "file:b": {1, 2}, "file:c": {0, 0}}
	check("after reopen", before)
	// No disk has 4 EiB free: the append is refused before its commit.
	if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write("file:a"), write("file:c")}}); err == nil {
		t.Fatal("an append with no room left succeeded")
	}
	check("after a refused append", before)
	s.Close()
	s = open(t, dir)
	defer s.Close()
	check("after another reopen", before)
	if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write("file:c"), write("file:a")},
		Expect: []domain.Expectation{{StreamID: "file:a", Version: 2}, {StreamID: "file:c", Version: 0}}}); err != nil {
		t.Fatal(err)
	}
	check("after an append", map[string][2]uint64{"file:a": {3, 5}, "file:b": {1, 2}, "file:c": {1, 4}})
	var conflict *domain.ConflictError
	if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write("file:a")},
		Expect: []domain.Expectation{{StreamID: "file:a", Version: 2}}}); !errors.As(err, &conflict) || conflict.Current != 3 {
		t.Fatalf("a stale expectation: %v, want a conflict at version 3", err)
	}
}

// TestDamagedVersionRecord: a stream whose version record does not decode
// fails its reads and appends, and the store is not ready; other streams
// work as before.
func TestDamagedVersionRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	for _, stream := range []string{"file:a", "file:b"} {
		if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write(stream)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Set([]byte(prefixVersion+"file:a"), []byte{1, 2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir)
	defer s.Close()
	if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "file:a") {
		t.Errorf("Ready() = %v, want the damaged record of file:a", err)
	}
	if _, err := s.StreamVersion("file:a"); !errors.Is(err, errDamaged) {
		t.Errorf("StreamVersion(file:a) = %v, want errDamaged", err)
	}
	if _, _, err := s.LastEvent("file:a"); !errors.Is(err, errDamaged) {
		t.Errorf("LastEvent(file:a) = %v, want errDamaged", err)
	}
	head, _ := s.Head()
	if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write("file:a")}}); !errors.Is(err, errDamaged) {
		t.Errorf("an append to file:a: %v, want errDamaged", err)
	}
	if after, _ := s.Head(); after != head {
		t.Errorf("the refused append moved the head %d → %d", head, after)
	}
	if _, err := s.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{write("file:b")}}); err != nil {
		t.Errorf("an append to file:b: %v", err)
	}
}

// TestGroupBatchSizeCoversTheBatch: a group's batch is sized up front from
// its requests, and must not need to grow for what the group writes (file
// writes with and without content, a command id, one event and many), nor
// hold much more than it, nor more than its bound.
func TestGroupBatchSizeCoversTheBatch(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	defer s.Close()
	fileWrite := func(i int, content []byte) (domain.Draft, map[string][]byte) {
		sum := sha256.Sum256(content)
		h := hex.EncodeToString(sum[:])
		p := fmt.Sprintf("src/module-%03d/some/deeper/directory/file-%06d.go", i%100, i)
		return domain.Draft{StreamID: "file:" + p, Type: domain.TypeFileWritten, SchemaVersion: 1,
			Payload: domain.FileWritten{Path: domain.Path(p), Hash: h, Size: int64(len(content)), Mode: 0o644}}, map[string][]byte{h: content}
	}
	cases := []struct {
		name    string
		files   int
		content int
	}{
		{"one write, no content", 1, 0},
		{"one write, 4 KiB", 1, 4096},
		{"a change set of 1,000 writes of 200 bytes", 1000, 200},
		{"a change set of 1,000 writes of 4 KiB", 1000, 4096},
	}
	for k, c := range cases {
		req := domain.AppendRequest{CommandID: fmt.Sprintf("cmd-%d", k), Meta: domain.Metadata{AgentID: "agent-with-a-long-name", SessionID: "session-0123456789"}, Blobs: map[string][]byte{}}
		for i := range c.files {
			content := []byte(strings.Repeat(fmt.Sprint(k, "-", i, ";"), c.content+1)[:c.content])
			d, blobs := fileWrite(k*10000+i, content)
			req.Drafts = append(req.Drafts, d)
			if c.content > 0 {
				maps.Copy(req.Blobs, blobs)
			}
		}
		group := []*pending{{ctx: context.Background(), req: req}}
		g := &groupState{store: s, batch: s.db.NewBatch(), versions: map[string]uint64{}, commands: map[string]commandRecord{}, last: map[string]domain.Event{}}
		if _, err := g.add(req); err != nil {
			t.Fatal(err)
		}
		if est, got := groupBatchSize(group), len(g.batch.Repr()); est < got || est > got*3/2 {
			t.Errorf("%s: estimated %d bytes, the batch holds %d; want at least that, at most half again", c.name, est, got)
		}
		g.batch.Close()
	}
	// A retried 64 MiB change set may write almost nothing: the estimate
	// stops at its bound.
	huge := &pending{req: domain.AppendRequest{Blobs: map[string][]byte{"h": make([]byte, 64<<20)}}}
	if got := groupBatchSize([]*pending{huge}); got != maxBatchEstimate {
		t.Errorf("a 64 MiB content estimated at %d bytes, want the bound %d", got, maxBatchEstimate)
	}
}

// TestEachFileVersion: every file version with content, written or moved
// there, oldest first with its content's hash; a deletion holds nothing.
func TestEachFileVersion(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	wrote := func(p, h string) domain.Draft {
		return domain.Draft{StreamID: "file:" + p, Type: domain.TypeFileWritten, SchemaVersion: 1, Payload: domain.FileWritten{Path: domain.Path(p), Hash: h, Size: 1}}
	}
	drafts := []domain.Draft{
		wrote("a.txt", "h1"), // 1
		wrote("b.txt", "h2"), // 2
		wrote("c.txt", "h1"), // 3
		{StreamID: "file:a.txt", Type: domain.TypeFileDeleted, SchemaVersion: 1, Payload: domain.FileDeleted{Path: "a.txt"}},                               // 4
		{StreamID: "file:d.txt", Type: domain.TypeFileMoved, SchemaVersion: 1, Payload: domain.FileMoved{From: "b.txt", To: "d.txt", Hash: "h2", Size: 1}}, // 5
		wrote("e.txt", "h1"), // 6
	}
	for _, d := range drafts {
		if _, err := s.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: "a"}, Drafts: []domain.Draft{d}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := s.EachFileVersion(func(hash string, v domain.FileVersion) error {
		got = append(got, fmt.Sprintf("%s %s@%d", hash, v.Path, v.Seq))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"h1 a.txt@1", "h2 b.txt@2", "h1 c.txt@3", "h2 d.txt@5", "h1 e.txt@6"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("file versions = %v, want %v", got, want)
	}
	// fn's error ends the walk.
	stop := errors.New("stop")
	n := 0
	if err := s.EachFileVersion(func(string, domain.FileVersion) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("a walk fn stopped: %v after %d", err, n)
	}
}
