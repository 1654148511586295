package projections

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

func annotate(id, path string, start, end int, hash string) domain.Draft {
	return domain.Draft{StreamID: domain.AnnotationStreamID(id), Type: domain.TypeAnnotationCreated, Payload: domain.AnnotationCreated{
		AnnotationID: id, Path: domain.Path(path), LineStart: start, LineEnd: end, Kind: "note", Body: "b", Hash: hash}}
}

func move(from, to, hash string) []domain.Draft {
	return []domain.Draft{
		{StreamID: "file:" + from, Type: domain.TypeFileDeleted, Payload: domain.FileDeleted{Path: domain.Path(from), MovedTo: domain.Path(to)}},
		{StreamID: "file:" + to, Type: domain.TypeFileMoved, Payload: domain.FileMoved{From: domain.Path(from), To: domain.Path(to), Hash: hash, Size: 1}},
	}
}

func TestAnnotationsFollowFiles(t *testing.T) {
	t.Parallel()
	content := map[string]string{
		"v1": "a\nb\nc\nd\n",
		"v2": "new\na\nb\nc\nd\n",       // inserted above
		"v3": "new\na\nb\nc\nD\nmore\n", // edited below
		"v4": "new\nD\nmore\n",          // the lines deleted
	}
	dir := t.TempDir()
	open := func() *Store {
		s, err := Open(dir, pebbledb.DefaultSizes(), slog.New(slog.NewTextHandler(io.Discard, nil)), NewAgents())
		if err != nil {
			t.Fatal(err)
		}
		s.UseContent(func(_ context.Context, hash string) ([]byte, error) {
			c, ok := content[hash]
			if !ok {
				return nil, fmt.Errorf("no content %s", hash)
			}
			return []byte(c), nil
		})
		return s
	}
	s := open()
	drafts := []domain.Draft{w("f", "v1"), annotate("n1", "f", 2, 3, "v1"), w("f", "v2"), w("f", "v3")}
	drafts = append(drafts, move("f", "g", "v3")...)                                 // 5, 6
	drafts = append(drafts, w("g", "v4"), annotate("n2", "g", 1, 1, "v4"), del("g")) // 7, 8, 9
	drafts = append(drafts, w("g", "v1"))                                            // 10: another file at g
	drafts = append(drafts, move("g", "h", "v1")...)                                 // 11, 12
	evs := chain(t, drafts...)
	// Apply in two batches, the second starting mid-way.
	if err := s.Apply(context.Background(), evs[:3]); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(context.Background(), evs[3:]); err != nil {
		t.Fatal(err)
	}
	type pos struct {
		path       string
		start, end int
		orphaned   bool
	}
	at := func(s *Store, seq uint64) []pos {
		var out []pos
		for _, a := range s.Annotations().List(seq, "") {
			out = append(out, pos{a.Path, a.LineStart, a.LineEnd, a.Orphaned})
		}
		return out
	}
	cases := []struct {
		seq  uint64
		want []pos
	}{
		{1, nil},
		{2, []pos{{"f", 2, 3, false}}},
		{3, []pos{{"f", 3, 4, false}}}, // inserted above: moved down
		{4, []pos{{"f", 3, 4, false}}}, // edited below: stays
		{6, []pos{{"g", 3, 4, false}}}, // moved: follows the file
		{7, []pos{{"g", 3, 4, true}}},  // its lines deleted: orphaned, where they last were
		{8, []pos{{"g", 1, 1, false}, {"g", 3, 4, true}}},
		{9, []pos{{"g", 1, 1, true}, {"g", 3, 4, true}}},  // file deleted: orphaned
		{12, []pos{{"g", 1, 1, true}, {"g", 3, 4, true}}}, // a new file at g is not theirs: they stay
	}
	check := func(s *Store) {
		for _, c := range cases {
			if got := at(s, c.seq); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("at %d: %v, want %v", c.seq, got, c.want)
			}
		}
	}
	check(s)
	// Reopened, the stored states answer the same.
	s.Close()
	s = open()
	defer s.Close()
	check(s)
}
