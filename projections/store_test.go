package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// chain seals drafts into a valid log starting at seq 1, one second apart.
func chain(t *testing.T, drafts ...domain.Draft) []domain.Event {
	t.Helper()
	var out []domain.Event
	prev := ""
	versions := map[string]uint64{}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i, d := range drafts {
		versions[d.StreamID]++
		e, err := d.Seal(uint64(i+1), versions[d.StreamID], t0.Add(time.Duration(i)*time.Second), domain.Metadata{AgentID: "ag"}, prev, domain.ChangeSet{})
		if err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func w(path, hash string) domain.Draft {
	return domain.Draft{StreamID: "file:" + path, Type: domain.TypeFileWritten, Payload: domain.FileWritten{Path: domain.Path(path), Hash: hash, Size: 1}}
}

func del(path string) domain.Draft {
	return domain.Draft{StreamID: "file:" + path, Type: domain.TypeFileDeleted, Payload: domain.FileDeleted{Path: domain.Path(path)}}
}

func TestPointInTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, pebbledb.DefaultSizes(), slog.New(slog.NewTextHandler(io.Discard, nil)), NewAgents())
	if err != nil {
		t.Fatal(err)
	}
	evs := chain(t,
		w("a", "h1"),   // 1
		w("b/c", "h2"), // 2
		w("a", "h3"),   // 3
		del("b/c"),     // 4
		w("b/d", "h4"), // 5
		w("bx", "h5"),  // 6
	)
	var told []string
	s.OnChange(func(seq uint64, changed []Revision) {
		for _, r := range changed {
			told = append(told, fmt.Sprintf("%s:%s:%t@%d", r.Path, r.Hash, r.Deleted, r.Seq))
		}
		told = append(told, fmt.Sprintf("at %d", seq))
	})
	if err := s.Apply(context.Background(), evs[:3]); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(context.Background(), evs[3:]); err != nil {
		t.Fatal(err)
	}
	// Each change as of its event, in log order, then the batch's position.
	if want := []string{"a:h1:false@1", "b/c:h2:false@2", "a:h3:false@3", "at 3",
		"b/c::true@4", "b/d:h4:false@5", "bx:h5:false@6", "at 6"}; !slices.Equal(told, want) {
		t.Fatalf("OnChange told\n%q\nwant\n%q", told, want)
	}
	trees := []struct {
		at     uint64
		prefix string
		want   []string
	}{
		{0, "", []string{"a:h3", "b/d:h4", "bx:h5"}},
		{1, "", []string{"a:h1"}},
		{2, "", []string{"a:h1", "b/c:h2"}},
		{3, "b", []string{"b/c:h2"}},
		{4, "", []string{"a:h3"}},
		{5, "b", []string{"b/d:h4"}},
		{0, "b", []string{"b/d:h4"}},
	}
	for _, tc := range trees {
		files, err := s.Tree(tc.at, tc.prefix)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range files {
			got = append(got, f.Path+":"+f.Hash)
		}
		if len(got) != len(tc.want) {
			t.Errorf("Tree(%d, %q) = %v, want %v", tc.at, tc.prefix, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("Tree(%d, %q) = %v, want %v", tc.at, tc.prefix, got, tc.want)
			}
		}
	}
	if f, err := s.File("a", 2); err != nil || f.Hash != "h1" || f.Version != 1 {
		t.Errorf("File(a, 2) = %+v, %v", f, err)
	}
	if _, err := s.File("b/c", 4); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("File(b/c, 4) = %v, want not found", err)
	}
	if h, _ := s.History("b/c"); len(h) != 2 || !h[1].Deleted {
		t.Errorf("History(b/c) = %+v", h)
	}
	if seq, err := s.SeqAtTime(evs[3].Time.Add(500 * time.Millisecond)); err != nil || seq != 4 {
		t.Errorf("SeqAtTime = %d, %v; want 4", seq, err)
	}
	if seq, err := s.SeqAtTime(evs[0].Time.Add(-time.Second)); err != nil || seq != 0 {
		t.Errorf("SeqAtTime before the first event = %d, %v; want 0", seq, err)
	}
	got, next, err := s.Events(EventFilter{PathPrefix: "b", Limit: 2})
	if err != nil || len(got) != 2 || got[0].Seq != 2 || got[1].Seq != 4 || next != 4 {
		t.Errorf("Events(path b, limit 2) = %d events, next %d, %v", len(got), next, err)
	}
	got, next, _ = s.Events(EventFilter{PathPrefix: "b", AfterSeq: next, Limit: 2})
	if len(got) != 1 || got[0].Seq != 5 || next != 0 {
		t.Errorf("second page = %d events, next %d", len(got), next)
	}
	// The newest first: the last matches, in order, then the page before.
	got, next, err = s.Events(EventFilter{PathPrefix: "b", Limit: 2, Newest: true})
	if err != nil || len(got) != 2 || got[0].Seq != 4 || got[1].Seq != 5 || next != 3 {
		t.Errorf("Events(path b, limit 2, newest) = %d events, next until %d, %v", len(got), next, err)
	}
	got, next, _ = s.Events(EventFilter{PathPrefix: "b", UntilSeq: next, Limit: 2, Newest: true})
	if len(got) != 1 || got[0].Seq != 2 || next != 0 {
		t.Errorf("older page = %d events, next until %d", len(got), next)
	}
	// A gap is refused, and a restart resumes at the position.
	if err := s.Apply(context.Background(), evs[5:]); err == nil {
		t.Error("re-applying an old event succeeded")
	}
	s.Close()
	s, err = Open(dir, pebbledb.DefaultSizes(), slog.New(slog.NewTextHandler(io.Discard, nil)), NewAgents())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if pos, hash := s.Position(); pos != 6 || hash != evs[5].Hash {
		t.Fatalf("reopened at %d", pos)
	}
}

