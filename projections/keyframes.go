package projections

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// A past tree used to be cur/ plus one seek in rev/ per path changed since
// the point: on a long log nearly every path has changed, and rev/ holds
// every revision ever written, so a past tree read about the whole index
// (docs/bench-perf.txt). Keyframes bound it by the tree's size instead: a
// keyframe is the whole tree at a seq, written every so many file changes,
// and the tree at a point is the keyframe at or before it plus the file
// changes between the two, read in log order from fc/. Both are sequential
// reads.
//
//	fc/<seq>        → uvarint path length, path, revision: every file change
//	kf/<seq>        → uvarint files: the keyframe at seq is complete
//	kt/<seq><path>  → revision: a file (not a deletion) of the keyframe
//
// A keyframe's files are written in batches of their own after the apply
// that reached its seq committed, and its kf/ record last, so a keyframe
// without one (a crash between) is never read; Open deletes its files.
const (
	prefixChange    = "fc/"
	prefixKeyframe  = "kf/"
	prefixKeyFiles  = "kt/"
	keyframeMinimum = 1024 // file changes between keyframes of a small tree
	keyframeBatch   = 4 << 20
	// seekCost is about how many file changes read in order cost as much
	// as one seek (BenchmarkTree, all cached: ~5 µs a seek, ~1.2 µs a
	// change): a point whose changes since its keyframe outnumber seekCost
	// times those after it is read from the head instead.
	seekCost = 4
)

// keyframes is what the store knows of its newest keyframe. Only Apply,
// Reset and Open touch it, which a projection's single follower calls in
// turn.
type keyframes struct {
	minimum int    // file changes between keyframes of a small tree
	seq     uint64 // the newest keyframe's, 0 for none
	files   int    // its files
	since   int    // file changes applied after it
}

// due reports whether the changes applied since the newest keyframe call
// for the next one: as many as the tree had files then (so keyframes cost
// about one write per file change however large the tree), and at least
// the minimum.
func (k *keyframes) due() bool { return k.since >= max(k.files, k.minimum) }

// changeKey is the key of the file change at seq.
func changeKey(seq uint64) []byte { return pebbledb.Key(prefixChange, pebbledb.Uint64(seq)) }

// decodeChange splits a file change into its path and revision.
func decodeChange(raw []byte) (path string, rev []byte, err error) {
	n, w := binary.Uvarint(raw)
	if w <= 0 || n > uint64(len(raw)-w) {
		return "", nil, fmt.Errorf("file change: %w", errRevision)
	}
	return string(raw[w : w+int(n)]), raw[w+int(n):], nil
}

// loadKeyframes finds the newest complete keyframe and counts the file
// changes after it, and deletes the files of a keyframe left incomplete.
func (s *Store) loadKeyframes() error {
	s.kf = keyframes{minimum: keyframeMinimum}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixKeyframe), UpperBound: pebbledb.PrefixEnd([]byte(prefixKeyframe))})
	if err != nil {
		return fmt.Errorf("iterate: %w", err)
	}
	if it.Last() {
		k := it.Key()[len(prefixKeyframe):]
		files, n := binary.Uvarint(it.Value())
		if len(k) != 8 || n <= 0 {
			it.Close()
			return fmt.Errorf("keyframe record %x: %w", it.Key(), errRevision)
		}
		s.kf.seq, s.kf.files = binary.BigEndian.Uint64(k), int(files)
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("iterate: %w", err)
	}
	incomplete := pebbledb.Key(prefixKeyFiles, pebbledb.Uint64(s.kf.seq+1))
	if err := s.db.DeleteRange(incomplete, pebbledb.PrefixEnd([]byte(prefixKeyFiles)), pebble.NoSync); err != nil {
		return fmt.Errorf("delete an incomplete keyframe: %w", err)
	}
	return s.scanRange(changeKey(s.kf.seq+1), pebbledb.PrefixEnd([]byte(prefixChange)), func(_, _ []byte) (bool, error) {
		s.kf.since++
		return true, nil
	})
}

