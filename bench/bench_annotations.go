package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// The annotations scenario (issue 14): what following anchors costs a
// replica, in process. The writer does no extra work for annotations on
// file writes, so only the projection's apply is timed.

func benchScNotes(variant string) string {
	return "annotations in-process: projection apply of one file write, " + variant
}

// benchNoteLines is the size of the annotated file, in lines.
const benchNoteLines = 300

// benchNotesLog builds a chained log in memory, with the contents its file
// events name.
type benchNotesLog struct {
	seq      uint64
	prev     string
	versions map[string]uint64
	content  map[string][]byte
}

func (l *benchNotesLog) event(d domain.Draft) (domain.Event, error) {
	l.seq++
	l.versions[d.StreamID]++
	e, err := d.Seal(l.seq, l.versions[d.StreamID], time.Now(), domain.Metadata{AgentID: "bench"}, l.prev, domain.ChangeSet{})
	l.prev = e.Hash
	return e, err
}

// write returns the event writing data to path, and the content's hash.
func (l *benchNotesLog) write(path string, data []byte) (domain.Event, string, error) {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	l.content[h] = data
	e, err := l.event(domain.Draft{StreamID: "file:" + path, Type: domain.TypeFileWritten, SchemaVersion: 1,
		Payload: domain.FileWritten{Path: domain.Path(path), Hash: h, Size: int64(len(data)), Mode: 0o644}})
	return e, h, err
}

// benchAnnotations times Store.Apply of single file writes: to files
// without annotations when none exist (before), the same when 100 other
// files are annotated, and to a 300-line file with 10 annotations, each
// write inserting a line at its top (every anchor moves: a line diff per
// write), the next removing it again.
func (b *benchRun) benchAnnotations(ctx context.Context) error {
	n := 2000
	if b.opts.Quick {
		n = 500
	}
	b.progress("annotations in-process: %d applies per variant", n)
	lines := make([]string, benchNoteLines)
	for i := range lines {
		lines[i] = fmt.Sprintf("\tx%d := compute(%d) // line %d\n", i, i, i)
	}
	variant := func(name string, annotatedFiles int, target func(i int) string, content func(i int) []byte) (benchLatencies, error) {
		dir, err := os.MkdirTemp(b.dir, "annotations-")
		if err != nil {
			return benchLatencies{}, err
		}
		defer os.RemoveAll(dir)
		s, err := projections.Open(dir, pebbledb.DefaultSizes(), slog.New(slog.NewTextHandler(io.Discard, nil)), projections.NewAgents())
		if err != nil {
			return benchLatencies{}, err
		}
		defer s.Close()
		log := &benchNotesLog{versions: map[string]uint64{}, content: map[string][]byte{}}
		s.UseContent(func(_ context.Context, hash string) ([]byte, error) {
			if c, ok := log.content[hash]; ok {
				return c, nil
			}
			return nil, fmt.Errorf("no content %s", hash)
		})
		apply := func(e domain.Event, err error) error {
			if err != nil {
				return err
			}
			return s.Apply(ctx, []domain.Event{e})
		}
		// Set up: the annotated files, each with its notes.
		for f := range annotatedFiles {
			path := fmt.Sprintf("src/noted/f%03d.go", f)
			if f == 0 && target(0) == "src/hot.go" {
				path = "src/hot.go"
			}
			e, hash, err := log.write(path, []byte(strings.Join(lines, "")))
			if err := apply(e, err); err != nil {
				return benchLatencies{}, err
			}
			notes := 1
			if path == "src/hot.go" {
				notes = 10
			}
			for k := range notes {
				start := 20 + 25*k
				if err := apply(log.event(domain.Draft{StreamID: domain.AnnotationStreamID(fmt.Sprintf("%s-%d", path, k)), Type: domain.TypeAnnotationCreated, SchemaVersion: 1,
					Payload: domain.AnnotationCreated{AnnotationID: fmt.Sprintf("%s-%d", path, k), Path: domain.Path(path), LineStart: start, LineEnd: start + 4,
						Kind: "note", Body: "bench", Hash: hash}})); err != nil {
					return benchLatencies{}, err
				}
			}
		}
		lat := make([]time.Duration, 0, n)
		for i := range n + 100 {
			if i%256 == 0 && ctx.Err() != nil {
				return benchLatencies{}, ctx.Err()
			}
			e, _, err := log.write(target(i), content(i))
			if err != nil {
				return benchLatencies{}, err
			}
			t := time.Now()
			if err := s.Apply(ctx, []domain.Event{e}); err != nil {
				return benchLatencies{}, fmt.Errorf("%s: %w", name, err)
			}
			if i >= 100 { // after a warm-up
				lat = append(lat, time.Since(t))
			}
		}
		if name == "hot" {
			got := s.Annotations().List(0, "src/hot.go")
			if len(got) != 10 || got[0].LineStart != 20+(n+100)%2 || got[0].Orphaned {
				return benchLatencies{}, fmt.Errorf("the hot file's first note is not where the inserts put it: %+v", got[:min(1, len(got))])
			}
		}
		return benchSummarise(lat), nil
	}
	plain := func(i int) string { return fmt.Sprintf("src/pkg%d/f%d.go", i%97, i) }
	small := func(i int) []byte { return []byte(fmt.Sprintf("package x // %d\n", i)) }
	before, err := variant("before", 0, plain, small)
	if err != nil {
		return err
	}
	others, err := variant("others", 100, plain, small)
	if err != nil {
		return err
	}
	base := strings.Join(lines, "")
	hot, err := variant("hot", 1, func(int) string { return "src/hot.go" }, func(i int) []byte {
		if i%2 == 0 {
			return []byte("// inserted\n" + base)
		}
		return []byte(base) // and removed again: the file keeps its size
	})
	if err != nil {
		return err
	}
	for _, v := range []struct {
		name string
		l    benchLatencies
	}{
		{"no annotations anywhere (before)", before},
		{"to unannotated files, 100 other files annotated", others},
		{fmt.Sprintf("to a %d-line file with 10 annotations, a line inserted at its top or removed again", benchNoteLines), hot},
	} {
		sc := benchScNotes(v.name)
		b.rep.add(sc, "p50", us(v.l.P50), "µs")
		b.rep.add(sc, "p99", us(v.l.P99), "µs")
		b.rep.add(sc, "applies", float64(v.l.N), "samples")
	}
	b.rep.addRatio(benchScNotes("to unannotated files, 100 other files annotated"), "p50 ÷ p50 before", us(others.P50), us(before.P50))
	return nil
}
