// Package fusefs serves a Lighthouse projection as a read-only FUSE
// filesystem, so people can browse what agents did with ls, cat, grep -r,
// find, diff -r and tail -f.
//
// Layout at the mount point:
//
//	current/          the project as of the last applied event
//	history/@SEQ/     the project as of global sequence SEQ (any SEQ, resolved on lookup)
//	history/TIME/     the project as of an RFC 3339 time (via Source.SeqAtTime)
//	history/NAME/     a named snapshot; ls history/ lists recent points and snapshots
//	snapshots/NAME/   the project at each named snapshot
//	events            the log as JSON lines, one domain.Event per line; grows (tail -f)
//	pending/ID.json   each review now pending (a gated tool call waiting
//	                  for a human), as JSON (via Source.Pending)
//	annotations/PATH.json
//	                  the annotations of each annotated file at the head, as
//	                  GET /v1/annotations?path=PATH answers (Source.Annotations)
//	annotations-history/POINT/PATH.json
//	                  the same as of any point history/ accepts
//
// Everything is read-only: the mount is made read-only and every changing
// operation answers EROFS.
//
// # Freshness of current/
//
// The projection calls FS.Changed after it applies events. Changed only
// queues the touched paths and returns at once; a worker goroutine per
// mount then fetches their head state (Source.Files), updates the
// in-memory tree and invalidates exactly the kernel caches concerned
// (NotifyContent for changed files and for the attributes of directories
// above them, NotifyEntry/NotifyDelete for entries created and removed,
// NotifyContent on events past its old end). Once the worker has processed
// a Changed call (normally well under a millisecond after it returns;
// FS.Sync waits for it), every new lookup, stat, open and read in current/
// sees the state as of at least that call's seq, and no kernel cache
// serves the old one. The worker repeats the invalidations about 50 ms
// later to cover requests that were in flight during the update; the
// 30 s attribute/entry timeouts of current/ bound anything else. They are a
// safety net, not the way changes show: a repeated pass over a tree
// (grep -r, a build) within them asks the fuser for no names and attributes
// again (1 s timeouts made every pass over a large tree look each file up
// again: 4 KiB reads of 10,000 files 0.80-1.02 s warm against 0.48-0.61 s
// with 30 s), and no opens either (Mount.open). What the worker does not
// invalidate (history/ and snapshots/ attributes, a history/TIME name
// resolved against the replica's head) keeps the mount-wide liveTimeout of
// 1 s.
//
// # Freshness of pending/
//
// pending/ is not tracked by the worker: the kernel is told not to cache
// its names and attributes, so every listing and lookup there asks
// Source.Pending and sees the reviews as they are at that moment, whether
// or not Changed has been called (a name may be cached for a clock tick or
// two; see pending.go). A review decided after a listing answers ENOENT
// once its name is looked up again; an already open file keeps reading
// the JSON it opened (each version of a review is its own inode, docNode).
package fusefs

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// defaultTimeout is how long the kernel may cache names and attributes of
// current/ unless Options say otherwise.
const defaultTimeout = 30 * time.Second

// liveTimeout is how long the kernel may cache the names and attributes
// the worker does not invalidate (outside current/ and the history points,
// and pending/ and annotations/, which are not cached at all).
const liveTimeout = time.Second

// Options tune an FS. The zero value is usable.
type Options struct {
	// Logger receives Source errors (served as EIO) and warnings. Default:
	// slog.Default().
	Logger *slog.Logger

	// EntryTimeout and AttrTimeout are how long the kernel may cache names
	// and attributes in current/ without asking (changes are invalidated
	// at once; see the package doc). Zero means defaultTimeout; negative
	// means no caching.
	EntryTimeout time.Duration
	AttrTimeout  time.Duration

	// HistoryCache is how many built history trees are kept. Default 8.
	HistoryCache int

	// RecentPoints is how many recent sequences ls history/ shows.
	// Default 20.
	RecentPoints int

	// AllowOther lets users other than the one mounting read the mount
	// (for a non-root mounter, /etc/fuse.conf needs user_allow_other).
	AllowOther bool

	// Debug logs every FUSE request and reply at debug level.
	Debug bool

	// Metrics, if set, times every FUSE operation by operation.
	Metrics *metrics.FUSE
}

// maxPendingPaths is how many distinct touched paths Changed queues before
// it gives up on tracking them and schedules a full resynchronisation.
const maxPendingPaths = 100_000

