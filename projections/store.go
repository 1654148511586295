package projections

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// Key layout of a projection database. The position is written in the same
// batch as the state it describes, so a restart resumes exactly where the
// last applied batch ended.
const (
	keyPosition  = "m/pos"
	prefixCur    = "cur/" // cur/<path> → revision (the path's newest, a deletion too)
	prefixRev    = "rev/" // rev/<path>\x00<^seq> → revision (every change, newest first)
	prefixEvent  = "ev/"  // ev/<seq> → event JSON
	prefixAgent  = "ag/"  // ag/<name> → agent event JSON
	prefixSnap   = "sn/"  // sn/<name> → SnapshotCreated JSON
	prefixReview = "re/"  // re/<review id>\x00<seq> → review event JSON
	prefixCoord  = "co/"  // co/<seq> → lease or session event JSON
	prefixMsg    = "ms/"  // ms/<seq> → message event JSON
	prefixTask   = "tk/"  // tk/<seq> → task event JSON
	prefixAnn    = "an/"  // an/<annotation id>\x00<seq> → Annotation state JSON

	// layout names this key layout; the position record carries it. A
	// projection whose position names another layout (or none: releases
	// before layout 2, which also rewrite the position without it on every
	// apply) is emptied at open and rebuilt from the writer's log:
	// projections hold nothing the log does not. 2: revisions newest
	// first, deletions kept in cur/. 3: revisions in a binary format
	// (revcodec.go). 4: file changes in log order and keyframes
	// (keyframes.go).
	layout = "4"
)

// Revision is one change of a file: its state after the change.
type Revision struct {
	FileInfo
	Deleted bool   `json:"deleted,omitempty"`
	From    string `json:"moved_from,omitempty"`
	MovedTo string `json:"moved_to,omitempty"`
	Type    string `json:"type"`
}

// ChangeFunc is told, after each applied batch, the new position and the
// batch's file changes in log order, each the path's newest revision as of
// its event (a path changed twice is there twice, the later being its
// state now). A batch without file changes tells an empty, non-nil slice.
type ChangeFunc func(seq uint64, changed []Revision)

// Store is a projection of the file shadow, the log and the agents, kept in
// its own Pebble database. It is safe for concurrent use.
//
// The database has no write-ahead log (pebbledb.Derived): a crash keeps
// the projection as of an earlier position, whose commits all survived,
// and the follower applies the writer's log again from there. A commit is
// flushed within flushAfter.
type Store struct {
	db       *pebble.DB
	log      *slog.Logger
	agents   *Agents
	reviews  *Reviews
	leases   *Leases
	sessions *Sessions
	messages *Messages
	tasks    *Tasks
	notes    *Annotations
	content  ContentFunc

	mu       sync.RWMutex
	pos      uint64
	hash     string
	advanced chan struct{} // closed and replaced on every apply
	onChange []ChangeFunc
	rebuilds int    // times Reset was called since the process started
	rebuilt  string // why, the last time
	onReset  []func()

	kf   keyframes // Apply's, Reset's and Open's only
	page pageKeys  // Apply's only

	batch    *pebble.Batch // Apply's only: the page batch kept for the next page (pageBatch)
	batchCap int           // the bytes batch was made with

	flushMu    sync.Mutex
	flushTimer *time.Timer // a flush due, nil when none
	closed     bool
}

// flushAfter bounds how long a commit is held only in a memtable. A kill
// loses what was applied since the last flush, and a replica that comes
// back while the writer is down serves that older state until it can
// catch up (an agent's token revoked since would work again): Pebble
// alone flushes only a full memtable, which on a quiet project could be
// days of events. While a replica catches up its memtable fills faster
// than this, so the bound adds no flushes then.
const flushAfter = time.Second

// flushSoon has the database flushed within flushAfter of a commit.
func (s *Store) flushSoon() {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if s.closed || s.flushTimer != nil {
		return
	}
	s.flushTimer = time.AfterFunc(flushAfter, func() {
		s.flushMu.Lock()
		defer s.flushMu.Unlock()
		s.flushTimer = nil
		if s.closed {
			return
		}
		if _, err := s.db.AsyncFlush(); err != nil {
			s.log.Warn("flush projection", "err", err)
		}
	})
}

type position struct {
	Seq    uint64 `json:"seq"`
	Hash   string `json:"hash"`
	Layout string `json:"layout,omitempty"`
}

