package query

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/lighthouse-ai/lighthouse/projections"
)

// searchCorpus is n code-like files of 64-byte lines, 16 to 160 lines
// each; one file in a hundred holds needle in its first line.
func searchCorpus(n int, needle string) (fakeModel, fakeContent) {
	words := strings.Fields("func return if err != nil ctx for range := { } len append make string int var type struct map go select case defer buf out path name value key node tree file seq hash size mode")
	r := rand.New(rand.NewPCG(1, 2))
	content := fakeContent{}
	var tree []projections.FileInfo
	for i := range n {
		var b strings.Builder
		lines := 16 + r.IntN(145)
		for j := range lines {
			var l strings.Builder
			if j == 0 {
				fmt.Fprintf(&l, "// src/f%05d.txt", i)
				if i%100 == 7 {
					l.WriteString(" " + needle)
				}
			}
			for l.Len() < 60 {
				l.WriteString(words[r.IntN(len(words))] + " ")
			}
			b.WriteString(l.String()[:60] + "\n")
		}
		c := b.String()
		sum := sha256.Sum256([]byte(c))
		h := hex.EncodeToString(sum[:])
		content[h] = c
		tree = append(tree, projections.FileInfo{Path: fmt.Sprintf("src/f%05d.txt", i), Hash: h, Size: int64(len(c)), Mode: 0o644})
	}
	return fakeModel{trees: map[uint64][]projections.FileInfo{1: tree, 2: tree}}, content
}

// BenchmarkSearch searches 2,000 files (~6.5 MB) for a word in 1 % of them,
// as the bench's time-travel search does, with contents in memory: what the
// search itself costs, without the blob store.
func BenchmarkSearch(b *testing.B) {
	model, content := searchCorpus(2000, "timetravelneedle")
	h := SearchHandler{Model: model, Content: content}
	for _, q := range []Search{{Pattern: "timetravelneedle"}, {Pattern: `needle\b`, IgnoreCase: true}, {Pattern: "^// src/f0000[0-9]"}} {
		b.Run(q.Pattern, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Handle(context.Background(), q, func(Match) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// searchBothWays searches data for q through the whole-file path and through
// the line-by-line path that files over maxSearchLine take, which stands as
// the reference: grep's lines, read with bufio.Reader.ReadLine.
func searchBothWays(t testing.TB, q Search, data string, limit int) (whole, byLine []Match) {
	t.Helper()
	m, err := newLineMatcher(q)
	if err != nil {
		t.Skip(err)
	}
	sum := sha256.Sum256([]byte(data))
	hash := hex.EncodeToString(sum[:])
	h := SearchHandler{Content: fakeContent{hash: data}}
	small := projections.FileInfo{Path: "f", Hash: hash, Size: int64(len(data))}
	large := small
	large.Size = maxSearchLine + 1 // as the projection would say of a large file
	whole, _, err = h.searchFile(context.Background(), small, m, limit, nil)
	if err != nil {
		t.Fatal(err)
	}
	byLine, _, err = h.searchFile(context.Background(), large, m, limit, nil)
	if err != nil {
		t.Fatal(err)
	}
	return whole, byLine
}

func TestSearchFileWholeMatchesLineByLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, pattern, data string
		literal, fold       bool
		want                string // path:line:text, one a line
	}{
		{"word", "TODO", "a\nTODO b\nc TODO\n", false, false, "2:TODO b 3:c TODO"},
		{"no final newline", "x", "a\nx", false, false, "2:x"},
		{"empty lines never match", "^$", "a\n\n\nb\n", false, false, ""},
		{"empty pattern", "", "a\n\nb", false, false, "1:a 3:b"},
		{"line anchors", "^b$", "ab\nb\nbc\nb", false, false, "2:b 4:b"},
		{"text anchors are a line's ends", `\Ab\z`, "ab\nb\nbc\nb", false, false, "2:b 4:b"},
		{"text anchor after a literal", `b\z`, "ab\nb\nbc\nb", false, false, "1:ab 2:b 4:b"},
		{"m flag cleared", "b(?-m)$", "ab\nb\nbc\nb", false, false, "1:ab 2:b 4:b"},
		{"a match over a newline is not a line's", `a\sb`, "xa\nb\na b\n", false, false, "3:a b"},
		{"newline class", `[^z]+q`, "a\nq\nzq\nyq\n", false, false, "4:yq"},
		{"word boundary at a line's ends", `\bb\b`, "a\nb\nab\n", false, false, "2:b"},
		{"not a boundary", `\Bb`, "b\nab\n", false, false, "2:ab"},
		{"carriage returns", "b$", "ab\r\nb\r\nc\r", false, false, "1:ab 2:b"},
		{"a lone carriage return stays", "\r$", "a\r\nb\rc\r", false, false, "2:b\rc\r"},
		{"ignore case", "todo", "TODO\nToDo x\nno\n", false, true, "1:TODO 2:ToDo x"},
		{"literal", "a.b(", "a.b(\naxb(\n", true, false, "1:a.b("},
		{"several matches a line count once", "o", "foo boo\nzz\no\n", false, false, "1:foo boo 3:o"},
		{"invalid UTF-8 at a line's end", `.$`, "a\xe2\n\xe2b\n", false, false, "1:a\xe2 2:\xe2b"},
		{"binary skipped", "a", "a\x00\na\n", false, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			whole, byLine := searchBothWays(t, Search{Pattern: c.pattern, Literal: c.literal, IgnoreCase: c.fold}, c.data, 100)
			var got []string
			for _, m := range whole {
				got = append(got, fmt.Sprintf("%d:%s", m.Line, m.Text))
			}
			if strings.Join(got, " ") != c.want {
				t.Errorf("whole file: %q, want %q", strings.Join(got, " "), c.want)
			}
			if !slices.Equal(whole, byLine) {
				t.Errorf("whole file %v, line by line %v", whole, byLine)
			}
		})
	}
}

// TestLineMatcherScansWholeFiles: only a pattern that starts with a
// literal, and holds no text anchor, is run over whole files.
func TestLineMatcherScansWholeFiles(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		q    Search
		scan bool
	}{
		{Search{Pattern: "TODO"}, true},
		{Search{Pattern: `a b`}, true},
		{Search{Pattern: "a.b(", Literal: true}, true},
		{Search{Pattern: `b\z`}, false},
		{Search{Pattern: "b(?-m)$"}, false},
		{Search{Pattern: "^b"}, false},
		{Search{Pattern: "todo", IgnoreCase: true}, false},
		{Search{Pattern: "[ab]c"}, false},
		{Search{Pattern: ""}, false},
		{Search{Pattern: "a."}, true},
		{Search{Pattern: "a[^~]*z"}, false}, // would run on over lines: quadratic
		{Search{Pattern: `a\s`}, false},
		{Search{Pattern: "a(?s:.)"}, false},
		{Search{Pattern: `a\n`}, false},
		{Search{Pattern: `a[\x00-\x20]`}, false},
		{Search{Pattern: `a[\x0b-\x20]`}, true},
	} {
		m, err := newLineMatcher(c.q)
		if err != nil {
			t.Fatal(err)
		}
		if (m.file != nil) != c.scan {
			t.Errorf("%+v: scans whole files %v, want %v", c.q, m.file != nil, c.scan)
		}
	}
}

