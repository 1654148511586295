package pebbledb

import (
	"io"
	"log/slog"
	"testing"
)

// TestOpenTunesTheAllocator: the C library accepts the allocator settings
// Open applies (on glibc; elsewhere there is nothing to set), and a
// database opened after them works.
func TestOpenTunesTheAllocator(t *testing.T) {
	t.Parallel()
	if err := tuneMalloc(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.TempDir(), DefaultSizes(), Logged, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Set([]byte("k"), make([]byte, 1<<20), nil); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := Get(db, []byte("k")); err != nil || !ok || len(v) != 1<<20 {
		t.Fatalf("Get = %d bytes, %t, %v", len(v), ok, err)
	}
}
