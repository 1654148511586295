package projections

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

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
//	kf/<seq>        → uvarint files, then a flags byte (keyframeChurn) or
//	                  none: the keyframe at seq is complete
//	kt/<seq><path>  → revision: a file (not a deletion) of the keyframe
//
// A keyframe's files are written in batches of their own after the apply
// that reached its seq committed, and its kf/ record last, so a keyframe
// without one is never read: Open deletes the files of one newer than the
// newest complete one (a crash between), and a failed write deletes its own.
const (
	prefixChange    = "fc/"
	prefixKeyframe  = "kf/"
	prefixKeyFiles  = "kt/"
	keyframeMinimum = 1024 // file changes between keyframes of a small tree
	keyframeBatch   = 1 << 20
	// keyframeChurn flags a keyframe written once cur/ was found to hold
	// more deleted paths than files: the next is merged, after a restart
	// too (see writeKeyframe).
	keyframeChurn = 1
	// seekCost is about how many file changes read in order cost as much
	// as one seek (BenchmarkTree, all cached: ~5 µs a seek, ~1.2 µs a
	// change). Tree compares the two in events, file changes or not: a
	// point further from its keyframe than seekCost times its distance to
	// the head is read from the head instead.
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
	redone  int    // of those, changes to a path written before (not a new file)
	churn   bool   // cur/ was found to hold more deleted paths than files
	// top is the highest seq committed since open: cur/ holds the tree as
	// of it, so a keyframe is written only by a commit that moves it up.
	top uint64
}

// keyframeGrowth is how many times its files a tree may grow by new files
// alone before the next keyframe (see due).
const keyframeGrowth = 4

// due reports whether the changes applied since the newest keyframe call
// for the next one. A point reads the keyframe's files and the changes
// since; a change that writes a new path adds a file to the answer, so
// only the others (rewrites, deletions, moves over a path) make it read
// more than its tree. So: as many of those as the tree had files then, or
// keyframeGrowth times that many changes of any kind (a growing tree, whose
// keyframes would otherwise double in size each time and cost two writes
// a change), and at least the minimum. (A tree under a prefix reads every
// change since, in the prefix or not.) Writing a keyframe reads its files
// (and the deleted paths of cur/, or the changes since the last: see
// writeKeyframe) and writes them: about a write and one or two reads per
// change applied, however large the tree.
func (k *keyframes) due() bool {
	n := max(k.files, k.minimum)
	return k.redone >= n || k.since >= keyframeGrowth*n
}

// count adds one applied change of a file stream's version (1: its first
// event, a new path).
func (k *keyframes) count(version uint64) {
	k.since++
	if version > 1 {
		k.redone++
	}
}

// changeKey is the key of the file change at seq.
func changeKey(seq uint64) []byte { return pebbledb.Key(prefixChange, pebbledb.Uint64(seq)) }

// decodeChange splits a file change into its path and revision, both
// slices of raw.
func decodeChange(raw []byte) (path, rev []byte, err error) {
	n, w := binary.Uvarint(raw)
	if w <= 0 || n > uint64(len(raw)-w) {
		return nil, nil, fmt.Errorf("file change: %w", errRevision)
	}
	return raw[w : w+int(n)], raw[w+int(n):], nil
}

// keyframeSeq is the seq of a kf/ key.
func keyframeSeq(k []byte) (uint64, error) {
	if len(k) != len(prefixKeyframe)+8 {
		return 0, fmt.Errorf("keyframe record %x: %w", k, errRevision)
	}
	return binary.BigEndian.Uint64(k[len(prefixKeyframe):]), nil
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
		seq, err := keyframeSeq(it.Key())
		v := it.Value()
		files, n := binary.Uvarint(v)
		flags := v[max(n, 0):]
		if err == nil && (n <= 0 || len(flags) > 1 || len(flags) == 1 && flags[0]&^keyframeChurn != 0) {
			err = fmt.Errorf("keyframe record %x: %w", it.Key(), errRevision)
		}
		if err != nil {
			it.Close()
			return err
		}
		s.kf.seq, s.kf.files = seq, int(files)
		s.kf.churn = len(flags) == 1 && flags[0]&keyframeChurn != 0
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("iterate: %w", err)
	}
	incomplete := pebbledb.Key(prefixKeyFiles, pebbledb.Uint64(s.kf.seq+1))
	if err := s.db.DeleteRange(incomplete, pebbledb.PrefixEnd([]byte(prefixKeyFiles)), pebble.NoSync); err != nil {
		return fmt.Errorf("delete an incomplete keyframe: %w", err)
	}
	return s.scanRange(changeKey(s.kf.seq+1), pebbledb.PrefixEnd([]byte(prefixChange)), func(_, v []byte) (bool, error) {
		_, rev, err := decodeChange(v)
		if err == nil {
			var r Revision
			r, err = decodeRevision("", rev)
			s.kf.count(r.Version)
		}
		return err == nil, err
	})
}

