package fusefs

import (
	"container/list"
	"context"
	"errors"
	iofs "io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// histCache keeps the most recently used history trees. A tree of the past
// never changes, so an entry is valid until evicted. Concurrent requests
// for the same point share one build.
type histCache struct {
	src Source
	log *slog.Logger
	cap int

	mu    sync.Mutex
	ents  map[uint64]*histEntry
	order *list.List // of *histEntry, most recent first
}

type histEntry struct {
	seq   uint64
	ready chan struct{}
	t     *tree
	err   error
	el    *list.Element
}

func newHistCache(src Source, log *slog.Logger, capacity int) *histCache {
	return &histCache{src: src, log: log, cap: capacity, ents: make(map[uint64]*histEntry), order: list.New()}
}

func (c *histCache) get(ctx context.Context, seq uint64) (*tree, error) {
	c.mu.Lock()
	if e := c.ents[seq]; e != nil {
		c.order.MoveToFront(e.el)
		c.mu.Unlock()
		// Not abandoned on ctx: Go readers get spurious interrupts (SIGURG),
		// and the build is bounded by its own timeout.
		<-e.ready
		return e.t, e.err
	}
	e := &histEntry{seq: seq, ready: make(chan struct{})}
	e.el = c.order.PushFront(e)
	c.ents[seq] = e
	for c.order.Len() > c.cap {
		old := c.order.Remove(c.order.Back()).(*histEntry)
		delete(c.ents, old.seq)
	}
	c.mu.Unlock()

	// Build detached from this request: others may wait for the result,
	// and an interrupted caller must not fail them.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	files, err := c.src.Tree(bctx, seq)
	cancel()
	if err != nil {
		e.err = err
		c.mu.Lock()
		if c.ents[seq] == e {
			delete(c.ents, seq)
			c.order.Remove(e.el)
		}
		c.mu.Unlock()
	} else {
		e.t = buildTree(seq, files, func(p, why string) {
			c.log.Warn("fusefs: skipping file in history tree", "seq", seq, "path", p, "reason", why)
		})
	}
	close(e.ready)
	return e.t, e.err
}

// point is a resolved history point: its namespace and global sequence.
type point struct {
	ns  string
	seq uint64
}

// resolvePoint turns a name under history/ into a point: "@SEQ", an RFC
// 3339 time, or a snapshot name, rounded down to a change-set edge so that
// a point shows each atomic change set whole or not at all.
func (m *Mount) resolvePoint(ctx context.Context, name string) (point, syscall.Errno) {
	p, errno := m.namedPoint(ctx, name)
	if errno != 0 {
		return point{}, errno
	}
	edge, err := m.f.src.ChangeSetEdge(ctx, p.seq)
	if err != nil {
		return point{}, m.errno(ctx, "change set edge", name, err)
	}
	if edge == 0 {
		return point{}, syscall.ENOENT // inside the change set that starts the log
	}
	if edge != p.seq {
		p.ns += "<" + strconv.FormatUint(edge, 10) // inodes name what is shown
		p.seq = edge
	}
	return p, 0
}

// namedPoint reads a name under history/ as it is written.
func (m *Mount) namedPoint(ctx context.Context, name string) (point, syscall.Errno) {
	head := m.f.src.Head()
	if rest, ok := strings.CutPrefix(name, "@"); ok {
		seq, err := strconv.ParseUint(rest, 10, 64)
		if err != nil || strconv.FormatUint(seq, 10) != rest || seq == 0 || seq > head {
			return point{}, syscall.ENOENT
		}
		return point{ns: name, seq: seq}, 0
	}
	if t, err := time.Parse(time.RFC3339Nano, name); err == nil {
		if t.After(time.Now()) {
			return point{}, syscall.ENOENT
		}
		seq, err := m.f.src.SeqAtTime(ctx, t)
		if errors.Is(err, iofs.ErrNotExist) || (err == nil && seq == 0) {
			return point{}, syscall.ENOENT
		}
		if err != nil {
			return point{}, m.errno(ctx, "seq at time", name, err)
		}
		seq = min(seq, head)
		return point{ns: "t:" + name + "@" + strconv.FormatUint(seq, 10), seq: seq}, 0
	}
	if seq, ok, errno := m.snapshot(ctx, name); errno != 0 || ok {
		return point{ns: snapshotNS(name, seq), seq: seq}, errno
	}
	return point{}, syscall.ENOENT
}

func snapshotNS(name string, seq uint64) string {
	return "s:" + name + "@" + strconv.FormatUint(seq, 10)
}

func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00") && len(name) <= 255
}

type namedPoint struct {
	name string
	seq  uint64
}