// Open opens the projection in dir, its Pebble database sized by sizes,
// and loads its position and agents.
func Open(dir string, sizes pebbledb.Sizes, log *slog.Logger, agents *Agents) (*Store, error) {
	db, err := pebbledb.Open(dir, sizes, pebbledb.Derived, log)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, log: log, agents: agents, reviews: NewReviews(), leases: NewLeases(), sessions: NewSessions(), messages: NewMessages(), tasks: NewTasks(), notes: NewAnnotations(), advanced: make(chan struct{})}
	err = s.loadPosition()
	if err == nil {
		err = s.loadKeyframes()
	}
	if err == nil {
		err = s.loadAgents()
	}
	if err == nil {
		err = s.scanPrefix([]byte(prefixReview), func(_, v []byte) (bool, error) {
			var e domain.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return false, err
			}
			return true, s.reviews.Apply(e)
		})
	}
	if err == nil {
		err = s.scanPrefix([]byte(prefixCoord), func(_, v []byte) (bool, error) {
			var e domain.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return false, err
			}
			if err := s.leases.Apply(e); err != nil {
				return false, err
			}
			return true, s.sessions.Apply(e)
		})
	}
	if err == nil {
		err = s.scanPrefix([]byte(prefixMsg), func(_, v []byte) (bool, error) {
			var e domain.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return false, err
			}
			return true, s.messages.Apply(e)
		})
	}
	if err == nil {
		err = s.scanPrefix([]byte(prefixTask), func(_, v []byte) (bool, error) {
			var e domain.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return false, err
			}
			return true, s.tasks.Apply(e)
		})
	}
	if err == nil {
		err = s.scanPrefix([]byte(prefixAnn), func(_, v []byte) (bool, error) {
			var a Annotation
			if err := json.Unmarshal(v, &a); err != nil {
				return false, err
			}
			s.notes.load(a)
			return true, nil
		})
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open projection: %w", err)
	}
	return s, nil
}

// OpenOrRebuild opens the projection in dir; when its files are damaged
// (Pebble finds corruption, or a record no longer decodes) it moves them
// aside to dir.damaged-<time> and starts an empty projection, which the
// follower rebuilds from the writer's log. Rebuilt reports it.
func OpenOrRebuild(dir string, sizes pebbledb.Sizes, log *slog.Logger, agents *Agents) (*Store, error) {
	s, err := Open(dir, sizes, log, agents)
	if err == nil || !damaged(err) {
		return s, err
	}
	aside := fmt.Sprintf("%s.damaged-%d", dir, time.Now().UnixNano())
	log.Warn("projection is damaged; keeping it aside and rebuilding from the writer's log", "err", err, "aside", aside)
	if rerr := os.Rename(dir, aside); rerr != nil {
		return nil, fmt.Errorf("%w (and moving it aside failed: %w)", err, rerr)
	}
	reason := fmt.Sprintf("the projection's files were damaged (%v); they are kept in %s", err, aside)
	agents.reset()
	if s, err = Open(dir, sizes, log, agents); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.rebuilds, s.rebuilt = 1, reason
	s.mu.Unlock()
	return s, nil
}

// damaged reports whether an error opening a projection means its files
// are damaged, rather than, say, locked by another process.
func damaged(err error) bool {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	return pebble.IsCorruptionError(err) || errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, errRevision)
}

// Leases returns the view of active leases.
func (s *Store) Leases() *Leases { return s.leases }

// Messages returns the view of messages.
func (s *Store) Messages() *Messages { return s.messages }

// Tasks returns the view of tasks.
func (s *Store) Tasks() *Tasks { return s.tasks }

// Annotations returns the view of annotations.
func (s *Store) Annotations() *Annotations { return s.notes }

// UseContent sets how file contents are read to follow annotations
// through file changes. Call it before the projection starts following.
func (s *Store) UseContent(fn ContentFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.content = fn
}

// Sessions returns the view of active sessions.
func (s *Store) Sessions() *Sessions { return s.sessions }

func (s *Store) loadAgents() error {
	return s.scanPrefix([]byte(prefixAgent), func(_, v []byte) (bool, error) {
		var e domain.Event
		if err := json.Unmarshal(v, &e); err != nil {
			return false, err
		}
		return true, s.agents.Apply(e)
	})
}