// TestDamagedProjectionIsRebuilt damages a projection's files: it is kept
// aside and an empty one starts, to be rebuilt from the log, and says so.
func TestDamagedProjectionIsRebuilt(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"undecodable position", func(t *testing.T, dir string) {
			db, err := pebble.Open(dir, &pebble.Options{})
			if err != nil {
				t.Fatal(err)
			}
			db.Set([]byte(keyPosition), []byte("{not json"), pebble.Sync)
			db.Close()
		}},
		{"corrupt manifest", func(t *testing.T, dir string) {
			ms, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			if len(ms) == 0 {
				t.Fatal("no manifest")
			}
			for _, m := range ms {
				raw, err := os.ReadFile(m)
				if err != nil {
					t.Fatal(err)
				}
				for i := range raw {
					raw[i] ^= 0x5a
				}
				os.WriteFile(m, raw, 0o600)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "projection")
			s, err := Open(dir, pebbledb.DefaultSizes(), quiet, NewAgents())
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			c.damage(t, dir)
			if _, err := Open(dir, pebbledb.DefaultSizes(), quiet, NewAgents()); err == nil {
				t.Fatal("the damage went unnoticed by Open: the test damages nothing")
			}
			s, err = OpenOrRebuild(dir, pebbledb.DefaultSizes(), quiet, NewAgents())
			if err != nil {
				t.Fatalf("OpenOrRebuild: %v", err)
			}
			defer s.Close()
			if n, reason := s.Rebuilt(); n != 1 || !strings.Contains(reason, "damaged") || s.Head() != 0 {
				t.Fatalf("rebuilt %d %q at %d", n, reason, s.Head())
			}
			if aside, _ := filepath.Glob(dir + ".damaged-*"); len(aside) != 1 {
				t.Fatalf("damaged files not kept aside: %v", aside)
			}
		})
	}
}

