package domain

import (
	"bytes"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// Event types of annotations: notes anchored to lines of a file.
const (
	TypeAnnotationCreated  = "annotation.created"
	TypeAnnotationResolved = "annotation.resolved"
)

// Kinds of annotation.
const (
	AnnotationNote    = "note"
	AnnotationWarning = "warning"
	AnnotationTodo    = "todo"
	AnnotationReview  = "review"
)

// Bounds of annotations.
const (
	// MaxAnnotationBody is the largest body, in bytes.
	MaxAnnotationBody = 8 << 10
	// MaxAnnotatedBytes is the largest file content anchors are followed
	// through. A file that grows beyond it orphans its annotations (a
	// line diff of bigger files costs too much on every replica).
	MaxAnnotatedBytes = 4 << 20
)

// AnnotationStreamID is the stream of one annotation: its creation and its
// resolution.
func AnnotationStreamID(id string) string { return "annotation:" + id }

// ValidAnnotationKind reports whether kind is one of the annotation kinds.
func ValidAnnotationKind(kind string) bool {
	switch kind {
	case AnnotationNote, AnnotationWarning, AnnotationTodo, AnnotationReview:
		return true
	}
	return false
}

// AnnotationCreated records a note anchored to lines LineStart..LineEnd
// (1-based, inclusive) of Path as it was at FileVersion, with content Hash.
// Where the lines are later is not recorded: every replica finds them
// again from the file events that follow (see LineMap).
type AnnotationCreated struct {
	AnnotationID string `json:"annotation_id"`
	Path         Path   `json:"path"`
	LineStart    int    `json:"line_start"`
	LineEnd      int    `json:"line_end"`
	Kind         string `json:"kind"`
	Body         string `json:"body"`
	AuthorID     string `json:"author_id"`
	Author       string `json:"author"`
	Hash         string `json:"hash"`
	FileVersion  uint64 `json:"file_version"`
}

// AnnotationResolved records that an annotation is done with: it no longer
// shows from this point on (it still does at earlier points).
type AnnotationResolved struct {
	AnnotationID string `json:"annotation_id"`
	AgentID      string `json:"agent_id"`
	Agent        string `json:"agent"`
}

// Anchor is where an annotation sits in a file: lines Start..End (1-based,
// inclusive). An orphaned anchor lost its lines; Start and End are then
// where they last were.
type Anchor struct {
	Start, End int
	Orphaned   bool
}

// LineCount is the number of lines of content: the newline-terminated ones
// plus a last one without a newline.
func LineCount(content []byte) int {
	n := bytes.Count(content, []byte{'\n'})
	if len(content) > 0 && content[len(content)-1] != '\n' {
		n++
	}
	return n
}

func textLines(s string) int {
	n := strings.Count(s, "\n")
	if s != "" && s[len(s)-1] != '\n' {
		n++
	}
	return n
}

// LineMap says where each line of an old content is in a new one. It is
// computed by a line diff (Myers, through sergi/go-diff's line mode) with
// no time limit, so the same two contents always give the same map on
// every replica.
type LineMap struct {
	to     []int     // old line i (0-based) → new line (1-based), 0 when gone
	edited []lineRun // old line i → the new lines that replaced its hunk, if any
}

type lineRun struct{ start, end int } // 1-based, inclusive; zero when none

// NewLineMap diffs old against new line by line. Contents beyond
// MaxAnnotatedBytes map no line (every anchor is orphaned).
func NewLineMap(old, new []byte) LineMap {
	n := LineCount(old)
	m := LineMap{to: make([]int, n), edited: make([]lineRun, n)}
	if len(old) > MaxAnnotatedBytes || len(new) > MaxAnnotatedBytes {
		return m
	}
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 0 // a deadline would make the answer depend on the machine's speed
	a, b, lines := dmp.DiffLinesToChars(string(old), string(new))
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(a, b, false), lines)
	oi, ni := 0, 0 // lines consumed so far
	for i := 0; i < len(diffs); i++ {
		d := diffs[i]
		k := textLines(d.Text)
		switch d.Type {
		case diffmatchpatch.DiffEqual:
			for j := 0; j < k && oi+j < n; j++ {
				m.to[oi+j] = ni + j + 1
			}
			oi, ni = oi+k, ni+k
		case diffmatchpatch.DiffInsert:
			ni += k
		case diffmatchpatch.DiffDelete:
			// A deletion next to an insertion is an edit in place: the
			// deleted lines' anchors move onto the inserted lines.
			var ins int
			if i+1 < len(diffs) && diffs[i+1].Type == diffmatchpatch.DiffInsert {
				ins = textLines(diffs[i+1].Text)
			} else if i > 0 && diffs[i-1].Type == diffmatchpatch.DiffInsert {
				ins = -textLines(diffs[i-1].Text)
			}
			var run lineRun
			switch {
			case ins > 0:
				run = lineRun{ni + 1, ni + ins}
			case ins < 0:
				run = lineRun{ni + ins + 1, ni}
			}
			for j := 0; j < k && oi+j < n; j++ {
				m.edited[oi+j] = run
			}
			oi += k
		}
	}
	return m
}

// Follow finds an anchor again in the new content:
//   - lines that survive unchanged keep the anchor: it spans from where the
//     first of them is to where the last of them is (so lines inserted
//     above move it, and edits elsewhere leave it alone);
//   - when none survives but some were edited in place (deleted where new
//     lines were inserted), it moves onto those new lines;
//   - when all its lines were deleted it is orphaned, keeping its last
//     line numbers.
//
// An orphaned anchor stays orphaned.
func (m LineMap) Follow(a Anchor) Anchor {
	if a.Orphaned || a.Start < 1 || a.End > len(m.to) || a.Start > a.End {
		return Anchor{Start: a.Start, End: a.End, Orphaned: true}
	}
	first, last := 0, 0
	var run lineRun
	for i := a.Start - 1; i < a.End; i++ {
		if t := m.to[i]; t != 0 {
			if first == 0 {
				first = t
			}
			last = t
		}
		if e := m.edited[i]; e.start != 0 {
			if run.start == 0 || e.start < run.start {
				run.start = e.start
			}
			run.end = max(run.end, e.end)
		}
	}
	switch {
	case first != 0:
		return Anchor{Start: first, End: last}
	case run.start != 0:
		return Anchor{Start: run.start, End: run.end}
	}
	return Anchor{Start: a.Start, End: a.End, Orphaned: true}
}

// CheckAnnotationBody checks an annotation's text.
func CheckAnnotationBody(field, body string) error {
	if strings.TrimSpace(body) == "" {
		return Invalid(field, "body_required", "an annotation needs a body")
	}
	if len(body) > MaxAnnotationBody {
		return Invalid(field, "body_too_long", "the body is at most %d bytes, got %d", MaxAnnotationBody, len(body))
	}
	return CheckText(field, body)
}
