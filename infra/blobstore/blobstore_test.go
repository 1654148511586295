package blobstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// mapSmall is an in-memory Small store that can list its blobs.
type mapSmall map[string][]byte

func (m mapSmall) Blob(h string) ([]byte, bool, error) { b, ok := m[h]; return b, ok, nil }
func (m mapSmall) BlobSize(h string) (int64, bool, error) {
	b, ok := m[h]
	return int64(len(b)), ok, nil
}
func (m mapSmall) PutBlob(h string, b []byte) error { m[h] = append([]byte(nil), b...); return nil }
func (m mapSmall) EachBlob(fn func(string, []byte) bool) error {
	for h, b := range m {
		if !fn(h, b) {
			break
		}
	}
	return nil
}

func TestDamagedBlobsAreFoundAndNeverServed(t *testing.T) {
	t.Parallel()
	small := mapSmall{}
	s, err := Open(t.TempDir(), small)
	if err != nil {
		t.Fatal(err)
	}
	put := func(content string) string {
		ref, err := s.Put(strings.NewReader(content), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		return ref.Hash
	}
	smallOK, smallBad := put("small and fine"), put("small and damaged")
	bigOK, bigBad := put(strings.Repeat("a", InlineLimit+1)), put(strings.Repeat("b", InlineLimit+1))
	for _, h := range []string{smallOK, smallBad, bigOK, bigBad} {
		b, err := s.Open(h) // opened once intact: a file's check is remembered
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	small[smallBad][0] ^= 1
	if err := os.WriteFile(s.path(bigBad), []byte(strings.Repeat("c", InlineLimit+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(s.path(bigBad), later, later)

	checked, damaged, err := s.VerifyAll()
	if err != nil || checked != 4 || len(damaged) != 2 {
		t.Fatalf("VerifyAll = %d %v %v, want 4 checked, 2 damaged", checked, damaged, err)
	}
	cases := []struct {
		hash    string
		corrupt bool
	}{{smallOK, false}, {smallBad, true}, {bigOK, false}, {bigBad, true}}
	for _, c := range cases {
		b, err := s.Open(c.hash)
		if c.corrupt != errors.Is(err, ErrCorrupt) || (!c.corrupt && err != nil) {
			t.Errorf("Open(%.8s) = %v, want corrupt=%v", c.hash, err, c.corrupt)
		}
		if b != nil {
			b.Close()
		}
	}

	// Putting the same content again repairs a damaged copy, small or
	// a file (the walkthrough's put of the good bytes left it damaged).
	put("small and damaged")
	put(strings.Repeat("b", InlineLimit+1))
	for _, c := range cases {
		b, err := s.Open(c.hash)
		if err != nil {
			t.Errorf("Open(%.8s) after putting it again: %v", c.hash, err)
			continue
		}
		b.Close()
	}
	if checked, damaged, err := s.VerifyAll(); err != nil || checked != 4 || len(damaged) != 0 {
		t.Fatalf("VerifyAll after the repair = %d %v %v, want 4 checked, none damaged", checked, damaged, err)
	}
}

// TestIngestKeepsInlineContentAtItsSize: inline content holds no more
// memory than its bytes (a change set holds every file's until its append
// commits), and empty content is still inline, not a file. Content read
// from memory (a reader that knows its length) and from a stream must come
// out the same, and both must keep to the limit.
func TestIngestKeepsInlineContentAtItsSize(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), mapSmall{})
	if err != nil {
		t.Fatal(err)
	}
	readers := map[string]func(string) io.Reader{
		"in memory": func(c string) io.Reader { return strings.NewReader(c) },
		"streamed":  func(c string) io.Reader { return iotest.HalfReader(strings.NewReader(c)) },
	}
	for name, reader := range readers {
		for _, size := range []int{0, 1, 200, 4096, 5000, InlineLimit} {
			content := strings.Repeat("x", size)
			c, err := s.Ingest(reader(content), 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(content))
			if c.Inline == nil || len(c.Inline) != size || cap(c.Inline) > size+size/8+16 || c.Size != int64(size) {
				t.Errorf("%s, %d bytes: inline %t, len %d, cap %d, size %d; want inline at its size (its allocation size class)", name, size, c.Inline != nil, len(c.Inline), cap(c.Inline), c.Size)
			}
			if c.Hash != hex.EncodeToString(sum[:]) || string(c.Inline) != content {
				t.Errorf("%s, %d bytes: hash %s and %d bytes inline, want the content's", name, size, c.Hash, len(c.Inline))
			}
		}
		big := strings.Repeat("y", InlineLimit+1)
		if c, err := s.Ingest(reader(big), 1<<30); err != nil || c.Inline != nil || c.Size != int64(len(big)) {
			t.Errorf("%s, %d bytes: inline %t, size %d, err %v; want a file", name, len(big), c.Inline != nil, c.Size, err)
		}
		if _, err := s.Ingest(reader("0123456789"), 9); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s, 10 bytes with a limit of 9: err %v, want ErrTooLarge", name, err)
		}
	}
}

// TestParseHash: only 64 lowercase hex digits are a content hash, and
// their bytes encode back to them.
func TestParseHash(t *testing.T) {
	t.Parallel()
	good := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		h  string
		ok bool
	}{
		{good, true},
		{strings.Repeat("f", 64), true},
		{strings.ToUpper(good), false},
		{good[:63], false},
		{good + "0", false},
		{good[:63] + "g", false},
		{"", false},
	} {
		sum, ok := ParseHash(tc.h)
		if ok != tc.ok || ValidHash(tc.h) != tc.ok || ok && hex.EncodeToString(sum[:]) != tc.h {
			t.Errorf("ParseHash(%q) = %x, %t; want ok %t and the same digits", tc.h, sum, ok, tc.ok)
		}
	}
}

// TestMirrorNamesTheWritersDamage: a content the writer's copy of is
// damaged is ErrCorrupt on the replica too (answered as corrupt_content),
// not an unexplained failure; content that arrives altered is as well.
func TestMirrorNamesTheWritersDamage(t *testing.T) {
	t.Parallel()
	good := strings.Repeat("x", InlineLimit+1)
	hash := hashOf([]byte(good))
	for _, c := range []struct {
		name   string
		answer func(w http.ResponseWriter)
	}{
		{"the writer's copy is damaged", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"code":"corrupt_content","message":"blob: stored content does not match its hash"}}`)
		}},
		{"the content arrives altered", func(w http.ResponseWriter) { io.WriteString(w, strings.Repeat("y", InlineLimit+1)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.answer(w) }))
			defer srv.Close()
			local, err := Open(t.TempDir(), mapSmall{})
			if err != nil {
				t.Fatal(err)
			}
			m := &Mirror{Local: local, Client: srv.Client(), URL: srv.URL}
			if _, err := m.Open(t.Context(), hash); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
		})
	}
}
