package projections

import (
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestPageSetsOrder: a page's Sets reach the batch in the order asked for,
// and of several Sets of one key only the last added is kept.
func TestPageSetsOrder(t *testing.T) {
	t.Parallel()
	type kv struct{ k, v string }
	cases := []struct {
		name   string
		add    []kv
		sorted bool
		want   []kv
	}{
		{"in order", []kv{{"fc/2", "a"}, {"fc/1", "b"}}, false, []kv{{"fc/2", "a"}, {"fc/1", "b"}}},
		{"sorted", []kv{{"cur/b", "1"}, {"cur/a", "2"}, {"cur/c", "3"}}, true, []kv{{"cur/a", "2"}, {"cur/b", "1"}, {"cur/c", "3"}}},
		{"last of a key kept", []kv{{"cur/b", "1"}, {"cur/a", "2"}, {"cur/b", "3"}, {"cur/a", "4"}, {"cur/b", "5"}}, true, []kv{{"cur/a", "4"}, {"cur/b", "5"}}},
		{"a key that is another's prefix", []kv{{"cur/ab", "1"}, {"cur/a", "2"}, {"cur/a/b", "3"}}, true, []kv{{"cur/a", "2"}, {"cur/a/b", "3"}, {"cur/ab", "1"}}},
		{"empty", nil, true, nil},
	}
	var s pageSets // reused, as Apply reuses it
	for _, c := range cases {
		for _, p := range c.add {
			s.add([]byte(p.k), []byte(p.v))
		}
		b := new(pebble.Batch)
		if c.sorted {
			s.setSorted(b)
		} else {
			s.setInOrder(b)
		}
		s.reset()
		var got []kv
		for r := b.Reader(); ; {
			kind, k, v, ok, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if kind != pebble.InternalKeyKindSet {
				t.Fatalf("%s: a %v in the batch", c.name, kind)
			}
			got = append(got, kv{string(k), string(v)})
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: batch holds %v, want %v", c.name, got, c.want)
		}
	}
}

// TestPageSetsRetention: an unusually large page's buffer is not kept for
// the pages after it.
func TestPageSetsRetention(t *testing.T) {
	t.Parallel()
	var s pageSets
	s.add([]byte("k"), make([]byte, 1000))
	s.reset()
	if cap(s.buf) == 0 {
		t.Fatal("a small page's buffer was let go")
	}
	s.add([]byte("k"), make([]byte, maxRetainedPageSets+1))
	s.reset()
	if cap(s.buf) != 0 || len(s.sets) != 0 {
		t.Fatalf("kept %d bytes after a page over the %d retained", cap(s.buf), maxRetainedPageSets)
	}
}
