package projections

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// TestPointQueriesMatchTheLog: Tree, File and History at every point of a
// random log of writes and deletes answer what replaying the log up to that
// point gives, for every prefix, including paths that are prefixes of other
// paths and paths deleted and written again; with keyframes rare (none in
// this log: every past tree is read from the empty tree or by seeks) and
// frequent, and across a reopen between applies.
func TestPointQueriesMatchTheLog(t *testing.T) {
	t.Parallel()
	paths := []string{"a", "a.go", "a/b", "a/b/c", "a/bc", "ab", "b", "b/a", "z/y/x"}
	for _, tc := range []struct {
		seed     uint64
		keyframe int  // the minimum file changes between keyframes
		churn    bool // keyframes merged from the one before, not read from cur/
	}{{1, keyframeMinimum, false}, {2, keyframeMinimum, false}, {1, 3, false}, {2, 3, true}, {3, 20, false}, {3, 20, true}} {
		t.Run(fmt.Sprintf("seed %d keyframes %d churn %v", tc.seed, tc.keyframe, tc.churn), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(tc.seed, 0))
			var drafts []domain.Draft
			for i := range 240 {
				p := paths[rng.IntN(len(paths))]
				if rng.IntN(4) == 0 {
					drafts = append(drafts, del(p))
				} else {
					drafts = append(drafts, w(p, fmt.Sprintf("h%d", i)))
				}
			}
			evs := chain(t, drafts...)
			dir := t.TempDir()
			open := func() *Store {
				s := openStore(t, dir, tc.keyframe)
				s.kf.churn = tc.churn
				return s
			}
			s := open()
			defer func() { s.Close() }()
			// Applied in uneven batches, so revisions sit in memtables and
			// in flushed tables alike.
			for i := 0; i < len(evs); {
				if i > len(evs)/2 && rng.IntN(4) == 0 {
					s.Close()
					s = open()
				}
				n := min(1+rng.IntN(60), len(evs)-i)
				if err := s.Apply(context.Background(), evs[i:i+n]); err != nil {
					t.Fatal(err)
				}
				if rng.IntN(3) == 0 {
					if err := s.db.Flush(); err != nil {
						t.Fatal(err)
					}
				}
				i += n
			}
			if frequent := tc.keyframe < keyframeMinimum; frequent != (s.kf.seq > 0) {
				t.Fatalf("newest keyframe at %d with keyframes every %d changes", s.kf.seq, tc.keyframe)
			}
			state := map[string]string{} // path → hash, replayed
			history := map[string][]string{}
			for _, e := range evs {
				c, _, err := domain.AsFileChange(e)
				if err != nil {
					t.Fatal(err)
				}
				p := string(c.Path)
				if c.Deleted {
					delete(state, p)
					history[p] = append(history[p], "deleted")
				} else {
					state[p] = c.Hash
					history[p] = append(history[p], c.Hash)
				}
				for _, prefix := range []string{"", "a", "a/b", "b", "z"} {
					var want []string
					for _, q := range paths {
						if h, ok := state[q]; ok && (prefix == "" || q == prefix || strings.HasPrefix(q, prefix+"/")) {
							want = append(want, q+":"+h)
						}
					}
					files, err := s.Tree(e.Seq, prefix)
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, f := range files {
						got = append(got, f.Path+":"+f.Hash)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("Tree(%d, %q) = %v, want %v", e.Seq, prefix, got, want)
					}
				}
				for _, q := range paths {
					f, err := s.File(q, e.Seq)
					h, ok := state[q]
					switch {
					case ok && (err != nil || f.Hash != h):
						t.Fatalf("File(%s, %d) = %+v, %v; want hash %s", q, e.Seq, f, err, h)
					case !ok && !errors.Is(err, domain.ErrNotFound):
						t.Fatalf("File(%s, %d) = %+v, %v; want not found", q, e.Seq, f, err)
					}
				}
			}
			// Heads answers a batch of paths (unsorted, repeated, absent)
			// as File answers each at head.
			ask := []string{"nope", "z/y/x", "a", "a/b", "a", "b/a/c", ""}
			ask = append(ask, paths...)
			var want []FileInfo
			for _, q := range slices.Compact(slices.Sorted(slices.Values(ask))) {
				if f, err := s.File(q, 0); err == nil {
					want = append(want, f)
				} else if !errors.Is(err, domain.ErrNotFound) {
					t.Fatal(err)
				}
			}
			heads, err := s.Heads(ask)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(heads, want) {
				t.Fatalf("Heads(%q) =\n%+v\nwant (File at head for each)\n%+v", ask, heads, want)
			}
			for _, q := range paths {
				revs, err := s.History(q)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range revs {
					if r.Deleted {
						got = append(got, "deleted")
					} else {
						got = append(got, r.Hash)
					}
				}
				if !reflect.DeepEqual(got, history[q]) {
					t.Fatalf("History(%s) = %v, want %v (oldest first)", q, got, history[q])
				}
			}
		})
	}
}

