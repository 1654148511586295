package watcher

import (
	"sort"
)

// Op kinds, as POST /v1/changes names them.
const (
	opWrite  = "write"
	opDelete = "delete"
	opMove   = "move"
)

// Op is one change the watcher records: a write of content known by hash,
// a delete, or a move. Expected is the path's stream version the plan was
// made against (nil: none, as in a replayed spool entry).
type Op struct {
	Op       string  `json:"op"`
	Path     string  `json:"path"`
	To       string  `json:"to,omitempty"`
	Hash     string  `json:"hash,omitempty"`
	Size     int64   `json:"size,omitempty"`
	Mode     uint32  `json:"mode,omitempty"`
	Expected *uint64 `json:"expected_version,omitempty"`
}

// plan compares the files on disk with the log for the candidate paths and
// returns the ops that bring the log to the disk's state. A path that left
// the log and a new path with the same content become one move. disk holds
// only the candidates that exist as regular files.
func plan(candidates []string, disk map[string]diskFile, st *logState) []Op {
	paths := append([]string(nil), candidates...)
	sort.Strings(paths)
	var writes, deletes []Op
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		d, onDisk := disk[p]
		l := st.get(p)
		v := l.Version
		switch {
		case onDisk && (!l.Exists || l.Hash != d.Hash || l.Mode != d.Mode):
			writes = append(writes, Op{Op: opWrite, Path: p, Hash: d.Hash, Size: d.Size, Mode: d.Mode, Expected: &v})
		case !onDisk && l.Exists:
			deletes = append(deletes, Op{Op: opDelete, Path: p, Hash: l.Hash, Size: l.Size, Mode: l.Mode, Expected: &v})
		}
	}
	// Pair a delete with a creation of the same content: a move.
	var moves, rest []Op
	used := make([]bool, len(writes))
	for _, del := range deletes {
		paired := false
		for i, w := range writes {
			if used[i] || st.get(w.Path).Exists || w.Hash != del.Hash {
				continue
			}
			used[i], paired = true, true
			moves = append(moves, Op{Op: opMove, Path: del.Path, To: w.Path, Hash: w.Hash, Size: w.Size, Mode: w.Mode, Expected: del.Expected})
			if w.Mode != del.Mode {
				rest = append(rest, Op{Op: opWrite, Path: w.Path, Hash: w.Hash, Size: w.Size, Mode: w.Mode})
			}
			break
		}
		if !paired {
			rest = append(rest, del)
		}
	}
	for i, w := range writes {
		if !used[i] {
			rest = append(rest, w)
		}
	}
	return append(moves, rest...)
}

// satisfied reports whether the log already holds op's result, so
// replaying it would record the same change twice.
func satisfied(op Op, st *logState) bool {
	switch op.Op {
	case opWrite:
		l := st.logged(op.Path)
		return l.Exists && l.Hash == op.Hash && (op.Mode == 0 || l.Mode == op.Mode)
	case opDelete:
		return !st.logged(op.Path).Exists
	case opMove:
		src, dst := st.logged(op.Path), st.logged(op.To)
		return !src.Exists && dst.Exists && dst.Hash == op.Hash
	}
	return false
}
