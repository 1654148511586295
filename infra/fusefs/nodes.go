package fusefs

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Fixed inode numbers of the top level. Everything else is hashed.
const (
	inoRoot        = 1
	inoCurrent     = 2
	inoHistory     = 3
	inoSnapshots   = 4
	inoEvents      = 5
	inoPending     = 6
	inoAnnotations = 7
	inoAnnHistory  = 8
	inoReserved    = 64 // hashed numbers are never below this
)

const (
	dirMode    = 0o555
	eventsMode = 0o444
	dirSize    = 4096
)

// hashIno derives a stable inode number from a view namespace, a path in
// it and the kind of node, so the same file in the same view always has
// the same number, across lookups and across remounts.
func hashIno(ns, p string, isDir bool) uint64 {
	h := fnv.New64a()
	h.Write([]byte(ns))
	if isDir {
		h.Write([]byte{0, 'd', 0})
	} else {
		h.Write([]byte{0, 'f', 0})
	}
	h.Write([]byte(p))
	v := h.Sum64()
	if v < inoReserved {
		v += inoReserved
	}
	if v == ^uint64(0) {
		v--
	}
	return v
}

// view is one tree namespace: current/ or one history point.
type view struct {
	m         *Mount
	ns        string // namespace for inode numbers; "" for current
	seq       uint64 // 0 for current, else the history point
	rootIno   uint64
	parentIno uint64 // inode number of the directory holding the view's root
}

func (v *view) tree(ctx context.Context) (*tree, error) {
	if v.seq == 0 {
		return v.m.cur, nil
	}
	return v.m.f.hist.get(ctx, v.seq)
}

func (v *view) ino(p string, isDir bool) uint64 {
	if p == "" {
		return v.rootIno
	}
	return hashIno(v.ns, p, isDir)
}

// base is embedded in every node: it refuses every change with EROFS and
// answers statfs.
type base struct{ m *Mount }