// Close writes what the projection holds in memory to its files and
// closes the database: without a write-ahead log, a close that did not
// flush would lose every commit since the last flush.
func (s *Store) Close() error {
	s.flushMu.Lock()
	s.closed = true
	if s.flushTimer != nil {
		s.flushTimer.Stop()
	}
	s.flushMu.Unlock()
	if s.batch != nil {
		s.batch.Close()
		s.batch = nil
	}
	if err := s.flushWithin(closeFlushWait); err != nil {
		// The commits it leaves unflushed are applied again from the
		// writer's log at the next start, as after a crash.
		s.log.Warn("projection closed without its last flush", "err", err)
	}
	return s.db.Close()
}

// closeFlushWait bounds Close's flush. A flush that cannot finish (a full
// disk: Pebble retries it until it can) must not keep the process from
// stopping; a 32 MiB memtable takes well under a second on a working disk.
const closeFlushWait = 5 * time.Second

// flushWithin flushes the database and waits up to d for the flush.
func (s *Store) flushWithin(d time.Duration) error {
	flushed, err := s.db.AsyncFlush()
	if err != nil {
		return fmt.Errorf("flush projection: %w", err)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-flushed:
		return nil
	case <-timer.C:
		return fmt.Errorf("flush projection: not done within %s", d)
	}
}

// OnChange registers fn to be told of every applied batch. Register before
// the projection starts following.
func (s *Store) OnChange(fn ChangeFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChange = append(s.onChange, fn)
}

// OnReset registers fn to be told that the projection was reset: every
// path may have changed. Register before the projection starts following.
func (s *Store) OnReset(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onReset = append(s.onReset, fn)
}

// Position returns the last applied sequence and its chain hash.
func (s *Store) Position() (uint64, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pos, s.hash
}

// Head returns the last applied sequence.
func (s *Store) Head() uint64 {
	p, _ := s.Position()
	return p
}

// applyBatchSize estimates the bytes of the batch that applies events
// (within a quarter, over): each event stored as it came (its payload and
// ~400 bytes of envelope), and for a file change its revision three times
// (rev/, cur/, fc/) under keys that hold its path.
func applyBatchSize(events []domain.Event) int {
	n := 0
	for i := range events {
		e := &events[i]
		n += len(e.Payload) + 448
		switch e.Type {
		case domain.TypeFileWritten, domain.TypeFileDeleted, domain.TypeFileMoved:
			n += 3*len(e.Payload) + 64
		}
	}
	return n
}

// maxKeptBatch bounds the page batch a Store keeps from one Apply to the
// next; a page that needs more gets a batch of its own.
const maxKeptBatch = 8 << 20

// pageBatch returns the batch for a page of about size bytes
// (applyBatchSize). It is sized for the page up front: grown from Pebble's
// 1 KiB by doubling, a page's batch (megabytes) was copied a dozen times.
// And up to maxKeptBatch it is kept and reset for the next page: made anew
// for each page, a catching-up replica allocated, cleared and collected
// megabytes a page (docs/bench-perf.txt item 32). Hand it back with
// donePageBatch.
func (s *Store) pageBatch(size int) *pebble.Batch {
	if size > maxKeptBatch {
		return s.db.NewBatchWithSize(size)
	}
	if s.batch == nil || s.batchCap < size {
		if s.batch != nil {
			s.batch.Close()
		}
		// Room for pages somewhat larger than this one, so that a run of
		// similar pages keeps one batch.
		s.batchCap = min(max(2*size, 64<<10), maxKeptBatch)
		s.batch = s.db.NewBatchWithSize(s.batchCap, pebble.WithMaxRetainedSizeBytes(maxKeptBatch))
	}
	return s.batch
}

// donePageBatch resets b for the next page, or lets it go: a batch of its
// own, a page that was not committed (a failed page's batch is not reused),
// one that outgrew what it was made with, or one whose buffer Pebble kept
// (a batch past Pebble's large-batch threshold is flushed as it is, and
// left empty).
func (s *Store) donePageBatch(b *pebble.Batch, committed bool) {
	if b != s.batch {
		b.Close()
		return
	}
	if !committed || b.Empty() || b.Len() > s.batchCap {
		b.Close()
		s.batch, s.batchCap = nil, 0
		return
	}
	b.Reset()
}

