package blobstore

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// BenchmarkWarmSmallBlobs times what a warm search or diff asks of a
// replica's store for each of 10,000 small contents in a real Pebble (all
// in its block cache): Stat, as Mirror.Prefetch asks whether a content is
// kept, and Open with a read of the content.
func BenchmarkWarmSmallBlobs(b *testing.B) {
	dir := b.TempDir()
	db, err := pebbledb.Open(dir+"/db", pebbledb.DefaultSizes(), pebbledb.Derived, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := Open(dir+"/blobs", pebbledb.Blobs{DB: db, Write: pebble.NoSync})
	if err != nil {
		b.Fatal(err)
	}
	hashes := make([]string, 10_000)
	for i := range hashes {
		ref, err := s.Put(strings.NewReader(fmt.Sprintf("%05d%s", i, strings.Repeat("x", 3800))), InlineLimit)
		if err != nil {
			b.Fatal(err)
		}
		hashes[i] = ref.Hash
	}
	if err := db.Flush(); err != nil {
		b.Fatal(err)
	}
	b.Run("stat", func(b *testing.B) {
		for b.Loop() {
			for _, h := range hashes {
				if _, err := s.Stat(h); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		buf := make([]byte, 4096)
		for b.Loop() {
			for _, h := range hashes {
				f, err := s.Open(h)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(f, buf[:f.Size()]); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		}
	})
}
