package watcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// Config is how a Watcher runs.
type Config struct {
	Dir          string         // the project directory (absolute)
	Data         string         // Lighthouse's data directory: spool, socket; never shadowed
	Skip         []string       // more directories never shadowed (the mount)
	Writer       *client.Client // the writer, as the watcher's own identity
	Log          *slog.Logger
	Quiet        time.Duration // a change is recorded once the tree was quiet this long (default 50ms)...
	MaxDelay     time.Duration // ...or at the latest this long after it was seen (default 250ms)
	ScanInterval time.Duration // full scans in polling mode (default 1s)
	MaxHold      time.Duration // longest an open Bash call holds changes back (default 2m, Claude Code's default Bash timeout)
	Poll         bool          // scan periodically instead of using kernel notifications
	Metrics      http.Handler  // if set, served as GET /metrics on the watcher's socket
}

// Watcher shadows one project directory into the log.
type Watcher struct {
	cfg        Config
	dir        string
	root       *os.Root // dir, for a restore's writes: nothing through it leaves the project
	spool      *Spool
	barrierDir string
	ig         *ignorer

	opMu     sync.Mutex // serialises recording: flushes, replays, restores
	st       *logState
	h        *hasher
	rejected map[string]refusal // path → what the writer refused there (too large, bad path); under mu

	mu         sync.Mutex
	dirty      map[string]time.Time // path → when a change to it was last seen
	full       bool
	first      time.Time
	last       time.Time
	calls      map[string]call
	polling    bool
	barriers   map[string]chan struct{}
	watched    map[string]bool // directories with a watch (relative paths)
	barrierN   int
	fsw        *fsnotify.Watcher
	lastScan   time.Time
	lastSpool  time.Time
	pauseUntil time.Time // no flush before then, after an error
	ready      chan struct{}
}

type call struct {
	token, session string
	begun          time.Time // the changes seen since are the call's (see EndCall)
	until          time.Time // the call stops holding changes back then
	settle         bool      // a CLI change of the log and then the disk (CallRequest.Settle)
}

// New checks cfg and returns a watcher; Run starts it.
func New(cfg Config) (*Watcher, error) {
	if cfg.Writer == nil {
		return nil, errors.New("watcher: no writer client")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, d := range []*time.Duration{&cfg.Quiet, &cfg.MaxDelay, &cfg.ScanInterval, &cfg.MaxHold} {
		if *d < 0 {
			return nil, errors.New("watcher: negative duration")
		}
	}
	if cfg.Quiet == 0 {
		cfg.Quiet = 50 * time.Millisecond
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = 250 * time.Millisecond
	}
	if cfg.ScanInterval == 0 {
		cfg.ScanInterval = time.Second
	}
	if cfg.MaxHold == 0 {
		cfg.MaxHold = 2 * time.Minute
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("watcher: project dir: %w", err)
	}
	dir, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("watcher: project dir: %w", err)
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("watcher: data dir: %w", err)
	}
	sp, err := OpenSpool(cfg.Data)
	if err != nil {
		return nil, err
	}
	ig, err := newIgnorer(dir, append([]string{cfg.Data}, cfg.Skip...))
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("watcher: project dir: %w", err)
	}
	w := &Watcher{cfg: cfg, dir: dir, root: root, spool: sp, ig: ig, st: newLogState(), h: newHasher(dir),
		rejected: map[string]refusal{}, dirty: map[string]time.Time{}, calls: map[string]call{}, watched: map[string]bool{},
		barriers: map[string]chan struct{}{}, barrierDir: filepath.Join(cfg.Data, "watcher-barrier"),
		ready: make(chan struct{})}
	if cfg.Poll {
		w.enterPolling(errors.New("--poll asks for it"))
	}
	return w, nil
}

