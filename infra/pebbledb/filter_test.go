package pebbledb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestFiltersAboveTheLastLevel: lookups of missing keys consult a bloom
// filter in the upper levels, and the last level, whose filters Get never
// reads, is written without them.
func TestFiltersAboveTheLastLevel(t *testing.T) {
	t.Parallel()
	db, err := Open(t.TempDir(), DefaultSizes(), Logged, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := func(i int) []byte {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		return Key(BlobPrefix, []byte(hex.EncodeToString(sum[:])))
	}
	// Two tables over the same key range, so that compacting them writes
	// a new table rather than moving one down.
	for half := range 2 {
		b := db.NewBatch()
		for i := half; i < 20000; i += 2 {
			b.Set(key(i), make([]byte, 200), nil)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	filtered := func() int64 {
		before := db.Metrics().Filter
		for i := 100000; i < 101000; i++ {
			if _, ok, err := Get(db, key(i)); ok || err != nil {
				t.Fatalf("missing key %d: found %t, %v", i, ok, err)
			}
		}
		after := db.Metrics().Filter
		return after.Hits + after.Misses - before.Hits - before.Misses
	}
	if n := filtered(); n < 1000 {
		t.Errorf("1,000 lookups of missing keys in L0 consulted a filter %d times", n)
	}
	filters := func(level int) (with, without int) {
		tables, err := db.SSTables(pebble.WithProperties())
		if err != nil {
			t.Fatal(err)
		}
		for _, tbl := range tables[level] {
			if tbl.Properties.FilterPolicyName != "" {
				with++
			} else {
				without++
			}
		}
		return with, without
	}
	if with, without := filters(0); with == 0 || without != 0 {
		t.Errorf("L0: %d tables with a filter, %d without; want all with", with, without)
	}
	if err := db.Compact(context.Background(), []byte(BlobPrefix), PrefixEnd([]byte(BlobPrefix)), false); err != nil {
		t.Fatal(err)
	}
	if with, without := filters(6); with != 0 || without == 0 {
		t.Errorf("L6: %d tables with a filter, %d without; want none with", with, without)
	}
}
