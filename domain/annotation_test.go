package domain

import (
	"strings"
	"testing"
)

func lines(n ...string) []byte { return []byte(strings.Join(n, "\n") + "\n") }

func TestLineMapFollow(t *testing.T) {
	t.Parallel()
	base := lines("a", "b", "c", "d", "e")
	cases := []struct {
		name   string
		old    []byte
		new    []byte
		anchor Anchor
		want   Anchor
	}{
		{"insert above moves down", base, lines("x", "y", "a", "b", "c", "d", "e"), Anchor{Start: 3, End: 4}, Anchor{Start: 5, End: 6}},
		{"edit below stays", base, lines("a", "b", "c", "d", "E", "f"), Anchor{Start: 2, End: 3}, Anchor{Start: 2, End: 3}},
		{"delete above moves up", base, lines("c", "d", "e"), Anchor{Start: 4, End: 4}, Anchor{Start: 2, End: 2}},
		{"lines deleted orphan", base, lines("a", "e"), Anchor{Start: 2, End: 4}, Anchor{Start: 2, End: 4, Orphaned: true}},
		{"partly deleted shrinks", base, lines("a", "b", "e"), Anchor{Start: 2, End: 4}, Anchor{Start: 2, End: 2}},
		{"edited in place follows", base, lines("a", "B", "c", "d", "e"), Anchor{Start: 2, End: 2}, Anchor{Start: 2, End: 2}},
		{"orphan stays orphan", base, base, Anchor{Start: 1, End: 1, Orphaned: true}, Anchor{Start: 1, End: 1, Orphaned: true}},
		{"no final newline", []byte("a\nb"), []byte("z\na\nb"), Anchor{Start: 2, End: 2}, Anchor{Start: 3, End: 3}},
		{"file emptied", base, nil, Anchor{Start: 1, End: 5}, Anchor{Start: 1, End: 5, Orphaned: true}},
		{"out of range orphans", base, base, Anchor{Start: 4, End: 9}, Anchor{Start: 4, End: 9, Orphaned: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := NewLineMap(c.old, c.new)
			if got := m.Follow(c.anchor); got != c.want {
				t.Fatalf("Follow(%+v) = %+v, want %+v", c.anchor, got, c.want)
			}
			// Deterministic: the same contents give the same answer.
			if again := NewLineMap(c.old, c.new).Follow(c.anchor); again != m.Follow(c.anchor) {
				t.Fatalf("second map answers %+v", again)
			}
		})
	}
}

func TestLineCount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"": 0, "a": 1, "a\n": 1, "a\nb": 2, "a\nb\n": 2, "\n\n": 2} {
		if got := LineCount([]byte(in)); got != want {
			t.Errorf("LineCount(%q) = %d, want %d", in, got, want)
		}
	}
}
