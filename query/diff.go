package query

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/lighthouse-ai/lighthouse/projections"
)

// Change statuses in a diff.
const (
	Added    = "added"
	Modified = "modified"
	Deleted  = "deleted"
	Moved    = "moved"
)

// Diff compares the project (below Prefix) at two points.
type Diff struct {
	From, To uint64
	Prefix   string
	Patches  bool // include unified diffs of text files
}

// Change is one path that differs between two points.
type Change struct {
	Path     string `json:"path"`
	Status   string `json:"status"`
	From     string `json:"from,omitempty"` // a move's old path
	OldHash  string `json:"old_hash,omitempty"`
	NewHash  string `json:"new_hash,omitempty"`
	OldSize  int64  `json:"old_size"`
	NewSize  int64  `json:"new_size"`
	OldMode  uint32 `json:"old_mode,omitempty"`
	NewMode  uint32 `json:"new_mode,omitempty"`
	Patch    string `json:"patch,omitempty"`
	Binary   bool   `json:"binary,omitempty"`
	TooLarge bool   `json:"too_large,omitempty"`
}

// maxPatchBytes bounds the content read to build one file's patch.
const maxPatchBytes = 4 << 20

// DiffHandler handles Diff. Both trees come from the index, so the cost is
// in the number of files, not in the events between the points.
type DiffHandler struct {
	Model   ReadModel
	Content Content
}

