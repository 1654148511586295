package fusefs

import (
	"encoding/hex"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// tree is the directory structure of one view of the project: files by
// path, and directories derived from the file paths. The current view
// mutates it under mu; history views build it once and never change it.
type tree struct {
	mu    sync.RWMutex
	seq   uint64 // the global sequence the tree reflects (best known)
	files map[string]file
	dirs  map[string]*dirInfo // "" is the view's root
	bytes int64               // total size of files
}

// file is what the mount keeps of a file: what it serves (size, mode,
// mtime, content) and the event that last changed it, with the content
// hash in binary; the path is the tree's key. The fuser keeps one per file
// of the project, so it leaves out what a projections.FileInfo carries and
// the mount never shows (the agent, the stream version): a tree of 110,000
// files built from a listing keeps 213 bytes a file, against 374 with the
// listing's FileInfo and its strings.
type file struct {
	hash [32]byte
	size int64
	seq  uint64
	sec  int64 // the mtime, Unix seconds and nanoseconds (any year a time.Time holds)
	nsec int32 // -1 when the Source gives no time
	mode uint32
}

// newFile keeps what the mount needs of fi, or false if fi's hash is not
// 64 lowercase hex digits (no content could be read for it).
func newFile(fi projections.FileInfo) (file, bool) {
	f := file{size: fi.Size, seq: fi.Seq, mode: fi.Mode, nsec: -1}
	var ok bool
	if f.hash, ok = blobstore.ParseHash(fi.Hash); !ok {
		return f, false
	}
	if !fi.Time.IsZero() {
		f.sec, f.nsec = fi.Time.Unix(), int32(fi.Time.Nanosecond())
	}
	return f, true
}

// contentHash is the hash the Source names the content by.
func (f file) contentHash() string { return hex.EncodeToString(f.hash[:]) }

// time is the file's mtime; zero when the Source gave none.
func (f file) time() time.Time {
	if f.nsec < 0 {
		return time.Time{}
	}
	return time.Unix(f.sec, int64(f.nsec))
}

// dirInfo is one derived directory.
type dirInfo struct {
	kids  map[string]bool // child name → is a directory
	nsub  int             // number of child directories
	mtime time.Time       // latest change of anything beneath
}

// entry names a directory entry: the directory's path and the child's name.
type entry struct {
	dir, name string
	isDir     bool
}

func (e entry) path() string { return joinPath(e.dir, e.name) }

func newTree(seq uint64) *tree {
	return &tree{
		seq:   seq,
		files: make(map[string]file),
		dirs:  map[string]*dirInfo{"": {kids: make(map[string]bool)}},
	}
}

// buildTree makes a tree from a listing. Files whose path is not usable,
// whose hash is not one, or which collide with a directory are skipped and
// reported through skip.
func buildTree(seq uint64, files []projections.FileInfo, skip func(p, why string)) *tree {
	t := newTree(seq)
	for _, fi := range files {
		p, ok := cleanPath(fi.Path)
		if !ok {
			skip(fi.Path, "invalid path")
			continue
		}
		f, ok := newFile(fi)
		if !ok {
			skip(p, "invalid content hash")
			continue
		}
		if _, _, why := t.put(p, f); why != "" {
			skip(p, why)
		}
	}
	return t
}

// cleanPath normalises a projection path to the relative, slash-separated
// form the tree uses. It rejects paths that cannot be files.
func cleanPath(p string) (string, bool) {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "", false
	}
	p = path.Clean(p)
	if p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	for _, c := range strings.Split(p, "/") {
		if len(c) > 255 || strings.IndexByte(c, 0) >= 0 {
			return "", false
		}
	}
	return p, true
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func splitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// put adds or replaces a file. It returns the directory entries it
// created (outermost first) and whether a file was replaced. On a
// conflict (an ancestor is a file, or the path is a directory) it changes
// nothing and returns the reason.
func (t *tree) put(p string, f file) (created []entry, replaced bool, conflict string) {
	if _, isDir := t.dirs[p]; isDir {
		return nil, false, "path is a directory"
	}
	// Check every ancestor before changing anything.
	for d := p; ; {
		d, _ = splitPath(d)
		if _, isFile := t.files[d]; isFile && d != "" {
			return nil, false, "an ancestor is a file"
		}
		if d == "" {
			break
		}
	}
	old, replaced := t.files[p]
	if replaced {
		t.bytes -= old.size
	}
	t.files[p] = f
	t.bytes += f.size

	// Create missing directories from the outside in.
	var missing []string
	for d := p; ; {
		d, _ = splitPath(d)
		if _, ok := t.dirs[d]; ok {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		parent, name := splitPath(d)
		t.dirs[d] = &dirInfo{kids: make(map[string]bool)}
		pd := t.dirs[parent]
		pd.kids[name] = true
		pd.nsub++
		created = append(created, entry{dir: parent, name: name, isDir: true})
	}
	dir, name := splitPath(p)
	if !replaced {
		t.dirs[dir].kids[name] = false
		created = append(created, entry{dir: dir, name: name})
	}
	t.touch(dir, f.time())
	return created, replaced, ""
}

// remove deletes a file and the directories it leaves empty. It returns
// the removed entries, innermost first, and the deepest directory that
// still exists (whose listing changed).
func (t *tree) remove(p string, at time.Time) (removed []entry, changedDir string, ok bool) {
	old, ok := t.files[p]
	if !ok {
		return nil, "", false
	}
	delete(t.files, p)
	t.bytes -= old.size
	dir, name := splitPath(p)
	delete(t.dirs[dir].kids, name)
	removed = append(removed, entry{dir: dir, name: name})
	for dir != "" && len(t.dirs[dir].kids) == 0 {
		parent, dname := splitPath(dir)
		delete(t.dirs, dir)
		pd := t.dirs[parent]
		delete(pd.kids, dname)
		pd.nsub--
		removed = append(removed, entry{dir: parent, name: dname, isDir: true})
		dir = parent
	}
	t.touch(dir, at)
	return removed, dir, true
}

// touch raises the mtime of dir and its ancestors to at.
func (t *tree) touch(dir string, at time.Time) {
	for {
		if d := t.dirs[dir]; d != nil && at.After(d.mtime) {
			d.mtime = at
		}
		if dir == "" {
			return
		}
		dir, _ = splitPath(dir)
	}
}

// sortedKids lists a directory's children by name.
func (d *dirInfo) sortedKids() []entry {
	out := make([]entry, 0, len(d.kids))
	for name, isDir := range d.kids {
		out = append(out, entry{name: name, isDir: isDir})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// recentSeqs returns up to n distinct seqs of the files' last changes,
// largest first.
func (t *tree) recentSeqs(n int) []uint64 {
	seen := make(map[uint64]bool)
	var out []uint64
	for _, f := range t.files {
		if f.seq == 0 || seen[f.seq] {
			continue
		}
		seen[f.seq] = true
		out = append(out, f.seq)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// filesUnder lists the files beneath directory dir.
func (t *tree) filesUnder(dir string) []string {
	d := t.dirs[dir]
	if d == nil {
		return nil
	}
	var out []string
	for name, isDir := range d.kids {
		p := joinPath(dir, name)
		if isDir {
			out = append(out, t.filesUnder(p)...)
		} else {
			out = append(out, p)
		}
	}
	return out
}
