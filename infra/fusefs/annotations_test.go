//go:build linux

package fusefs

import (
	"io"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

func TestAnnotationsTree(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	head := src.Head()
	src.mu.Lock()
	src.notes = map[uint64]map[string][]byte{
		1:    {"src/a.go": []byte(`{"old":true}` + "\n")},
		head: {"src/a.go": []byte(`{"new":true}` + "\n"), "README.md": []byte(`{"readme":1}` + "\n")},
	}
	src.mu.Unlock()
	mt := mountFake(t, src, Options{})

	if got := lines(run(t, "ls", mt.path("annotations"))); !slices.Equal(got, []string{"README.md.json", "src"}) {
		t.Errorf("ls annotations = %v", got)
	}
	if got := lines(run(t, "ls", mt.path("annotations", "src"))); !slices.Equal(got, []string{"a.go.json"}) {
		t.Errorf("ls annotations/src = %v", got)
	}
	if got := readFile(t, mt.path("annotations", "src", "a.go.json")); got != `{"new":true}`+"\n" {
		t.Errorf("annotations/src/a.go.json = %q", got)
	}
	past := mt.path("annotations-history", "@1", "src", "a.go.json")
	if got := readFile(t, past); got != `{"old":true}`+"\n" {
		t.Errorf("%s = %q", past, got)
	}
	if _, err := os.Stat(mt.path("annotations-history", "@1", "README.md.json")); err == nil {
		t.Errorf("README.md.json exists at @1, before it was annotated")
	}
	if _, err := os.Stat(mt.path("annotations-history", "@"+strconv.FormatUint(head+1, 10))); err == nil {
		t.Errorf("a point after the head exists")
	}
	// A new annotation shows at once: nothing is cached.
	src.mu.Lock()
	src.notes[head]["src/b.go"] = []byte("{}\n")
	src.mu.Unlock()
	if got := lines(run(t, "ls", mt.path("annotations", "src"))); !slices.Equal(got, []string{"a.go.json", "b.go.json"}) {
		t.Errorf("ls annotations/src after a new annotation = %v", got)
	}
}

// A document that changes keeps its size here: only its inode (docNode)
// tells the kernel the cached bytes are old. A descriptor opened before
// keeps reading the version it opened.
func TestAnnotationChangeOfTheSameSize(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	head := src.Head()
	before, after := `{"note":"old"}`+"\n", `{"note":"new"}`+"\n"
	src.mu.Lock()
	src.notes = map[uint64]map[string][]byte{head: {"a.go": []byte(before)}}
	src.mu.Unlock()
	mt := mountFake(t, src, Options{})
	p := mt.path("annotations", "a.go.json")
	for range 2 {
		if got := readFile(t, p); got != before {
			t.Fatalf("read %q, want %q", got, before)
		}
	}
	old, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	src.mu.Lock()
	src.notes[head]["a.go"] = []byte(after)
	src.mu.Unlock()
	eventually(t, "the new version is read", func() bool {
		b, err := os.ReadFile(p)
		return err == nil && string(b) == after
	})
	if b, err := io.ReadAll(old); err != nil || string(b) != before {
		t.Errorf("descriptor opened before the change read %q, %v; want %q", b, err, before)
	}
	if fi, err := old.Stat(); err != nil || fi.Sys().(*syscall.Stat_t).Nlink != 0 {
		t.Errorf("fstat of the old version: %v, %v; want nlink 0", fi, err)
	}
}