// zeroReader returns nothing and no error, forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReadUpTo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		r       io.Reader
		max     int
		want    string
		wantErr error
	}{
		{"all of it", strings.NewReader("hello"), 10, "hello", nil},
		{"cut at max", strings.NewReader("hello"), 3, "hel", nil},
		{"empty", strings.NewReader(""), 3, "", nil},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader("hello")), 10, "hello", nil},
		{"data with EOF", iotest.DataErrReader(strings.NewReader("hi")), 10, "hi", nil},
		{"an error", iotest.ErrReader(errors.New("boom")), 10, "", errors.New("boom")},
		{"no progress", zeroReader{}, 10, "", io.ErrNoProgress},
	} {
		got, err := readUpTo(c.r, nil, c.max)
		if string(got) != c.want || (err == nil) != (c.wantErr == nil) || (err != nil && err.Error() != c.wantErr.Error()) {
			t.Errorf("%s: %q, %v; want %q, %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestSearchFileLimit(t *testing.T) {
	t.Parallel()
	whole, byLine := searchBothWays(t, Search{Pattern: "x"}, "x1\nx2\nx3\nx4\n", 2)
	if len(whole) != 2 || whole[1].Line != 2 || !slices.Equal(whole, byLine) {
		t.Fatalf("limit 2: whole file %v, line by line %v", whole, byLine)
	}
}

// FuzzSearchFile checks that the whole-file search finds exactly the lines
// the line-by-line search does, for any pattern and content.
func FuzzSearchFile(f *testing.F) {
	for _, s := range []struct {
		pattern, data string
	}{
		{"TODO", "a\nTODO b\n"}, {`^b$`, "ab\nb\n"}, {`\Ab`, "b\nab"}, {`a\sb`, "a\nb"}, {`\bb`, "a\nb\r\n"},
		{"", "\n\n"}, {`(?s).`, "a\nb"}, {`(?-m)$`, "x\n"}, {`[^a]`, "\n"}, {`b\B`, "b\nbb"},
	} {
		f.Add(s.pattern, s.data, false, false)
	}
	f.Fuzz(func(t *testing.T, pattern, data string, literal, fold bool) {
		if len(pattern) > 64 {
			return // a long pattern only makes the fuzzer slow
		}
		whole, byLine := searchBothWays(t, Search{Pattern: pattern, Literal: literal, IgnoreCase: fold}, data, 1000)
		if !slices.Equal(whole, byLine) {
			t.Fatalf("pattern %q in %q: whole file %v, line by line %v", pattern, data, whole, byLine)
		}
	})
}

// BenchmarkDiffPatches diffs 2,000 files, each with one line changed, with
// patches: what building the patches costs, without the blob store.
func BenchmarkDiffPatches(b *testing.B) {
	model, content := searchCorpus(2000, "x")
	after := make([]projections.FileInfo, 0, 2000)
	for _, f := range model.trees[1] {
		c := strings.Replace(content[f.Hash], "func", "FUNC", 1)
		sum := sha256.Sum256([]byte(c))
		h := hex.EncodeToString(sum[:])
		content[h] = c
		f.Hash, f.Size = h, int64(len(c))
		after = append(after, f)
	}
	model.trees[2] = after
	h := DiffHandler{Model: model, Content: content}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Handle(context.Background(), Diff{From: 1, To: 2, Patches: true}); err != nil {
			b.Fatal(err)
		}
	}
}
