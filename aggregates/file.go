// Package aggregates holds Lighthouse's consistency boundaries: the state a
// command must check before its events may be appended.
package aggregates

import (
	"github.com/lighthouse-ai/lighthouse/domain"
)

// File is one path's stream. File events carry the whole state of the file,
// so the aggregate is rebuilt from its latest event alone.
type File struct {
	Path    domain.Path
	Version uint64 // events in the stream so far
	Seq     uint64 // the log sequence of its latest event (0: never written)
	Exists  bool
	Content domain.ContentRef
	Mode    uint32
}

// NewFile returns the aggregate of path rebuilt from its latest event, or a
// new (never written) file if last is nil.
func NewFile(path domain.Path, last *domain.Event) (*File, error) {
	f := &File{Path: path}
	if last == nil {
		return f, nil
	}
	c, _, err := domain.AsFileChange(*last)
	if err != nil {
		return nil, err
	}
	f.Version, f.Seq = last.StreamVersion, last.Seq
	f.Exists = !c.Deleted
	f.Content = domain.ContentRef{Hash: c.Hash, Size: c.Size}
	f.Mode = c.Mode
	return f, nil
}

func (f *File) stream() string { return domain.FileStreamID(f.Path) }

func (f *File) record(d domain.Draft) domain.Draft {
	f.Version++
	return d
}

// Holds reports whether a write of ref with mode would leave the file as it
// is: it exists with that content, and mode is nil or its mode.
func (f *File) Holds(ref domain.ContentRef, mode *uint32) bool {
	return f.Exists && f.Content.Hash == ref.Hash && (mode == nil || *mode == f.Mode)
}

// Write sets the file's content and, when mode is not nil, its mode exactly
// (0 included). A nil mode keeps the current one, or DefaultFileMode for a
// file that does not exist.
func (f *File) Write(ref domain.ContentRef, mode *uint32) domain.Draft {
	m := f.Mode
	switch {
	case mode != nil:
		m = *mode
	case !f.Exists:
		m = domain.DefaultFileMode
	}
	f.Exists, f.Content, f.Mode = true, ref, m
	return f.record(domain.Draft{StreamID: f.stream(), Type: domain.TypeFileWritten, SchemaVersion: 1,
		Payload: domain.FileWritten{Path: f.Path, Hash: ref.Hash, Size: ref.Size, Mode: m}})
}

// Delete removes the file; it must exist.
func (f *File) Delete() (domain.Draft, error) {
	if !f.Exists {
		return domain.Draft{}, notFound(f.Path)
	}
	f.Exists = false
	return f.record(domain.Draft{StreamID: f.stream(), Type: domain.TypeFileDeleted, SchemaVersion: 1,
		Payload: domain.FileDeleted{Path: f.Path}}), nil
}

// MoveTo moves the file's content to dst, which must not exist. It returns
// the source's deletion and the destination's arrival, in that order.
func (f *File) MoveTo(dst *File) ([]domain.Draft, error) {
	if !f.Exists {
		return nil, notFound(f.Path)
	}
	if f.Path == dst.Path {
		return nil, domain.Invalid("to", "move_to_self", "cannot move %s onto itself", f.Path)
	}
	if dst.Exists {
		return nil, &domain.RuleError{Code: "file_exists", Message: "cannot move onto " + string(dst.Path) + ": it exists"}
	}
	out := f.record(domain.Draft{StreamID: f.stream(), Type: domain.TypeFileDeleted, SchemaVersion: 1,
		Payload: domain.FileDeleted{Path: f.Path, MovedTo: dst.Path}})
	f.Exists = false
	dst.Exists, dst.Content, dst.Mode = true, f.Content, f.Mode
	in := dst.record(domain.Draft{StreamID: dst.stream(), Type: domain.TypeFileMoved, SchemaVersion: 1,
		Payload: domain.FileMoved{From: f.Path, To: dst.Path, Hash: f.Content.Hash, Size: f.Content.Size, Mode: f.Mode}})
	return []domain.Draft{out, in}, nil
}

func notFound(p domain.Path) error {
	return &domain.RuleError{Code: "file_not_found", Message: "file " + string(p) + " does not exist"}
}