// Apply applies events, which must follow the position without a gap, in
// one batch with the new position. The batch is not logged: after a crash
// the projection resumes from an earlier position and re-applies.
func (s *Store) Apply(ctx context.Context, events []domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	pos, _ := s.Position()
	if events[0].Seq != pos+1 {
		return fmt.Errorf("apply: event %d does not follow %d", events[0].Seq, pos)
	}
	s.mu.RLock()
	content := s.content
	s.mu.RUnlock()
	notes, err := s.notes.plan(ctx, events, content)
	if err != nil {
		return err
	}
	b := s.pageBatch(applyBatchSize(events))
	committed := false
	defer func() { s.donePageBatch(b, committed) }()
	defer s.page.reset() // for the returns before set
	for _, n := range notes {
		raw, _ := json.Marshal(n)
		b.Set(pebbledb.Key(prefixAnn, []byte(n.ID), []byte{0}, pebbledb.Uint64(n.Seq)), raw, nil)
	}
	touched := []Revision{}
	var key, val []byte
	// This batch's file changes that no commit since open counted (a batch
	// applied again counts only what it adds), added once it commits.
	var counted keyframes
	for _, e := range events {
		// The bytes the event was received as, when it was: what the chain
		// was checked against is what is stored, and it is not encoded again.
		raw, err := e.Stored()
		if err != nil {
			return err
		}
		key = binary.BigEndian.AppendUint64(append(key[:0], prefixEvent...), e.Seq)
		b.Set(key, raw, nil)
		c, isFile, err := domain.AsFileChange(e)
		if err != nil {
			return err
		}
		switch {
		case isFile:
			rev := Revision{FileInfo: FileInfo{Path: string(c.Path), Hash: c.Hash, Size: c.Size, Mode: c.Mode,
				Version: e.StreamVersion, AgentID: e.AgentID, Seq: e.Seq, Time: e.Time},
				Deleted: c.Deleted, From: string(c.From), MovedTo: string(c.MovedTo), Type: e.Type}
			// One encoding serves the three values (a file change is the
			// path, then the revision), and the batch copies keys and
			// values, so both buffers are reused.
			val = appendText(val[:0], rev.Path)
			off := len(val)
			val = appendRevision(val, rev)
			rr := val[off:]
			s.page.rev.add(appendRevKey(key[:0], rev.Path, e.Seq), rr)
			// A deletion stays in cur/ as the path's newest revision, so cur/
			// lists every path ever written: a past tree starts from it.
			key = append(append(key[:0], prefixCur...), rev.Path...)
			s.page.cur.add(key, rr)
			key = binary.BigEndian.AppendUint64(append(key[:0], prefixChange...), e.Seq)
			s.page.fc.add(key, val)
			touched = append(touched, rev)
			if e.Seq > s.kf.top {
				counted.count(e.StreamVersion)
			}
		case strings.HasPrefix(e.StreamID, "review:"):
			b.Set(pebbledb.Key(prefixReview, []byte(strings.TrimPrefix(e.StreamID, "review:")), []byte{0}, pebbledb.Uint64(e.Seq)), raw, nil)
		case e.Type == domain.TypeSnapshotCreated:
			var p domain.SnapshotCreated
			if err := e.DecodePayload(&p); err != nil {
				return err
			}
			b.Set(pebbledb.Key(prefixSnap, []byte(p.Name)), e.Payload, nil)
		case strings.HasPrefix(e.StreamID, "lease:"), strings.HasPrefix(e.StreamID, "session:"):
			b.Set(pebbledb.Key(prefixCoord, pebbledb.Uint64(e.Seq)), raw, nil)
		case strings.HasPrefix(e.StreamID, "message:"):
			b.Set(pebbledb.Key(prefixMsg, pebbledb.Uint64(e.Seq)), raw, nil)
		case strings.HasPrefix(e.StreamID, "task:"):
			b.Set(pebbledb.Key(prefixTask, pebbledb.Uint64(e.Seq)), raw, nil)
		case strings.HasPrefix(e.StreamID, "agent:"):
			// The latest event of an agent is its state (see Agents.Apply).
			b.Set(pebbledb.Key(prefixAgent, []byte(strings.TrimPrefix(e.StreamID, "agent:"))), raw, nil)
		}
	}
	s.page.set(b)
	last := events[len(events)-1]
	pr, _ := json.Marshal(position{Seq: last.Seq, Hash: last.Hash, Layout: layout})
	b.Set([]byte(keyPosition), pr, nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("apply events: %w", err)
	}
	committed = true
	s.flushSoon()
	s.kf.since, s.kf.redone = s.kf.since+counted.since, s.kf.redone+counted.redone
	// A batch applied again (the last apply failed after its commit) writes
	// no keyframe: cur/ may be past it, and a keyframe it wrote before is
	// complete.
	again := last.Seq <= s.kf.top
	s.kf.top = max(s.kf.top, last.Seq)
	if s.kf.due() && !again {
		// Without this keyframe a past tree reads from the one before.
		if err := s.writeKeyframe(last.Seq); err != nil {
			s.log.Warn("keyframe not written", "err", err)
		}
	}
	s.notes.commit(notes)
	for _, e := range events {
		if err := s.agents.Apply(e); err != nil {
			return err
		}
		if err := s.reviews.Apply(e); err != nil {
			return err
		}
		if err := s.leases.Apply(e); err != nil {
			return err
		}
		if err := s.sessions.Apply(e); err != nil {
			return err
		}
		if err := s.messages.Apply(e); err != nil {
			return err
		}
		if err := s.tasks.Apply(e); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.pos, s.hash = last.Seq, last.Hash
	close(s.advanced)
	s.advanced = make(chan struct{})
	fns := s.onChange
	s.mu.Unlock()
	for _, fn := range fns {
		fn(last.Seq, touched)
	}
	return nil
}

// Reset forgets everything the projection applied (contents, which are
// named by hash, stay), so that it is rebuilt from the writer's log: the
// log no longer continues what the projection holds. reason is kept for
// Rebuilt.
func (s *Store) Reset(reason string) error {
	b := s.db.NewBatch()
	defer b.Close()
	forget(b)
	// A crash before the flush brings back what was forgotten, and the
	// follower finds again that the log does not continue it.
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("reset projection: %w", err)
	}
	s.flushSoon()
	s.agents.reset()
	s.reviews.reset()
	s.leases.reset()
	s.sessions.reset()
	s.messages.reset()
	s.tasks.reset()
	s.notes.reset()
	s.kf = keyframes{minimum: s.kf.minimum}
	s.mu.Lock()
	s.pos, s.hash = 0, ""
	s.rebuilds++
	s.rebuilt = reason
	fns := s.onReset
	s.mu.Unlock()
	s.log.Warn("projection reset: rebuilding from the writer's log", "reason", reason)
	for _, fn := range fns {
		fn()
	}
	return nil
}

