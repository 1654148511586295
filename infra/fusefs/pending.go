package fusefs

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// pending/ holds one file per pending review, ID.json. Reviews are
// requested and decided as events are applied, but rather than tracking
// them in the worker, pending/'s names and attributes are simply not
// cached by the kernel, so every name and attribute comes from
// Source.Pending at the time of the request. That is the simplest option
// that stays right whatever the Source does and whenever Changed is (or is
// not) called, and costs little: pending/ is a handful of small files read
// by people. Concretely:
//
//   - Entries and attributes of pending/'s files are given a 1 ns timeout.
//     go-fuse replaces a zero timeout with the mount-wide default (1 s), so
//     1 ns is the smallest one that reaches the kernel, which rounds it up
//     to the next clock tick: a lookup or stat is answered from the cache
//     for at most two ticks (8 ms at HZ=250) and asks again after that.
//     Since the kernel opens files without asking (Mount.open), an open
//     within those ticks of a decided review's last lookup still succeeds
//     and reads its last JSON. True zero would need the mount-wide defaults
//     dropped and every node setting its own timeouts; not worth it for two
//     ticks. Failed lookups are not cached (no negative timeout is set), so
//     a new review shows up at once.
//   - Directory listings are never cached (no FOPEN_CACHE_DIR), and one
//     listing reads Source.Pending once: the names and the attributes that
//     READDIRPLUS returns with them come from the same answer.
//   - Each version of a review's JSON is its own inode (docNode), whose
//     bytes never change: the page cache the kernel keeps is never stale,
//     a reader never sees two versions mixed (a review with several
//     approvers changes while pending), and a descriptor keeps reading the
//     version it opened, with nlink 0 once the review has changed or been
//     decided.
//
// pending/ itself has fixed attributes (mode 0555, nlink 2, mtime the
// mount time), so its own cached attributes are never stale.

// pendingNS is the inode number namespace of pending/'s files.
const pendingNS = "pending"

// uncached is the entry and attribute timeout of pending/'s files: as
// close to zero as go-fuse lets us say (see above).
const uncached = time.Nanosecond

const pendingMode = 0o444

// pendingName is the file name of the review with id, or false if id is
// not usable as one.
func pendingName(id string) (string, bool) {
	name := id + ".json"
	return name, validName(id) && validName(name)
}

// pendingID is the review id a name of pending/ stands for, or false.
func pendingID(name string) (string, bool) {
	id, ok := strings.CutSuffix(name, ".json")
	if !ok {
		return "", false
	}
	_, ok = pendingName(id)
	return id, ok
}

// pendingReviews returns the valid pending reviews, sorted by id; of
// reviews sharing an id the first is kept.
func (m *Mount) pendingReviews(ctx context.Context, p string) ([]PendingReview, syscall.Errno) {
	list, err := m.f.src.Pending(ctx)
	if err != nil {
		return nil, m.errno(ctx, "pending", p, err)
	}
	out := make([]PendingReview, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, r := range list {
		if _, ok := pendingName(r.ID); !ok {
			m.log.Debug("fusefs: skipping pending review", "id", r.ID, "reason", "invalid id")
			continue
		}
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, 0
}

// pendingReview returns the pending review id, if there is one.
func (m *Mount) pendingReview(ctx context.Context, id string) (PendingReview, bool, syscall.Errno) {
	name, _ := pendingName(id)
	list, errno := m.pendingReviews(ctx, "pending/"+name)
	if errno != 0 {
		return PendingReview{}, false, errno
	}
	for _, r := range list {
		if r.ID == id {
			return r, true, 0
		}
	}
	return PendingReview{}, false, 0
}

// pendingIno is the inode number of review r's file as r is now (docNode).
func pendingIno(r PendingReview) uint64 { return docIno(pendingNS, r.ID, r.JSON) }

// ---- pending/ ----

type pendingNode struct {
	fs.Inode
	base
}

var (
	_ fs.NodeLookuper       = (*pendingNode)(nil)
	_ fs.NodeOpendirHandler = (*pendingNode)(nil)
	_ fs.NodeGetattrer      = (*pendingNode)(nil)
)

func (n *pendingNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.m.fillDir(&out.Attr, inoPending, 2, n.m.mountedAt)
	return 0
}

func (n *pendingNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	id, ok := pendingID(name)
	if !ok {
		return nil, syscall.ENOENT
	}
	r, ok, errno := n.m.pendingReview(ctx, id)
	if errno != 0 {
		return nil, errno
	}
	if !ok {
		return nil, syscall.ENOENT
	}
	return n.child(ctx, r, out), 0
}

// child returns the inode of review r's file as r is now (the existing
// one if the kernel already knows this version) and fills out, uncached.
func (n *pendingNode) child(ctx context.Context, r PendingReview, out *fuse.EntryOut) *fs.Inode {
	id := r.ID
	doc := &docNode{
		base: n.base,
		ino:  pendingIno(r),
		doc:  r.JSON,
		time: r.Time,
		now: func(ctx context.Context) ([]byte, bool, syscall.Errno) {
			r, ok, errno := n.m.pendingReview(ctx, id)
			return r.JSON, ok, errno
		},
	}
	return docChild(ctx, &n.Inode, doc, out)
}

func (n *pendingNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return &pendingDir{n: n}, 0, 0
}

// pendingDir is an open pending/: a listing read from the Source on the
// first read (and again after a rewind), which also answers READDIRPLUS's
// lookups.
type pendingDir struct {
	n *pendingNode

	mu     sync.Mutex
	loaded bool
	ents   []fuse.DirEntry
	byName map[string]PendingReview
	idx    int
}

var (
	_ fs.FileReaddirenter = (*pendingDir)(nil)
	_ fs.FileSeekdirer    = (*pendingDir)(nil)
	_ fs.FileLookuper     = (*pendingDir)(nil)
	_ fs.FileReleasedirer = (*pendingDir)(nil)
)

func (d *pendingDir) loadLocked(ctx context.Context) syscall.Errno {
	if d.loaded {
		return 0
	}
	list, errno := d.n.m.pendingReviews(ctx, "pending")
	if errno != 0 {
		return errno
	}
	d.ents = dirEntries(inoPending, inoRoot)
	d.byName = make(map[string]PendingReview, len(list))
	for _, r := range list {
		name, _ := pendingName(r.ID)
		d.ents = append(d.ents, fuse.DirEntry{Name: name, Mode: syscall.S_IFREG, Ino: pendingIno(r)})
		d.byName[name] = r
	}
	d.loaded = true
	return 0
}

func (d *pendingDir) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if errno := d.loadLocked(ctx); errno != 0 {
		return nil, errno
	}
	if d.idx >= len(d.ents) {
		return nil, 0
	}
	e := d.ents[d.idx]
	d.idx++
	e.Off = uint64(d.idx)
	return &e, 0
}

func (d *pendingDir) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off == 0 {
		// A rewind lists afresh.
		d.loaded, d.idx = false, 0
		return 0
	}
	if errno := d.loadLocked(ctx); errno != 0 {
		return errno
	}
	if off > uint64(len(d.ents)) {
		return syscall.EINVAL
	}
	d.idx = int(off)
	return 0
}

