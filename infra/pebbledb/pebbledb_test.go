package pebbledb

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"testing"
)

// TestSizes: the memtable is half the cache, at most 32 MiB, and a cache
// outside the bounds is refused before anything is created.
func TestSizes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		cacheMiB     int
		wantMemTable uint64
		wantErr      bool
	}{
		{cacheMiB: DefaultCacheMiB, wantMemTable: 32 << 20},
		{cacheMiB: 32, wantMemTable: 16 << 20},
		{cacheMiB: MinCacheMiB, wantMemTable: MinCacheMiB << 19},
		{cacheMiB: 1024, wantMemTable: 32 << 20},
		{cacheMiB: MaxCacheMiB, wantMemTable: 32 << 20},
		{cacheMiB: MaxCacheMiB + 1, wantErr: true},
		{cacheMiB: 1 << 43, wantErr: true}, // would wrap to a negative byte count
		{cacheMiB: 1 << 44, wantErr: true}, // would wrap to 0, Pebble's default
		{cacheMiB: MinCacheMiB - 1, wantErr: true},
		{cacheMiB: 0, wantErr: true},
		{cacheMiB: -5, wantErr: true},
	}
	for _, c := range cases {
		cache, memTable, err := Sizes{CacheMiB: c.cacheMiB}.options()
		if c.wantErr {
			if !errors.Is(err, ErrSizes) {
				t.Errorf("%d MiB: err = %v, want ErrSizes", c.cacheMiB, err)
			}
			continue
		}
		if err != nil || cache != int64(c.cacheMiB)<<20 || memTable != c.wantMemTable {
			t.Errorf("%d MiB: cache %d, memtable %d, %v; want memtable %d", c.cacheMiB, cache, memTable, err, c.wantMemTable)
		}
	}
	dir := t.TempDir() + "/db"
	if _, err := Open(dir, Sizes{CacheMiB: 1}, Logged, slog.New(slog.DiscardHandler)); !errors.Is(err, ErrSizes) {
		t.Fatalf("Open with a 1 MiB cache: %v, want ErrSizes", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused Open left %s behind: %v", dir, err)
	}
}