// forget adds to b the deletion of everything the projection applied.
func forget(b *pebble.Batch) {
	b.Delete([]byte(keyPosition), nil)
	for _, p := range []string{prefixCur, prefixRev, prefixChange, prefixKeyframe, prefixKeyFiles, prefixEvent, prefixAgent, prefixSnap, prefixReview, prefixCoord, prefixMsg, prefixTask, prefixAnn} {
		b.DeleteRange([]byte(p), pebbledb.PrefixEnd([]byte(p)), nil)
	}
}

// loadPosition reads the applied position. A projection whose position
// names another key layout (an older release's) is emptied instead, so that
// the follower rebuilds it from the writer's log. A position that does not
// decode is the caller's to report.
func (s *Store) loadPosition() error {
	raw, ok, err := pebbledb.Get(s.db, []byte(keyPosition))
	if err != nil {
		return err
	}
	if !ok {
		// Nothing applied, or an older release emptied the projection and
		// left the prefixes it does not know (fc/, kf/, kt/ before layout 4).
		b := s.db.NewBatch()
		defer b.Close()
		forget(b)
		return b.Commit(pebble.NoSync)
	}
	var p position
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	if p.Layout == layout {
		s.pos, s.hash = p.Seq, p.Hash
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	forget(b)
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("empty projection of key layout %q: %w", p.Layout, err)
	}
	s.rebuilds = 1
	s.rebuilt = fmt.Sprintf("the projection was written in key layout %q, this release reads %q", p.Layout, layout)
	s.log.Warn("projection in another key layout: rebuilding from the writer's log", "layout", p.Layout, "want", layout)
	return nil
}

// Rebuilt says how often the projection was reset since the process
// started, and why the last time.
func (s *Store) Rebuilt() (int, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rebuilds, s.rebuilt
}

// WaitFor blocks until the projection has applied seq or ctx ends.
func (s *Store) WaitFor(ctx context.Context, seq uint64) error {
	for {
		s.mu.RLock()
		pos, ch := s.pos, s.advanced
		s.mu.RUnlock()
		if pos >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for seq %d (applied %d): %w", seq, pos, ctx.Err())
		}
	}
}

// revKey is the key of path's revision at seq. The sequence is inverted,
// so a path's revisions sort newest first and the newest at or before a
// point is the first key at or after revKey(path, point): a forward seek.
func revKey(path string, seq uint64) []byte { return appendRevKey(nil, path, seq) }