// TestOlderLayoutIsRebuilt: a projection an older release wrote to (its
// position names no layout: releases before layout 2 wrote revisions
// oldest first and rewrite the position without a layout on every apply,
// even over a newer projection they were rolled back onto; or layout 2,
// whose revisions are JSON; or layout 3, with no file changes in log order
// to read a past tree from) is emptied at open, reports why, and is
// rebuilt from the log like a new one.
func TestOlderLayoutIsRebuilt(t *testing.T) {
	t.Parallel()
	evs := chain(t, w("a", "h1"), w("b", "h2"), w("a", "h3"), del("b"))
	for _, tc := range []struct {
		name   string
		apply  int    // events this release applied before the older one ran
		layout string // the layout the older release's position names
	}{
		{"an older release's projection", 0, ""},
		{"rolled back onto a newer one and forward again", 2, ""},
		{"layout 2, JSON revisions", 0, `,"layout":"2"`},
		{"layout 3, no keyframes", 2, `,"layout":"3"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir, 0)
			if err := s.Apply(context.Background(), evs[:tc.apply]); err != nil {
				t.Fatal(err)
			}
			if n, _ := s.Rebuilt(); n != 0 {
				t.Fatalf("a new projection reports %d rebuilds", n)
			}
			// What the older release leaves: its revisions oldest first, a
			// deletion dropped from cur/, a position without a layout.
			old := pebbledb.Key(prefixRev, []byte("a"), []byte{0}, pebbledb.Uint64(3))
			if err := s.db.Set(old, []byte(`{"path":"a","hash":"h3","last_seq":3,"type":"file.written"}`), pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			if err := s.db.Delete(pebbledb.Key(prefixCur, []byte("b")), pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			if err := s.db.Set([]byte(keyPosition), []byte(fmt.Sprintf(`{"seq":4,"hash":%q%s}`, evs[3].Hash, tc.layout)), pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s = openStore(t, dir, 0)
			if n, reason := s.Rebuilt(); n != 1 || !strings.Contains(reason, "layout") || s.Head() != 0 {
				t.Fatalf("rebuilt %d %q at %d; want 1, a layout reason, at 0", n, reason, s.Head())
			}
			if h, _ := s.History("a"); len(h) != 0 {
				t.Fatalf("revisions of the old layout kept: %+v", h)
			}
			if err := s.Apply(context.Background(), evs); err != nil {
				t.Fatal(err)
			}
			for at, want := range map[uint64]string{2: "a:h1 b:h2", 3: "a:h3 b:h2", 4: "a:h3"} {
				if got := treeAt(t, s, at); got != want {
					t.Errorf("Tree(%d) after the rebuild = %s, want %s", at, got, want)
				}
			}
			s.Close()
			// This release's own position reopens as it is.
			s = openStore(t, dir, 0)
			defer s.Close()
			if n, _ := s.Rebuilt(); n != 0 || s.Head() != 4 {
				t.Fatalf("reopened with %d rebuilds at %d, want 0 at 4", n, s.Head())
			}
		})
	}
}

// TestKeyframesAtOpen: a keyframe whose record was never written (a crash
// while its files were) is deleted at open and never read; a keyframe
// record that does not decode makes the projection damaged, so it is
// rebuilt from the log.
func TestKeyframesAtOpen(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	evs := chain(t, w("a", "h1"), w("b", "h2"), w("a", "h3"), del("b"), w("c", "h5"), w("a", "h6"))
	for _, tc := range []struct {
		name    string
		damage  func(db *pebble.DB) error
		rebuilt int
	}{
		{"incomplete keyframe", func(db *pebble.DB) error {
			return db.Set(pebbledb.Key(prefixKeyFiles, pebbledb.Uint64(5), []byte("ghost")), appendRevision(nil, Revision{FileInfo: FileInfo{Hash: "hx", Seq: 5}}), pebble.NoSync)
		}, 0},
		{"keyframe record that does not decode", func(db *pebble.DB) error {
			return db.Set(pebbledb.Key(prefixKeyframe, pebbledb.Uint64(5)), []byte{0xff}, pebble.NoSync)
		}, 1},
		{"keyframe record with an unknown flag", func(db *pebble.DB) error {
			return db.Set(pebbledb.Key(prefixKeyframe, pebbledb.Uint64(5)), []byte{2, 4}, pebble.NoSync)
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir, 1)
			if err := s.Apply(context.Background(), evs[:3]); err != nil {
				t.Fatal(err)
			}
			if s.kf.seq != 3 {
				t.Fatalf("newest keyframe at %d, want 3", s.kf.seq)
			}
			s.kf.minimum = keyframeMinimum // the only one
			if err := s.Apply(context.Background(), evs[3:]); err != nil {
				t.Fatal(err)
			}
			if err := tc.damage(s.db); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, err := OpenOrRebuild(dir, pebbledb.DefaultSizes(), quiet, NewAgents())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if n, _ := s.Rebuilt(); n != tc.rebuilt {
				t.Fatalf("rebuilt %d times, want %d", n, tc.rebuilt)
			}
			if tc.rebuilt > 0 {
				if err := s.Apply(context.Background(), evs); err != nil {
					t.Fatal(err)
				}
			}
			if got, _, _ := pebbledb.Get(s.db, pebbledb.Key(prefixKeyFiles, pebbledb.Uint64(5), []byte("ghost"))); got != nil {
				t.Fatal("an incomplete keyframe's file is kept")
			}
			// Each point is read from the keyframe at 3 (or from the empty
			// tree after a rebuild), however far from the head.
			for at, want := range map[uint64]string{1: "a:h1", 2: "a:h1 b:h2", 3: "a:h3 b:h2", 4: "a:h3", 5: "a:h3 c:h5"} {
				if got := treeAt(t, s, at); got != want {
					t.Errorf("Tree(%d) = %s, want %s", at, got, want)
				}
			}
		})
	}
}

// TestEmptiedByAnOlderRelease: an older release that empties a projection
// (rolled back onto it, or rebuilding) deletes its position and the
// prefixes it knows, not the file changes and keyframes of layout 4. With
// no position left, they are not taken for this log's: a past tree after a
// rebuild from another log shows only that log's files.
func TestEmptiedByAnOlderRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir, 2)
	old := chain(t, w("a", "h1"), w("b", "h2"), w("a", "h3"), w("b", "h4"))
	for i := 0; i < len(old); i += 2 {
		if err := s.Apply(context.Background(), old[i:i+2]); err != nil {
			t.Fatal(err)
		}
	}
	if s.kf.seq != 4 {
		t.Fatalf("newest keyframe at %d, want 4", s.kf.seq)
	}
	// What layout 3 deletes when it empties a projection.
	b := s.db.NewBatch()
	b.Delete([]byte(keyPosition), nil)
	for _, p := range []string{prefixCur, prefixRev, prefixEvent, prefixAgent, prefixSnap, prefixReview, prefixCoord, prefixMsg, prefixTask, prefixAnn} {
		b.DeleteRange([]byte(p), pebbledb.PrefixEnd([]byte(p)), nil)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	b.Close()
	s.Close()
	s = openStore(t, dir, 0)
	defer s.Close()
	evs := chain(t, w("x", "g1"), w("y", "g2"), w("z", "g3"), w("q", "g4"), w("r", "g5"))
	if err := s.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	for at, want := range map[uint64]string{2: "x:g1 y:g2", 4: "q:g4 x:g1 y:g2 z:g3"} {
		if got := treeAt(t, s, at); got != want {
			t.Errorf("Tree(%d) = %s, want %s", at, got, want)
		}
	}
}

// TestKeyframesOfAChurningTree: files written and deleted again (scratch
// files, build outputs) leave the tree small however many paths cur/ has
// seen: keyframes come every minimum changes and hold only the files then;
// once cur/ holds more deleted paths than files, they are built from the
// keyframe before and the changes since, not from cur/ (emptied here
// before the last ones, which must not change them), after a restart too.
func TestKeyframesOfAChurningTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func() *Store {
		return openStore(t, dir, 100)
	}
	s := open()
	defer func() { s.Close() }()
	drafts := []domain.Draft{w("keep", "k")}
	for i := range 1000 {
		p := fmt.Sprintf("tmp/%05d", i)
		drafts = append(drafts, w(p, "h"), del(p))
	}
	evs := chain(t, drafts...)
	for i := 0; i < len(evs); i += 50 {
		if i == len(evs)/2 {
			s.Close()
			if s = open(); !s.kf.churn {
				t.Fatal("a churning tree is not known as one after a restart")
			}
			if err := s.db.DeleteRange([]byte(prefixCur), pebbledb.PrefixEnd([]byte(prefixCur)), pebble.NoSync); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Apply(context.Background(), evs[i:min(i+50, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
	keyframes := 0
	err := s.scanPrefix([]byte(prefixKeyframe), func(k, v []byte) (bool, error) {
		keyframes++
		seq, _ := keyframeSeq(k)
		var got []string
		err := s.scanPrefix(pebbledb.Key(prefixKeyFiles, pebbledb.Uint64(seq)), func(k, _ []byte) (bool, error) {
			got = append(got, string(k[len(prefixKeyFiles)+8:]))
			return true, nil
		})
		// After a batch of 50 (whole write and delete pairs, then the first
		// write of the next pair when the batch ends on an odd seq), the
		// tree is "keep" and at most one scratch file.
		if n, _ := binary.Uvarint(v); err == nil && (len(got) == 0 || got[0] != "keep" || len(got) > 2 || int(n) != len(got)) {
			t.Errorf("keyframe at %d holds %q (recorded %d files)", seq, got, n)
		}
		return true, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if keyframes < len(evs)/250 {
		t.Errorf("%d keyframes for %d file changes (half of them deletions), want one every 200-250", keyframes, len(evs))
	}
}

// TestKeyframeSpacing: keyframes come after as many rewrites (or
// deletions) as the tree has files, or after keyframeGrowth times as many
// changes of any kind when they are new files, and after at least the
// minimum (here 10; batches of 10).
func TestKeyframeSpacing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		drafts func(i int) domain.Draft
		events int
		want   []uint64
	}{
		// 40 files, then 40+160, then 200+800.
		{"a growing tree", func(i int) domain.Draft { return w(fmt.Sprintf("f%04d", i), "h") }, 1000, []uint64{40, 200, 1000}},
		// 10 new files, then a keyframe every 10 rewrites.
		{"a tree rewritten", func(i int) domain.Draft { return w(fmt.Sprintf("f%d", i%10), fmt.Sprint("h", i)) }, 60, []uint64{20, 30, 40, 50, 60}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir, 10)
			defer func() { s.Close() }()
			var drafts []domain.Draft
			for i := range tc.events {
				drafts = append(drafts, tc.drafts(i))
			}
			evs := chain(t, drafts...)
			// Restarted between keyframes, it counts the changes since the
			// last one again from fc/.
			restart := len(evs)/2 + 5
			for i := 0; i < len(evs); i += 5 {
				if i == restart {
					s.Close()
					s = openStore(t, dir, 10)
				}
				if err := s.Apply(context.Background(), evs[i:i+5]); err != nil {
					t.Fatal(err)
				}
			}
			var got []uint64
			err := s.scanPrefix([]byte(prefixKeyframe), func(k, _ []byte) (bool, error) {
				seq, err := keyframeSeq(k)
				got = append(got, seq)
				return true, err
			})
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("keyframes at %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

// openStore opens the projection in dir with a quiet log, keyframes every
// minimum file changes at least (0: the default).
func openStore(t *testing.T, dir string, minimum int) *Store {
	t.Helper()
	s, err := Open(dir, pebbledb.DefaultSizes(), slog.New(slog.NewTextHandler(io.Discard, nil)), NewAgents())
	if err != nil {
		t.Fatal(err)
	}
	if minimum > 0 {
		s.kf.minimum = minimum
	}
	return s
}

// appliedAgain are the ways a follower applies events again after an apply
// that failed past its commit: the same batch, a shorter or a longer one.
var appliedAgain = []struct {
	name          string
	failed, again int // events in the failed apply and in the next one
}{
	{"the same batch", 4, 4},
	{"a shorter batch", 4, 3},
	{"a longer batch", 3, 4},
}

// applyAgain applies evs[:failed], leaves the position as a failure after
// the commit does, and applies evs again from the start in two batches
// split at again.
func applyAgain(t *testing.T, s *Store, evs []domain.Event, failed, again int) {
	t.Helper()
	if err := s.Apply(context.Background(), evs[:failed]); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.pos, s.hash = 0, ""
	s.mu.Unlock()
	for _, batch := range [][]domain.Event{evs[:again], evs[again:]} {
		if err := s.Apply(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeyframeCountsOfABatchAppliedAgain: a batch applied again after a
// failure past its commit counts only the changes it adds, so the counts
// that space keyframes are what a restart recounts from fc/.
func TestKeyframeCountsOfABatchAppliedAgain(t *testing.T) {
	t.Parallel()
	evs := chain(t, w("a", "h1"), w("a", "h2"), w("b", "h3"), w("a", "h4"), del("b"), w("c", "h6"))
	for _, tc := range appliedAgain {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir, 1<<20)
			applyAgain(t, s, evs, tc.failed, tc.again)
			since, redone := s.kf.since, s.kf.redone
			s.Close()
			r := openStore(t, dir, 1<<20)
			defer r.Close()
			if since != r.kf.since || redone != r.kf.redone || since != 6 || redone != 3 {
				t.Errorf("counted %d changes, %d rewrites; a restart recounts %d, %d (want 6, 3)", since, redone, r.kf.since, r.kf.redone)
			}
		})
	}
}

// treeAt lists s's tree at at as "path:hash" pairs, space-separated.
func treeAt(t *testing.T, s *Store, at uint64) string {
	t.Helper()
	files, err := s.Tree(at, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path+":"+f.Hash)
	}
	return strings.Join(got, " ")
}

// TestKeyframesOfABatchAppliedAgain: an apply that fails after its commit
// leaves the position where it was, and the follower applies from there
// again, in the same batch or a shorter or longer one. cur/ may then be
// past the batch's end: no keyframe is written from it, and one the
// failed apply wrote stays whole.
func TestKeyframesOfABatchAppliedAgain(t *testing.T) {
	t.Parallel()
	evs := chain(t, w("a", "h1"), w("a", "h2"), w("a", "h3"), w("b", "h4"), del("a"), w("c", "h6"))
	want := map[uint64]string{1: "a:h1", 2: "a:h2", 3: "a:h3", 4: "a:h3 b:h4", 5: "b:h4", 6: "b:h4 c:h6"}
	for _, tc := range appliedAgain {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t, t.TempDir(), 1)
			defer s.Close()
			applyAgain(t, s, evs, tc.failed, tc.again)
			for at := uint64(1); at <= 6; at++ {
				if got := treeAt(t, s, at); got != want[at] {
					t.Errorf("Tree(%d) = %s, want %s", at, got, want[at])
				}
			}
		})
	}
}