// Ready is closed once the first import or reconcile is recorded (or spooled).
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run imports or reconciles the tree, then records changes until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	log := w.cfg.Log
	if err := w.waitWriter(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting: a clean stop
		}
		return err
	}
	if err := w.Replay(ctx); err != nil && !unreachable(err) {
		log.Error("replay spool", "err", err)
	}
	if !w.isPolling() {
		fsw, err := fsnotify.NewWatcher()
		if err != nil {
			w.enterPolling(err)
		} else {
			w.fsw = fsw
			defer fsw.Close()
			if err := os.MkdirAll(w.barrierDir, 0o700); err != nil {
				return fmt.Errorf("watcher: %w", err)
			}
			if err := fsw.Add(w.barrierDir); err != nil {
				w.enterPolling(err)
			}
			go w.events(ctx, fsw)
		}
	}
	if err := w.addTree(""); err != nil {
		return err
	}
	marker := ReconcileMarker
	w.opMu.Lock()
	if !w.st.baseline {
		marker = BaselineMarker
	}
	w.opMu.Unlock()
	w.mu.Lock()
	w.full = true
	w.mu.Unlock()
	start := time.Now()
	res, spooled, err := w.flush(ctx, identity{Correlation: marker})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("watcher: initial %s: %w", marker, err)
	}
	log.Info("tree recorded", "marker", marker, "ops", res.Ops, "change_sets", res.Sets, "spooled", spooled,
		"seq", res.Seq, "took", time.Since(start).Round(time.Millisecond).String(), "dir", w.dir, "polling", w.isPolling())
	close(w.ready)
	srv, err := w.serve(ctx)
	if err != nil {
		return err
	}
	defer srv.Close()

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			w.tick(ctx)
		}
	}
}

// waitWriter reads the log, retrying while the writer is unreachable.
func (w *Watcher) waitWriter(ctx context.Context) error {
	logged := false
	for {
		w.opMu.Lock()
		err := w.sync(ctx)
		w.opMu.Unlock()
		if err == nil {
			return nil
		}
		if !unreachable(err) {
			return fmt.Errorf("watcher: read the log: %w", err)
		}
		if !logged {
			w.cfg.Log.Warn("writer unreachable; waiting for it", "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// tick records what is due: spooled entries once the writer is back, a
// periodic scan in polling mode, and changes that have settled.
func (w *Watcher) tick(ctx context.Context) {
	now := time.Now()
	w.mu.Lock()
	spoolDue := now.Sub(w.lastSpool) >= time.Second
	if spoolDue {
		w.lastSpool = now
	}
	if w.polling && now.Sub(w.lastScan) >= w.cfg.ScanInterval {
		w.full, w.lastScan = true, now
		if w.first.IsZero() {
			w.first, w.last = now.Add(-w.cfg.MaxDelay), now.Add(-w.cfg.Quiet)
		}
	}
	due := (len(w.dirty) > 0 || w.full) && (now.Sub(w.last) >= w.cfg.Quiet || now.Sub(w.first) >= w.cfg.MaxDelay) &&
		!w.heldLocked(now) && now.After(w.pauseUntil)
	w.mu.Unlock()
	if spoolDue && w.spool.Len() > 0 {
		if err := w.Replay(ctx); err != nil && !unreachable(err) {
			w.cfg.Log.Error("replay spool", "err", err)
		}
	}
	if due {
		if _, _, err := w.flushIdle(ctx); err != nil && ctx.Err() == nil {
			w.cfg.Log.Error("record changes; trying again in a second", "err", err)
			w.mu.Lock()
			w.pauseUntil = time.Now().Add(time.Second)
			w.mu.Unlock()
		}
	}
}

// heldLocked reports whether an agent's call is open: its changes wait for
// its PostToolUse hook, so they are recorded as that agent's.
func (w *Watcher) heldLocked(now time.Time) bool {
	for id, c := range w.calls {
		if now.Before(c.until) {
			return true
		}
		delete(w.calls, id)
		if c.settle {
			w.cfg.Log.Warn("a CLI change to the files never ended; the watcher looks again", "call", id)
			continue
		}
		w.cfg.Log.Warn("agent call never ended; its changes are recorded as the watcher's", "tool_use_id", id)
	}
	return false
}

func (w *Watcher) isPolling() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.polling
}

func (w *Watcher) enterPolling(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.polling {
		return
	}
	w.polling = true
	w.cfg.Log.Warn("kernel file notifications unavailable (watches ran out?); falling back to periodic scans",
		"interval", w.cfg.ScanInterval, "err", err)
}

// events turns kernel notifications into dirty paths.
func (w *Watcher) events(ctx context.Context, fsw *fsnotify.Watcher) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-fsw.Events:
			if !ok {
				return
			}
			w.onEvent(ev)
		case err, ok := <-fsw.Errors:
			if !ok {
				return
			}
			w.cfg.Log.Warn("file notifications", "err", err)
			w.markFull()
		}
	}
}