// renotifyDelay is when the worker repeats a batch's invalidations.
const renotifyDelay = 50 * time.Millisecond

// retryDelay and maxRetryDelay bound how long the worker waits after a
// Source error (doubling while it persists).
const (
	retryDelay    = time.Second
	maxRetryDelay = 30 * time.Second
)

// ErrNotMounted is returned by Sync when the FS is not mounted.
var ErrNotMounted = errors.New("fusefs: not mounted")

// FS is the filesystem over one Source. It can be mounted at most once at
// a time.
type FS struct {
	src   Source
	opts  Options
	log   *slog.Logger
	hist  *histCache
	evlog *eventLog

	mu       sync.Mutex
	pending  map[string]projections.Revision // by path, its newest queued revision
	pendAll  bool
	pendSeq  uint64
	enqGen   uint64        // Changed calls so far
	doneGen  uint64        // Changed calls the worker has processed
	doneCh   chan struct{} // closed and replaced when doneGen advances
	wake     chan struct{}
	recent   []uint64 // recently changing sequences, largest first
	mnt      *Mount
	mounting bool

	timesMu sync.Mutex
	times   map[uint64]time.Time // event times of history points
}

// New returns a filesystem serving src. Nothing is read until Mount.
func New(src Source, opts Options) *FS {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HistoryCache <= 0 {
		opts.HistoryCache = 8
	}
	if opts.RecentPoints <= 0 {
		opts.RecentPoints = 20
	}
	if opts.EntryTimeout == 0 {
		opts.EntryTimeout = defaultTimeout
	}
	if opts.AttrTimeout == 0 {
		opts.AttrTimeout = defaultTimeout
	}
	// Negative: no caching, which the kernel is told as 0.
	opts.EntryTimeout, opts.AttrTimeout = max(opts.EntryTimeout, 0), max(opts.AttrTimeout, 0)
	return &FS{
		src:     src,
		opts:    opts,
		log:     opts.Logger,
		hist:    newHistCache(src, opts.Logger, opts.HistoryCache),
		evlog:   newEventLog(src),
		pending: make(map[string]projections.Revision),
		doneCh:  make(chan struct{}),
		wake:    make(chan struct{}, 1),
		times:   make(map[uint64]time.Time),
	}
}

// Changed tells the filesystem that applying events up to global sequence
// seq made changed: written, changed or deleted files, each its path's
// newest revision as of its event, in log order (projections.ChangeFunc's
// shape). The worker takes each path's state from its last revision
// rather than reading it back from the Source: reading the heads of a
// catch-up page was ~7 µs a path, the replica's whole budget for an event
// (docs/bench-perf.txt item 30). It never blocks on I/O: it queues the
// revisions and wakes the worker. A nil changed means "anything may have
// changed" and resynchronises the whole tree; an empty non-nil changed
// only extends events. Safe for concurrent use; may be called before
// Mount (the mount's initial load covers what came before).
func (f *FS) Changed(seq uint64, changed []projections.Revision) {
	f.mu.Lock()
	f.enqGen++
	f.pendSeq = max(f.pendSeq, seq)
	if seq > 0 && (changed == nil || len(changed) > 0) {
		f.addRecentLocked(seq)
	}
	switch {
	case changed == nil:
		f.pendAll = true
	case !f.pendAll:
		for _, r := range changed {
			f.pending[r.Path] = r
		}
		if len(f.pending) > maxPendingPaths {
			f.pendAll = true
		}
	}
	if f.pendAll && len(f.pending) > 0 {
		f.pending = make(map[string]projections.Revision)
	}
	f.mu.Unlock()
	f.poke()
}

func (f *FS) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Sync waits until the worker has processed every Changed call made
// before it (tree updated, kernel caches invalidated).
func (f *FS) Sync(ctx context.Context) error {
	f.mu.Lock()
	target := f.enqGen
	f.mu.Unlock()
	for {
		f.mu.Lock()
		done, ch, mounted := f.doneGen, f.doneCh, f.mnt != nil
		f.mu.Unlock()
		if done >= target {
			return nil
		}
		if !mounted {
			return ErrNotMounted
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *FS) addRecentLocked(seq uint64) {
	i := sort.Search(len(f.recent), func(i int) bool { return f.recent[i] <= seq })
	if i < len(f.recent) && f.recent[i] == seq {
		return
	}
	f.recent = append(f.recent, 0)
	copy(f.recent[i+1:], f.recent[i:])
	f.recent[i] = seq
	if len(f.recent) > f.opts.RecentPoints {
		f.recent = f.recent[:f.opts.RecentPoints]
	}
}

func (f *FS) recentPoints() []uint64 {
	head := f.src.Head()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]uint64, 0, len(f.recent))
	for _, s := range f.recent {
		if s <= head {
			out = append(out, s)
		}
	}
	return out
}

