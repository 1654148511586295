package query

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// fakeModel holds two trees: at 1 and at 2 (and head).
type fakeModel struct {
	trees map[uint64][]projections.FileInfo
}

func (m fakeModel) Head() uint64 { return 2 }
func (m fakeModel) File(path string, at uint64) (projections.FileInfo, error) {
	return projections.FileInfo{}, domain.ErrNotFound
}
func (m fakeModel) Tree(at uint64, prefix string) ([]projections.FileInfo, error) {
	if at == 0 {
		at = 2
	}
	var out []projections.FileInfo
	for _, f := range m.trees[at] {
		if domain.Path(f.Path).HasPrefix(prefix) {
			out = append(out, f)
		}
	}
	return out, nil
}
func (m fakeModel) History(string) ([]projections.Revision, error) { return nil, nil }
func (m fakeModel) Events(projections.EventFilter) ([]domain.Event, uint64, error) {
	return nil, 0, nil
}

type fakeContent map[string]string

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (c fakeContent) Open(_ context.Context, hash string) (ReadSeekCloser, error) {
	s, ok := c[hash]
	if !ok {
		return nil, domain.ErrNotFound
	}
	return nopCloser{bytes.NewReader([]byte(s))}, nil
}

func setup(files1, files2 map[string]string) (fakeModel, fakeContent) {
	content := fakeContent{}
	tree := func(files map[string]string) []projections.FileInfo {
		var out []projections.FileInfo
		for p, c := range files {
			sum := sha256.Sum256([]byte(c))
			h := hex.EncodeToString(sum[:])
			content[h] = c
			out = append(out, projections.FileInfo{Path: p, Hash: h, Size: int64(len(c)), Mode: 0o644})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path }) // as the projection returns it
		return out
	}
	return fakeModel{trees: map[uint64][]projections.FileInfo{1: tree(files1), 2: tree(files2)}}, content
}

func TestDiff(t *testing.T) {
	t.Parallel()
	model, content := setup(
		map[string]string{"same": "s\n", "mod": "a\nb\n", "gone": "g\n", "old/name": "moved\n", "bin": "x\x00"},
		map[string]string{"same": "s\n", "mod": "a\nc\n", "new/name": "moved\n", "added": "n\n", "bin": "y\x00"})
	changes, err := DiffHandler{Model: model, Content: content}.Handle(context.Background(), Diff{From: 1, To: 2, Patches: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, fmt.Sprintf("%s %s<%s> bin=%v", c.Status, c.Path, c.From, c.Binary))
	}
	want := []string{"added added<> bin=false", "modified bin<> bin=true", "deleted gone<> bin=false", "modified mod<> bin=false", "moved new/name<old/name> bin=false"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := changes[3].Patch; p != "--- a/mod\n+++ b/mod\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n" {
		t.Fatalf("patch:\n%s", p)
	}
	if p := changes[0].Patch; !strings.Contains(p, "--- /dev/null") || !strings.Contains(p, "+n\n") {
		t.Fatalf("patch of an added file:\n%s", p)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	files := map[string]string{"b.go": "x\nTODO b\n", "a.go": "TODO a1\nno\ntodo a3\n", "c.txt": "TODO c\n", "bin": "TODO\x00"}
	for i := 0; i < 30; i++ {
		files[fmt.Sprintf("z/%02d.go", i)] = "TODO z\n"
	}
	model, content := setup(files, files)
	h := SearchHandler{Model: model, Content: content}
	cases := []struct {
		q         Search
		want      string // first matches, in order
		n         int
		truncated bool
	}{
		{Search{Pattern: "TODO"}, "a.go:1,b.go:2,c.txt:1,z/00.go:1", 33, false},
		{Search{Pattern: "todo", IgnoreCase: true, Globs: []string{"*.go"}}, "a.go:1,a.go:3,b.go:2,z/00.go:1", 33, false},
		{Search{Pattern: "TODO", Limit: 2}, "a.go:1,b.go:2", 2, true},
		{Search{Pattern: "a[13]", Globs: []string{"a.go"}}, "a.go:1,a.go:3", 2, false},
		{Search{Pattern: "(", Literal: true}, "", 0, false},
	}
	for _, tc := range cases {
		var got []string
		sum, err := h.Handle(context.Background(), tc.q, func(m Match) error {
			got = append(got, fmt.Sprintf("%s:%d", m.Path, m.Line))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		first := strings.Join(got[:min(4, len(got))], ",")
		if first != tc.want || sum.Matches != tc.n || len(got) != tc.n || sum.Truncated != tc.truncated {
			t.Errorf("%+v: got %s (%d, truncated %v), want %s (%d)", tc.q, first, sum.Matches, sum.Truncated, tc.want, tc.n)
		}
	}
	if _, err := h.Handle(context.Background(), Search{Pattern: "("}, func(Match) error { return nil }); err == nil {
		t.Error("a bad regular expression was accepted")
	}
}

// prefetching records what it was asked to fetch ahead.
type prefetching struct {
	fakeContent
	asked [][]string
}

func (p *prefetching) Prefetch(_ context.Context, hashes []string) error {
	p.asked = append(p.asked, hashes)
	return nil
}

func TestPrefetchBeforeReading(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	for i := 0; i < prefetchChunk+3; i++ {
		files[fmt.Sprintf("f%04d", i)] = fmt.Sprintf("line %d\n", i)
	}
	model, content := setup(files, map[string]string{"f0000": "changed\n"})
	p := &prefetching{fakeContent: content}
	if _, err := (SearchHandler{Model: model, Content: p}).Handle(context.Background(), Search{Pattern: "line", At: 1}, func(Match) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(p.asked) != 2 || len(p.asked[0]) != prefetchChunk || len(p.asked[1]) != 3 {
		t.Fatalf("search prefetched %d chunks, want %d then 3", len(p.asked), prefetchChunk)
	}
	p.asked = nil
	changes, err := DiffHandler{Model: model, Content: p}.Handle(context.Background(), Diff{From: 1, To: 2, Patches: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.asked) != 1 || len(p.asked[0]) != 2*len(changes) {
		t.Fatalf("diff prefetched %v for %d changes", len(p.asked), len(changes))
	}
}