func (w *Watcher) onEvent(ev fsnotify.Event) {
	if filepath.Dir(ev.Name) == w.barrierDir {
		w.mu.Lock()
		if ch, ok := w.barriers[filepath.Base(ev.Name)]; ok {
			close(ch)
			delete(w.barriers, filepath.Base(ev.Name))
		}
		w.mu.Unlock()
		return
	}
	r, err := filepath.Rel(w.dir, ev.Name)
	if err != nil || r == "." || strings.HasPrefix(r, "..") {
		return
	}
	rel := filepath.ToSlash(r)
	if ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove) {
		w.unwatch(rel)
	}
	isDir := false
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			isDir = true
		}
	}
	if w.ig.ignored(rel, isDir) {
		return
	}
	if filepath.Base(rel) == ".gitignore" {
		w.reloadIgnore()
	}
	if isDir {
		if err := w.addTree(rel); err != nil {
			w.cfg.Log.Warn("watch new directory", "dir", rel, "err", err)
			w.markFull()
		}
		return
	}
	w.markDirty(rel)
}

// reloadIgnore rereads the ignore files and schedules a full scan.
func (w *Watcher) reloadIgnore() {
	ig, err := newIgnorer(w.dir, append([]string{w.cfg.Data}, w.cfg.Skip...))
	if err != nil {
		w.cfg.Log.Warn("reload .gitignore", "err", err)
		return
	}
	if err := walk(w.dir, "", ig, nil, func(string) error { return nil }); err != nil {
		w.cfg.Log.Warn("reload .gitignore", "err", err)
	}
	w.mu.Lock()
	w.ig = ig
	w.mu.Unlock()
	w.markFull()
}

func (w *Watcher) ignorer() *ignorer {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ig
}

// addTree watches rel and every shadowed directory below it, and marks the
// files found there dirty (they may have been created before the watch).
func (w *Watcher) addTree(rel string) error {
	return walk(w.dir, rel, w.ignorer(), func(d string) error {
		if w.fsw != nil && !w.isPolling() {
			if err := w.fsw.Add(filepath.Join(w.dir, filepath.FromSlash(d))); err != nil {
				if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) {
					w.enterPolling(err)
				} else if !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("watch %s: %w", d, err)
				}
			} else {
				w.mu.Lock()
				w.watched[d] = true
				w.mu.Unlock()
			}
		}
		return nil
	}, func(f string) error {
		if rel != "" {
			w.markDirty(f)
		}
		return nil
	})
}

// unwatch drops the watches on rel and below when rel was a watched
// directory that moved or went away. A directory moved within the tree
// keeps its inode, and so its inotify watch, under the old name: unless
// that watch is dropped before the new name is watched, fsnotify would go
// on naming its events by the old path (and drop it at IN_MOVE_SELF).
func (w *Watcher) unwatch(rel string) {
	w.mu.Lock()
	var gone []string
	for d := range w.watched {
		if d == rel || strings.HasPrefix(d, rel+"/") {
			gone = append(gone, d)
			delete(w.watched, d)
		}
	}
	w.mu.Unlock()
	for _, d := range gone {
		_ = w.fsw.Remove(filepath.Join(w.dir, filepath.FromSlash(d))) // already gone is fine
	}
}

func (w *Watcher) markDirty(rel string) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.dirty) == 0 && !w.full {
		w.first = now
	}
	w.dirty[rel] = now
	w.last = now
}

func (w *Watcher) markFull() {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.dirty) == 0 && !w.full {
		w.first = now
	}
	w.full, w.last = true, now
}

// barrier returns once every notification about changes made before it was
// called has been read: it creates a file in a watched directory of the
// data dir and waits for its event (one inotify queue keeps order). In
// polling mode, or if the event does not come, it asks for a full scan.
func (w *Watcher) barrier(ctx context.Context) {
	w.mu.Lock()
	if w.polling || w.fsw == nil {
		w.mu.Unlock()
		w.markFull()
		return
	}
	w.barrierN++
	name := fmt.Sprintf("b-%d-%d", os.Getpid(), w.barrierN)
	ch := make(chan struct{})
	w.barriers[name] = ch
	w.mu.Unlock()
	path := filepath.Join(w.barrierDir, name)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		w.cfg.Log.Warn("barrier", "err", err)
		w.markFull()
		return
	}
	defer os.Remove(path)
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
		w.markFull()
	case <-ctx.Done():
	}
}