// eventTime returns the time of event seq, cached (the past is fixed).
func (f *FS) eventTime(ctx context.Context, seq uint64) (time.Time, error) {
	f.timesMu.Lock()
	t, ok := f.times[seq]
	f.timesMu.Unlock()
	if ok {
		return t, nil
	}
	found := false
	err := f.src.StoredEvents(ctx, seq-1, 1, func(at uint64, stored []byte) error {
		if at != seq {
			return nil
		}
		ev, err := domain.DecodeEvent(stored) // only its time is kept
		t, found = ev.Time, err == nil
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("event %d: %w", seq, err)
	}
	if !found {
		return time.Time{}, fmt.Errorf("event %d not found", seq)
	}
	f.timesMu.Lock()
	if len(f.times) >= 4096 {
		clear(f.times)
	}
	f.times[seq] = t
	f.timesMu.Unlock()
	return t, nil
}

// Mount is one mounted instance of an FS.
type Mount struct {
	f         *FS
	dir       string
	server    *fuse.Server
	log       *slog.Logger
	uid, gid  uint32
	mountedAt time.Time
	// noOpen is set once the kernel is known to open files without asking
	// (see Mount.open).
	noOpen atomic.Bool

	cur         *tree // current/, mutated only by the worker
	curView     *view
	curInode    *fs.Inode
	eventsInode *fs.Inode

	workerCtx  context.Context
	retry      time.Duration // current retry delay of the worker
	stop       context.CancelFunc
	workerDone chan struct{}
	served     chan struct{} // closed when the server stops serving

	closeOnce sync.Once
	closeErr  error
}

// Mount mounts the filesystem at mountpoint (created if missing) and starts
// serving it. An existing FUSE mount at mountpoint (a stale one left by a
// crashed process, or a live one) is detached first, since mounting over
// it would silently stack. The mount lasts until Close, until it is
// unmounted from outside, or until ctx is done.
func (f *FS) Mount(ctx context.Context, mountpoint string) (*Mount, error) {
	f.mu.Lock()
	if f.mnt != nil || f.mounting {
		f.mu.Unlock()
		return nil, errors.New("fusefs: already mounted")
	}
	f.mounting = true
	f.mu.Unlock()
	m, err := f.mount(ctx, mountpoint)
	f.mu.Lock()
	f.mounting = false
	if err == nil {
		f.mnt = m
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	go m.run()
	go func() {
		select {
		case <-ctx.Done():
		case <-m.served: // unmounted from outside
		}
		m.Close()
	}()
	return m, nil
}

func (f *FS) mount(ctx context.Context, mountpoint string) (*Mount, error) {
	dir, err := resolveMountpoint(mountpoint)
	if err != nil {
		return nil, err
	}
	if err := clearMounts(dir, f.log); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("fusefs: mountpoint: %w", err)
	}

	// Everything queued so far is covered by the initial load.
	f.mu.Lock()
	gen := f.enqGen
	clear(f.pending)
	f.pendAll = false
	f.mu.Unlock()

	head := f.src.Head()
	files, err := f.src.Tree(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("fusefs: load current tree: %w", err)
	}
	m := &Mount{
		f:          f,
		dir:        dir,
		log:        f.log,
		uid:        uint32(os.Getuid()),
		gid:        uint32(os.Getgid()),
		mountedAt:  time.Now(),
		workerDone: make(chan struct{}),
		served:     make(chan struct{}),
	}
	m.cur = buildTree(head, files, func(p, why string) {
		f.log.Warn("fusefs: skipping file", "path", p, "reason", why)
	})
	f.mu.Lock()
	for _, s := range m.cur.recentSeqs(f.opts.RecentPoints) {
		f.addRecentLocked(s)
	}
	f.mu.Unlock()

	live := liveTimeout
	fopts := &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName:           "lighthouse",
			Name:             "lighthouse",
			Options:          []string{"ro", "default_permissions"},
			DirectMount:      true, // mount(2) when root, fusermount otherwise
			DirectMountFlags: directMountFlags,
			AllowOther:       f.opts.AllowOther,
			DisableXAttrs:    true,
			Debug:            f.opts.Debug,
			Logger:           slog.NewLogLogger(f.log.Handler(), slog.LevelDebug),
		},
		EntryTimeout:   &live,
		AttrTimeout:    &live,
		RootStableAttr: &fs.StableAttr{Ino: inoRoot},
		UID:            m.uid,
		GID:            m.gid,
		Logger:         log.New(&slogWriter{f.log}, "", 0),
	}
	root := &rootNode{base: base{m}}
	// fs.Mount, with the raw filesystem timed.
	server, err := fuse.NewServer(newTimedFS(fs.NewNodeFS(root, fopts), f.opts.Metrics), dir, &fopts.MountOptions)
	if err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", dir, err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", dir, err)
	}
	m.server = server
	m.noOpen.Store(server.KernelSettings().Flags64()&fuse.CAP_NO_OPEN_SUPPORT != 0)

	wctx, stop := context.WithCancel(context.Background())
	m.stop = stop
	go func() {
		server.Wait()
		close(m.served)
		stop()
	}()
	go func() {
		// Index the events file ahead of its first stat.
		if _, _, err := f.evlog.extend(wctx); err != nil && wctx.Err() == nil {
			f.log.Error("fusefs: index events", "err", err)
		}
	}()

	f.mu.Lock()
	f.doneGen = max(f.doneGen, gen)
	f.mu.Unlock()
	m.workerCtx = wctx
	return m, nil
}

