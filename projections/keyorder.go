package projections

import (
	"bytes"
	"slices"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
)

// pageSets holds a page's Sets of one kind (its fc/, rev/ or cur/ keys) so
// that they reach the batch, and so the memtable, one kind after another
// and each kind in key order.
//
// Why: Pebble's memtable is a skiplist, and its inserter keeps the splice
// of the last insert. A key that follows the last one with nothing between
// them is linked there after at most a short search near it; any other key
// is searched for from the top of the list. In log order each file event's
// four keys (ev/, rev/, cur/, fc/) took turns, so every insert searched
// from the top, and applying the batch to the memtable was about a
// quarter of a catching-up reader's CPU (docs/bench-perf.txt item 31). ev/
// and fc/ keys ascend with the sequence and follow what the memtable
// holds, so in runs of one kind they are linked in place; rev/ and cur/
// keys sorted share their searches' paths in the CPU's cache.
type pageSets struct {
	buf  []byte
	sets []pageSet
}

// pageSet is one Set: its key is buf[key:val], its value buf[val:end].
type pageSet struct{ key, val, end int }

// maxRetainedPageSets bounds the bytes a pageSets keeps between pages, its
// buffer and its Sets each (so a pageKeys keeps at most six times this); a
// larger one, after a page of unusually large change sets, is let go.
const maxRetainedPageSets = 4 << 20

func (s *pageSets) add(key, val []byte) {
	k := len(s.buf)
	s.buf = append(append(s.buf, key...), val...)
	s.sets = append(s.sets, pageSet{key: k, val: k + len(key), end: len(s.buf)})
}

func (s *pageSets) key(p pageSet) []byte { return s.buf[p.key:p.val] }

// setInOrder adds the Sets to b in the order they were added (for keys
// added in ascending order).
func (s *pageSets) setInOrder(b *pebble.Batch) {
	for _, p := range s.sets {
		b.Set(s.buf[p.key:p.val], s.buf[p.val:p.end], nil)
	}
}

// setSorted adds the Sets to b in key order. Of several Sets of one key
// only the last added is kept: had they all been added in order, it is the
// one the commit would leave.
func (s *pageSets) setSorted(b *pebble.Batch) {
	slices.SortStableFunc(s.sets, func(x, y pageSet) int { return bytes.Compare(s.key(x), s.key(y)) })
	for i, p := range s.sets {
		if i+1 < len(s.sets) && bytes.Equal(s.key(p), s.key(s.sets[i+1])) {
			continue
		}
		b.Set(s.buf[p.key:p.val], s.buf[p.val:p.end], nil)
	}
}

// reset empties s for the next page.
func (s *pageSets) reset() {
	if cap(s.buf) > maxRetainedPageSets || cap(s.sets)*int(unsafe.Sizeof(pageSet{})) > maxRetainedPageSets {
		s.buf, s.sets = nil, nil
		return
	}
	s.buf, s.sets = s.buf[:0], s.sets[:0]
}

// pageKeys are a page's file keys, held by Apply until the page's other
// keys are in its batch.
type pageKeys struct{ fc, rev, cur pageSets }

// set adds the page's file keys to b, fc/ in log order, then rev/ and cur/
// each sorted, and empties p: b holds its copy.
func (p *pageKeys) set(b *pebble.Batch) {
	p.fc.setInOrder(b)
	p.rev.setSorted(b)
	p.cur.setSorted(b)
	p.reset()
}

func (p *pageKeys) reset() {
	p.fc.reset()
	p.rev.reset()
	p.cur.reset()
}