func (d *pendingDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	d.mu.Lock()
	r, ok := d.byName[name]
	d.mu.Unlock()
	if !ok {
		return d.n.Lookup(ctx, name, out)
	}
	return d.n.child(ctx, r, out), 0
}

func (d *pendingDir) Releasedir(context.Context, uint32) {}

// ---- documents: pending/ID.json, annotations/PATH.json ----

// docNode is one version of a document the mount renders as JSON: a
// pending review or a file's annotations. Its bytes never change. Its
// inode number comes from its name and its bytes (docIno), so when the
// document changes, the name's next lookup gives a new inode: the kernel's
// page cache, kept across opens (Mount.open), never holds an old version
// under the name, and a descriptor keeps reading the version it opened,
// with nlink 0 once the name has moved on or gone (as after a rename over
// an open file, or an unlink).
type docNode struct {
	fs.Inode
	base
	ino  uint64
	doc  []byte
	time time.Time // the mtime
	// nlink is 1 while the name holds this version, as last seen.
	nlink atomic.Uint32
	// now returns the document under the node's name now, or false.
	now func(context.Context) (doc []byte, ok bool, errno syscall.Errno)
}

var (
	_ fs.NodeGetattrer = (*docNode)(nil)
	_ fs.NodeOpener    = (*docNode)(nil)
	_ fs.NodeReader    = (*docNode)(nil)
)

// docIno is the inode number of a document's version: key names the
// document in namespace ns, doc is its bytes.
func docIno(ns, key string, doc []byte) uint64 {
	return hashIno(ns, key+"\x00"+string(doc), false)
}

// docChild returns the inode of d's version under parent (the existing
// one if the kernel already knows this version), which the name now holds,
// and fills out with its attributes, uncached.
func docChild(ctx context.Context, parent *fs.Inode, d *docNode, out *fuse.EntryOut) *fs.Inode {
	d.fill(&out.Attr, 1)
	out.SetEntryTimeout(uncached)
	out.SetAttrTimeout(uncached)
	child := parent.NewInode(ctx, d, fs.StableAttr{Mode: syscall.S_IFREG, Ino: d.ino})
	child.Operations().(*docNode).nlink.Store(1)
	return child
}

func (n *docNode) fill(a *fuse.Attr, nlink uint32) {
	a.Ino = n.ino
	a.Mode = syscall.S_IFREG | pendingMode
	a.Size = uint64(len(n.doc))
	a.Nlink = nlink
	n.m.setTimes(a, n.time)
	n.m.owner(a)
}

func (n *docNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	// A failing Source leaves nlink as last seen rather than failing: the
	// kernel asks for attributes before reads, and an open descriptor keeps
	// reading its version (a lookup by name reports the failure).
	if doc, ok, errno := n.now(ctx); errno == 0 {
		if ok && bytes.Equal(doc, n.doc) {
			n.nlink.Store(1)
		} else {
			n.nlink.Store(0)
		}
	}
	n.fill(&out.Attr, n.nlink.Load())
	out.SetTimeout(uncached)
	return 0
}

func (n *docNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return n.m.open(flags)
}

func (n *docNode) Read(ctx context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off < 0 || off >= int64(len(n.doc)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(n.doc)))
	return fuse.ReadResultData(n.doc[off:end]), 0
}