// Dir is the absolute mount point.
func (m *Mount) Dir() string { return m.dir }

// Wait blocks until the filesystem is unmounted.
func (m *Mount) Wait() { <-m.served }

// Close unmounts the filesystem and stops its worker. If the mount is busy
// (a process has its working directory or a file open in it) it is
// detached lazily: it disappears from the namespace at once and is
// released when the last user leaves.
func (m *Mount) Close() error {
	m.closeOnce.Do(func() {
		select {
		case <-m.served:
		default:
			if err := m.server.Unmount(); err != nil {
				m.log.Warn("fusefs: unmount failed, detaching lazily", "dir", m.dir, "err", err)
				if err := detach(m.dir); err != nil {
					m.closeErr = fmt.Errorf("fusefs: unmount %s: %w", m.dir, err)
				}
			}
		}
		m.stop()
		<-m.workerDone
		f := m.f
		f.mu.Lock()
		if f.mnt == m {
			f.mnt = nil
		}
		close(f.doneCh) // wake Sync callers so they see the unmount
		f.doneCh = make(chan struct{})
		f.mu.Unlock()
	})
	return m.closeErr
}

// errno reports a Source failure: EINTR if the request was interrupted,
// else EIO with a log line.
func (m *Mount) errno(ctx context.Context, op, p string, err error) syscall.Errno {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return syscall.EINTR
	}
	m.log.Error("fusefs: source error", "op", op, "path", p, "err", err)
	return syscall.EIO
}

// headTime is the latest change in current/.
func (m *Mount) headTime() time.Time {
	m.cur.mu.RLock()
	defer m.cur.mu.RUnlock()
	return m.cur.dirs[""].mtime
}

type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("fusefs: go-fuse", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}

// ---- the worker ----

// notes are the kernel invalidations one batch of changes needs.
type notes struct {
	content []string // files whose content or attributes changed
	added   []entry  // entries created, outermost first
	removed []entry  // entries removed, innermost first
	dirs    map[string]bool
}

func (n *notes) empty() bool {
	return len(n.content) == 0 && len(n.added) == 0 && len(n.removed) == 0 && len(n.dirs) == 0
}

func (n *notes) dirAndAncestors(d string) {
	for {
		n.dirs[d] = true
		if d == "" {
			return
		}
		d, _ = splitPath(d)
	}
}

func (m *Mount) run() {
	defer close(m.workerDone)
	ctx := m.workerCtx
	type lateBatch struct {
		due time.Time
		n   *notes
	}
	var late []lateBatch
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.f.wake:
		case <-timer.C:
		}
		now := time.Now()
		for len(late) > 0 && !late[0].due.After(now) {
			m.notify(late[0].n, true)
			late = late[1:]
		}
		if n := m.process(ctx); n != nil && !n.empty() {
			late = append(late, lateBatch{due: time.Now().Add(renotifyDelay), n: n})
		}
		if len(late) > 0 {
			timer.Reset(time.Until(late[0].due))
		}
	}
}

