package pebbledb

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/lighthouse-ai/lighthouse/infra/testchild"
)

// crashChild names the variable that makes the test binary the process
// TestDurabilityAfterKill kills: its value is "<dir> <durability>".
const crashChild = "LIGHTHOUSE_PEBBLEDB_CRASH_CHILD"

// TestDurabilityAfterKill kills a process with SIGKILL after it committed
// ten keys, flushing after the fourth. A Logged database keeps all ten; a
// Derived one keeps the flushed prefix and nothing after it, and refuses a
// synced commit.
func TestDurabilityAfterKill(t *testing.T) {
	if spec := os.Getenv(crashChild); spec != "" {
		crashChildMain(spec)
		return
	}
	t.Parallel()
	cases := []struct {
		name       string
		durability Durability
		wantKeys   int
		wantSync   bool // a commit with pebble.Sync succeeds
	}{
		{"logged", Logged, 10, true},
		{"derived", Derived, 4, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cmd, _, line := testchild.Start(context.Background(), t, "TestDurabilityAfterKill", fmt.Sprintf("%s=%s %d", crashChild, dir, c.durability))
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if want := fmt.Sprintf("committed, sync %t\n", c.wantSync); line != want {
				t.Fatalf("child: %q, want %q", line, want)
			}

			db, err := Open(dir, DefaultSizes(), c.durability, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i := range 10 {
				_, ok, err := Get(db, []byte("k"+strconv.Itoa(i)))
				if err != nil {
					t.Fatal(err)
				}
				if want := i < c.wantKeys; ok != want {
					t.Errorf("after the kill, key %d present: %t, want %t", i, ok, want)
				}
			}
		})
	}
}

// crashChildMain is the killed process: it opens the database, commits k0
// to k3, flushes, commits k4 to k9, tries a synced commit, reports and
// waits for its SIGKILL.
func crashChildMain(spec string) {
	var dir string
	var durability Durability
	if _, err := fmt.Sscanf(spec, "%s %d", &dir, &durability); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	db, err := Open(dir, DefaultSizes(), durability, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	for i := range 10 {
		if err == nil {
			err = db.Set([]byte("k"+strconv.Itoa(i)), []byte("v"), pebble.NoSync)
		}
		if err == nil && i == 3 {
			err = db.Flush()
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	synced := db.Set([]byte("synced"), []byte("v"), pebble.Sync)
	fmt.Printf("committed, sync %t\n", synced == nil)
	time.Sleep(time.Minute)
	os.Exit(3)
}
