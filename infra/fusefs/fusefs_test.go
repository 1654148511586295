//go:build linux

package fusefs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
	"github.com/lighthouse-ai/lighthouse/infra/testchild"
	"github.com/lighthouse-ai/lighthouse/projections"
)

func needFUSE(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("FUSE mount tests need root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
}

type mounted struct {
	src  *fakeSource
	fs   *FS
	m    *Mount
	dir  string
	logs *logBuffer
}

// sync waits, up to 30 s, until the mount has applied every change
// handed to it.
func (mt *mounted) sync(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := mt.fs.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func (mt *mounted) path(p ...string) string {
	return filepath.Join(append([]string{mt.dir}, p...)...)
}

func mountFake(t testing.TB, src *fakeSource, opts Options) *mounted {
	t.Helper()
	needFUSE(t)
	logs := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = logs.logger()
	}
	f := New(src, opts)
	dir := filepath.Join(t.TempDir(), "mnt")
	m, err := f.Mount(context.Background(), dir)
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if types, _ := mountsAt(dir); len(types) != 0 {
			t.Errorf("still mounted after Close: %v", types)
		}
		if t.Failed() {
			t.Logf("fusefs log:\n%s", logs.String())
		}
	})
	return &mounted{src: src, fs: f, m: m, dir: dir, logs: logs}
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// eventually polls cond for up to 2 s and returns how long it took.
func eventually(t testing.TB, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("not within 2s: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func statT(t testing.TB, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return &st
}

func seedProject(src *fakeSource) {
	src.write("README.md", "# Demo\nhello\n", 0o644)
	src.write("src/main.go", "package main\n\nfunc main() { println(\"hi\") }\n", 0o644)
	src.write("src/util/strings.go", "package util\n\n// Reverse reverses.\nfunc Reverse(s string) string { return s }\n", 0o644)
	src.write("scripts/run.sh", "#!/bin/sh\necho run\n", 0o755)
}

func TestLayoutContentsAndTools(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	mt := mountFake(t, src, Options{})

	ents, err := os.ReadDir(mt.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"annotations", "annotations-history", "current", "events", "history", "pending", "snapshots"}; !slices.Equal(names, want) {
		t.Errorf("root = %v, want %v", names, want)
	}
	if ents, err := os.ReadDir(mt.path("pending")); err != nil || len(ents) != 0 {
		t.Errorf("pending = %v, %v; want empty", ents, err)
	}

	if got := readFile(t, mt.path("current/README.md")); got != "# Demo\nhello\n" {
		t.Errorf("README = %q", got)
	}
	if got := run(t, "cat", mt.path("current/src/main.go")); !strings.Contains(got, "func main()") {
		t.Errorf("cat main.go = %q", got)
	}
	grep := lines(run(t, "grep", "-rl", "package", mt.path("current")))
	slices.Sort(grep)
	if want := []string{mt.path("current/src/main.go"), mt.path("current/src/util/strings.go")}; !slices.Equal(grep, want) {
		t.Errorf("grep -rl = %v, want %v", grep, want)
	}
	find := lines(run(t, "find", mt.path("current"), "-type", "f"))
	slices.Sort(find)
	want := []string{
		mt.path("current/README.md"), mt.path("current/scripts/run.sh"),
		mt.path("current/src/main.go"), mt.path("current/src/util/strings.go"),
	}
	if !slices.Equal(find, want) {
		t.Errorf("find -type f = %v, want %v", find, want)
	}
	// Files written after README.md are newer than it.
	newer := lines(run(t, "find", mt.path("current"), "-type", "f", "-newer", mt.path("current/README.md")))
	slices.Sort(newer)
	if !slices.Equal(newer, want[1:]) {
		t.Errorf("find -newer README = %v, want %v", newer, want[1:])
	}
	if got := run(t, "ls", "-a", mt.path("current")); !slices.Equal(lines(got), []string{".", "..", "README.md", "scripts", "src"}) {
		t.Errorf("ls -a current = %q", got)
	}

	// Metadata.
	src.mu.Lock()
	fiRun := src.versions["scripts/run.sh"][0].fi
	src.mu.Unlock()
	st := statT(t, mt.path("current/scripts/run.sh"))
	if st.Mode != syscall.S_IFREG|0o755 || st.Size != fiRun.Size || st.Nlink != 1 {
		t.Errorf("run.sh mode %o size %d nlink %d", st.Mode, st.Size, st.Nlink)
	}
	if mt := time.Unix(st.Mtim.Unix()); !mt.Equal(fiRun.Time) {
		t.Errorf("run.sh mtime %v, want %v", mt, fiRun.Time)
	}
	if st.Blocks != 8 {
		t.Errorf("run.sh blocks = %d, want 8", st.Blocks)
	}
	dst := statT(t, mt.path("current/src"))
	if dst.Mode != syscall.S_IFDIR|0o555 || dst.Nlink != 3 {
		t.Errorf("src/ mode %o nlink %d, want dir 0555 nlink 3", dst.Mode, dst.Nlink)
	}
	if cst := statT(t, mt.path("current")); cst.Nlink != 4 || cst.Ino != inoCurrent {
		t.Errorf("current/ nlink %d ino %d", cst.Nlink, cst.Ino)
	}
	// Inode numbers are stable and agree with what stat(1) and readdir see.
	if got := strings.TrimSpace(run(t, "stat", "-c", "%i", mt.path("current/scripts/run.sh"))); got != strconv.FormatUint(st.Ino, 10) {
		t.Errorf("stat(1) ino %s, syscall ino %d", got, st.Ino)
	}
	if st.Ino != hashIno("", "scripts/run.sh", false) {
		t.Errorf("ino %d not the derived one", st.Ino)
	}
	lsi := run(t, "ls", "-i", mt.path("current/scripts"))
	if !strings.Contains(lsi, strconv.FormatUint(st.Ino, 10)+" run.sh") {
		t.Errorf("ls -i = %q, want ino %d", lsi, st.Ino)
	}
	// du adds up sensible block counts.
	du := strings.Fields(run(t, "du", "-s", "--apparent-size", "-B1", mt.path("current")))
	if n, _ := strconv.Atoi(du[0]); n < 100 {
		t.Errorf("du = %v", du)
	}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(mt.path("current"), &sfs); err != nil || sfs.Files != 4 {
		t.Errorf("statfs files = %d, err %v", sfs.Files, err)
	}
}

func TestManyFilesInOneDirectory(t *testing.T) {
	src := newFakeSource()
	for i := range 1500 {
		src.write("big/f"+strconv.Itoa(i)+".txt", strconv.Itoa(i), 0o644)
	}
	mt := mountFake(t, src, Options{})
	ents, err := os.ReadDir(mt.path("current/big"))
	if err != nil || len(ents) != 1500 {
		t.Fatalf("ReadDir: %d entries, %v", len(ents), err)
	}
	if got := readFile(t, mt.path("current/big/f1234.txt")); got != "1234" {
		t.Errorf("f1234 = %q", got)
	}
}

func TestReadOnly(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	mt := mountFake(t, src, Options{})
	file := mt.path("current/README.md")
	checks := map[string]error{
		"write":         os.WriteFile(file, []byte("x"), 0o644),
		"create":        os.WriteFile(mt.path("current/new.txt"), []byte("x"), 0o644),
		"mkdir":         os.Mkdir(mt.path("current/newdir"), 0o755),
		"rename":        os.Rename(file, mt.path("current/README2.md")),
		"remove file":   os.Remove(file),
		"remove dir":    os.Remove(mt.path("current/src/util")),
		"chmod":         os.Chmod(file, 0o600),
		"truncate":      os.Truncate(file, 0),
		"symlink":       os.Symlink("README.md", mt.path("current/link")),
		"link":          os.Link(file, mt.path("current/hard")),
		"write events":  os.WriteFile(mt.path("events"), []byte("x"), 0o644),
		"mkdir history": os.Mkdir(mt.path("history/@1/x"), 0o755),
		"create root":   os.WriteFile(mt.path("x"), nil, 0o644),
		"chtimes":       os.Chtimes(file, time.Now(), time.Now()),
	}
	for what, err := range checks {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: err = %v, want EROFS", what, err)
		}
	}
	if got := readFile(t, file); got != "# Demo\nhello\n" {
		t.Errorf("content changed: %q", got)
	}
	// The mount itself is read-only.
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range lines(string(data)) {
		if f := strings.Fields(l); len(f) > 5 && f[4] == mt.dir && !strings.HasPrefix(f[5], "ro") {
			t.Errorf("mount options %q, want ro", f[5])
		}
	}
}