// process applies what Changed queued. It returns the invalidations it
// made, or nil.
func (m *Mount) process(ctx context.Context) *notes {
	f := m.f
	f.mu.Lock()
	if f.enqGen == f.doneGen {
		f.mu.Unlock()
		return nil
	}
	paths, all, seq, gen := f.pending, f.pendAll, f.pendSeq, f.enqGen
	f.pending, f.pendAll = make(map[string]projections.Revision), false
	f.mu.Unlock()

	n, err := m.apply(ctx, paths, all, seq)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		m.retry = min(max(2*m.retry, retryDelay), maxRetryDelay)
		m.log.Error("fusefs: apply changes; will retry", "seq", seq, "paths", len(paths), "all", all, "in", m.retry, "err", err)
		f.mu.Lock()
		if all || f.pendAll {
			f.pendAll = true
			clear(f.pending)
		} else {
			// A path queued again meanwhile has a newer revision.
			for p, r := range paths {
				if _, queued := f.pending[p]; !queued {
					f.pending[p] = r
				}
			}
		}
		f.mu.Unlock()
		time.AfterFunc(m.retry, f.poke)
		return nil
	}
	m.retry = 0
	m.notify(n, false)

	before, after, err := f.evlog.extend(ctx)
	if err != nil && ctx.Err() == nil {
		m.log.Error("fusefs: index events", "err", err)
	}
	if after > before {
		// Only the page holding the old end and what follows can be stale;
		// a failed extend may still have indexed some events.
		m.eventsInode.NotifyContent(before&^4095, 0)
	}

	f.mu.Lock()
	f.doneGen = max(f.doneGen, gen)
	close(f.doneCh)
	f.doneCh = make(chan struct{})
	f.mu.Unlock()
	return n
}

