//go:build linux

package fusefs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// fakeSource is an in-memory event log with a projection of file states
// at every sequence.
type fakeSource struct {
	mu       sync.Mutex
	base     time.Time
	events   []domain.Event
	versions map[string][]fakeVersion // by path, ascending seq
	blobs    map[string][]byte
	snaps    map[string]uint64
	failHash map[string]bool // OpenBlob fails for these hashes
	pending  map[string]PendingReview
	extra    []PendingReview              // returned by Pending as they are (invalid ids, duplicates)
	failPend bool                         // Pending fails
	failFile bool                         // Files called now fails
	filesIn  chan struct{}                // when set, Files receives from it twice first: on entering, and to go on
	notes    map[uint64]map[string][]byte // annotation documents from a seq on

	pendingCalls atomic.Int64

	treeCalls   atomic.Int64
	filesCalls  atomic.Int64
	readAtCalls atomic.Int64
	readAtBytes atomic.Int64
	maxReadAt   atomic.Int64
}

type fakeVersion struct {
	seq     uint64
	fi      projections.FileInfo
	deleted bool
}

func newFakeSource() *fakeSource {
	return &fakeSource{
		// Event times lie in the past, a second apart, so RFC 3339 history
		// points can name them.
		base:     time.Now().Add(-2 * time.Hour).Truncate(time.Second).UTC(),
		versions: make(map[string][]fakeVersion),
		blobs:    make(map[string][]byte),
		snaps:    make(map[string]uint64),
		failHash: make(map[string]bool),
		pending:  make(map[string]PendingReview),
	}
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *fakeSource) timeOf(seq uint64) time.Time {
	return s.base.Add(time.Duration(seq) * time.Second)
}

func (s *fakeSource) appendLocked(typ, path string, payload any) uint64 {
	seq := uint64(len(s.events) + 1)
	raw, _ := json.Marshal(payload)
	prev := ""
	if len(s.events) > 0 {
		prev = s.events[len(s.events)-1].Hash
	}
	e := domain.Event{
		ID:            uuid.New(),
		Seq:           seq,
		StreamID:      "file:" + path,
		StreamVersion: uint64(len(s.versions[path]) + 1),
		Type:          typ,
		SchemaVersion: 1,
		Time:          s.timeOf(seq),
		AgentID:       "agent-1",
		SessionID:     "session-1",
		Payload:       raw,
		PrevHash:      prev,
	}
	e.Hash = e.ComputeHash()
	s.events = append(s.events, e)
	return seq
}

// write records a file write and returns its sequence.
func (s *fakeSource) write(path, content string, mode uint32) uint64 {
	return s.writeBytes(path, []byte(content), mode)
}

func (s *fakeSource) writeBytes(path string, content []byte, mode uint32) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := hashOf(content)
	s.blobs[h] = content
	seq := s.appendLocked("file.written", path, map[string]any{"path": path, "hash": h, "size": len(content)})
	fi := projections.FileInfo{
		Path: path, Hash: h, Size: int64(len(content)), Mode: mode,
		Version: uint64(len(s.versions[path]) + 1), AgentID: "agent-1", Seq: seq, Time: s.timeOf(seq),
	}
	s.versions[path] = append(s.versions[path], fakeVersion{seq: seq, fi: fi})
	return seq
}

// note records an event that touches no file.
func (s *fakeSource) note(text string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLocked("session.noted", "", map[string]any{"text": text})
}

func (s *fakeSource) remove(path string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.appendLocked("file.deleted", path, map[string]any{"path": path})
	s.versions[path] = append(s.versions[path], fakeVersion{seq: seq, deleted: true})
	return seq
}

func (s *fakeSource) setSnapshot(name string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snaps[name] = seq
}

// request records a review request (or a change to a pending review,
// say a vote short of its approvals) and returns its JSON.
func (s *fakeSource) request(id, tool string, votes int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.appendLocked("review.requested", "", map[string]any{"review_id": id})
	doc, _ := json.Marshal(map[string]any{
		"review_id": id, "tool": tool, "status": "pending", "votes": votes,
		"requested_at": s.timeOf(seq),
	})
	doc = append(doc, '\n')
	t := s.timeOf(seq)
	if old, ok := s.pending[id]; ok {
		t = old.Time
	}
	s.pending[id] = PendingReview{ID: id, JSON: doc, Time: t}
	return doc
}

// decide records a review's decision: it is no longer pending.
func (s *fakeSource) decide(id string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, id)
	return s.appendLocked("review.approved", "", map[string]any{"review_id": id})
}

// setFiles makes Files fail, and makes it receive from gate twice first
// (on entering, and to go on) when gate is not nil.
func (s *fakeSource) setFiles(fail bool, gate chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failFile, s.filesIn = fail, gate
}

func (s *fakeSource) setPendingFail(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPend = fail
}

func (s *fakeSource) setFail(hash string, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failHash[hash] = fail
}

// allEvents renders the whole log as the events file should read.
func (s *fakeSource) allEvents(t testing.TB) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var buf bytes.Buffer
	for _, e := range s.events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func (s *fakeSource) Head() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.events))
}