// appendRevKey appends revKey(path, seq) to b.
func appendRevKey(b []byte, path string, seq uint64) []byte {
	b = append(append(append(b, prefixRev...), path...), 0)
	return binary.BigEndian.AppendUint64(b, ^seq)
}

// revKeyPath is the path of a revision key.
func revKeyPath(k []byte) []byte { return k[len(prefixRev) : len(k)-9] }

// scanPrefix calls fn for every key with prefix until fn returns false.
func (s *Store) scanPrefix(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	return s.scanRange(prefix, pebbledb.PrefixEnd(prefix), fn)
}

// File returns path's state as of seq at (0 means now). A path that does not
// exist then is domain.ErrNotFound.
func (s *Store) File(path string, at uint64) (FileInfo, error) {
	// The path's newest revision answers when it is not after at; checking
	// its seq (rather than at against the head) also keeps out a batch
	// committed just before the head moves.
	raw, ok, err := pebbledb.Get(s.db, pebbledb.Key(prefixCur, []byte(path)))
	if err != nil {
		return FileInfo{}, err
	}
	if !ok {
		return FileInfo{}, fmt.Errorf("file %s: %w", path, domain.ErrNotFound)
	}
	if seq, ok := revisionSeq(raw); at != 0 && (!ok || seq > at) {
		// The newest revision at or before at: one seek in the path's revisions.
		lower := pebbledb.Key(prefixRev, []byte(path), []byte{0})
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: pebbledb.PrefixEnd(lower)})
		if err != nil {
			return FileInfo{}, fmt.Errorf("iterate: %w", err)
		}
		defer it.Close()
		if !it.SeekGE(revKey(path, at)) {
			return FileInfo{}, fmt.Errorf("file %s at %d: %w", path, at, domain.ErrNotFound)
		}
		raw = it.Value()
	}
	r, err := decodeRevision(path, raw)
	if err != nil {
		return FileInfo{}, err
	}
	if r.Deleted && at == 0 {
		return FileInfo{}, fmt.Errorf("file %s: %w", path, domain.ErrNotFound)
	}
	if r.Deleted {
		return FileInfo{}, fmt.Errorf("file %s at %d: %w", path, at, domain.ErrNotFound)
	}
	return r.FileInfo, nil
}

// Heads returns the newest state of each of paths that exists now (absent
// and deleted paths are left out; a path listed twice is answered once),
// sorted by path: what File(p, 0) answers for each, from one iterator whose
// seeks only move forward, so a batch of paths costs less than as many
// Files. The mount's worker asks it for the files beneath a directory a
// batch deleted as a whole.
func (s *Store) Heads(paths []string) ([]FileInfo, error) {
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	lower := []byte(prefixCur)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: pebbledb.PrefixEnd(lower)})
	if err != nil {
		return nil, fmt.Errorf("iterate: %w", err)
	}
	defer it.Close()
	out := make([]FileInfo, 0, len(sorted))
	for _, p := range sorted {
		key := pebbledb.Key(prefixCur, []byte(p))
		if !it.SeekGE(key) || !bytes.Equal(it.Key(), key) {
			continue
		}
		r, err := decodeRevision(p, it.Value())
		if err != nil {
			return nil, err
		}
		if !r.Deleted {
			out = append(out, r.FileInfo)
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("iterate: %w", err)
	}
	return out, nil
}

// Tree returns every file below prefix ("" for all) as of seq at (0 means
// now), sorted by path. At a point it reads whichever is shorter: the
// keyframe at or before at and the file changes since (keyframes.go), or
// every path's newest revision in cur/ and, for each path changed after
// at, one forward seek to its newest revision at or before at.
func (s *Store) Tree(at uint64, prefix string) ([]FileInfo, error) {
	var out []FileInfo
	pfx := []byte(strings.TrimSuffix(prefix, "/"))
	// Any point is checked against each path's newest seq, the head too: a
	// batch committed just before the head moves must not show.
	past := at != 0
	if head := s.Head(); past && at < head {
		kf, files, err := s.keyframeAt(at)
		if err != nil {
			return nil, err
		}
		if at-kf <= seekCost*(head-at) {
			if len(pfx) == 0 {
				out = make([]FileInfo, 0, files)
			}
			err := s.mergeKeyframe(kf, at, pfx, func(path, rev []byte) error {
				r, err := decodeRevision(string(path), rev)
				out = append(out, r.FileInfo)
				return err
			})
			return out, err
		}
	}
	var revs *pebble.Iterator
	if past {
		lower := pebbledb.Key(prefixRev, pfx)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: pebbledb.PrefixEnd(lower)})
		if err != nil {
			return nil, fmt.Errorf("iterate: %w", err)
		}
		defer it.Close()
		revs = it
	}
	err := s.scanPrefix(pebbledb.Key(prefixCur, pfx), func(k, v []byte) (bool, error) {
		if !underPrefix(k[len(prefixCur):], pfx) {
			return true, nil
		}
		path := string(k[len(prefixCur):])
		if past {
			if seq, ok := revisionSeq(v); !ok || seq > at {
				// Paths come in order, so every seek moves forward.
				if !revs.SeekGE(revKey(path, at)) || string(revKeyPath(revs.Key())) != path {
					return true, revs.Error() // not written yet at at
				}
				v = revs.Value()
			}
		}
		r, err := decodeRevision(path, v)
		if err != nil {
			return false, err
		}
		if !r.Deleted {
			out = append(out, r.FileInfo)
		}
		return true, nil
	})
	return out, err
}