// Handle returns the changes, sorted by path.
func (h DiffHandler) Handle(ctx context.Context, q Diff) ([]Change, error) {
	before, err := h.Model.Tree(q.From, q.Prefix)
	if err != nil {
		return nil, err
	}
	after, err := h.Model.Tree(q.To, q.Prefix)
	if err != nil {
		return nil, err
	}
	old := make(map[string]projections.FileInfo, len(before))
	for _, f := range before {
		old[f.Path] = f
	}
	var changes []Change
	gone := map[string][]string{} // hash → deleted paths, for finding moves
	seen := make(map[string]bool, len(after))
	for _, f := range after {
		seen[f.Path] = true
		o, ok := old[f.Path]
		switch {
		case !ok:
			changes = append(changes, Change{Path: f.Path, Status: Added, NewHash: f.Hash, NewSize: f.Size, NewMode: f.Mode})
		case o.Hash != f.Hash || o.Mode != f.Mode:
			changes = append(changes, Change{Path: f.Path, Status: Modified, OldHash: o.Hash, NewHash: f.Hash,
				OldSize: o.Size, NewSize: f.Size, OldMode: o.Mode, NewMode: f.Mode})
		}
	}
	for _, o := range before {
		if !seen[o.Path] {
			gone[o.Hash] = append(gone[o.Hash], o.Path)
		}
	}
	// An added file whose content a deleted file had is a move.
	for i, c := range changes {
		if c.Status != Added {
			continue
		}
		if paths := gone[c.NewHash]; len(paths) > 0 {
			o := old[paths[0]]
			gone[c.NewHash] = paths[1:]
			changes[i].Status, changes[i].From = Moved, o.Path
			changes[i].OldHash, changes[i].OldSize, changes[i].OldMode = o.Hash, o.Size, o.Mode
		}
	}
	for _, paths := range gone {
		for _, p := range paths {
			o := old[p]
			changes = append(changes, Change{Path: p, Status: Deleted, OldHash: o.Hash, OldSize: o.Size, OldMode: o.Mode})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	if q.Patches {
		var hashes []string
		for _, c := range changes {
			if c.OldSize <= maxPatchBytes && c.NewSize <= maxPatchBytes {
				hashes = append(hashes, c.OldHash, c.NewHash)
			}
		}
		if err := prefetch(ctx, h.Content, hashes); err != nil {
			return nil, err
		}
		for i := range changes {
			if err := h.patch(ctx, &changes[i]); err != nil {
				return nil, err
			}
		}
	}
	return changes, nil
}

func (h DiffHandler) patch(ctx context.Context, c *Change) error {
	if c.Status == Moved && c.OldHash == c.NewHash {
		return nil
	}
	if c.OldSize > maxPatchBytes || c.NewSize > maxPatchBytes {
		c.TooLarge = true
		return nil
	}
	a, err := h.read(ctx, c.OldHash, c.OldSize)
	if err != nil {
		return err
	}
	b, err := h.read(ctx, c.NewHash, c.NewSize)
	if err != nil {
		return err
	}
	if isBinary(a) || isBinary(b) {
		c.Binary = true
		return nil
	}
	from, to := "a/"+c.Path, "b/"+c.Path
	switch c.Status {
	case Added:
		from = "/dev/null"
	case Deleted:
		to = "/dev/null"
	case Moved:
		from = "a/" + c.From
	}
	c.Patch = unifiedDiff(lineText(a), lineText(b), from, to, 3)
	return nil
}

// lineOp is one line of a line diff: kept (' '), removed ('-') or added
// ('+'), with its 0-based index in the old and the new content.
type lineOp struct {
	kind byte
	line string
	a, b int
}

// unifiedDiff returns the unified diff of two texts whose every line ends in
// a newline (lineText), with context lines around each change, or "" when
// they are equal. The lines are matched by sergi/go-diff's line mode
// (Myers' algorithm, no time limit, so the same contents give the same patch).
func unifiedDiff(a, b string, from, to string, context int) string {
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 0
	ca, cb, lines := dmp.DiffLinesToChars(a, b)
	var ops []lineOp
	ai, bi := 0, 0
	for _, d := range dmp.DiffCharsToLines(dmp.DiffMain(ca, cb, false), lines) {
		for _, l := range strings.SplitAfter(d.Text, "\n") {
			if l == "" {
				continue
			}
			switch d.Type {
			case diffmatchpatch.DiffEqual:
				ops = append(ops, lineOp{' ', l, ai, bi})
				ai, bi = ai+1, bi+1
			case diffmatchpatch.DiffDelete:
				ops = append(ops, lineOp{'-', l, ai, bi})
				ai++
			case diffmatchpatch.DiffInsert:
				ops = append(ops, lineOp{'+', l, ai, bi})
				bi++
			}
		}
	}
	var out strings.Builder
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk: this change and every one closer than 2*context kept
		// lines after the last, with context lines around.
		start, end := max(i-context, 0), i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
			} else if j-end > 2*context {
				break
			}
		}
		stop := min(end+context+1, len(ops))
		if out.Len() == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, to)
		}
		na, nb := 0, 0
		for _, op := range ops[start:stop] {
			if op.kind != '+' {
				na++
			}
			if op.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(ops[start].a, na), hunkRange(ops[start].b, nb))
		for _, op := range ops[start:stop] {
			out.WriteByte(op.kind)
			out.WriteString(op.line)
		}
		i = stop
	}
	return out.String()
}

// hunkRange formats a hunk's lines as unified diffs do: "N" for one line,
// "N,COUNT" otherwise, with an empty range named by the line before it.
func hunkRange(start, count int) string {
	switch count {
	case 1:
		return fmt.Sprint(start + 1)
	case 0:
		return fmt.Sprintf("%d,0", start)
	}
	return fmt.Sprintf("%d,%d", start+1, count)
}

// read returns the content hash names, of size bytes (as the index says;
// at most maxPatchBytes are read).
func (h DiffHandler) read(ctx context.Context, hash string, size int64) ([]byte, error) {
	if hash == "" {
		return nil, nil
	}
	rc, err := h.Content.Open(ctx, hash)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readUpTo(rc, make([]byte, 0, min(size, maxPatchBytes)+1), maxPatchBytes)
}

// isBinary reports content with a NUL byte in its first 8000 bytes, as git does.
func isBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0
}

// lineText is content as text whose every line ends in a newline: one is
// added to a last line without it.
func lineText(b []byte) string {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return string(b) + "\n"
	}
	return string(b)
}
