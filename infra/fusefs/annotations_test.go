//go:build linux

package fusefs

import (
	"os"
	"slices"
	"strconv"
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
