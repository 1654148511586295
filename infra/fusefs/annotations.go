package fusefs

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// annotations/PATH.json holds the annotations of each annotated file as of
// the head, and annotations-history/POINT/PATH.json as of any point
// history/ accepts (@SEQ, an RFC 3339 time, a snapshot name). Each file is
// the JSON the reader's GET /v1/annotations?path=PATH&at=SEQ answers.
// Like pending/, names and attributes here are not cached by the kernel:
// every lookup and listing asks Source.Annotations, so annotations/ is
// current without the worker tracking it. Each version of a document is
// its own inode (docNode).

// annDocs is the annotation documents of one point, by file path.
type annDocs map[string][]byte

// annotationDocs returns the documents as of seq (0: head).
func (m *Mount) annotationDocs(ctx context.Context, seq uint64, p string) (annDocs, syscall.Errno) {
	docs, err := m.f.src.Annotations(ctx, seq)
	if err != nil {
		return nil, m.errno(ctx, "annotations", p, err)
	}
	return docs, 0
}

// annNS is the inode namespace of a point's annotations (seq 0: head).
func annNS(seq uint64) string { return "annotations@" + strconv.FormatUint(seq, 10) }

// children lists what directory dir of the annotations holds: names of
// subdirectories and of PATH.json files.
func (d annDocs) children(dir string) map[string]bool {
	out := map[string]bool{} // name → is a directory
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	for p := range d {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok || rest == "" {
			continue
		}
		if first, _, isDir := strings.Cut(rest, "/"); isDir {
			out[first] = true
		} else if name := rest + ".json"; validName(name) {
			if _, taken := out[name]; !taken {
				out[name] = false // a directory of the same name wins
			}
		}
	}
	return out
}

// ---- annotations/ and its directories ----

type annDirNode struct {
	fs.Inode
	base
	seq uint64 // the point; 0 is the head
	dir string // "" is the point's root
	ino uint64
}

var (
	_ fs.NodeGetattrer = (*annDirNode)(nil)
	_ fs.NodeLookuper  = (*annDirNode)(nil)
	_ fs.NodeReaddirer = (*annDirNode)(nil)
)

func (n *annDirNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.m.fillDir(&out.Attr, n.ino, 1, n.m.headTime())
	out.SetTimeout(uncached)
	return 0
}

func (n *annDirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	docs, errno := n.m.annotationDocs(ctx, n.seq, joinPath(n.dir, name))
	if errno != 0 {
		return nil, errno
	}
	isDir, ok := docs.children(n.dir)[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	p := joinPath(n.dir, name)
	if isDir {
		out.SetEntryTimeout(uncached)
		out.SetAttrTimeout(uncached)
		ino := hashIno(annNS(n.seq), p, true)
		n.m.fillDir(&out.Attr, ino, 1, n.m.headTime())
		return n.NewInode(ctx, &annDirNode{base: n.base, seq: n.seq, dir: p, ino: ino}, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino}), 0
	}
	file := strings.TrimSuffix(p, ".json")
	seq := n.seq
	child := &docNode{
		base: n.base,
		ino:  docIno(annNS(seq), file, docs[file]),
		doc:  docs[file],
		time: n.m.headTime(),
		now: func(ctx context.Context) ([]byte, bool, syscall.Errno) {
			docs, errno := n.m.annotationDocs(ctx, seq, file)
			doc, ok := docs[file]
			return doc, ok, errno
		},
	}
	return docChild(ctx, &n.Inode, child, out), 0
}

func (n *annDirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	docs, errno := n.m.annotationDocs(ctx, n.seq, n.dir)
	if errno != 0 {
		return nil, errno
	}
	es := dirEntries(n.ino, n.ino)
	kids := docs.children(n.dir)
	names := make([]string, 0, len(kids))
	for name := range kids {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := joinPath(n.dir, name)
		if kids[name] {
			es = append(es, fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Ino: hashIno(annNS(n.seq), p, true)})
		} else {
			file := strings.TrimSuffix(p, ".json")
			es = append(es, fuse.DirEntry{Name: name, Mode: syscall.S_IFREG, Ino: docIno(annNS(n.seq), file, docs[file])})
		}
	}
	return fs.NewListDirStream(es), 0
}

// ---- annotations-history/ ----

type annHistoryNode struct {
	fs.Inode
	base
}

var (
	_ fs.NodeGetattrer = (*annHistoryNode)(nil)
	_ fs.NodeLookuper  = (*annHistoryNode)(nil)
	_ fs.NodeReaddirer = (*annHistoryNode)(nil)
)

func (n *annHistoryNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.m.fillDir(&out.Attr, inoAnnHistory, 1, n.m.headTime())
	return 0
}

func (n *annHistoryNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	p, errno := n.m.resolvePoint(ctx, name)
	if errno != 0 {
		return nil, errno
	}
	ino := hashIno(annNS(p.seq), "", true)
	n.m.fillDir(&out.Attr, ino, 1, n.m.headTime())
	out.SetEntryTimeout(uncached)
	out.SetAttrTimeout(uncached)
	return n.NewInode(ctx, &annDirNode{base: n.base, seq: p.seq, ino: ino}, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino}), 0
}

func (n *annHistoryNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	es := dirEntries(inoAnnHistory, inoRoot)
	for _, seq := range n.m.f.recentPoints() {
		es = append(es, fuse.DirEntry{Name: "@" + strconv.FormatUint(seq, 10), Mode: syscall.S_IFDIR, Ino: hashIno(annNS(seq), "", true)})
	}
	return fs.NewListDirStream(es), 0
}
