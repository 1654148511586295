package projections

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// BenchmarkCatchUpPage is the reader's work per backfill page of file
// writes: decode the page as it comes from the writer (as infra/client
// does, line by line), check the hash chain, apply it. Profile it with
// -cpuprofile. "new files" writes a new path with every event (the bench's
// catch-up scenario); "rewrites" writes 10,001 paths in turn (its time
// travel log), so a page's cur/ and rev/ keys fall among the same paths'
// older ones in the memtable. It reports the bytes Pebble flushed and
// compacted an event, after waiting for its compactions to finish.
func BenchmarkCatchUpPage(b *testing.B) {
	for _, c := range []struct {
		name  string
		files uint64 // distinct paths, 0: one per event
	}{{"new files", 0}, {"rewrites", 10001}} {
		b.Run(c.name, func(b *testing.B) { benchCatchUpPage(b, c.files) })
	}
}

func benchCatchUpPage(b *testing.B, files uint64) {
	const page = 5000
	s, err := Open(b.TempDir(), pebbledb.DefaultSizes(), slog.New(slog.NewTextHandler(io.Discard, nil)), NewAgents())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	prev, seq := "", uint64(0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		evs := make([]domain.Event, 0, page)
		for range page {
			seq++
			file, version := seq, uint64(1)
			if files > 0 {
				file, version = seq%files, 1+seq/files
			}
			p := fmt.Sprintf("src/pkg%03d/file%06d.go", file%100, file)
			d := domain.Draft{StreamID: "file:" + p, Type: domain.TypeFileWritten,
				Payload: domain.FileWritten{Path: domain.Path(p), Hash: fmt.Sprintf("%064x", seq), Size: 200}}
			e, err := d.Seal(seq, version, t0.Add(time.Duration(seq)*time.Millisecond), domain.Metadata{AgentID: "ag-1", SessionID: "s-1"}, prev, domain.ChangeSet{})
			if err != nil {
				b.Fatal(err)
			}
			prev = e.Hash
			evs = append(evs, e)
		}
		// The page as GET /v1/events sends it: one stored event a line.
		var lines [][]byte
		for _, e := range evs {
			raw, err := e.Encode()
			if err != nil {
				b.Fatal(err)
			}
			lines = append(lines, raw)
		}
		b.StartTimer()
		got := make([]domain.Event, 0, page)
		for _, l := range lines {
			e, err := domain.DecodeEvent(bytes.Clone(l))
			if err != nil {
				b.Fatal(err)
			}
			got = append(got, e)
		}
		pos, hash := s.Position()
		for _, e := range got {
			if err := e.Verify(hash); err != nil || e.Seq != pos+1 {
				b.Fatalf("chain: %v", err)
			}
			pos, hash = e.Seq, e.Hash
		}
		if err := s.Apply(context.Background(), got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*page)/b.Elapsed().Seconds(), "events/s")
	// What the pages cost Pebble in writes, once its compactions are done:
	// a replica's flushes and compactions are a third of its CPU.
	b.StopTimer()
	for quiet := 0; quiet < 5; time.Sleep(100 * time.Millisecond) {
		if m := s.db.Metrics(); m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	var flushed, compacted uint64
	for _, l := range s.db.Metrics().Levels {
		flushed += l.TableBytesFlushed
		compacted += l.TableBytesCompacted
	}
	b.ReportMetric(float64(flushed)/float64(b.N*page), "flushed-B/event")
	b.ReportMetric(float64(compacted)/float64(b.N*page), "compacted-B/event")
}
