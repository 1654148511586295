package projections

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// BenchmarkTree lists a tree of 10,000 files, each written 20 times, at
// head and at points in the past: the query behind GET /v1/tree?at= and
// the mount's history/. The bench's "tree at a point ÷ tree at head" is
// the ratio of the two, end to end.
func BenchmarkTree(b *testing.B) {
	const files, writes = 10000, 20
	s, err := Open(b.TempDir(), pebbledb.DefaultSizes(), slog.New(slog.NewTextHandler(io.Discard, nil)), NewAgents())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	prev, seq := "", uint64(0)
	for w := range writes {
		evs := make([]domain.Event, 0, files)
		for i := range files {
			seq++
			p := fmt.Sprintf("src/pkg%03d/file%05d.go", i%100, i)
			d := domain.Draft{StreamID: "file:" + p, Type: domain.TypeFileWritten,
				Payload: domain.FileWritten{Path: domain.Path(p), Hash: fmt.Sprintf("%064x", seq), Size: 200}}
			e, err := d.Seal(seq, uint64(w+1), t0.Add(time.Duration(seq)*time.Millisecond), domain.Metadata{AgentID: "ag-1"}, prev, domain.ChangeSet{})
			if err != nil {
				b.Fatal(err)
			}
			prev = e.Hash
			evs = append(evs, e)
		}
		if err := s.Apply(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	// As a long-lived projection holds them: in tables, not memtables.
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		at   uint64
	}{{"head", 0}, {"point", seq / 2}, {"early", files + 1}, {"late", seq - 1}, {"near", seq - files/5}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				tree, err := s.Tree(bc.at, "")
				if err != nil || len(tree) != files {
					b.Fatalf("Tree(%d) = %d files, %v", bc.at, len(tree), err)
				}
			}
		})
	}
}