func (base) Setattr(context.Context, fs.FileHandle, *fuse.SetAttrIn, *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}
func (base) Create(context.Context, string, uint32, uint32, *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}
func (base) Mkdir(context.Context, string, uint32, *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (base) Mknod(context.Context, string, uint32, uint32, *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (base) Link(context.Context, fs.InodeEmbedder, string, *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (base) Symlink(context.Context, string, string, *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (base) Unlink(context.Context, string) syscall.Errno { return syscall.EROFS }
func (base) Rmdir(context.Context, string) syscall.Errno  { return syscall.EROFS }
func (base) Rename(context.Context, string, fs.InodeEmbedder, string, uint32) syscall.Errno {
	return syscall.EROFS
}
func (base) Setxattr(context.Context, string, []byte, uint32) syscall.Errno { return syscall.EROFS }
func (base) Removexattr(context.Context, string) syscall.Errno              { return syscall.EROFS }
func (base) Write(context.Context, fs.FileHandle, []byte, int64) (uint32, syscall.Errno) {
	return 0, syscall.EROFS
}
func (base) Allocate(context.Context, fs.FileHandle, uint64, uint64, uint32) syscall.Errno {
	return syscall.EROFS
}

// Flush answers ENOSYS: a read-only file has nothing to flush, and the
// kernel sends no FLUSH on close again once it has seen ENOSYS. (Files
// opened without an OPEN, see Mount.open, carry no FOPEN_NOFLUSH.)
func (base) Flush(context.Context, fs.FileHandle) syscall.Errno { return syscall.ENOSYS }

// open answers OPEN for every regular file of the mount. None keeps state
// per open: reads go to the node (NodeReader), and the kernel's page cache
// is kept across opens, since each file's content changes only with an
// invalidation from the worker (current/, events), never (history points)
// or under a new inode (docNode). So where the kernel can do without
// opens (FUSE_NO_OPEN_SUPPORT, Linux 4.19 on), the answer is ENOSYS: from
// then on it opens files itself, with FOPEN_KEEP_CACHE, and sends no OPEN
// and no RELEASE. A warm open and read of a cached file then costs the
// fuser nothing, where an OPEN and a RELEASE used to cost it about 65 us
// a file (lighthouse bench, FUSE: 4 KiB cat).
func (m *Mount) open(flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if !readOnlyOpen(flags) {
		return nil, 0, syscall.EROFS // the mount is read-only; this is a second lock
	}
	if m.noOpen.Load() {
		return nil, 0, syscall.ENOSYS
	}
	return nil, fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH, 0
}

func (b base) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	t := b.m.cur
	t.mu.RLock()
	files, bytes := t.nfiles, t.bytes
	t.mu.RUnlock()
	out.Bsize = 4096
	out.Frsize = 4096
	out.Blocks = uint64(bytes+4095) / 4096
	out.Files = uint64(files)
	out.NameLen = 255
	return 0
}

var (
	_ fs.NodeSetattrer = (*dirNode)(nil)
	_ fs.NodeCreater   = (*dirNode)(nil)
	_ fs.NodeMkdirer   = (*dirNode)(nil)
	_ fs.NodeRenamer   = (*dirNode)(nil)
	_ fs.NodeUnlinker  = (*dirNode)(nil)
	_ fs.NodeWriter    = (*fileNode)(nil)
	_ fs.NodeStatfser  = (*rootNode)(nil)
)

func readOnlyOpen(flags uint32) bool {
	return flags&syscall.O_ACCMODE == syscall.O_RDONLY && flags&syscall.O_TRUNC == 0
}

func (m *Mount) setTimes(a *fuse.Attr, t time.Time) {
	if t.IsZero() {
		t = m.mountedAt // an empty tree, or a Source without times
	}
	a.SetTimes(&t, &t, &t)
}

func (m *Mount) owner(a *fuse.Attr) {
	a.Uid, a.Gid = m.uid, m.gid
}

func (m *Mount) fillFile(a *fuse.Attr, f file, ino uint64) {
	a.Ino = ino
	perm := f.mode & 0o7777
	if perm == 0 {
		perm = 0o644
	}
	a.Mode = syscall.S_IFREG | perm
	a.Size = uint64(max(f.size, 0))
	a.Nlink = 1
	m.setTimes(a, f.time())
	m.owner(a)
}

func (m *Mount) fillDir(a *fuse.Attr, ino uint64, nlink uint32, mtime time.Time) {
	a.Ino = ino
	a.Mode = syscall.S_IFDIR | dirMode
	a.Size = dirSize
	a.Nlink = nlink
	m.setTimes(a, mtime)
	m.owner(a)
}

func dirEntries(self, parent uint64) []fuse.DirEntry {
	return []fuse.DirEntry{
		{Name: ".", Mode: syscall.S_IFDIR, Ino: self},
		{Name: "..", Mode: syscall.S_IFDIR, Ino: parent},
	}
}

// ---- root ----

type rootNode struct {
	fs.Inode
	base
}

var _ fs.NodeOnAdder = (*rootNode)(nil)

func (n *rootNode) OnAdd(ctx context.Context) {
	m := n.m
	add := func(name string, node fs.InodeEmbedder, mode uint32, ino uint64) {
		n.AddChild(name, n.NewPersistentInode(ctx, node, fs.StableAttr{Mode: mode, Ino: ino}), false)
	}
	m.curView = &view{m: m, rootIno: inoCurrent, parentIno: inoRoot}
	curDir := &dirNode{base: base{m}, v: m.curView}
	add("current", curDir, syscall.S_IFDIR, inoCurrent)
	m.curInode = curDir.EmbeddedInode()
	add("history", &historyNode{base: base{m}}, syscall.S_IFDIR, inoHistory)
	add("snapshots", &snapshotsNode{base: base{m}}, syscall.S_IFDIR, inoSnapshots)
	ev := &eventsNode{base: base{m}}
	add("events", ev, syscall.S_IFREG, inoEvents)
	m.eventsInode = ev.EmbeddedInode()
	add("pending", &pendingNode{base: base{m}}, syscall.S_IFDIR, inoPending)
	add("annotations", &annDirNode{base: base{m}, ino: inoAnnotations}, syscall.S_IFDIR, inoAnnotations)
	add("annotations-history", &annHistoryNode{base: base{m}}, syscall.S_IFDIR, inoAnnHistory)
}

func (n *rootNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	t := n.m.cur
	t.mu.RLock()
	mtime := t.dirs[""].mtime
	t.mu.RUnlock()
	n.m.fillDir(&out.Attr, inoRoot, 2+6, mtime) // current, history, snapshots, pending, annotations, annotations-history
	return 0
}

func (n *rootNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	es := dirEntries(inoRoot, inoRoot)
	es = append(es,
		fuse.DirEntry{Name: "annotations", Mode: syscall.S_IFDIR, Ino: inoAnnotations},
		fuse.DirEntry{Name: "annotations-history", Mode: syscall.S_IFDIR, Ino: inoAnnHistory},
		fuse.DirEntry{Name: "current", Mode: syscall.S_IFDIR, Ino: inoCurrent},
		fuse.DirEntry{Name: "events", Mode: syscall.S_IFREG, Ino: inoEvents},
		fuse.DirEntry{Name: "history", Mode: syscall.S_IFDIR, Ino: inoHistory},
		fuse.DirEntry{Name: "pending", Mode: syscall.S_IFDIR, Ino: inoPending},
		fuse.DirEntry{Name: "snapshots", Mode: syscall.S_IFDIR, Ino: inoSnapshots},
	)
	return fs.NewListDirStream(es), 0
}

// ---- directories of a view ----

type dirNode struct {
	fs.Inode
	base
	v    *view
	path string // "" is the view's root
}

var (
	_ fs.NodeLookuper  = (*dirNode)(nil)
	_ fs.NodeReaddirer = (*dirNode)(nil)
	_ fs.NodeGetattrer = (*dirNode)(nil)

	_ fs.NodeOpendirHandler = (*dirNode)(nil)
)

func (n *dirNode) isPointRoot() bool { return n.path == "" && n.v.seq != 0 }

// pointTimeout is how long the kernel may cache names and attributes in a
// history point: its tree never changes.
const pointTimeout = time.Hour

// viewEntry and viewAttr set the timeouts of what a view answers: an hour
// in a history point, whose tree never changes; in current/ the mount's
// current/ timeouts (Options.EntryTimeout and AttrTimeout), which the
// worker's invalidations make safe to keep long. Everything else in the
// mount keeps the mount-wide liveTimeout.
func (v *view) viewEntry(out *fuse.EntryOut) {
	if v.seq != 0 {
		out.SetEntryTimeout(pointTimeout)
		out.SetAttrTimeout(pointTimeout)
		return
	}
	out.SetEntryTimeout(v.m.f.opts.EntryTimeout)
	out.SetAttrTimeout(v.m.f.opts.AttrTimeout)
}

func (v *view) viewAttr(out *fuse.AttrOut) {
	if v.seq != 0 {
		out.SetTimeout(pointTimeout)
		return
	}
	out.SetTimeout(v.m.f.opts.AttrTimeout)
}

// OpendirHandle lets the kernel cache the listing across opens
// (FOPEN_CACHE_DIR and FOPEN_KEEP_CACHE): a history point never changes,
// and in current/ the worker drops the cached listing of every directory
// whose entries change (notify), as it does for file contents.
func (n *dirNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return &dirHandle{list: n.Readdir}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// dirHandle is one open of a directory: its listing, made on the first
// read (what go-fuse does for a node without OpendirHandle).
type dirHandle struct {
	list func(context.Context) (fs.DirStream, syscall.Errno)
	ds   fs.DirStream
}

var (
	_ fs.FileReaddirenter = (*dirHandle)(nil)
	_ fs.FileSeekdirer    = (*dirHandle)(nil)
	_ fs.FileReleasedirer = (*dirHandle)(nil)
)

func (h *dirHandle) stream(ctx context.Context) syscall.Errno {
	if h.ds != nil {
		return 0
	}
	var errno syscall.Errno
	h.ds, errno = h.list(ctx)
	return errno
}

func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if errno := h.stream(ctx); errno != 0 {
		return nil, errno
	}
	if !h.ds.HasNext() {
		return nil, 0
	}
	e, errno := h.ds.Next()
	return &e, errno
}

func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if errno := h.stream(ctx); errno != 0 {
		return errno
	}
	if sd, ok := h.ds.(fs.FileSeekdirer); ok {
		return sd.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

func (h *dirHandle) Releasedir(context.Context, uint32) {
	if h.ds != nil {
		h.ds.Close()
	}
}

func (n *dirNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if n.isPointRoot() {
		return n.m.fillPointRoot(ctx, &out.Attr, n.v)
	}
	t, err := n.v.tree(ctx)
	if err != nil {
		return n.m.errno(ctx, "getattr", n.path, err)
	}
	t.mu.RLock()
	d := t.dirs[n.path]
	var nsub int
	var mtime time.Time
	if d != nil {
		nsub, mtime = len(d.subdirs), d.mtime
	}
	t.mu.RUnlock()
	if d == nil {
		return syscall.ENOENT
	}
	n.m.fillDir(&out.Attr, n.v.ino(n.path, true), uint32(2+nsub), mtime)
	n.v.viewAttr(out)
	return 0
}

func (n *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, err := n.v.tree(ctx)
	if err != nil {
		return nil, n.m.errno(ctx, "lookup", joinPath(n.path, name), err)
	}
	p := joinPath(n.path, name)
	t.mu.RLock()
	f, isFile := t.file(p)
	d, isDir := t.dirs[p]
	var nsub int
	var mtime time.Time
	if isDir {
		nsub, mtime = len(d.subdirs), d.mtime
	}
	t.mu.RUnlock()
	switch {
	case isFile:
		ino := n.v.ino(p, false)
		n.m.fillFile(&out.Attr, f, ino)
		child := &fileNode{base: n.base, v: n.v, path: p, last: f}
		n.v.viewEntry(out)
		return n.NewInode(ctx, child, fs.StableAttr{Mode: syscall.S_IFREG, Ino: ino}), 0
	case isDir:
		ino := n.v.ino(p, true)
		n.m.fillDir(&out.Attr, ino, uint32(2+nsub), mtime)
		child := &dirNode{base: n.base, v: n.v, path: p}
		n.v.viewEntry(out)
		return n.NewInode(ctx, child, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino}), 0
	}
	return nil, syscall.ENOENT
}

func (n *dirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	t, err := n.v.tree(ctx)
	if err != nil {
		return nil, n.m.errno(ctx, "readdir", n.path, err)
	}
	t.mu.RLock()
	d := t.dirs[n.path]
	var kids []entry
	if d != nil {
		kids = d.sortedKids()
	}
	t.mu.RUnlock()
	if d == nil {
		return nil, syscall.ENOENT
	}
	parent := n.v.parentIno
	if n.path != "" {
		pdir, _ := splitPath(n.path)
		parent = n.v.ino(pdir, true)
	}
	es := dirEntries(n.v.ino(n.path, true), parent)
	for _, k := range kids {
		p := joinPath(n.path, k.name)
		mode := uint32(syscall.S_IFREG)
		if k.isDir {
			mode = syscall.S_IFDIR
		}
		es = append(es, fuse.DirEntry{Name: k.name, Mode: mode, Ino: n.v.ino(p, k.isDir)})
	}
	return fs.NewListDirStream(es), 0
}

// ---- files of a view ----

type fileNode struct {
	fs.Inode
	base
	v    *view
	path string

	mu   sync.Mutex
	last file // last state seen, served after deletion
}

var (
	_ fs.NodeOpener    = (*fileNode)(nil)
	_ fs.NodeReader    = (*fileNode)(nil)
	_ fs.NodeGetattrer = (*fileNode)(nil)
)

// info returns the file's state in its view. A file deleted from current/
// keeps answering with its last state (for open descriptors); gone says so.
func (n *fileNode) info(ctx context.Context) (f file, gone bool, err error) {
	t, err := n.v.tree(ctx)
	if err != nil {
		return f, false, err
	}
	t.mu.RLock()
	f, ok := t.file(n.path)
	t.mu.RUnlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if ok {
		n.last = f
		return f, false, nil
	}
	return n.last, true, nil
}

func (n *fileNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f, gone, err := n.info(ctx)
	if err != nil {
		return n.m.errno(ctx, "getattr", n.path, err)
	}
	n.m.fillFile(&out.Attr, f, n.v.ino(n.path, false))
	if gone {
		out.Nlink = 0
	}
	n.v.viewAttr(out)
	return 0
}

func (n *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return n.m.open(flags)
}

// Read reads the file's content as it is now through Blob.ReadAt. If the
// file changes while it is open, reads follow the new content (as with a
// file rewritten in place), so the kernel's page cache only ever holds
// the current content. The content's hash is the change's (Source.File at
// the change's seq), and the blob is opened per read: a warm read is
// served from the page cache and costs no Source call.
func (n *fileNode) Read(ctx context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f, _, err := n.info(ctx)
	if err != nil {
		return nil, n.m.errno(ctx, "read", n.path, err)
	}
	size := f.size
	if off >= size || off < 0 {
		return fuse.ReadResultData(nil), 0
	}
	fi, err := n.m.f.src.File(ctx, n.path, f.seq)
	if err == nil && fi.Seq != f.seq {
		// The projection no longer holds the change the tree shows (it
		// was reset and is being rebuilt): no content is known for it.
		err = fmt.Errorf("change %d of %s not in the projection (its newest at that point is %d)", f.seq, n.path, fi.Seq)
	}
	if err != nil {
		return nil, n.m.errno(ctx, "read", n.path, err)
	}
	hash := fi.Hash
	blob, err := n.m.f.src.OpenBlob(ctx, hash)
	if err != nil {
		return nil, n.m.errno(ctx, "open blob "+hash, n.path, err)
	}
	defer blob.Close()
	want := int64(len(dest))
	if off+want > size {
		want = size - off
	}
	k, err := blob.ReadAt(dest[:want], off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, n.m.errno(ctx, "read blob "+hash+" at "+strconv.FormatInt(off, 10), n.path, err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

// ---- events ----

type eventsNode struct {
	fs.Inode
	base
}

var (
	_ fs.NodeOpener    = (*eventsNode)(nil)
	_ fs.NodeReader    = (*eventsNode)(nil)
	_ fs.NodeGetattrer = (*eventsNode)(nil)
)

func (n *eventsNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if _, _, err := n.m.f.evlog.extend(ctx); err != nil {
		return n.m.errno(ctx, "getattr", "events", err)
	}
	size, mtime := n.m.f.evlog.stat()
	a := &out.Attr
	a.Ino = inoEvents
	a.Mode = syscall.S_IFREG | eventsMode
	a.Size = uint64(size)
	a.Nlink = 1
	n.m.setTimes(a, mtime)
	n.m.owner(a)
	return 0
}

func (n *eventsNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return n.m.open(flags)
}

// Read reads the rendering, which is append-only: what the kernel cached
// stays right, and growth changes the size, which drops the cache past the
// old end.
func (n *eventsNode) Read(ctx context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	k, err := n.m.f.evlog.readAt(ctx, dest, off)
	if err != nil {
		return nil, n.m.errno(ctx, "read", "events", err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}