// snapshots returns the valid named snapshots with a sequence within the
// head, sorted by name.
func (m *Mount) snapshots(ctx context.Context) ([]namedPoint, syscall.Errno) {
	snaps, err := m.f.src.Snapshots(ctx)
	if err != nil {
		return nil, m.errno(ctx, "snapshots", "", err)
	}
	head := m.f.src.Head()
	out := make([]namedPoint, 0, len(snaps))
	for name, seq := range snaps {
		if validName(name) && seq > 0 && seq <= head {
			out = append(out, namedPoint{name: name, seq: seq})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, 0
}

func (m *Mount) snapshot(ctx context.Context, name string) (uint64, bool, syscall.Errno) {
	if !validName(name) {
		return 0, false, 0
	}
	snaps, err := m.f.src.Snapshots(ctx)
	if err != nil {
		return 0, false, m.errno(ctx, "snapshots", name, err)
	}
	seq, ok := snaps[name]
	if !ok || seq == 0 || seq > m.f.src.Head() {
		return 0, false, 0
	}
	return seq, true, 0
}

// pointView makes the view of a history point whose root sits in the
// directory with inode number parentIno.
func (m *Mount) pointView(p point, parentIno uint64) *view {
	return &view{m: m, ns: p.ns, seq: p.seq, rootIno: hashIno(p.ns, "", true), parentIno: parentIno}
}

// fillPointRoot fills the attributes of a history point's root without
// building its tree: mtime is the time of the point's event, and nlink is
// 1 ("subdirectory count not known", which find and fts accept).
func (m *Mount) fillPointRoot(ctx context.Context, a *fuse.Attr, v *view) syscall.Errno {
	t, err := m.f.eventTime(ctx, v.seq)
	if err != nil {
		return m.errno(ctx, "event time", "@"+strconv.FormatUint(v.seq, 10), err)
	}
	m.fillDir(a, v.rootIno, 1, t)
	return 0
}

func (m *Mount) pointInode(ctx context.Context, parent *fs.Inode, p point, parentIno uint64, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	v := m.pointView(p, parentIno)
	if errno := m.fillPointRoot(ctx, &out.Attr, v); errno != 0 {
		return nil, errno
	}
	return parent.NewInode(ctx, &dirNode{base: base{m}, v: v}, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: v.rootIno}), 0
}

// ---- history/ ----

type historyNode struct {
	fs.Inode
	base
}

var (
	_ fs.NodeLookuper  = (*historyNode)(nil)
	_ fs.NodeReaddirer = (*historyNode)(nil)
)

func (n *historyNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	// history/ holds every point: its subdirectory count is not finite.
	n.m.fillDir(&out.Attr, inoHistory, 1, n.m.headTime())
	return 0
}

func (n *historyNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	p, errno := n.m.resolvePoint(ctx, name)
	if errno != 0 {
		return nil, errno
	}
	return n.m.pointInode(ctx, &n.Inode, p, inoHistory, out)
}

func (n *historyNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	es := dirEntries(inoHistory, inoRoot)
	for _, seq := range n.m.f.recentPoints() {
		name := "@" + strconv.FormatUint(seq, 10)
		es = append(es, fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Ino: hashIno(name, "", true)})
	}
	snaps, errno := n.m.snapshots(ctx)
	if errno != 0 {
		return nil, errno
	}
	for _, s := range snaps {
		if strings.HasPrefix(s.name, "@") {
			continue // would be shadowed by the @SEQ form
		}
		if _, err := time.Parse(time.RFC3339Nano, s.name); err == nil {
			continue // would be read as a time
		}
		es = append(es, fuse.DirEntry{Name: s.name, Mode: syscall.S_IFDIR, Ino: hashIno(snapshotNS(s.name, s.seq), "", true)})
	}
	return fs.NewListDirStream(es), 0
}

// ---- snapshots/ ----

type snapshotsNode struct {
	fs.Inode
	base
}

var (
	_ fs.NodeLookuper  = (*snapshotsNode)(nil)
	_ fs.NodeReaddirer = (*snapshotsNode)(nil)
)

func (n *snapshotsNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	snaps, errno := n.m.snapshots(ctx)
	if errno != 0 {
		return errno
	}
	n.m.fillDir(&out.Attr, inoSnapshots, uint32(2+len(snaps)), n.m.headTime())
	return 0
}

func (n *snapshotsNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	seq, ok, errno := n.m.snapshot(ctx, name)
	if errno != 0 {
		return nil, errno
	}
	if !ok {
		return nil, syscall.ENOENT
	}
	return n.m.pointInode(ctx, &n.Inode, point{ns: snapshotNS(name, seq), seq: seq}, inoSnapshots, out)
}

func (n *snapshotsNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	snaps, errno := n.m.snapshots(ctx)
	if errno != 0 {
		return nil, errno
	}
	es := dirEntries(inoSnapshots, inoRoot)
	for _, s := range snaps {
		es = append(es, fuse.DirEntry{Name: s.name, Mode: syscall.S_IFDIR, Ino: hashIno(snapshotNS(s.name, s.seq), "", true)})
	}
	return fs.NewListDirStream(es), 0
}
