//go:build linux

package fusefs

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPendingReviews(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	const (
		idA = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
		idB = "6fa459ea-ee8a-4ca4-894e-db77e160355e"
		idC = "9c5b94b1-35ad-49bb-b118-8e8fc24abf80"
	)
	jsonA := src.request(idA, "shell", 0)
	jsonB := src.request(idB, "http", 0)
	src.mu.Lock()
	timeA := src.pending[idA].Time
	// Invalid names and a duplicate id are ignored.
	src.extra = []PendingReview{
		{ID: "", JSON: []byte("{}\n")}, {ID: ".", JSON: []byte("{}\n")}, {ID: "..", JSON: []byte("{}\n")},
		{ID: "a/b", JSON: []byte("{}\n")}, {ID: "nul\x00", JSON: []byte("{}\n")},
		{ID: strings.Repeat("x", 251), JSON: []byte("{}\n")},
		{ID: idA, JSON: []byte("{\"duplicate\":true}\n")},
	}
	src.mu.Unlock()
	mt := mountFake(t, src, Options{})
	pend := mt.path("pending")
	nameA, nameB, nameC := idA+".json", idB+".json", idC+".json"
	fileA, fileB, fileC := filepath.Join(pend, nameA), filepath.Join(pend, nameB), filepath.Join(pend, nameC)

	// Listing, content, metadata.
	if got := lines(run(t, "ls", pend)); !slices.Equal(got, []string{nameA, nameB}) {
		t.Errorf("ls pending = %v", got)
	}
	ll := run(t, "ls", "-la", pend) // READDIRPLUS, then a stat of each entry
	for _, want := range []string{nameA, nameB} {
		i := slices.IndexFunc(lines(ll), func(l string) bool { return strings.HasSuffix(l, " "+want) })
		if i < 0 || !strings.HasPrefix(lines(ll)[i], "-r--r--r-- 1 ") {
			t.Errorf("ls -la pending = %q, lacks -r--r--r-- 1 ... %s", ll, want)
		}
	}
	if got := run(t, "cat", fileA); got != string(jsonA) {
		t.Errorf("cat %s = %q, want %q", nameA, got, jsonA)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(readFile(t, fileB)), &doc); err != nil || doc["review_id"] != idB {
		t.Errorf("%s: %v, %v", nameB, doc, err)
	}
	st := statT(t, fileA)
	if st.Mode != syscall.S_IFREG|0o444 || st.Size != int64(len(jsonA)) || st.Nlink != 1 {
		t.Errorf("%s: mode %o size %d nlink %d", nameA, st.Mode, st.Size, st.Nlink)
	}
	if got := time.Unix(st.Mtim.Unix()); !got.Equal(timeA) {
		t.Errorf("%s mtime %v, want %v", nameA, got, timeA)
	}
	if st.Ino != docIno(pendingNS, idA, jsonA) || statT(t, fileA).Ino != st.Ino {
		t.Errorf("%s ino %d not the stable derived one", nameA, st.Ino)
	}
	if lsi := run(t, "ls", "-i", pend); !strings.Contains(lsi, strconv.FormatUint(st.Ino, 10)+" "+nameA) {
		t.Errorf("ls -i = %q, want ino %d", lsi, st.Ino)
	}
	if dst := statT(t, pend); dst.Mode != syscall.S_IFDIR|0o555 || dst.Nlink != 2 || dst.Ino != inoPending {
		t.Errorf("pending/: mode %o nlink %d ino %d", dst.Mode, dst.Nlink, dst.Ino)
	}
	for _, name := range []string{"nope.json", idA, idA + ".JSON", ".json", "..json", "a"} {
		if _, err := os.Stat(filepath.Join(pend, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pending/%q: %v, want ENOENT", name, err)
		}
	}
	// Prime whatever the kernel would cache.
	for range 3 {
		readFile(t, fileA)
		readFile(t, fileB)
		statT(t, fileA)
		os.ReadDir(pend)
	}

	// A descriptor opened now keeps reading what it opened.
	fhB, err := os.Open(fileB)
	if err != nil {
		t.Fatal(err)
	}
	defer fhB.Close()
	// A listing taken before the changes.
	before, err := os.ReadDir(pend)
	if err != nil || len(before) != 2 || before[0].Name() != nameA {
		t.Fatalf("ReadDir = %v, %v", before, err)
	}

	src.mu.Lock()
	src.extra = src.extra[:len(src.extra)-1] // the duplicate of A
	src.mu.Unlock()

	// C is requested, B gets a vote short of its approvals, A is decided;
	// then the projection calls Changed with no paths.
	jsonC := src.request(idC, "db", 0)
	jsonB2 := src.request(idB, "http", 1)
	seq := src.decide(idA)
	mt.fs.Changed(seq, src.changes())

	// Opening a name from the earlier listing: ENOENT once the kernel looks
	// it up again, within a clock tick or two (see pending.go).
	took := eventually(t, "open of a decided review listed before is ENOENT", func() bool {
		_, err := os.Open(filepath.Join(pend, before[0].Name()))
		return errors.Is(err, os.ErrNotExist)
	})
	if took > 500*time.Millisecond {
		t.Errorf("took %v: the decided review's name was served from a cache", took)
	}
	took = eventually(t, "ls and cat follow the pending set", func() bool {
		got := lines(run(t, "ls", pend))
		c, errC := os.ReadFile(fileC)
		b, errB := os.ReadFile(fileB)
		return slices.Equal(got, []string{nameB, nameC}) &&
			errC == nil && string(c) == string(jsonC) && errB == nil && string(b) == string(jsonB2)
	})
	t.Logf("pending/ reflected the changes %v after Changed returned", took)
	if took > 500*time.Millisecond {
		t.Errorf("took %v: pending/ was served from a cache", took)
	}
	// A name is looked up again after a clock tick or two (see pending.go).
	eventually(t, "read of decided "+nameA+" is ENOENT", func() bool {
		_, err := os.ReadFile(fileA)
		return errors.Is(err, os.ErrNotExist)
	})
	eventually(t, "stat of decided "+nameA+" is ENOENT, "+nameB+" has its new size", func() bool {
		_, errA := os.Stat(fileA)
		stB, errB := os.Stat(fileB)
		return errors.Is(errA, os.ErrNotExist) && errB == nil && stB.Size() == int64(len(jsonB2))
	})
	if got, err := io.ReadAll(fhB); err != nil || string(got) != string(jsonB) {
		t.Errorf("descriptor opened before the vote read %q, %v; want %q", got, err, jsonB)
	}

	// B is decided while open: the name goes, the descriptor stays.
	mt.fs.Changed(src.decide(idB), src.changes())
	eventually(t, nameB+" disappears", func() bool {
		_, err := os.Stat(fileB)
		return errors.Is(err, os.ErrNotExist) && slices.Equal(lines(run(t, "ls", pend)), []string{nameC})
	})
	if got, err := fhB.ReadAt(make([]byte, len(jsonB)), 0); err != nil || got != len(jsonB) {
		t.Errorf("read of an open, decided review: %d, %v", got, err)
	}
	eventually(t, "fstat of an open, decided review: nlink 0", func() bool {
		fi, err := fhB.Stat()
		return err == nil && fi.Sys().(*syscall.Stat_t).Nlink == 0 && fi.Size() == int64(len(jsonB))
	})
	// An id can be looked up again once it comes back.
	mt.fs.Changed(src.decide(idC), src.changes())
	eventually(t, "pending/ empty", func() bool {
		ents, err := os.ReadDir(pend)
		return err == nil && len(ents) == 0
	})
	jsonA2 := src.request(idA, "shell", 0)
	if got := readFile(t, fileA); got != string(jsonA2) {
		t.Errorf("%s requested again = %q", nameA, got)
	}
}

func TestPendingReadOnly(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	const id = "0f8fad5b-d9cb-469f-a165-70867728950e"
	src.request(id, "shell", 0)
	mt := mountFake(t, src, Options{})
	file := mt.path("pending", id+".json")
	want := readFile(t, file)
	checks := map[string]error{
		"write":    os.WriteFile(file, []byte("x"), 0o644),
		"append":   appendTo(file),
		"create":   os.WriteFile(mt.path("pending/new.json"), []byte("{}\n"), 0o644),
		"mkdir":    os.Mkdir(mt.path("pending/dir"), 0o755),
		"rename":   os.Rename(file, mt.path("pending/other.json")),
		"remove":   os.Remove(file),
		"rmdir":    os.Remove(mt.path("pending")),
		"chmod":    os.Chmod(file, 0o644),
		"truncate": os.Truncate(file, 0),
		"symlink":  os.Symlink(id+".json", mt.path("pending/link.json")),
		"link":     os.Link(file, mt.path("pending/hard.json")),
		"chtimes":  os.Chtimes(file, time.Now(), time.Now()),
	}
	for what, err := range checks {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: err = %v, want EROFS", what, err)
		}
	}
	if got := readFile(t, file); got != want {
		t.Errorf("content changed: %q", got)
	}
}

