package pebbledb

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestBlobs: a blob reads back as stored, in the memtable and once
// flushed, and BlobSize agrees with it without a copy; an absent blob is
// not found by either, and empty content is found with size 0. Closing
// the database checks that no lookup left an iterator open.
func TestBlobs(t *testing.T) {
	t.Parallel()
	db, err := Open(t.TempDir(), DefaultSizes(), Derived, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b := Blobs{DB: db, Write: pebble.NoSync}
	stored := map[string][]byte{
		"empty": {},
		"small": []byte("small content"),
		"large": []byte(strings.Repeat("4 KiB", 1<<10)),
	}
	for h, data := range stored {
		if err := b.PutBlob(h, data); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		for _, h := range []string{"empty", "small", "large", "absent"} {
			want, stored := stored[h]
			data, ok, err := b.Blob(h)
			if err != nil || ok != stored || !bytes.Equal(data, want) {
				t.Errorf("%s: Blob(%s) = %d bytes, %v, %v; want %d bytes, %v", when, h, len(data), ok, err, len(want), stored)
			}
			size, ok, err := b.BlobSize(h)
			if err != nil || ok != stored || size != int64(len(want)) {
				t.Errorf("%s: BlobSize(%s) = %d, %v, %v; want %d, %v", when, h, size, ok, err, len(want), stored)
			}
		}
	}
	check("in the memtable")
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	check("flushed")
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}
