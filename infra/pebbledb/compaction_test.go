package pebbledb

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// TestDerivedCompactsL0Later: Pebble compacts L0 once its sublevels reach
// half the L0 compaction threshold: 2 in a Logged database (Pebble's
// default of 4), DerivedL0CompactionThreshold/2 in a Derived one.
func TestDerivedCompactsL0Later(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		durability Durability
		flushes    int
		compacts   bool
	}{
		{"logged, 2 sublevels", Logged, 2, true},
		{"derived, 3 sublevels", Derived, DerivedL0CompactionThreshold/2 - 1, false},
		{"derived, 4 sublevels", Derived, DerivedL0CompactionThreshold / 2, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db, err := Open(t.TempDir(), DefaultSizes(), c.durability, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// Each flush writes the same keys, so each table is a sublevel
			// of its own.
			for f := range c.flushes {
				b := db.NewBatch()
				for i := range 100 {
					b.Set(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", f), nil)
				}
				if err := b.Commit(pebble.NoSync); err != nil {
					t.Fatal(err)
				}
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			// Pebble picks a compaction as a flush completes: wait for one
			// to finish, or long enough for one that is not coming.
			wait := 500 * time.Millisecond
			if c.compacts {
				wait = 10 * time.Second
			}
			for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if m := db.Metrics(); m.Compact.Count > 0 && m.Compact.NumInProgress == 0 {
					break
				}
			}
			m := db.Metrics()
			if compacted := m.Compact.Count > 0; compacted != c.compacts {
				t.Errorf("%d flushes: compacted %t (%d compactions, L0 sublevels %d), want %t",
					c.flushes, compacted, m.Compact.Count, m.Levels[0].Sublevels, c.compacts)
			}
		})
	}
}