// flush records the dirty paths (every path after a full scan) as id.
// spooled is true when the writer was unreachable and the changes went to
// the spool instead.
func (w *Watcher) flush(ctx context.Context, id identity) (sendResult, bool, error) {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	return w.flushLocked(ctx, id, time.Time{})
}

// flushIdle is flush for the watcher's own look, due while no call was
// open: it gives way to a call opened since (under opMu, which a settling
// call waits for, so a look never reads the disk in the middle of one).
func (w *Watcher) flushIdle(ctx context.Context) (sendResult, bool, error) {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	w.mu.Lock()
	held := w.heldLocked(time.Now())
	w.mu.Unlock()
	if held {
		return sendResult{}, false, nil
	}
	return w.flushLocked(ctx, identity{}, time.Time{})
}

// lockSettled locks opMu once no settling call is open (polling every
// 10 ms): a recording that reads the disk must not run between a CLI
// change to the log and the same change on disk.
func (w *Watcher) lockSettled(ctx context.Context) error {
	for {
		w.opMu.Lock()
		w.mu.Lock()
		now, settling := time.Now(), false
		for _, c := range w.calls {
			settling = settling || c.settle && now.Before(c.until)
		}
		w.mu.Unlock()
		if !settling {
			return nil
		}
		w.opMu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for a CLI change to the files to finish: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// flushLocked is flush with opMu held. With since set it records only the
// paths changed since then (after a full scan, every path): changes seen
// before an agent's call began are not that call's, and stay for the call
// open when they were made, or for the watcher's own look.
func (w *Watcher) flushLocked(ctx context.Context, id identity, since time.Time) (sendResult, bool, error) {
	w.mu.Lock()
	dirty, full := w.dirty, w.full
	if since.IsZero() || full {
		w.dirty, w.full = map[string]time.Time{}, false
	} else {
		dirty = map[string]time.Time{}
		for p, t := range w.dirty {
			if !t.Before(since) {
				dirty[p] = t
				delete(w.dirty, p)
			}
		}
	}
	if len(w.dirty) == 0 && !w.full {
		w.first, w.last = time.Time{}, time.Time{}
	}
	w.mu.Unlock()
	if len(dirty) == 0 && !full {
		return sendResult{}, false, nil
	}
	syncErr := w.sync(ctx)
	if syncErr != nil && !unreachable(syncErr) {
		w.redirty(dirty, full)
		return sendResult{}, false, syncErr
	}
	cands, disk, err := w.collect(dirty, full)
	if err != nil {
		w.redirty(dirty, full)
		return sendResult{}, false, err
	}
	ops := w.dropRejected(plan(cands, disk, w.st))
	if len(ops) == 0 {
		return sendResult{}, false, nil
	}
	if syncErr != nil {
		err := w.spoolOps(id, ops)
		return sendResult{Ops: len(ops)}, err == nil, err
	}
	c := w.writerFor(id)
	for attempt := 0; ; attempt++ {
		res, err := sendOps(ctx, c, id, ops, w.diskContent)
		if err == nil || res.Sets > 0 {
			if serr := w.sync(ctx); serr != nil && err == nil {
				err = serr
			}
		}
		switch {
		case err == nil:
			return res, false, nil
		case unreachable(err):
			// Whatever the writer took is in the log; spool the rest.
			ops = w.dropRejected(plan(cands, disk, w.st))
			if len(ops) == 0 {
				return res, false, nil
			}
			serr := w.spoolOps(id, ops)
			return res, serr == nil, serr
		case isConflict(err) && attempt < 3:
			// Someone (a hook) recorded one of these paths meanwhile:
			// plan again against the log; what it has is not repeated.
			if serr := w.sync(ctx); serr != nil {
				return res, false, serr
			}
			ops = w.dropRejected(plan(cands, disk, w.st))
			if len(ops) == 0 {
				return res, false, nil
			}
		default:
			// One op the writer refuses (a file over the size limit, a
			// name it cannot take) must not hold back the others.
			w.cfg.Log.Warn("change set refused; recording its changes one by one", "err", err)
			return w.oneByOne(ctx, c, id, cands, disk)
		}
	}
}

func (w *Watcher) redirty(dirty map[string]time.Time, full bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for p, t := range dirty {
		if cur, ok := w.dirty[p]; !ok || t.After(cur) {
			w.dirty[p] = t
		}
	}
	w.full = w.full || full
	if w.first.IsZero() {
		w.first, w.last = time.Now(), time.Now()
	}
}

func (w *Watcher) oneByOne(ctx context.Context, c writerAPI, id identity, cands []string, disk map[string]diskFile) (sendResult, bool, error) {
	var total sendResult
	ops := w.dropRejected(plan(cands, disk, w.st))
	for i, op := range ops {
		one := id
		if one.CommandID != "" && i > 0 {
			one.CommandID = fmt.Sprintf("%s#op%d", id.CommandID, i)
		}
		res, err := sendOps(ctx, c, one, []Op{op}, w.diskContent)
		switch {
		case err == nil:
			total.Seq, total.Ops, total.Sets = res.Seq, total.Ops+res.Ops, total.Sets+res.Sets
			total.Paths = append(total.Paths, res.Paths...)
		case unreachable(err):
			if serr := w.spoolOps(id, ops[i:]); serr != nil {
				return total, false, serr
			}
			return total, true, nil
		default:
			w.cfg.Log.Warn("writer refused a change; skipped until the file changes", "path", op.Path, "err", err)
			w.mu.Lock()
			w.rejected[op.Path] = refusal{hash: op.Hash, reason: err.Error()}
			w.mu.Unlock()
		}
	}
	return total, false, w.sync(ctx)
}

// refusal is a change the writer refused, skipped until the file changes.
type refusal struct{ hash, reason string }

func (w *Watcher) dropRejected(ops []Op) []Op {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := ops[:0]
	for _, op := range ops {
		if r, ok := w.rejected[op.Path]; ok && op.Op == opWrite && r.hash == op.Hash {
			continue
		}
		delete(w.rejected, op.Path)
		out = append(out, op)
	}
	return out
}

// collect returns the candidate paths and the state on disk of those that
// are regular files.
// statTree walks the shadowed tree and stats every file keep accepts (all
// when keep is nil) into disk, returning their paths in walk order.
func (w *Watcher) statTree(ig *ignorer, keep func(rel string) bool, disk map[string]diskFile) ([]string, error) {
	var found []string
	err := walk(w.dir, "", ig, nil, func(rel string) error {
		if keep != nil && !keep(rel) {
			return nil
		}
		d, ok, err := w.h.stat(rel)
		if err != nil {
			return err
		}
		if ok {
			disk[rel] = d
			found = append(found, rel)
		}
		return nil
	})
	return found, err
}

func (w *Watcher) collect(dirty map[string]time.Time, full bool) ([]string, map[string]diskFile, error) {
	disk := map[string]diskFile{}
	var cands []string
	ig := w.ignorer()
	if full {
		var err error
		if cands, err = w.statTree(ig, nil, disk); err != nil {
			return nil, nil, err
		}
		for _, p := range w.st.paths() {
			if _, ok := disk[p]; !ok && !ig.ignored(p, false) {
				cands = append(cands, p)
			}
		}
		return cands, disk, nil
	}
	var logPaths []string
	for p := range dirty {
		d, ok, err := w.h.stat(p)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			disk[p] = d
			cands = append(cands, p)
			continue
		}
		cands = append(cands, p)
		if w.st.get(p).Exists {
			continue
		}
		// Not a file on disk nor in the log: perhaps a directory that
		// went away (or came) as a whole.
		if logPaths == nil {
			logPaths = w.st.paths()
		}
		for _, lp := range logPaths {
			if strings.HasPrefix(lp, p+"/") {
				cands = append(cands, lp)
				if d, ok, err := w.h.stat(lp); err == nil && ok {
					disk[lp] = d
				}
			}
		}
	}
	sort.Strings(cands)
	return cands, disk, nil
}

// sync folds the log's new events into the watcher's view of it.
func (w *Watcher) sync(ctx context.Context) error {
	for {
		evs, head, err := w.cfg.Writer.Events(ctx, w.st.cursor, domain.MaxEventsPage)
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		for _, e := range evs {
			if err := w.st.apply(e); err != nil {
				return fmt.Errorf("fold event %d: %w", e.Seq, err)
			}
		}
		if len(evs) < domain.MaxEventsPage || w.st.cursor >= head {
			return nil
		}
	}
}

// writerFor returns the client that records as id.
func (w *Watcher) writerFor(id identity) writerAPI {
	if id.Token == "" {
		return w.cfg.Writer
	}
	c := *w.cfg.Writer
	c.Token = id.Token
	return &c
}

func (w *Watcher) diskContent(op Op) (io.ReadCloser, error) {
	p := op.Path
	if op.Op == opMove {
		p = op.To
	}
	f, err := os.Open(filepath.Join(w.dir, filepath.FromSlash(p)))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	return f, nil
}

func (w *Watcher) spoolContent(op Op) (io.ReadCloser, error) { return w.spool.OpenContent(op.Hash) }

// spoolOps keeps ops durably until the writer is back, contents included,
// and remembers them so they are not planned again.
func (w *Watcher) spoolOps(id identity, ops []Op) error {
	kept := make([]Op, 0, len(ops))
	for _, op := range ops {
		if op.Op == opWrite || op.Op == opMove {
			r, err := w.diskContent(op)
			if errors.Is(err, os.ErrNotExist) {
				if op.Op == opWrite {
					continue
				}
			} else if err != nil {
				return err
			} else {
				hash, size, err := w.spool.PutContent(r)
				r.Close()
				if err != nil {
					return err
				}
				op.Hash, op.Size = hash, size
			}
		}
		op.Expected = nil
		kept = append(kept, op)
	}
	if len(kept) == 0 {
		return nil
	}
	if err := w.spool.Append(Entry{Token: id.Token, Agent: id.Agent, CommandID: id.CommandID, SessionID: id.SessionID, Correlation: id.Correlation, Causation: id.Causation, Ops: kept}); err != nil {
		return err
	}
	w.st.assume(kept)
	w.cfg.Log.Warn("writer unreachable; changes spooled", "ops", len(kept), "spool", w.spool.Dir)
	return nil
}

// Replay sends the spooled entries in order, each as the agent that made
// it, skipping what the log already has; then it schedules a full scan.
// It stops at the first entry the writer cannot take now.
func (w *Watcher) Replay(ctx context.Context) error {
	w.opMu.Lock()
	defer w.opMu.Unlock()
	n, err := replay(ctx, w.spool, w.cfg.Writer, w.st, func() error { return w.sync(ctx) }, w.cfg.Log)
	if n > 0 || err == nil {
		if err == nil && w.st.over != nil {
			w.st.over = nil
			w.markFull()
		}
	}
	return err
}

// replay is the spool's replay loop, shared with hooks that replay when no
// watcher runs (st nil: nothing is known of the log, entries are sent as
// they are; command ids still make a second replay harmless).
func replay(ctx context.Context, sp *Spool, base *client.Client, st *logState, sync func() error, log *slog.Logger) (int, error) {
	release, err := sp.Lock()
	if err != nil {
		return 0, err
	}
	defer release()
	entries, err := sp.Entries()
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	plans := ReplayPlan(entries)
	done := 0
	for i, e := range entries {
		if st == nil && e.Token == "" {
			break // the watcher's own entry: only the watcher replays it (as itself), so keep the order
		}
		var ops []Op
		if st != nil {
			if err := sync(); err != nil {
				return done, err
			}
			for _, op := range plans[i] {
				if satisfied(op, st) {
					continue
				}
				if op.Op == opMove && !st.logged(op.Path).Exists {
					op = Op{Op: opWrite, Path: op.To, Hash: op.Hash, Size: op.Size, Mode: op.Mode}
				}
				ops = append(ops, op)
			}
		} else {
			ops = plans[i]
		}
		if len(ops) > 0 {
			c := *base
			if e.Token != "" {
				c.Token = e.Token
			}
			_, err := sendOps(ctx, &c, identity{Token: e.Token, Agent: e.Agent, CommandID: e.CommandID, SessionID: e.SessionID, Correlation: e.Correlation, Causation: e.Causation},
				ops, func(op Op) (io.ReadCloser, error) { return sp.OpenContent(op.Hash) })
			if unreachable(err) {
				return done, err
			}
			if err != nil {
				log.Error("spooled change refused; moved to spool/failed", "entry", e.name, "err", err)
				if ferr := sp.fail(e); ferr != nil {
					return done, ferr
				}
				continue
			}
		}
		if err := sp.done(e); err != nil {
			return done, err
		}
		done++
	}
	log.Info("spool replayed", "entries", done)
	return done, nil
}

// ReplaySpool replays DATA's spool without a watcher (a hook does this when
// none runs). It returns how many entries were sent.
func ReplaySpool(ctx context.Context, data string, writer *client.Client, log *slog.Logger) (int, error) {
	sp, err := OpenSpool(data)
	if err != nil {
		return 0, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return replay(ctx, sp, writer, nil, nil, log)
}