// TestApplyStoresReceivedBytes: an event decoded from the writer's stored
// form is kept as exactly those bytes, not encoded again; an event built in
// memory is stored as its encoding. Either way it reads back with its hash.
func TestApplyStoresReceivedBytes(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), pebbledb.DefaultSizes(), slog.New(slog.NewTextHandler(io.Discard, nil)), NewAgents())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := chain(t, w("a", "h1"), w("b", "h2"))
	enc, err := evs[0].Encode()
	if err != nil {
		t.Fatal(err)
	}
	// Whitespace json.Marshal never writes: only a copy of the received
	// bytes keeps it.
	received := append([]byte(" "), enc...)
	first, err := domain.DecodeEvent(received)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(context.Background(), []domain.Event{first, evs[1]}); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]byte{received, nil} {
		seq := uint64(i + 1)
		raw, closer, err := s.db.Get(eventKey(seq))
		if err != nil {
			t.Fatal(err)
		}
		got := string(raw)
		closer.Close()
		if want != nil && got != string(want) {
			t.Errorf("event %d stored as %q, want the received %q", seq, got, want)
		}
		e, err := s.Event(seq)
		if err != nil || e.Hash != evs[i].Hash || e.ComputeHash() != e.Hash {
			t.Errorf("event %d reads back as %v, %v", seq, e.Hash, err)
		}
	}
}

func eventKey(seq uint64) []byte { return pebbledb.Key(prefixEvent, pebbledb.Uint64(seq)) }

// TestEachStoredEvent walks the stored events from a sequence, in pages,
// as the mount's events file does: each event's stored bytes, in order,
// and no more than asked for; an error from the callback stops the walk.
func TestEachStoredEvent(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), pebbledb.DefaultSizes(), slog.New(slog.NewTextHandler(io.Discard, nil)), NewAgents())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := chain(t, w("a", "h1"), w("b", "h2"), del("a"), w("c", "h3"), w("b", "h4"))
	if err := s.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 10, []uint64{1, 2, 3, 4, 5}},
		{0, 2, []uint64{1, 2}},
		{2, 2, []uint64{3, 4}},
		{4, 10, []uint64{5}},
		{5, 10, nil},
		{1, 0, nil},
	} {
		var got []uint64
		err := s.EachStoredEvent(tc.after, tc.limit, func(seq uint64, stored []byte) error {
			got = append(got, seq)
			want, err := evs[seq-1].Encode()
			if err != nil {
				return err
			}
			if !bytes.Equal(stored, want) {
				t.Errorf("event %d stored as %q, want %q", seq, stored, want)
			}
			return nil
		})
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("after %d, limit %d: %v, %v; want %v", tc.after, tc.limit, got, err, tc.want)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err = s.EachStoredEvent(0, 10, func(uint64, []byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("a failing callback: %d calls, %v; want 1, stop", calls, err)
	}
}

// TestAppliedEventsAreFlushedSoon: without a write-ahead log, what a
// projection applied is written to its files within flushAfter, not when
// a memtable fills, so a kill loses at most that much.
func TestAppliedEventsAreFlushedSoon(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), pebbledb.DefaultSizes(), slog.New(slog.DiscardHandler), NewAgents())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	flushes := s.db.Metrics().Flush.Count
	if err := s.Apply(context.Background(), chain(t, w("a", "h1"), w("b", "h2"))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * flushAfter)
	for s.db.Metrics().Flush.Count == flushes {
		if time.Now().After(deadline) {
			t.Fatalf("no flush %v after an apply", 10*flushAfter)
		}
		time.Sleep(flushAfter / 10)
	}
}

