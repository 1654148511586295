package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// TestPageSetsOrder: a page's Sets reach the batch in the order asked for,
// and of several Sets of one key only the last added is kept.
func TestPageSetsOrder(t *testing.T) {
	t.Parallel()
	type kv = setKV
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
		// Past a dozen elements Go's sort is no longer an insertion sort,
		// so an unstable one would keep the wrong Set of a key.
		{"last of a key kept, many", many(40, 3), true, []kv{{"cur/0", "39"}, {"cur/1", "37"}, {"cur/2", "38"}}},
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

// setKV is a Set in TestPageSetsOrder.
type setKV struct{ k, v string }

// many returns n Sets over keys cur/0 to cur/<keys-1> in turn, valued by
// their index.
func many(n, keys int) []setKV {
	var out []setKV
	for i := range n {
		out = append(out, setKV{fmt.Sprintf("cur/%d", i%keys), fmt.Sprint(i)})
	}
	return out
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
	// Many small Sets: the Sets' slice is over the bound, the buffer not.
	for range maxRetainedPageSets / 8 {
		s.add(nil, nil)
	}
	s.reset()
	if cap(s.sets) != 0 {
		t.Fatalf("kept room for %d Sets after a page of %d", cap(s.sets), maxRetainedPageSets/8)
	}
}

// TestFailedPageLeavesNoKeys: a page that fails part way through (a file
// event whose payload does not decode) leaves none of its keys for the
// next Apply, which here applies a shorter page.
func TestFailedPageLeavesNoKeys(t *testing.T) {
	t.Parallel()
	evs := chain(t, w("a", "h1"), w("b", "h2"), w("c", "h3"), w("d", "h4"))
	for _, badAt := range []int{2, 3} {
		t.Run(fmt.Sprint("bad event ", badAt), func(t *testing.T) {
			t.Parallel()
			page := append([]domain.Event(nil), evs[:badAt+1]...)
			page[badAt].Payload = json.RawMessage(`{"path":5}`)
			s := openStore(t, t.TempDir(), 0)
			defer s.Close()
			if err := s.Apply(context.Background(), page); err == nil {
				t.Fatal("a page with an undecodable file event was applied")
			}
			if err := s.Apply(context.Background(), evs[:1]); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"b", "c"} {
				if f, err := s.File(p, 0); !errors.Is(err, domain.ErrNotFound) {
					t.Errorf("File(%s) = %+v, %v after applying only a's write; want not found", p, f, err)
				}
			}
			if got := treeAt(t, s, 1); got != "a:h1" {
				t.Errorf("Tree(1) = %s, want a:h1", got)
			}
		})
	}
}
