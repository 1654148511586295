// Package query holds the reader's query handlers over the projections.
package query

import (
	"context"
	"io"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// ReadModel is the projection the queries read.
type ReadModel interface {
	Head() uint64
	File(path string, at uint64) (projections.FileInfo, error)
	Tree(at uint64, prefix string) ([]projections.FileInfo, error)
	History(path string) ([]projections.Revision, error)
	Events(f projections.EventFilter) ([]domain.Event, uint64, error)
}

// Content opens stored file contents by hash.
type Content interface {
	Open(ctx context.Context, hash string) (ReadSeekCloser, error)
}

// Prefetcher is Content that can fetch many contents ahead of reading them.
type Prefetcher interface {
	Prefetch(ctx context.Context, hashes []string) error
}

// prefetch warms c for hashes when it can; reading works without it.
func prefetch(ctx context.Context, c Content, hashes []string) error {
	if p, ok := c.(Prefetcher); ok && len(hashes) > 0 {
		return p.Prefetch(ctx, hashes)
	}
	return nil
}

// ReadSeekCloser is file content that can be served with ranges.
type ReadSeekCloser interface {
	io.ReadSeeker
	io.ReaderAt
	io.Closer
}

// Tree lists the files below Prefix as of At (0 means now).
type Tree struct {
	At     uint64
	Prefix string
}

// TreeHandler handles Tree.
type TreeHandler struct{ Model ReadModel }

// Handle returns the files, sorted by path.
func (h TreeHandler) Handle(_ context.Context, q Tree) ([]projections.FileInfo, error) {
	return h.Model.Tree(q.At, q.Prefix)
}

// File asks for one file's content as of At (0 means now).
type File struct {
	Path domain.Path
	At   uint64
}

// FileHandler handles File.
type FileHandler struct {
	Model   ReadModel
	Content Content
}

// Handle returns the file's metadata and its open content; the caller closes it.
func (h FileHandler) Handle(ctx context.Context, q File) (projections.FileInfo, ReadSeekCloser, error) {
	fi, err := h.Model.File(string(q.Path), q.At)
	if err != nil {
		return fi, nil, err
	}
	rc, err := h.Content.Open(ctx, fi.Hash)
	return fi, rc, err
}

// History asks for every revision of a file.
type History struct{ Path domain.Path }

// HistoryHandler handles History.
type HistoryHandler struct{ Model ReadModel }

// Handle returns the revisions, oldest first; a path never written is domain.ErrNotFound.
func (h HistoryHandler) Handle(_ context.Context, q History) ([]projections.Revision, error) {
	revs, err := h.Model.History(string(q.Path))
	if err == nil && len(revs) == 0 {
		return nil, domain.ErrNotFound
	}
	return revs, err
}

// EventsHandler handles an event filter.
type EventsHandler struct{ Model ReadModel }

// Handle returns one page of matching events and the cursor of the next.
func (h EventsHandler) Handle(_ context.Context, f projections.EventFilter) ([]domain.Event, uint64, error) {
	return h.Model.Events(f)
}