func (s *fakeSource) stateLocked(path string, at uint64) (projections.FileInfo, bool) {
	vs := s.versions[path]
	i := sort.Search(len(vs), func(i int) bool { return vs[i].seq > at }) - 1
	if i < 0 || vs[i].deleted {
		return projections.FileInfo{}, false
	}
	return vs[i].fi, true
}

func (s *fakeSource) Tree(ctx context.Context, at uint64) ([]projections.FileInfo, error) {
	s.treeCalls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if at == 0 {
		at = uint64(len(s.events))
	}
	var out []projections.FileInfo
	for p := range s.versions {
		if fi, ok := s.stateLocked(p, at); ok {
			out = append(out, fi)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (s *fakeSource) Files(ctx context.Context, paths []string) ([]projections.FileInfo, error) {
	s.filesCalls.Add(1)
	s.mu.Lock()
	gate, fail := s.filesIn, s.failFile // as of the call
	s.mu.Unlock()
	if gate != nil {
		<-gate
		<-gate
	}
	if fail {
		return nil, errors.New("fake: files unavailable")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []projections.FileInfo
	for _, p := range paths {
		if fi, ok := s.stateLocked(p, uint64(len(s.events))); ok {
			out = append(out, fi)
		}
	}
	return out, nil
}

func (s *fakeSource) File(ctx context.Context, path string, at uint64) (projections.FileInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fi, ok := s.stateLocked(path, at); ok {
		return fi, nil
	}
	return projections.FileInfo{}, fmt.Errorf("file %s at %d: %w", path, at, iofs.ErrNotExist)
}

func (s *fakeSource) OpenBlob(ctx context.Context, hash string) (Blob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failHash[hash] {
		return nil, errors.New("blob store unavailable")
	}
	b, ok := s.blobs[hash]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", hash, iofs.ErrNotExist)
	}
	return &fakeBlob{src: s, r: bytes.NewReader(b)}, nil
}

func (s *fakeSource) StoredEvents(ctx context.Context, after uint64, limit int, fn func(seq uint64, stored []byte) error) error {
	s.mu.Lock()
	var evs []domain.Event
	if after < uint64(len(s.events)) {
		evs = slices.Clone(s.events[after:min(after+uint64(limit), uint64(len(s.events)))])
	}
	s.mu.Unlock()
	for _, e := range evs {
		stored, err := e.Stored()
		if err != nil {
			return err
		}
		if err := fn(e.Seq, stored); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeSource) SeqAtTime(ctx context.Context, t time.Time) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.events), func(i int) bool { return s.events[i].Time.After(t) })
	if i == 0 {
		return 0, fmt.Errorf("%s is before the first event: %w", t, iofs.ErrNotExist)
	}
	return uint64(i), nil
}

func (s *fakeSource) ChangeSetEdge(ctx context.Context, seq uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return domain.ChangeSetEdge(seq, func(seq uint64) (domain.Event, error) { return s.events[seq-1], nil })
}

func (s *fakeSource) Snapshots(ctx context.Context) (map[string]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.snaps))
	for k, v := range s.snaps {
		out[k] = v
	}
	return out, nil
}

func (s *fakeSource) Pending(ctx context.Context) ([]PendingReview, error) {
	s.pendingCalls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failPend {
		return nil, errors.New("review store unavailable")
	}
	out := make([]PendingReview, 0, len(s.pending)+len(s.extra))
	for _, r := range s.pending {
		out = append(out, r)
	}
	// Unordered, as a Source may answer.
	return append(out, s.extra...), nil
}

type fakeBlob struct {
	src *fakeSource
	r   *bytes.Reader
}

func (b *fakeBlob) ReadAt(p []byte, off int64) (int, error) {
	b.src.readAtCalls.Add(1)
	b.src.readAtBytes.Add(int64(len(p)))
	for {
		cur := b.src.maxReadAt.Load()
		if int64(len(p)) <= cur || b.src.maxReadAt.CompareAndSwap(cur, int64(len(p))) {
			break
		}
	}
	return b.r.ReadAt(p, off)
}

func (b *fakeBlob) Close() error { return nil }
func (b *fakeBlob) Size() int64  { return b.r.Size() }

// logBuffer is a slog handler collecting records for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) contains(s string) bool { return strings.Contains(l.String(), s) }

func (s *fakeSource) Annotations(_ context.Context, at uint64) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best, found := uint64(0), false
	for seq := range s.notes {
		if (at == 0 || seq <= at) && (!found || seq > best) {
			best, found = seq, true
		}
	}
	if !found {
		return map[string][]byte{}, nil
	}
	return s.notes[best], nil
}

// setLast edits the newest version of path, as a Source that says
// something odd would.
func (s *fakeSource) setLast(path string, edit func(v *fakeVersion)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.versions[path]
	edit(&vs[len(vs)-1])
}

// changes is what a replica tells FS.Changed after the source's last
// write to paths: each path's newest revision, deleted when it has no file.
func (s *fakeSource) changes(paths ...string) []projections.Revision {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []projections.Revision{}
	for _, p := range paths {
		fi, ok := s.stateLocked(p, uint64(len(s.events)))
		if !ok {
			fi = projections.FileInfo{Path: p}
		}
		out = append(out, projections.Revision{FileInfo: fi, Deleted: !ok})
	}
	return out
}