// History returns every revision of path, oldest first.
func (s *Store) History(path string) ([]Revision, error) {
	var out []Revision
	err := s.scanPrefix(pebbledb.Key(prefixRev, []byte(path), []byte{0}), func(_, v []byte) (bool, error) {
		r, err := decodeRevision(path, v)
		out = append(out, r)
		return true, err
	})
	slices.Reverse(out) // stored newest first
	return out, err
}

// Event returns the event at seq.
func (s *Store) Event(seq uint64) (domain.Event, error) {
	raw, ok, err := pebbledb.Get(s.db, pebbledb.Key(prefixEvent, pebbledb.Uint64(seq)))
	if err != nil {
		return domain.Event{}, err
	}
	if !ok {
		return domain.Event{}, fmt.Errorf("event %d: %w", seq, domain.ErrNotFound)
	}
	var e domain.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, fmt.Errorf("decode event: %w", err)
	}
	return e, nil
}

// EachStoredEvent calls fn with up to limit stored events after global
// sequence after, in ascending order: each one's sequence and its stored
// form (the JSON the replica checked and keeps, which domain.DecodeEvent
// reads). stored is valid only during the call. Nothing is decoded, so a
// reader that needs only the bytes or their length (the mount's events
// file) pays no decoding. An error from fn stops the walk and is returned.
func (s *Store) EachStoredEvent(after uint64, limit int, fn func(seq uint64, stored []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: pebbledb.Key(prefixEvent, pebbledb.Uint64(after+1)),
		UpperBound: pebbledb.PrefixEnd([]byte(prefixEvent)),
	})
	if err != nil {
		return fmt.Errorf("iterate: %w", err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok && n < limit; ok = it.Next() {
		if err := fn(binary.BigEndian.Uint64(it.Key()[len(prefixEvent):]), it.Value()); err != nil {
			return err
		}
		n++
	}
	return it.Error()
}

// EventFilter selects events. Zero fields match everything.
type EventFilter struct {
	AfterSeq   uint64 // seq > AfterSeq
	UntilSeq   uint64 // seq <= UntilSeq
	Since      time.Time
	Until      time.Time
	AgentID    string
	Type       string // exact, or a prefix ending in "." such as "file."
	PathPrefix string
	Limit      int
	// Newest selects the last Limit matches (up to UntilSeq) instead of
	// the first: the page a person looking at the log wants first.
	Newest bool
}

// Events returns up to f.Limit matching events in order, and the sequence to
// pass as AfterSeq for the next page (0 when there is none). With f.Newest
// they are the last matches, still in order, and the sequence is the
// UntilSeq of the page before them.
func (s *Store) Events(f EventFilter) ([]domain.Event, uint64, error) {
	if f.Newest {
		return s.newestEvents(f)
	}
	var out []domain.Event
	var last uint64
	more := false
	err := s.EachStoredEvent(f.AfterSeq, math.MaxInt, func(seq uint64, stored []byte) error {
		if f.UntilSeq != 0 && seq > f.UntilSeq {
			return errWalkDone
		}
		if len(out) == f.Limit {
			more = true
			return errWalkDone
		}
		// DecodeEvent keeps the bytes (Stored), so they are copied out of
		// the iterator's buffer, which the next step reuses.
		e, err := domain.DecodeEvent(bytes.Clone(stored))
		if err != nil {
			return err
		}
		if !f.Until.IsZero() && e.Time.After(f.Until) {
			return errWalkDone
		}
		last = seq
		if f.matches(e) {
			out = append(out, e)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errWalkDone) {
		return nil, 0, err
	}
	if !more {
		last = 0
	}
	return out, last, nil
}

// newestEvents is Events with f.Newest: the log walked backwards from
// UntilSeq (or its end) down to AfterSeq.
func (s *Store) newestEvents(f EventFilter) ([]domain.Event, uint64, error) {
	upper := pebbledb.PrefixEnd([]byte(prefixEvent))
	if f.UntilSeq != 0 {
		upper = pebbledb.Key(prefixEvent, pebbledb.Uint64(f.UntilSeq+1))
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: pebbledb.Key(prefixEvent, pebbledb.Uint64(f.AfterSeq+1)), UpperBound: upper})
	if err != nil {
		return nil, 0, fmt.Errorf("iterate: %w", err)
	}
	defer it.Close()
	var out []domain.Event
	var next uint64
	for ok := it.Last(); ok; ok = it.Prev() {
		seq := binary.BigEndian.Uint64(it.Key()[len(prefixEvent):])
		if len(out) == f.Limit {
			next = seq // an older event is left: the next page ends with it
			break
		}
		e, err := domain.DecodeEvent(bytes.Clone(it.Value()))
		if err != nil {
			return nil, 0, err
		}
		if !f.Since.IsZero() && e.Time.Before(f.Since) {
			break // times grow with sequence: nothing older matches
		}
		if !f.Until.IsZero() && e.Time.After(f.Until) {
			continue
		}
		if f.matches(e) {
			out = append(out, e)
		}
	}
	if err := it.Error(); err != nil {
		return nil, 0, err
	}
	slices.Reverse(out)
	return out, next, nil
}

// errWalkDone ends a walk of the stored events early.
var errWalkDone = errors.New("walk done")

func (f EventFilter) matches(e domain.Event) bool {
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if f.AgentID != "" && e.AgentID != f.AgentID {
		return false
	}
	if f.Type != "" && e.Type != f.Type && !(strings.HasSuffix(f.Type, ".") && strings.HasPrefix(e.Type, f.Type)) {
		return false
	}
	if f.PathPrefix != "" {
		c, ok, err := domain.AsFileChange(e)
		if !ok || err != nil {
			return false
		}
		if !c.Path.HasPrefix(f.PathPrefix) && (c.From == "" || !c.From.HasPrefix(f.PathPrefix)) {
			return false
		}
	}
	return true
}

// SeqAtTime returns the last sequence whose event time is at or before t
// (0 when t is before the first event), by binary search over the log:
// event times grow with sequence.
func (s *Store) SeqAtTime(t time.Time) (uint64, error) {
	return domain.SeqAtTime(s.Head(), t, s.Event)
}

// Blobs is small content fetched from the writer, kept as a cache: not
// fsync'd, fetched again if a crash loses it.
func (s *Store) Blobs() pebbledb.Blobs { return pebbledb.Blobs{DB: s.db, Write: pebble.NoSync} }

// AgentName returns the name of the agent with id, else the id.
func (s *Store) AgentName(id string) string {
	if s.agents != nil {
		for _, a := range s.agents.List() {
			if a.ID == id {
				return a.Name
			}
		}
	}
	return id
}

// Reviews returns the reviews with status ("" for all), oldest first.
func (s *Store) Reviews(status string) []ReviewView { return s.reviews.List(status) }

// Snapshot returns the sequence a named snapshot records.
func (s *Store) Snapshot(name string) (uint64, bool, error) {
	raw, ok, err := pebbledb.Get(s.db, pebbledb.Key(prefixSnap, []byte(name)))
	if err != nil || !ok {
		return 0, false, err
	}
	var p domain.SnapshotCreated
	if err := json.Unmarshal(raw, &p); err != nil {
		return 0, false, fmt.Errorf("decode snapshot: %w", err)
	}
	return p.Seq, true, nil
}

// Snapshots returns every named snapshot, by name.
func (s *Store) Snapshots() ([]domain.SnapshotCreated, error) {
	var out []domain.SnapshotCreated
	err := s.scanPrefix([]byte(prefixSnap), func(_, v []byte) (bool, error) {
		var p domain.SnapshotCreated
		if err := json.Unmarshal(v, &p); err != nil {
			return false, fmt.Errorf("decode snapshot: %w", err)
		}
		out = append(out, p)
		return true, nil
	})
	return out, err
}