// TestPageBatchIsKept: Apply keeps its batch for the next page, and lets
// it go after a failed page and when Pebble took its buffer (a page past
// the large-batch threshold of a small memtable, flushed as it is); a page
// over maxKeptBatch gets a batch of its own and leaves the kept one be.
// Every page's files are there afterwards.
func TestPageBatchIsKept(t *testing.T) {
	t.Parallel()
	var drafts []domain.Draft
	for i := range 12000 {
		drafts = append(drafts, w(fmt.Sprintf("d%02d/f%05d", i%50, i), fmt.Sprintf("h%d", i)))
	}
	evs := chain(t, drafts...)
	if n := applyBatchSize(evs[40:]); n <= maxKeptBatch {
		t.Fatalf("the large page's batch is %d bytes, not over %d", n, maxKeptBatch)
	}
	bad := append([]domain.Event(nil), evs[20:22]...)
	bad[1].Payload = json.RawMessage(`{"path":5}`)
	open := func(sizes pebbledb.Sizes) *Store {
		s, err := Open(t.TempDir(), sizes, slog.New(slog.DiscardHandler), NewAgents())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	apply := func(s *Store, page []domain.Event) {
		t.Helper()
		if err := s.Apply(context.Background(), page); err != nil {
			t.Fatal(err)
		}
	}

	s := open(pebbledb.DefaultSizes())
	apply(s, evs[:10])
	kept := s.batch
	if kept == nil {
		t.Fatal("no batch kept after a page")
	}
	apply(s, evs[10:20])
	if s.batch != kept {
		t.Error("the next page did not reuse the kept batch")
	}
	if err := s.Apply(context.Background(), bad); err == nil {
		t.Fatal("a page with an undecodable file event was applied")
	}
	if s.batch != nil {
		t.Error("a failed page's batch was kept")
	}
	apply(s, evs[20:40])
	kept = s.batch
	apply(s, evs[40:])
	if s.batch != kept {
		t.Error("a page over maxKeptBatch replaced the kept batch")
	}
	for _, i := range []int{0, 15, 25, 5000, len(evs) - 1} {
		if _, err := s.File(fmt.Sprintf("d%02d/f%05d", i%50, i), 0); err != nil {
			t.Errorf("file of event %d: %v", i, err)
		}
	}

	// 8 MiB of cache: 4 MiB memtables, whose large-batch threshold a page
	// of 5,000 file events is past.
	small := open(pebbledb.Sizes{CacheMiB: pebbledb.MinCacheMiB})
	apply(small, evs[:10])
	apply(small, evs[10:5010])
	if small.batch != nil {
		t.Error("a batch Pebble flushed as it was was kept")
	}
	apply(small, evs[5010:5020])
	if small.batch == nil {
		t.Error("no batch kept after a page")
	}
	if _, err := small.File("d15/f05015", 0); err != nil {
		t.Errorf("file of the page after: %v", err)
	}
}

// TestPageBatchBufferIsKept: the kept batch keeps its buffer, so a page
// after another allocates a batch's worth less than the same page applied
// with a new batch. (Not parallel: it counts the process's allocations.)
func TestPageBatchBufferIsKept(t *testing.T) {
	var drafts []domain.Draft
	for i := range 4000 {
		drafts = append(drafts, w(fmt.Sprintf("d%02d/f%05d", i%50, i), fmt.Sprintf("h%d", i)))
	}
	evs := chain(t, drafts...)
	second := func(newBatch bool) uint64 {
		s, err := Open(t.TempDir(), pebbledb.DefaultSizes(), slog.New(slog.DiscardHandler), NewAgents())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Apply(context.Background(), evs[:2000]); err != nil {
			t.Fatal(err)
		}
		if newBatch {
			s.batch.Close()
			s.batch, s.batchCap = nil, 0
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := s.Apply(context.Background(), evs[2000:]); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	kept, fresh, batch := second(false), second(true), uint64(applyBatchSize(evs[2000:]))
	t.Logf("the second page allocated %d bytes with the kept batch, %d with a new one; its batch is about %d", kept, fresh, batch)
	if kept+batch/2 > fresh {
		t.Errorf("the second page allocated %d bytes with the kept batch, %d with a new one (its batch about %d): the kept batch's buffer was not kept", kept, fresh, batch)
	}
}