// writeKeyframe writes the tree as of seq, which the last apply reached,
// as a keyframe: every path in cur/ that is not deleted.
func (s *Store) writeKeyframe(seq uint64) error {
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	files := 0
	kt := pebbledb.Key(prefixKeyFiles, pebbledb.Uint64(seq))
	err := s.scanPrefix([]byte(prefixCur), func(k, v []byte) (bool, error) {
		if revisionDeleted(v) {
			return true, nil
		}
		b.Set(append(kt[:len(prefixKeyFiles)+8], k[len(prefixCur):]...), v, nil)
		files++
		if b.Len() < keyframeBatch {
			return true, nil
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return false, err
		}
		b.Close()
		b = s.db.NewBatch()
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("write keyframe at %d: %w", seq, err)
	}
	b.Set(pebbledb.Key(prefixKeyframe, pebbledb.Uint64(seq)), binary.AppendUvarint(nil, uint64(files)), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("write keyframe at %d: %w", seq, err)
	}
	s.kf.seq, s.kf.files, s.kf.since = seq, files, 0
	return nil
}

// keyframeAt returns the newest complete keyframe at or before at, or 0,
// the empty tree before the first event, when there is none.
func (s *Store) keyframeAt(at uint64) (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixKeyframe), UpperBound: pebbledb.Key(prefixKeyframe, pebbledb.Uint64(at+1))})
	if err != nil {
		return 0, fmt.Errorf("iterate: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[len(prefixKeyframe):]), nil
}

// treeFromKeyframe returns the files under prefix (as Tree) as of at, from
// the keyframe at kf (at or before at) and the file changes in (kf, at].
func (s *Store) treeFromKeyframe(kf, at uint64, under func(string) bool, prefix string) ([]FileInfo, error) {
	type change struct {
		path string
		rev  []byte
	}
	var changes []change
	err := s.scanRange(changeKey(kf+1), changeKey(at+1), func(_, v []byte) (bool, error) {
		path, rev, err := decodeChange(v)
		if err != nil {
			return false, err
		}
		if under(path) {
			changes = append(changes, change{path, slices.Clone(rev)})
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	// The newest change of each path, in path order.
	slices.SortStableFunc(changes, func(a, b change) int { return strings.Compare(a.path, b.path) })
	newest := changes[:0]
	for i, c := range changes {
		if i+1 < len(changes) && changes[i+1].path == c.path {
			continue
		}
		newest = append(newest, c)
	}
	var out []FileInfo
	add := func(path string, raw []byte) error {
		if revisionDeleted(raw) {
			return nil
		}
		r, err := decodeRevision(path, raw)
		if err == nil {
			out = append(out, r.FileInfo)
		}
		return err
	}
	files := pebbledb.Key(prefixKeyFiles, pebbledb.Uint64(kf))
	lower := append(files[:len(files):len(files)], prefix...)
	err = s.scanRange(lower, pebbledb.PrefixEnd(lower), func(k, v []byte) (bool, error) {
		path := string(k[len(files):])
		if !under(path) {
			return true, nil
		}
		for len(newest) > 0 && newest[0].path < path {
			if err := add(newest[0].path, newest[0].rev); err != nil {
				return false, err
			}
			newest = newest[1:]
		}
		if len(newest) > 0 && newest[0].path == path {
			v, newest = newest[0].rev, newest[1:]
		}
		return true, add(path, v)
	})
	for _, c := range newest {
		if err == nil {
			err = add(c.path, c.rev)
		}
	}
	return out, err
}

// revisionDeleted reports whether raw, a revision appendRevision wrote, is
// a deletion, without decoding it.
func revisionDeleted(raw []byte) bool {
	return len(raw) > 1 && raw[0] == revFormat && raw[1]&revDeleted != 0
}

// scanRange calls fn for every key in [lower, upper) until fn returns false.
func (s *Store) scanRange(lower, upper []byte, fn func(k, v []byte) (bool, error)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("iterate: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		more, err := fn(it.Key(), it.Value())
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	return it.Error()
}
