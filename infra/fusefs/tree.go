package fusefs

import (
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// tree is the directory structure of one view of the project: its
// directories by path, each holding its files by name. The current view
// mutates it under mu; history views build it once and never change it.
type tree struct {
	mu     sync.RWMutex
	seq    uint64              // the global sequence the tree reflects (best known)
	dirs   map[string]*dirInfo // directory path → directory; "" is the view's root
	nfiles int                 // number of files
	bytes  int64               // total size of files
}

// file is what the mount keeps of a file: what it serves (size, mode,
// mtime) and the event that last changed it; its name is its directory's
// key.
// The fuser keeps one per file of the project, so it leaves out what a
// projections.FileInfo carries and the mount never shows (the agent, the
// stream version) and what it needs only to read the content (the hash,
// which Source.File gives for the change's seq).
type file struct {
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
	if !blobstore.ValidHash(fi.Hash) {
		return f, false
	}
	if !fi.Time.IsZero() {
		f.sec, f.nsec = fi.Time.Unix(), int32(fi.Time.Nanosecond())
	}
	return f, true
}

// time is the file's mtime; zero when the Source gave none.
func (f file) time() time.Time {
	if f.nsec < 0 {
		return time.Time{}
	}
	return time.Unix(f.sec, int64(f.nsec))
}

// dirInfo is one derived directory. Its files sit in it by name, not in
// one map of the tree by path: a file then costs one map slot and its name,
// not two slots and its whole path (the fuser keeps one per file).
type dirInfo struct {
	files   map[string]file     // child file name → file; nil while none
	subdirs map[string]struct{} // child directory names; nil while none
	mtime   time.Time           // latest change of anything beneath
}

// entry names a directory entry: the directory's path and the child's name.
type entry struct {
	dir, name string
	isDir     bool
}

func (e entry) path() string { return joinPath(e.dir, e.name) }

func newTree(seq uint64) *tree {
	return &tree{seq: seq, dirs: map[string]*dirInfo{"": {}}}
}

// file returns the file at path p, if there is one.
func (t *tree) file(p string) (file, bool) {
	dir, name := splitPath(p)
	d := t.dirs[dir]
	if d == nil {
		return file{}, false
	}
	f, ok := d.files[name]
	return f, ok
}

// eachFile calls fn with every file's path, in no particular order.
func (t *tree) eachFile(fn func(p string, f file)) {
	for dir, d := range t.dirs {
		for name, f := range d.files {
			fn(joinPath(dir, name), f)
		}
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
	for d, _ := splitPath(p); d != ""; d, _ = splitPath(d) {
		if _, isFile := t.file(d); isFile {
			return nil, false, "an ancestor is a file"
		}
	}

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
		t.dirs[d] = &dirInfo{}
		pd := t.dirs[parent]
		if pd.subdirs == nil {
			pd.subdirs = make(map[string]struct{})
		}
		pd.subdirs[name] = struct{}{}
		created = append(created, entry{dir: parent, name: name, isDir: true})
	}

	dir, name := splitPath(p)
	d := t.dirs[dir]
	old, replaced := d.files[name]
	if replaced {
		t.bytes -= old.size
		d.files[name] = f
	} else {
		if d.files == nil {
			d.files = make(map[string]file)
		}
		// The name alone, so the map does not keep the caller's whole path.
		d.files[strings.Clone(name)] = f
		t.nfiles++
		created = append(created, entry{dir: dir, name: name})
	}
	t.bytes += f.size
	t.touch(dir, f.time())
	return created, replaced, ""
}

// remove deletes a file and the directories it leaves empty. It returns
// the removed entries, innermost first, and the deepest directory that
// still exists (whose listing changed).
func (t *tree) remove(p string, at time.Time) (removed []entry, changedDir string, ok bool) {
	dir, name := splitPath(p)
	d := t.dirs[dir]
	if d == nil {
		return nil, "", false
	}
	old, ok := d.files[name]
	if !ok {
		return nil, "", false
	}
	delete(d.files, name)
	t.nfiles--
	t.bytes -= old.size
	removed = append(removed, entry{dir: dir, name: name})
	for dir != "" && len(d.files) == 0 && len(d.subdirs) == 0 {
		parent, dname := splitPath(dir)
		delete(t.dirs, dir)
		d = t.dirs[parent]
		delete(d.subdirs, dname)
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
	out := make([]entry, 0, len(d.files)+len(d.subdirs))
	for name := range d.files {
		out = append(out, entry{name: name})
	}
	for name := range d.subdirs {
		out = append(out, entry{name: name, isDir: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// recentSeqs returns up to n distinct seqs of the files' last changes,
// largest first.
func (t *tree) recentSeqs(n int) []uint64 {
	seen := make(map[uint64]bool)
	var out []uint64
	for _, d := range t.dirs {
		for _, f := range d.files {
			if f.seq == 0 || seen[f.seq] {
				continue
			}
			seen[f.seq] = true
			out = append(out, f.seq)
		}
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
	for name := range d.files {
		out = append(out, joinPath(dir, name))
	}
	for name := range d.subdirs {
		out = append(out, t.filesUnder(joinPath(dir, name))...)
	}
	return out
}
