package fusefs

import (
	"context"
	"io"
	"time"

	"github.com/lighthouse-ai/lighthouse/projections"
)

// Source is what the filesystem serves: a projection of the event log that
// can answer for the head and for any past global sequence.
//
// Every method may be called concurrently from many FUSE request handlers
// and from the invalidation worker. Methods taking a context receive the
// FUSE request's context, which the kernel cancels when the calling process
// is interrupted; returning a context error then yields EINTR instead of EIO.
//
// A Source returns an error wrapping io/fs.ErrNotExist for "no such thing"
// (an unknown blob, a time before the first event); other errors are
// reported to the reader as EIO and logged.
type Source interface {
	// Head is the global sequence of the last event the projection applied.
	Head() uint64

	// Tree returns every file as of global sequence at (0 means head),
	// sorted by path. Paths are slash-separated and relative ("src/a.go").
	Tree(ctx context.Context, at uint64) ([]projections.FileInfo, error)

	// Files returns the head state of those of paths that exist at head;
	// a path missing from the result does not exist (was deleted or never
	// written). Order does not matter. Changed brings each changed file's
	// state; Files answers for the files beneath a path that was a
	// directory (deleted as a whole), without rebuilding the whole tree.
	Files(ctx context.Context, paths []string) ([]projections.FileInfo, error)

	// File returns path's state as of global sequence at (its newest
	// change at or before at), or an error wrapping io/fs.ErrNotExist when
	// the path did not exist then. The mount keeps no content hash in its
	// tree (one per file of the project); it asks File for the hash of the
	// change it shows when it reads the content.
	File(ctx context.Context, path string, at uint64) (projections.FileInfo, error)

	// OpenBlob opens the content whose SHA-256 (lower-case hex) is hash.
	OpenBlob(ctx context.Context, hash string) (Blob, error)

	// StoredEvents calls fn with up to limit events with Seq > after, in
	// ascending Seq order: each one's global sequence and its stored form
	// (the JSON that domain.DecodeEvent reads and the events file serves as
	// a line), valid only during the call. No call means there are none
	// (yet). An error from fn stops the walk and is returned.
	StoredEvents(ctx context.Context, after uint64, limit int, fn func(seq uint64, stored []byte) error) error

	// SeqAtTime returns the last global sequence whose event time is <= t.
	// Before the first event it returns 0 or an error wrapping
	// io/fs.ErrNotExist.
	SeqAtTime(ctx context.Context, t time.Time) (uint64, error)

	// ChangeSetEdge rounds seq (1 up to Head) down to the edge of an atomic
	// change set, as domain.ChangeSetEdge does over the source's log: the
	// last sequence before the set when seq falls inside one, else seq.
	ChangeSetEdge(ctx context.Context, seq uint64) (uint64, error)

	// Snapshots returns the named snapshots: name → global sequence. Names
	// that are not valid file names ("", ".", "..", containing "/") are
	// ignored.
	Snapshots(ctx context.Context) (map[string]uint64, error)

	// Pending returns the reviews now pending, one JSON document each.
	// Reviews whose ID is not a valid file name ("", ".", "..",
	// containing "/" or NUL, or too long for "<ID>.json" to fit in 255
	// bytes) are ignored, as are repeats of an ID. It is called on every
	// request in pending/ (nothing there is cached), so it should be cheap.
	Pending(ctx context.Context) ([]PendingReview, error)

	// Annotations returns the annotations as of global sequence at (0
	// means head): for each path that has some then, the JSON document
	// the reader's GET /v1/annotations?path=PATH&at=SEQ answers. It is
	// called on every request in annotations/ (nothing there is cached).
	Annotations(ctx context.Context, at uint64) (map[string][]byte, error)
}

// PendingReview is one pending review as a file of pending/.
type PendingReview struct {
	ID   string    // review id (a UUID); the file is pending/<ID>.json
	JSON []byte    // the review as JSON, newline-terminated
	Time time.Time // when it was requested (the file's mtime)
}

// Blob is opened content. ReadAt must be safe for concurrent use (as
// io.ReaderAt requires); the filesystem reads only the ranges asked for.
type Blob interface {
	io.ReaderAt
	io.Closer
	Size() int64
}