// apply brings the touched paths of current/ to their head state.
func (m *Mount) apply(ctx context.Context, touched map[string]projections.Revision, all bool, seq uint64) (*notes, error) {
	var list []projections.FileInfo
	var err error
	// The paths whose removal is checked: every touched one, and the files
	// beneath a touched path that is a directory here.
	var paths []string
	if all {
		list, err = m.f.src.Tree(ctx, 0)
	} else {
		// A touched path that is a directory here stands for the files
		// beneath it (say, a directory deleted as a whole); their state is
		// read from the Source.
		var beneath []string
		m.cur.mu.RLock()
		for p, r := range touched {
			paths = append(paths, p)
			if !r.Deleted {
				list = append(list, r.FileInfo)
			}
			if cp, ok := cleanPath(p); ok {
				if _, isDir := m.cur.dirs[cp]; isDir {
					beneath = append(beneath, m.cur.filesUnder(cp)...)
				}
			}
		}
		m.cur.mu.RUnlock()
		if len(beneath) > 0 {
			var under []projections.FileInfo
			under, err = m.f.src.Files(ctx, beneath)
			list = append(list, under...)
			paths = append(paths, beneath...)
		}
	}
	if err != nil {
		return nil, err
	}
	// The listing, cleaned and sorted by path (a path listed twice keeps
	// its last entry). It is the only copy: on a full resync it holds every
	// file, so it is not copied into a map. A file the tree cannot hold (see
	// buildTree) is left out, so the path is removed, as a new mount would
	// not show it either.
	kept := list[:0]
	for _, fi := range list {
		p, ok := cleanPath(fi.Path)
		if !ok {
			m.log.Warn("fusefs: skipping file", "path", fi.Path, "reason", "invalid path")
			continue
		}
		if _, ok := newFile(fi); !ok {
			m.log.Warn("fusefs: skipping file", "path", p, "reason", "invalid content hash")
			continue
		}
		fi.Path = p
		kept = append(kept, fi)
	}
	list = kept
	// slices' generic sort, not sort.SliceStable's reflection swapper:
	// a batch of 5,000 104-byte FileInfos sorted 1.7x faster
	// (docs/bench-perf.txt item 31).
	slices.SortStableFunc(list, func(a, b projections.FileInfo) int { return strings.Compare(a.Path, b.Path) })
	kept = list[:0]
	for i, fi := range list {
		if i+1 < len(list) && list[i+1].Path == fi.Path {
			continue
		}
		kept = append(kept, fi)
	}
	list = kept
	listed := func(p string) bool {
		i := sort.Search(len(list), func(i int) bool { return list[i].Path >= p })
		return i < len(list) && list[i].Path == p
	}

	removedAt := time.Now()
	if seq > 0 {
		if t, err := m.f.eventTime(ctx, seq); err == nil {
			removedAt = t
		}
	}

	// The paths that are gone: on a full resync any path of the tree, else
	// any touched path, that the listing does not hold. Only this worker
	// changes the tree, so what a read lock finds holds under the write
	// lock below, and readers of the mount wait only for the changes.
	t := m.cur
	var gone []string
	if all {
		t.mu.RLock()
		t.eachFile(func(p string, _ file) {
			if !listed(p) {
				gone = append(gone, p)
			}
		})
		t.mu.RUnlock()
	} else {
		for _, p := range paths {
			if cp, ok := cleanPath(p); ok && !listed(cp) {
				gone = append(gone, cp)
			}
		}
	}
	sort.Strings(gone)

	n := &notes{dirs: make(map[string]bool)}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Removals first, so a path can turn from file into directory (or
	// back) within one batch.
	for _, p := range gone {
		removed, dir, ok := t.remove(p, removedAt)
		if !ok {
			continue
		}
		n.removed = append(n.removed, removed...)
		n.dirAndAncestors(dir)
	}
	for _, fi := range list {
		p := fi.Path
		f, _ := newFile(fi) // checked when the listing was cleaned
		if old, had := t.file(p); had && old == f {
			continue
		}
		created, replaced, why := t.put(p, f)
		if why != "" {
			m.log.Warn("fusefs: skipping file", "path", p, "reason", why)
			continue
		}
		if replaced {
			n.content = append(n.content, p)
		}
		n.added = append(n.added, created...)
		d, _ := splitPath(p)
		n.dirAndAncestors(d)
	}
	t.seq = max(t.seq, seq)
	return n, nil
}

// inodeAt finds the go-fuse inode of a path of current/, if the kernel
// knows it (go-fuse keeps exactly the nodes the kernel looked up).
func (m *Mount) inodeAt(p string) *fs.Inode {
	n := m.curInode
	if p == "" {
		return n
	}
	for _, c := range strings.Split(p, "/") {
		if n = n.GetChild(c); n == nil {
			return nil
		}
	}
	return n
}

// notify sends the kernel the invalidations of a batch. It runs on the
// worker, never in a request handler (the kernel would deadlock). late
// marks the repeat: removals then only drop the name, since the kernel
// may have looked a different node up in between.
func (m *Mount) notify(n *notes, late bool) {
	check := func(what, p string, errno syscall.Errno) {
		if errno != 0 && errno != syscall.ENOENT {
			m.log.Debug("fusefs: notify", "what", what, "path", p, "errno", errno)
		}
	}
	for _, e := range n.removed {
		parent := m.inodeAt(e.dir)
		if parent == nil {
			continue
		}
		if child := parent.GetChild(e.name); child != nil && !late {
			check("delete", e.path(), parent.NotifyDelete(e.name, child))
		} else {
			check("entry", e.path(), parent.NotifyEntry(e.name))
		}
	}
	for _, e := range n.added {
		parent := m.inodeAt(e.dir)
		if parent == nil {
			continue
		}
		check("entry", e.path(), parent.NotifyEntry(e.name))
		// A file created where one was removed has the same inode number,
		// and the kernel may still hold that inode, with the old pages, for
		// a descriptor left open: the next lookup would hand it back as it
		// is, and a size and mtime that happen to match would keep the old
		// pages in use. go-fuse keeps the old node linked until then.
		if child := parent.GetChild(e.name); child != nil && !e.isDir {
			check("content", e.path(), child.NotifyContent(0, 0))
		}
	}
	for _, p := range n.content {
		if node := m.inodeAt(p); node != nil {
			check("content", p, node.NotifyContent(0, 0))
		}
	}
	// A directory whose entries changed also loses its cached listing
	// (readdir is cached, see OpendirHandle); the others only their
	// attributes.
	listed := make(map[string]bool, len(n.added)+len(n.removed))
	for _, e := range n.removed {
		listed[e.dir] = true
	}
	for _, e := range n.added {
		listed[e.dir] = true
	}
	for d := range n.dirs {
		if node := m.inodeAt(d); node != nil {
			if listed[d] {
				check("dir listing", d, node.NotifyContent(0, 0))
			} else {
				check("dir attr", d, node.NotifyContent(-1, 0))
			}
		}
	}
	if len(n.dirs) > 0 {
		// The root's mtime follows current/'s.
		check("root attr", "", m.curInode.Root().NotifyContent(-1, 0))
	}
}