func appendTo(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write([]byte("x"))
	return err
}

// A failing Source is EIO for listings and lookups; a file already open
// keeps reading (the kernel asks for attributes before reads, and they come
// from the version opened).
func TestPendingSourceErrorIsEIO(t *testing.T) {
	src := newFakeSource()
	seedProject(src)
	const id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	doc := src.request(id, "shell", 0)
	mt := mountFake(t, src, Options{})
	file := mt.path("pending", id+".json")
	readFile(t, file)
	held, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	src.setPendingFail(true)
	if _, err := os.ReadDir(mt.path("pending")); !errors.Is(err, syscall.EIO) {
		t.Errorf("ls with a failing Source: %v, want EIO", err)
	}
	// Once the kernel looks the name up again (a clock tick or two).
	eventually(t, "read with a failing Source is EIO", func() bool {
		_, err := os.ReadFile(file)
		return errors.Is(err, syscall.EIO)
	})
	buf := make([]byte, 4096)
	if n, err := held.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Errorf("read of the open file while the Source fails: %v", err)
	} else if string(buf[:n]) != string(doc) {
		t.Errorf("read %q while the Source fails, want %q", buf[:n], doc)
	}
	if fi, err := held.Stat(); err != nil || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
		t.Errorf("fstat while the Source fails: %v, %v; want nlink 1 as last seen", fi, err)
	}
	if !mt.logs.contains("source error") || !mt.logs.contains("review store unavailable") {
		t.Errorf("no log line for the failure:\n%s", mt.logs.String())
	}
	src.setPendingFail(false)
	if got := readFile(t, file); got != string(doc) {
		t.Errorf("after recovery: %q", got)
	}
}