func TestHistory(t *testing.T) {
	src := newFakeSource()
	s1 := src.write("a.txt", "v1\n", 0o644)
	s2 := src.write("b.txt", "b\n", 0o644)
	s3 := src.write("a.txt", "v2\n", 0o644)
	s4 := src.remove("b.txt")
	s5 := src.write("dir/c.txt", "c\n", 0o644)
	src.setSnapshot("before-cleanup", s2)
	mt := mountFake(t, src, Options{})

	at := func(seq uint64, p string) string { return mt.path("history", "@"+strconv.FormatUint(seq, 10), p) }
	if got := readFile(t, at(s1, "a.txt")); got != "v1\n" {
		t.Errorf("@%d a.txt = %q", s1, got)
	}
	if _, err := os.Stat(at(s1, "b.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("@%d b.txt: %v, want ENOENT", s1, err)
	}
	if got := readFile(t, at(s2, "b.txt")); got != "b\n" {
		t.Errorf("@%d b.txt = %q", s2, got)
	}
	if got := readFile(t, at(s4, "a.txt")); got != "v2\n" {
		t.Errorf("@%d a.txt = %q", s4, got)
	}
	if _, err := os.Stat(at(s4, "b.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("@%d b.txt: %v, want ENOENT", s4, err)
	}

	// diff -r against current: identical at head, differences before.
	if out, err := exec.Command("diff", "-r", mt.path("history", "@"+strconv.FormatUint(s5, 10)), mt.path("current")).CombinedOutput(); err != nil {
		t.Errorf("diff -r @head current: %v\n%s", err, out)
	}
	out, err := exec.Command("diff", "-r", mt.path("history", "@"+strconv.FormatUint(s2, 10)), mt.path("current")).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("diff -r @%d current: %v\n%s", s2, err, out)
	}
	for _, want := range []string{"< v1", "> v2", "Only in " + at(s2, "") + ": b.txt", "Only in " + mt.path("current") + ": dir"} {
		if !strings.Contains(string(out), strings.TrimSuffix(want, "/")) {
			t.Errorf("diff output lacks %q:\n%s", want, out)
		}
	}

	// Listing: recent points and snapshots.
	ls := lines(run(t, "ls", mt.path("history")))
	for _, want := range []string{"@" + strconv.FormatUint(s3, 10), "@" + strconv.FormatUint(s5, 10), "before-cleanup"} {
		if !slices.Contains(ls, want) {
			t.Errorf("ls history = %v, lacks %s", ls, want)
		}
	}
	// Bad and future points.
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	beforeFirst := src.timeOf(0).Add(-time.Minute).Format(time.RFC3339)
	for _, name := range []string{"@0", "@999", "@abc", "@01", "@", "@-1", "nonsense", future, beforeFirst} {
		if _, err := os.Stat(mt.path("history", name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("history/%s: err = %v, want ENOENT", name, err)
		}
	}
	// An RFC 3339 time resolves to the last event at or before it.
	when := src.timeOf(s2).Add(500 * time.Millisecond).Format(time.RFC3339Nano)
	if got := readFile(t, mt.path("history", when, "b.txt")); got != "b\n" {
		t.Errorf("history/%s/b.txt = %q", when, got)
	}
	if got := readFile(t, mt.path("history", when, "a.txt")); got != "v1\n" {
		t.Errorf("history/%s/a.txt = %q", when, got)
	}
	// Snapshots.
	if got := lines(run(t, "ls", mt.path("snapshots"))); !slices.Equal(got, []string{"before-cleanup"}) {
		t.Errorf("ls snapshots = %v", got)
	}
	for _, p := range []string{mt.path("snapshots/before-cleanup/b.txt"), mt.path("history/before-cleanup/b.txt")} {
		if got := readFile(t, p); got != "b\n" {
			t.Errorf("%s = %q", p, got)
		}
	}
	if _, err := os.Stat(mt.path("snapshots/nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("snapshots/nope: %v", err)
	}

	// A point's root: a directory whose mtime is its event's time.
	pst := statT(t, at(s2, ""))
	if pst.Mode&syscall.S_IFMT != syscall.S_IFDIR || !time.Unix(pst.Mtim.Unix()).Equal(src.timeOf(s2)) {
		t.Errorf("@%d: mode %o mtime %v", s2, pst.Mode, time.Unix(pst.Mtim.Unix()))
	}
	// Same path, different views: different inode numbers.
	if a, b := statT(t, at(s3, "a.txt")).Ino, statT(t, mt.path("current/a.txt")).Ino; a == b {
		t.Errorf("history and current share inode %d", a)
	}

	// Built trees are cached: reading a point again does not rebuild it.
	calls := src.treeCalls.Load()
	readFile(t, at(s1, "a.txt"))
	run(t, "find", at(s1, ""))
	if got := src.treeCalls.Load(); got != calls {
		t.Errorf("Tree called %d more times for a cached point", got-calls)
	}
}

func TestChangedInvalidatesCachedFile(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	mt := mountFake(t, src, Options{})
	p := mt.path("current/README.md")
	// Read twice: the second open keeps the page cache.
	readFile(t, p)
	readFile(t, p)

	seq := src.write("README.md", "# Demo\nhello, changed and longer\n", 0o644)
	mt.fs.Changed(seq, src.changes("README.md"))
	took := eventually(t, "README.md shows the new content", func() bool {
		b, err := os.ReadFile(p)
		return err == nil && string(b) == "# Demo\nhello, changed and longer\n"
	})
	t.Logf("new content visible %v after Changed returned", took)
	if took > 500*time.Millisecond {
		// Without the worker's invalidation it takes the 1 s attribute timeout.
		t.Errorf("took %v: the kernel cache was not invalidated", took)
	}
	if st := statT(t, p); st.Size != int64(len("# Demo\nhello, changed and longer\n")) {
		t.Errorf("size after change = %d", st.Size)
	}

	start := time.Now()
	mt.fs.Changed(src.write("README.md", "# Demo\nhello, changed and longer\n", 0o644), src.changes("README.md"))
	if err := mt.fs.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("Changed+Sync took %v", time.Since(start))

	// With Sync, the change is visible immediately, even to a cached
	// shorter-to-longer and longer-to-shorter rewrite.
	for i, content := range []string{"short\n", strings.Repeat("long line\n", 100), "x"} {
		seq := src.write("README.md", content, 0o644)
		mt.fs.Changed(seq, src.changes("README.md"))
		if err := mt.fs.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, p); got != content {
			t.Fatalf("rewrite %d: read %q, want %q", i, got, content)
		}
	}

	// An event touching no file only grows events.
	mt.fs.Changed(src.note("hello"), src.changes())
	if err := mt.fs.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRetriedBatchKeepsNewerRevisions: a batch the worker could not apply
// is queued again, but a path queued again while it was being applied
// keeps its newer revision. Here a directory deleted as a whole, whose
// files the worker reads from a Source that fails, and then a file
// written at its path.
func TestRetriedBatchKeepsNewerRevisions(t *testing.T) {
	src := newFakeSource()
	src.write("olddir/a", "a\n", 0o644)
	mt := mountFake(t, src, Options{})
	if got := readFile(t, mt.path("current/olddir/a")); got != "a\n" {
		t.Fatalf("olddir/a = %q", got)
	}
	gate := make(chan struct{})
	src.setFiles(true, gate)
	mt.fs.Changed(src.remove("olddir/a"), src.changes("olddir"))
	gate <- struct{}{} // the worker is in Files
	mt.fs.Changed(src.write("olddir", "now a file\n", 0o644), src.changes("olddir"))
	src.setFiles(false, nil) // for the retries
	gate <- struct{}{}       // this Files fails: the batch is queued again
	mt.sync(t)
	if got := readFile(t, mt.path("current/olddir")); got != "now a file\n" {
		t.Errorf("olddir = %q, want the file written after the directory", got)
	}
}

// TestSourceStateWinsOverQueuedRevision: a batch that holds a directory
// deleted as a whole and an older revision of a file beneath it takes that
// file's state from the Source, listed after the queued revisions, so the
// listing's sort must keep the later of a path's two entries; forty other
// changes make the listing too long for a sort that is stable by accident.
func TestSourceStateWinsOverQueuedRevision(t *testing.T) {
	src := newFakeSource()
	src.write("d/x", "v1\n", 0o644)
	mt := mountFake(t, src, Options{})
	src.write("d/x", "v2\n", 0o644)
	queued := src.changes("d/x") // v2, handed on after v3 is written
	var others []string
	for i := range 40 {
		p := fmt.Sprintf("other/f%02d", i)
		src.write(p, "o\n", 0o644)
		others = append(others, p)
	}
	seq := src.write("d/x", "v3\n", 0o644)
	revs := append(src.changes("d"), queued...)
	mt.fs.Changed(seq, append(revs, src.changes(others...)...))
	mt.sync(t)
	if got := readFile(t, mt.path("current/d/x")); got != "v3\n" {
		t.Errorf("d/x = %q, want the Source's v3", got)
	}
}

func TestPageCacheIsKept(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	mt := mountFake(t, src, Options{})
	p := mt.path("current/src/main.go")
	readFile(t, p)
	readFile(t, p) // this open keeps the cache
	calls := src.readAtCalls.Load()
	for range 5 {
		readFile(t, p)
	}
	if got := src.readAtCalls.Load() - calls; got != 0 {
		t.Errorf("%d blob reads for cached content", got)
	}
	// History content is immutable: cached from the second read on.
	h := mt.path("history/@2/src/main.go")
	readFile(t, h)
	calls = src.readAtCalls.Load()
	readFile(t, h)
	if got := src.readAtCalls.Load() - calls; got != 0 {
		t.Errorf("%d blob reads for cached history content", got)
	}
}

func TestChangedCreatesAndRemoves(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	mt := mountFake(t, src, Options{})
	cur := mt.path("current")

	// Prime the kernel's caches, including a negative lookup.
	run(t, "find", cur)
	if _, err := os.Stat(mt.path("current/new/deep/file.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	beforeNlink := statT(t, cur).Nlink

	seq := src.write("new/deep/file.txt", "fresh\n", 0o600)
	mt.fs.Changed(seq, src.changes("new/deep/file.txt"))
	eventually(t, "new file appears", func() bool {
		b, err := os.ReadFile(mt.path("current/new/deep/file.txt"))
		return err == nil && string(b) == "fresh\n"
	})
	eventually(t, "current/ nlink counts new/", func() bool { return statT(t, cur).Nlink == beforeNlink+1 })
	if st := statT(t, mt.path("current/new/deep/file.txt")); st.Mode != syscall.S_IFREG|0o600 {
		t.Errorf("mode %o", st.Mode)
	}
	if got := lines(run(t, "ls", cur)); !slices.Contains(got, "new") {
		t.Errorf("ls current = %v", got)
	}

	// Removing the only file removes its now empty directories.
	seq = src.remove("new/deep/file.txt")
	mt.fs.Changed(seq, src.changes("new/deep/file.txt"))
	eventually(t, "file and empty dirs disappear", func() bool {
		_, err1 := os.Stat(mt.path("current/new/deep/file.txt"))
		_, err2 := os.Stat(mt.path("current/new"))
		return errors.Is(err1, os.ErrNotExist) && errors.Is(err2, os.ErrNotExist)
	})
	if got := lines(run(t, "ls", cur)); slices.Contains(got, "new") {
		t.Errorf("ls current still lists new: %v", got)
	}
	eventually(t, "current/ nlink back", func() bool { return statT(t, cur).Nlink == beforeNlink })

	// A path turns from a file into a directory in one batch.
	seq = src.write("x", "file x\n", 0o644)
	mt.fs.Changed(seq, src.changes("x"))
	eventually(t, "x is a file", func() bool {
		b, err := os.ReadFile(mt.path("current/x"))
		return err == nil && string(b) == "file x\n"
	})
	src.remove("x")
	seq = src.write("x/y", "y\n", 0o644)
	mt.fs.Changed(seq, src.changes("x", "x/y"))
	eventually(t, "x is a directory", func() bool {
		st, err := os.Stat(mt.path("current/x"))
		if err != nil || !st.IsDir() {
			return false
		}
		b, err := os.ReadFile(mt.path("current/x/y"))
		return err == nil && string(b) == "y\n"
	})

	// A directory path stands for everything beneath it.
	src.write("olddir/a", "a\n", 0o644)
	seq = src.write("olddir/b/c", "c\n", 0o644)
	calls := src.filesCalls.Load()
	mt.fs.Changed(seq, src.changes("olddir/a", "olddir/b/c"))
	if err := mt.fs.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A changed file's state is the revision it was queued with.
	if got := src.filesCalls.Load() - calls; got != 0 {
		t.Errorf("the worker read the Source's files %d times for changes it was given", got)
	}
	run(t, "find", mt.path("current/olddir"))
	src.remove("olddir/a")
	seq = src.remove("olddir/b/c")
	mt.fs.Changed(seq, src.changes("olddir"))
	if err := mt.fs.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := src.filesCalls.Load() - calls; got != 1 {
		t.Errorf("the worker read the Source's files %d times for a directory's, want once", got)
	}
	if _, err := os.Stat(mt.path("current/olddir")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("olddir after removing it as a whole: %v", err)
	}

	// A full resync (nil paths) picks up changes that were not announced.
	src.write("unannounced.txt", "u\n", 0o644)
	seq = src.remove("scripts/run.sh")
	mt.fs.Changed(seq, nil)
	if err := mt.fs.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, mt.path("current/unannounced.txt")); got != "u\n" {
		t.Errorf("unannounced = %q", got)
	}
	if _, err := os.Stat(mt.path("current/scripts")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scripts/ after resync: %v", err)
	}

	// New points show up in ls history/.
	if ls := lines(run(t, "ls", mt.path("history"))); !slices.Contains(ls, "@"+strconv.FormatUint(seq, 10)) {
		t.Errorf("ls history = %v, lacks @%d", ls, seq)
	}
}

// TestCachedListingFollowsChanges: listings are cached by the kernel
// across opens (FOPEN_CACHE_DIR), yet once Sync returns a listing of
// current/ shows an entry added or removed beside the ones already listed,
// at once, with no wait for a timeout.
func TestCachedListingFollowsChanges(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	// Long timeouts: only the worker's invalidations can make the change
	// visible in time.
	mt := mountFake(t, src, Options{EntryTimeout: time.Hour, AttrTimeout: time.Hour})
	names := func() []string {
		ents, err := os.ReadDir(mt.path("current/src"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	for range 2 { // the second listing may come from the kernel's cache
		if got := names(); !slices.Equal(got, []string{"main.go", "util"}) {
			t.Fatalf("ls current/src = %v", got)
		}
	}
	seq := src.write("src/added.go", "package main\n", 0o644)
	mt.fs.Changed(seq, src.changes("src/added.go"))
	if err := mt.fs.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{"added.go", "main.go", "util"}) {
		t.Errorf("after adding: ls current/src = %v", got)
	}
	seq = src.remove("src/main.go")
	mt.fs.Changed(seq, src.changes("src/main.go"))
	if err := mt.fs.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{"added.go", "util"}) {
		t.Errorf("after removing: ls current/src = %v", got)
	}
	// A history point lists what it always listed.
	ents, err := os.ReadDir(mt.path("history", "@"+strconv.FormatUint(seq-1, 10), "src"))
	if err != nil || len(ents) != 3 {
		t.Errorf("ls history/@%d/src = %v, %v", seq-1, ents, err)
	}
}

func TestConcurrentReadersDuringChanges(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	for i := range 50 {
		src.write("pkg/f"+strconv.Itoa(i)+".go", "package pkg // 0\n", 0o644)
	}
	mt := mountFake(t, src, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				p := mt.path("current/pkg/f" + strconv.Itoa(rand.IntN(50)) + ".go")
				if r%2 == 0 {
					os.ReadFile(p)
				} else {
					os.ReadDir(mt.path("current/pkg"))
				}
			}
		}()
	}
	var last string
	for round := 1; round <= 30; round++ {
		var touched []string
		var seq uint64
		last = "package pkg // " + strconv.Itoa(round) + "\n"
		for i := range 50 {
			if i%3 == round%3 {
				p := "pkg/f" + strconv.Itoa(i) + ".go"
				seq = src.write(p, last, 0o644)
				touched = append(touched, p)
			}
		}
		mt.fs.Changed(seq, src.changes(touched...))
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	if err := mt.fs.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// After Sync every file reads as its final state.
	got := run(t, "grep", "-rh", "package", mt.path("current/pkg"))
	for _, l := range lines(got) {
		if !strings.HasPrefix(l, "package pkg // 2") && !strings.HasPrefix(l, "package pkg // 30") {
			t.Errorf("stale line %q", l)
		}
	}
	head, _ := src.Tree(context.Background(), 0)
	for _, fi := range head {
		src.mu.Lock()
		want := string(src.blobs[fi.Hash])
		src.mu.Unlock()
		if got := readFile(t, mt.path("current", fi.Path)); got != want {
			t.Errorf("%s = %q, want %q", fi.Path, got, want)
		}
	}
}

func TestEventsFile(t *testing.T) {
	src := newFakeSource()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		src.write("f"+strconv.Itoa(i%17)+".txt", strings.Repeat("z", rng.IntN(400)), 0o644)
	}
	mt := mountFake(t, src, Options{})
	ev := mt.path("events")
	want := src.allEvents(t)
	if got := readFile(t, ev); got != string(want) {
		t.Fatalf("events differ: got %d bytes, want %d", len(got), len(want))
	}
	ls := lines(string(want))
	if len(ls) != 300 {
		t.Fatalf("%d lines", len(ls))
	}
	var e domain.Event
	if err := json.Unmarshal([]byte(ls[41]), &e); err != nil || e.Seq != 42 {
		t.Errorf("line 42: seq %d, %v", e.Seq, err)
	}
	if st := statT(t, ev); st.Size != int64(len(want)) || st.Mode != syscall.S_IFREG|0o444 {
		t.Errorf("events size %d mode %o", st.Size, st.Mode)
	}
	// Reads at arbitrary offsets.
	fh, err := os.Open(ev)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	for _, off := range []int64{0, 1, 4095, 4096, 12345, int64(len(want)) - 10} {
		buf := make([]byte, 1000)
		n, err := fh.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			t.Fatalf("ReadAt %d: %v", off, err)
		}
		if !bytes.Equal(buf[:n], want[off:min(off+1000, int64(len(want)))]) {
			t.Errorf("ReadAt %d differs", off)
		}
	}

	// Growth: the size follows new events once Changed is called.
	size0 := int64(len(want))
	seq := src.write("late.txt", "late\n", 0o644)
	mt.fs.Changed(seq, src.changes("late.txt"))
	want = src.allEvents(t)
	eventually(t, "events grows", func() bool { return statT(t, ev).Size == int64(len(want)) })
	tail := make([]byte, int64(len(want))-size0)
	if _, err := fh.ReadAt(tail, size0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(tail, want[size0:]) {
		t.Errorf("new tail = %q", tail)
	}
}

func TestEventsTailFollow(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	mt := mountFake(t, src, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tail", "-n", "+1", "-s", "0.1", "-f", mt.path("events"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	got := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			got <- sc.Text()
		}
		close(got)
	}()
	next := func() domain.Event {
		t.Helper()
		select {
		case l, ok := <-got:
			if !ok {
				t.Fatal("tail ended")
			}
			var e domain.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no line from tail -f within 5s")
		}
		return domain.Event{}
	}
	for i := uint64(1); i <= 4; i++ {
		if e := next(); e.Seq != i {
			t.Fatalf("line %d: seq %d", i, e.Seq)
		}
	}
	for i := range 3 {
		start := time.Now()
		seq := src.write("follow.txt", strings.Repeat("f", i+1), 0o644)
		mt.fs.Changed(seq, src.changes("follow.txt"))
		if e := next(); e.Seq != seq || e.Type != "file.written" {
			t.Fatalf("followed event: seq %d type %s, want %d", e.Seq, e.Type, seq)
		}
		t.Logf("tail -f printed event %d after %v", seq, time.Since(start))
	}
}

func TestLargeFileReadAtOffsets(t *testing.T) {
	src := newFakeSource()
	const size = 24 << 20
	content := make([]byte, size)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < size; i += 8 {
		v := rng.Uint64()
		for k := 0; k < 8; k++ {
			content[i+k] = byte(v >> (8 * k))
		}
	}
	src.writeBytes("data/big.bin", content, 0o644)
	mt := mountFake(t, src, Options{})
	p := mt.path("current/data/big.bin")
	if st := statT(t, p); st.Size != size {
		t.Fatalf("size %d", st.Size)
	}
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	src.readAtBytes.Store(0)
	off := int64(20<<20 + 123)
	buf := make([]byte, 4096)
	if _, err := fh.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, content[off:off+4096]) {
		t.Fatal("ReadAt content differs")
	}
	if n := src.readAtBytes.Load(); n > 2<<20 {
		t.Errorf("a 4 KiB read at an offset read %d bytes from the blob", n)
	}
	// The last bytes, through tail(1).
	if got := run(t, "tail", "-c", "100", p); got != string(content[size-100:]) {
		t.Error("tail -c 100 differs")
	}
	// All of it, streamed.
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Sum(nil), sha256Sum(content)) {
		t.Error("streamed content differs")
	}
	if m := src.maxReadAt.Load(); m > 1<<20 {
		t.Errorf("largest single ReadAt = %d bytes", m)
	}
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func TestSourceErrorIsEIO(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	mt := mountFake(t, src, Options{})
	src.mu.Lock()
	h := src.versions["src/main.go"][0].fi.Hash
	src.mu.Unlock()
	src.setFail(h, true)
	if _, err := os.ReadFile(mt.path("current/src/main.go")); !errors.Is(err, syscall.EIO) {
		t.Errorf("read with failing blob store: %v, want EIO", err)
	}
	if !mt.logs.contains("source error") || !mt.logs.contains("blob store unavailable") {
		t.Errorf("no log line for the failure:\n%s", mt.logs.String())
	}
	src.setFail(h, false)
	if got := readFile(t, mt.path("current/src/main.go")); !strings.Contains(got, "package main") {
		t.Errorf("after recovery: %q", got)
	}
}

func TestMountClearsLiveMount(t *testing.T) {
	needFUSE(t)
	dir := filepath.Join(t.TempDir(), "mnt")
	srcA, srcB := newFakeSource(), newFakeSource()
	srcA.write("who.txt", "A\n", 0o644)
	srcB.write("who.txt", "B\n", 0o644)
	logs := &logBuffer{}
	ma, err := New(srcA, Options{Logger: logs.logger()}).Mount(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ma.Close()
	if got := readFile(t, filepath.Join(dir, "current/who.txt")); got != "A\n" {
		t.Fatalf("A: %q", got)
	}
	mb, err := New(srcB, Options{Logger: logs.logger()}).Mount(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	if types, _ := mountsAt(dir); len(types) != 1 {
		t.Errorf("mounts at %s: %v, want exactly one", dir, types)
	}
	if got := readFile(t, filepath.Join(dir, "current/who.txt")); got != "B\n" {
		t.Errorf("after second mount: %q", got)
	}
	if !logs.contains("detaching existing mount") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
	// The detached server notices and stops.
	done := make(chan struct{})
	go func() { ma.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("detached mount's server still serving after 5s")
	}
	if err := mb.Close(); err != nil {
		t.Fatal(err)
	}
	if types, _ := mountsAt(dir); len(types) != 0 {
		t.Errorf("still mounted: %v", types)
	}
}

// TestHelperMountAndHang is not a test: TestMountClearsStaleMount runs the
// test binary with it to get a mount whose server dies.
func TestHelperMountAndHang(t *testing.T) {
	dir := os.Getenv("FUSEFS_HELPER_DIR")
	if dir == "" {
		t.Skip("helper for TestMountClearsStaleMount")
	}
	src := newFakeSource()
	src.write("who.txt", "helper\n", 0o644)
	if _, err := New(src, Options{}).Mount(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("mounted\n")
	time.Sleep(time.Minute)
}

func TestMountClearsStaleMount(t *testing.T) {
	needFUSE(t)
	dir := filepath.Join(t.TempDir(), "mnt")
	t.Cleanup(func() {
		if types, _ := mountsAt(dir); len(types) > 0 {
			detach(dir)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, _, line := testchild.Start(ctx, t, "TestHelperMountAndHang", "FUSEFS_HELPER_DIR="+dir)
	if line != "mounted\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q", line)
	}
	if got := readFile(t, filepath.Join(dir, "current/who.txt")); got != "helper\n" {
		t.Fatalf("helper mount: %q", got)
	}
	// Kill the server: the mount stays, dead.
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.ReadDir(dir); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("reading the dead mount: %v, want ENOTCONN", err)
	}

	src := newFakeSource()
	src.write("who.txt", "fresh\n", 0o644)
	mt, err := New(src, Options{Logger: (&logBuffer{}).logger()}).Mount(context.Background(), dir)
	if err != nil {
		t.Fatalf("Mount over a dead mount: %v", err)
	}
	defer mt.Close()
	if got := readFile(t, filepath.Join(dir, "current/who.txt")); got != "fresh\n" {
		t.Errorf("after remount: %q", got)
	}
	if types, _ := mountsAt(dir); len(types) != 1 {
		t.Errorf("mounts: %v, want one", types)
	}
}

func TestMountContextEndsMount(t *testing.T) {
	needFUSE(t)
	src := newFakeSource()
	seedProject(src)
	f := New(src, Options{Logger: (&logBuffer{}).logger()})
	dir := filepath.Join(t.TempDir(), "mnt")
	ctx, cancel := context.WithCancel(context.Background())
	m, err := f.Mount(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Mount(context.Background(), dir); err == nil {
		t.Error("second Mount of the same FS succeeded")
	}
	cancel()
	done := make(chan struct{})
	go func() { m.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("mount still served 5s after its context ended")
	}
	m.Close()
	if err := f.Sync(context.Background()); err != nil && !errors.Is(err, ErrNotMounted) {
		t.Errorf("Sync: %v", err)
	}
	// The FS can be mounted again, and sees changes made meanwhile.
	src.write("later.txt", "later\n", 0o644)
	m2, err := f.Mount(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if got := readFile(t, filepath.Join(dir, "current/later.txt")); got != "later\n" {
		t.Errorf("later.txt = %q", got)
	}
}

func TestEmptyProject(t *testing.T) {
	src := newFakeSource()
	mt := mountFake(t, src, Options{})
	if ents, err := os.ReadDir(mt.path("current")); err != nil || len(ents) != 0 {
		t.Errorf("current = %v, %v", ents, err)
	}
	if st := statT(t, mt.path("current")); st.Mtim.Sec < time.Now().Add(-time.Hour).Unix() {
		t.Errorf("mtime of an empty current/ = %v", time.Unix(st.Mtim.Unix()))
	}
	if b, err := os.ReadFile(mt.path("events")); err != nil || len(b) != 0 {
		t.Errorf("events = %q, %v", b, err)
	}
	if _, err := os.Stat(mt.path("history/@1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("history/@1 of an empty log: %v", err)
	}
	seq := src.write("first.txt", "1\n", 0o644)
	mt.fs.Changed(seq, src.changes("first.txt"))
	eventually(t, "first file", func() bool {
		b, err := os.ReadFile(mt.path("current/first.txt"))
		return err == nil && string(b) == "1\n"
	})
	if got := readFile(t, mt.path("history/@1/first.txt")); got != "1\n" {
		t.Errorf("@1 = %q", got)
	}
}

func TestCloseWhileBusy(t *testing.T) {
	needFUSE(t)
	src := newFakeSource()
	seedProject(src)
	dir := filepath.Join(t.TempDir(), "mnt")
	m, err := New(src, Options{Logger: (&logBuffer{}).logger()}).Mount(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(filepath.Join(dir, "current/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close while a file is open: %v", err)
	}
	if types, _ := mountsAt(dir); len(types) != 0 {
		t.Errorf("still in the mount table: %v", types)
	}
	// The open descriptor keeps working until it is closed.
	buf := make([]byte, 6)
	if _, err := fh.ReadAt(buf, 0); err != nil || string(buf) != "# Demo" {
		t.Errorf("read after lazy detach: %q, %v", buf, err)
	}
	fh.Close()
	done := make(chan struct{})
	go func() { m.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("server still serving 5s after its last user left")
	}
}

func TestTreeUnit(t *testing.T) {
	var skipped []string
	files := []projectionsFile{
		{"a/b/c.txt", 1}, {"/lead.txt", 2}, {"a/b", 3}, {"../evil", 4}, {"a/d.txt", 5},
	}
	infos := toInfos(files)
	for _, h := range []string{"", strings.Repeat("A", 64), strings.Repeat("0", 63), strings.Repeat("g", 64)} {
		infos = append(infos, projections.FileInfo{Path: "bad.txt", Hash: h, Size: 1})
	}
	tr := buildTree(5, infos, func(p, why string) { skipped = append(skipped, p+": "+why) })
	if want := []string{"a/b: path is a directory", "../evil: invalid path", "bad.txt: invalid content hash",
		"bad.txt: invalid content hash", "bad.txt: invalid content hash", "bad.txt: invalid content hash"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped = %v, want %v", skipped, want)
	}
	if f, _ := tr.file("a/d.txt"); f.seq != 5 || f.size != 1 || f.mode != 0o644 || !f.time().Equal(time.Unix(5, 0)) {
		t.Errorf("a/d.txt = %+v", f)
	}
	if _, ok := tr.file("lead.txt"); !ok {
		t.Error("leading slash not cleaned")
	}
	if d := tr.dirs["a"]; d == nil || len(d.subdirs) != 1 || !reflect.DeepEqual(d.sortedKids(), []entry{{name: "b", isDir: true}, {name: "d.txt"}}) {
		t.Errorf("dir a = %+v", d)
	}
	removed, dir, ok := tr.remove("a/b/c.txt", time.Unix(100, 0))
	if !ok || dir != "a" || len(removed) != 2 || tr.dirs["a/b"] != nil || len(tr.dirs["a"].subdirs) != 0 {
		t.Errorf("remove: %v %q %v", removed, dir, ok)
	}
	if got := tr.dirs[""].mtime; !got.Equal(time.Unix(100, 0)) {
		t.Errorf("root mtime %v", got)
	}
}

type projectionsFile struct {
	path string
	seq  uint64
}

func toInfos(fs []projectionsFile) []projections.FileInfo {
	out := make([]projections.FileInfo, len(fs))
	for i, f := range fs {
		out[i] = projections.FileInfo{Path: f.path, Hash: fmt.Sprintf("%064x", f.seq), Seq: f.seq, Size: 1, Mode: 0o644, Time: time.Unix(int64(f.seq), 0)}
	}
	return out
}

func benchDirs(b *testing.B) map[string]string {
	src := newFakeSource()
	content := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB
	src.writeBytes("pkg/file.txt", content, 0o644)
	mt := mountFake(b, src, Options{})
	tmp := b.TempDir()
	if err := os.MkdirAll(filepath.Join(tmp, "pkg"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "pkg/file.txt"), content, 0o644); err != nil {
		b.Fatal(err)
	}
	return map[string]string{"fuse": mt.path("current"), "tmpdir": tmp}
}

func BenchmarkMountStat(b *testing.B) {
	dirs := benchDirs(b)
	for _, name := range []string{"fuse", "tmpdir"} {
		p := filepath.Join(dirs[name], "pkg/file.txt")
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := os.Stat(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMountRead4K(b *testing.B) {
	dirs := benchDirs(b)
	for _, name := range []string{"fuse", "tmpdir"} {
		p := filepath.Join(dirs[name], "pkg/file.txt")
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 8192)
			b.SetBytes(4096)
			for b.Loop() {
				f, err := os.Open(p)
				if err != nil {
					b.Fatal(err)
				}
				n, err := f.Read(buf)
				f.Close()
				if err != nil || n != 4096 {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// TestLiveNamesOutsideCurrentFollowChanges: what the worker does not
// invalidate keeps short timeouts, whatever current/'s are: a
// history/TIME name looked up before the replica had an event at or before
// TIME resolves again (the event's file shows up), and the attributes of
// snapshots/ (nlink, mtime) and history/ (mtime) follow a new snapshot and
// a change. With current/'s 30 s applied to them these stayed stale.
func TestLiveNamesOutsideCurrentFollowChanges(t *testing.T) {
	src := newFakeSource()
	s1 := src.write("a.txt", "v1\n", 0o644)
	mt := mountFake(t, src, Options{})
	when := src.timeOf(s1 + 1).Add(500 * time.Millisecond).Format(time.RFC3339Nano)
	if _, err := os.Stat(mt.path("history", when, "late.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("history/%s/late.txt before it was written: %v", when, err)
	}
	var snaps0, hist0 syscall.Stat_t
	if err := syscall.Stat(mt.path("snapshots"), &snaps0); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(mt.path("history"), &hist0); err != nil {
		t.Fatal(err)
	}

	s2 := src.write("late.txt", "late\n", 0o644) // stamped before TIME
	src.setSnapshot("snap", s2)
	mt.fs.Changed(s2, src.changes("late.txt"))
	if err := mt.fs.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "history/TIME/late.txt once the replica has it", func() bool {
		_, err := os.Stat(mt.path("history", when, "late.txt"))
		return err == nil
	})
	eventually(t, "snapshots/ and history/ attributes follow", func() bool {
		var snaps, hist syscall.Stat_t
		if syscall.Stat(mt.path("snapshots"), &snaps) != nil || syscall.Stat(mt.path("history"), &hist) != nil {
			return false
		}
		return snaps.Nlink == snaps0.Nlink+1 && snaps.Mtim != snaps0.Mtim && hist.Mtim != hist0.Mtim
	})
}

// A warm pass over files the kernel has read once costs the fuser no
// OPEN, RELEASE, FLUSH or READ: the kernel opens them itself and keeps
// their pages (Mount.open). Each kind of file of the mount is checked.
func TestWarmOpensReachNoFuser(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	const id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	src.request(id, "shell", 0)
	head := src.Head()
	src.mu.Lock()
	src.notes = map[uint64]map[string][]byte{head: {"README.md": []byte("{}\n")}}
	src.mu.Unlock()
	reg := prometheus.NewRegistry()
	mt := mountFake(t, src, Options{Metrics: metrics.NewFUSE(reg)})
	if !mt.m.noOpen.Load() {
		t.Skip("this kernel does not offer FUSE_NO_OPEN_SUPPORT")
	}
	files := []string{
		mt.path("current", "src", "main.go"),
		mt.path("history", "@2", "src", "main.go"),
		mt.path("events"),
		mt.path("pending", id+".json"),
		mt.path("annotations", "README.md.json"),
	}
	for range 2 {
		for _, p := range files {
			readFile(t, p)
		}
	}
	before := fuseOps(t, reg)
	for range 5 {
		for _, p := range files {
			readFile(t, p)
		}
	}
	after := fuseOps(t, reg)
	for _, op := range []string{"open", "release", "flush", "read"} {
		if d := after[op] - before[op]; d != 0 {
			t.Errorf("%d %s requests in 5 warm passes over %d files", d, op, len(files))
		}
	}
	if before["open"] != 1 {
		t.Errorf("%d opens in all, want 1: the first, answered ENOSYS", before["open"])
	}
}

// On a kernel without FUSE_NO_OPEN_SUPPORT every open asks the fuser,
// which answers without a handle: reads still go to the node, and the
// page cache is still kept and still invalidated on change.
func TestOpensOnAKernelWithoutNoOpen(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	const id = "6ba7b810-9dad-41d1-80b4-00c04fd430c8"
	jsonA := src.request(id, "shell", 0)
	reg := prometheus.NewRegistry()
	mt := mountFake(t, src, Options{Metrics: metrics.NewFUSE(reg)})
	mt.m.noOpen.Store(false) // before the first open: what an older kernel gets
	p := mt.path("current", "README.md")
	pend := mt.path("pending", id+".json")
	for range 3 {
		readFile(t, p)
		if got := readFile(t, pend); got != string(jsonA) {
			t.Fatalf("pending read %q, want %q", got, jsonA)
		}
	}
	calls := src.readAtCalls.Load()
	readFile(t, p)
	if got := src.readAtCalls.Load() - calls; got != 0 {
		t.Errorf("%d blob reads for cached content", got)
	}
	content := "# Demo\nrewritten\n"
	mt.fs.Changed(src.write("README.md", content, 0o644), src.changes("README.md"))
	if err := mt.fs.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != content {
		t.Errorf("after a change read %q, want %q", got, content)
	}
	jsonB := src.request(id, "shell", 1)
	eventually(t, "the review's new version is read", func() bool {
		b, err := os.ReadFile(pend)
		return err == nil && string(b) == string(jsonB)
	})
	opens := fuseOps(t, reg)["open"]
	if opens < 8 {
		t.Errorf("%d opens reached the fuser, want one per open (at least 8)", opens)
	}
}

// fuseOps counts the FUSE requests the mount has served, by operation.
func fuseOps(t *testing.T, reg *prometheus.Registry) map[string]uint64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" {
					out[l.GetValue()] = m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return out
}

// A file removed while a descriptor holds it and created again gets the
// same inode number, so the kernel hands the held inode back, pages and
// all. With the same size and mtime (a Source without times here; events
// pinned to one time after the clock steps back in a real log) only the
// worker's invalidation tells it the pages are old.
func TestRecreatedWhileOpenReadsTheNewContent(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	sameTime := func(p string) {
		src.mu.Lock()
		defer src.mu.Unlock()
		vs := src.versions[p]
		vs[len(vs)-1].fi.Time = src.base
	}
	src.write("f.txt", "AAAA\n", 0o644)
	sameTime("f.txt")
	mt := mountFake(t, src, Options{})
	p := mt.path("current", "f.txt")
	held, err := os.Open(p) // less, tail -f, an editor
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if got := readFile(t, p); got != "AAAA\n" {
		t.Fatalf("read %q", got)
	}
	sync := func(seq uint64) {
		mt.fs.Changed(seq, src.changes("f.txt"))
		if err := mt.fs.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	sync(src.remove("f.txt"))
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat after the removal: %v", err)
	}
	seq := src.write("f.txt", "BBBB\n", 0o644)
	sameTime("f.txt")
	sync(seq)
	if got := readFile(t, p); got != "BBBB\n" {
		t.Errorf("the recreated file reads %q, want %q", got, "BBBB\n")
	}
	held.Close()
	time.Sleep(100 * time.Millisecond) // past the worker's repeat
	if got := readFile(t, p); got != "BBBB\n" {
		t.Errorf("after the old descriptor is closed it reads %q, want %q", got, "BBBB\n")
	}
}

// The mount reads a file's content by the change its tree shows. When the
// Source no longer holds that change (a projection reset and being
// rebuilt), the read fails with EIO: it serves no other change's content.
func TestReadOfAChangeTheSourceNoLongerHoldsFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(v *fakeVersion)
	}{
		{"change gone", func(v *fakeVersion) { v.seq += 100; v.fi.Seq += 100 }},
		{"another change in its place", func(v *fakeVersion) { v.fi.Seq += 100 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newFakeSource()
			src.write("kept.txt", "kept\n", 0o644)
			src.write("gone.txt", "first\n", 0o644)
			mt := mountFake(t, src, Options{})
			src.setLast("gone.txt", tc.edit)
			if _, err := os.ReadFile(mt.path("current", "gone.txt")); !errors.Is(err, syscall.EIO) {
				t.Errorf("read: %v, want EIO", err)
			}
			if !mt.logs.contains("not in the projection") && !mt.logs.contains("does not exist") {
				t.Errorf("no log line for the failed read:\n%s", mt.logs.String())
			}
			if got := readFile(t, mt.path("current", "kept.txt")); got != "kept\n" {
				t.Errorf("kept.txt reads %q", got)
			}
		})
	}
}

// A file's mtime is the time of its last change, whatever the year, the
// Unix epoch itself included.
func TestFileTimesOfAnyYear(t *testing.T) {
	src := newFakeSource()
	want := map[string]time.Time{
		"epoch.txt":  time.Unix(0, 0).UTC(),
		"future.txt": time.Date(2300, 1, 2, 3, 4, 5, 6, time.UTC),
		"past.txt":   time.Date(1600, 1, 2, 3, 4, 5, 6, time.UTC),
		"now.txt":    time.Date(2026, 11, 30, 18, 0, 0, 123456789, time.UTC),
	}
	for p, tm := range want {
		src.write(p, p, 0o644)
		src.setLast(p, func(v *fakeVersion) { v.fi.Time = tm })
	}
	mt := mountFake(t, src, Options{})
	for p, tm := range want {
		st := statT(t, mt.path("current", p))
		if got := time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC(); !got.Equal(tm) {
			t.Errorf("%s: mtime %v, want %v", p, got, tm)
		}
	}
}

// A file the tree cannot hold (its hash names no content) is not shown,
// and a change to one removes the file it replaces, as a new mount would.
func TestFileWithAnInvalidHashIsNotShown(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("full resync %v", full), func(t *testing.T) {
			src := newFakeSource()
			src.write("a.txt", "old\n", 0o644)
			mt := mountFake(t, src, Options{})
			p := mt.path("current", "a.txt")
			readFile(t, p)
			seq := src.write("a.txt", "new content\n", 0o644)
			src.setLast("a.txt", func(v *fakeVersion) { v.fi.Hash = "" })
			var changed []projections.Revision // nil: a full resync
			if !full {
				changed = src.changes("a.txt")
			}
			mt.fs.Changed(seq, changed)
			if err := mt.fs.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("stat after the change: %v, want ENOENT", err)
			}
			if !mt.logs.contains("invalid content hash") {
				t.Errorf("no log line for the skipped file:\n%s", mt.logs.String())
			}
			fresh := mountFake(t, src, Options{})
			if _, err := os.Stat(fresh.path("current", "a.txt")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("stat in a new mount: %v, want ENOENT", err)
			}
		})
	}
}
