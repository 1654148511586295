package pebbledb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
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

// TestOpenInUse: a database another process holds is waited for (an `up`
// started at once after a killed one failed while the old processes were
// still stopping), then refused with a message saying so (a killed `up`
// left its writer running, and the next start said only "resource
// temporarily unavailable").
func TestOpenInUse(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if dir := os.Getenv("LIGHTHOUSE_TEST_HOLD_DB"); dir != "" {
		// The other process: hold the database until stdin closes.
		db, err := Open(dir, DefaultSizes(), Logged, log)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("open")
		io.Copy(io.Discard, os.Stdin)
		db.Close()
		return
	}
	dir := t.TempDir()
	holder := exec.Command(os.Args[0], "-test.run=^TestOpenInUse$")
	holder.Env = append(os.Environ(), "LIGHTHOUSE_TEST_HOLD_DB="+dir)
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "open\n" {
		t.Fatalf("the holding process: %q, %v", line, err)
	}
	// Held past InUseWait: refused, saying why.
	start := time.Now()
	if db, err := Open(dir, DefaultSizes(), Logged, log); err == nil {
		db.Close()
		t.Fatal("Open of a database another process holds succeeded")
	} else if !strings.Contains(err.Error(), "another process is using it") || time.Since(start) < InUseWait {
		t.Fatalf("Open of a database another process holds: %v after %s", err, time.Since(start))
	}
	// Closed within InUseWait (a stopped `up`'s process still closing it):
	// Open waits for it and succeeds.
	time.AfterFunc(time.Second, func() { stdin.Close() })
	db, err := Open(dir, DefaultSizes(), Logged, log)
	if err != nil {
		t.Fatalf("Open of a database closed a second later: %v", err)
	}
	db.Close()
}