// writeKeyframe writes the tree as of seq, which the last apply reached,
// as a keyframe. It reads cur/, streaming, until cur/ is found to hold more
// deleted paths than files (a churning tree: cur/ keeps every path ever
// written); from then on it merges the newest keyframe with the changes
// since, which holds those changes in memory but reads only the tree and
// them. A write that fails deletes what it wrote, and the next is tried
// after as many changes again: a keyframe is only a shortcut.
func (s *Store) writeKeyframe(seq uint64) error {
	kt := pebbledb.Key(prefixKeyFiles, pebbledb.Uint64(seq))
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	files, deleted := 0, 0
	put := func(path, rev []byte) error {
		b.Set(append(kt[:len(kt):len(kt)], path...), rev, nil)
		files++
		if b.Len() < keyframeBatch {
			return nil
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		b.Close()
		b = s.db.NewBatch()
		return nil
	}
	var err error
	if s.kf.churn {
		err = s.mergeKeyframe(s.kf.seq, seq, nil, put)
	} else {
		err = s.scanPrefix([]byte(prefixCur), func(k, v []byte) (bool, error) {
			if revisionDeleted(v) {
				deleted++
				return true, nil
			}
			return true, put(k[len(prefixCur):], v)
		})
	}
	churn := s.kf.churn || deleted > files
	if err == nil {
		rec := binary.AppendUvarint(nil, uint64(files))
		if churn {
			rec = append(rec, keyframeChurn)
		}
		b.Set(pebbledb.Key(prefixKeyframe, pebbledb.Uint64(seq)), rec, nil)
		err = b.Commit(pebble.NoSync)
	}
	if err != nil {
		s.kf.since, s.kf.redone = 0, 0
		if derr := s.db.DeleteRange(kt, pebbledb.PrefixEnd(kt), pebble.NoSync); derr != nil {
			err = fmt.Errorf("%w (and deleting what it wrote: %w)", err, derr)
		}
		return fmt.Errorf("write keyframe at %d: %w", seq, err)
	}
	s.kf.seq, s.kf.files, s.kf.since, s.kf.redone, s.kf.churn = seq, files, 0, 0, churn
	return nil
}

// keyframeAt returns the newest complete keyframe at or before at and its
// files, or 0, the empty tree before the first event, when there is none.
func (s *Store) keyframeAt(at uint64) (seq uint64, files int, err error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixKeyframe), UpperBound: pebbledb.Key(prefixKeyframe, pebbledb.Uint64(at+1))})
	if err != nil {
		return 0, 0, fmt.Errorf("iterate: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, 0, it.Error()
	}
	// A hint for the answer's size, bounded: loadKeyframes checks only the
	// newest record.
	n, _ := binary.Uvarint(it.Value())
	seq, err = keyframeSeq(it.Key())
	return seq, int(min(n, 1<<16)), err
}

// mergeKeyframe calls fn, in path order, with every file under prefix
// (nil for all; see underPrefix) as of at and its revision: the keyframe at
// kf (at or before at) with the file changes in (kf, at] over it. Both
// slices are valid only during the call.
func (s *Store) mergeKeyframe(kf, at uint64, prefix []byte, fn func(path, rev []byte) error) error {
	// The changes are copied (the iterator's bytes are only valid until
	// it moves) into chunks that are never moved, and sorted by path, then
	// log order; the last of each path is its newest. A sort, not a map:
	// no allocation a path.
	type change struct {
		path, rev []byte
		i         int // log order
	}
	var (
		chunk   []byte
		changes []change
	)
	err := s.scanRange(changeKey(kf+1), changeKey(at+1), func(_, v []byte) (bool, error) {
		path, _, err := decodeChange(v)
		if err != nil || !underPrefix(path, prefix) {
			return err == nil, err
		}
		if cap(chunk)-len(chunk) < len(v) {
			chunk = make([]byte, 0, max(len(v), 64<<10))
		}
		chunk = append(chunk, v...)
		path, rev, _ := decodeChange(chunk[len(chunk)-len(v):])
		changes = append(changes, change{path, rev, len(changes)})
		return true, nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(changes, func(a, b change) int {
		if c := bytes.Compare(a.path, b.path); c != 0 {
			return c
		}
		return a.i - b.i
	})
	newest := changes[:0]
	for i, c := range changes {
		if i+1 < len(changes) && bytes.Equal(changes[i+1].path, c.path) {
			continue
		}
		newest = append(newest, c)
	}
	emit := func(path, rev []byte) error {
		if revisionDeleted(rev) {
			return nil
		}
		return fn(path, rev)
	}
	files := pebbledb.Key(prefixKeyFiles, pebbledb.Uint64(kf))
	lower := append(files[:len(files):len(files)], prefix...)
	err = s.scanRange(lower, pebbledb.PrefixEnd(lower), func(k, v []byte) (bool, error) {
		path := k[len(files):]
		if !underPrefix(path, prefix) {
			return true, nil
		}
		for len(newest) > 0 && bytes.Compare(newest[0].path, path) < 0 {
			if err := emit(newest[0].path, newest[0].rev); err != nil {
				return false, err
			}
			newest = newest[1:]
		}
		if len(newest) > 0 && bytes.Equal(newest[0].path, path) {
			v, newest = newest[0].rev, newest[1:]
		}
		return true, emit(path, v)
	})
	for _, c := range newest {
		if err == nil {
			err = emit(c.path, c.rev)
		}
	}
	return err
}

// underPrefix reports whether path is prefix or below it (every path, for
// an empty prefix): "a" holds "a" and "a/b", not "ab".
func underPrefix(path, prefix []byte) bool {
	return len(prefix) == 0 || bytes.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
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
