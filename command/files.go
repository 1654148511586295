// Package command holds the writer's command handlers: each checks a command
// against its aggregates and appends the events it decides.
package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lighthouse-ai/lighthouse/aggregates"
	"github.com/lighthouse-ai/lighthouse/domain"
)

// EventLog is the durable log the handlers append to.
type EventLog interface {
	Append(ctx context.Context, req domain.AppendRequest) (domain.AppendResult, error)
	LastEvent(stream string) (domain.Event, bool, error)
}

// MaxOps bounds the operations of one change set.
const MaxOps = 1000

// conflictRetries is how often a command without a client expectation is
// re-decided after losing a race to a concurrent command.
const conflictRetries = 8

// Op kinds of a change set.
const (
	OpWrite  = "write"
	OpDelete = "delete"
	OpMove   = "move"
)

// FileOp is one operation of a change set.
type FileOp struct {
	Op              string
	Path            domain.Path       // the file written or deleted, or a move's source
	To              domain.Path       // a move's destination
	Content         domain.ContentRef // what a write stores
	Inline          []byte            // small content not yet stored: it is appended with the events
	Mode            *uint32           // a write's mode, kept exactly; nil keeps the current one
	ExpectedVersion *uint64           // the path's stream version the client last saw
}

// ChangeFiles applies one or more file operations atomically.
type ChangeFiles struct {
	CommandID string
	Meta      domain.Metadata
	Ops       []FileOp
	// Fingerprint digests what was asked, for command_id reuse; empty means
	// the digest of Ops.
	Fingerprint string
}

// ChangeFilesHandler handles ChangeFiles.
type ChangeFilesHandler struct {
	log EventLog
}

// NewChangeFilesHandler returns a handler appending to log.
func NewChangeFilesHandler(log EventLog) ChangeFilesHandler {
	return ChangeFilesHandler{log: log}
}

// Handle decides and appends the change set's events. A version the client
// expected but did not find is a *domain.ConflictError.
func (h ChangeFilesHandler) Handle(ctx context.Context, cmd ChangeFiles) (domain.AppendResult, error) {
	return h.handle(ctx, cmd, MaxOps)
}

func (h ChangeFilesHandler) handle(ctx context.Context, cmd ChangeFiles, maxOps int) (domain.AppendResult, error) {
	if len(cmd.Ops) == 0 {
		return domain.AppendResult{}, domain.Invalid("ops", "ops_empty", "a change set needs at least one operation")
	}
	if len(cmd.Ops) > maxOps {
		return domain.AppendResult{}, domain.Invalid("ops", "ops_too_many", "a change set has at most %d operations, got %d", maxOps, len(cmd.Ops))
	}
	clientExpects := false
	for _, op := range cmd.Ops {
		clientExpects = clientExpects || op.ExpectedVersion != nil
	}
	for attempt := 0; ; attempt++ {
		req, current, err := h.decide(cmd)
		if err != nil {
			return domain.AppendResult{}, err
		}
		// A request of no events still goes to the log: a retried command
		// id is answered as the duplicate it is, and the files it read
		// must still be as it read them.
		res, err := h.log.Append(ctx, req)
		var conflict *domain.ConflictError
		if errors.As(err, &conflict) && !clientExpects && attempt < conflictRetries {
			continue // someone else changed a file we read; decide again on fresh state
		}
		if err == nil && res.Unchanged {
			res.LastSeq = current
		}
		return res, err
	}
}

// decide returns the append a change set makes, and the newest sequence
// of the files it read, which is what a reader must have applied to show
// them when the append has no events (writes of what the files already
// hold). A write that leaves its file as it is appends nothing: recorded,
// it would count as its agent's change of the file.
func (h ChangeFilesHandler) decide(cmd ChangeFiles) (domain.AppendRequest, uint64, error) {
	files := map[domain.Path]*aggregates.File{}
	var expect []domain.Expectation
	var created []domain.Path
	load := func(p domain.Path) (*aggregates.File, error) {
		if f, ok := files[p]; ok {
			return f, nil
		}
		f, err := loadFile(h.log, p)
		if err != nil {
			return nil, err
		}
		files[p] = f
		expect = append(expect, domain.Expectation{StreamID: domain.FileStreamID(p), Version: f.Version})
		return f, nil
	}
	var drafts []domain.Draft
	var current uint64
	blobs := map[string][]byte{}
	for i, op := range cmd.Ops {
		f, err := load(op.Path)
		if err != nil {
			return domain.AppendRequest{}, 0, err
		}
		if op.ExpectedVersion != nil && *op.ExpectedVersion != loadedVersion(expect, f.Path) {
			return domain.AppendRequest{}, 0, &domain.ConflictError{StreamID: domain.FileStreamID(f.Path), Expected: *op.ExpectedVersion, Current: loadedVersion(expect, f.Path)}
		}
		switch op.Op {
		case OpWrite:
			if f.Holds(op.Content, op.Mode) {
				current = max(current, f.Seq)
				continue
			}
			if !f.Exists {
				created = append(created, f.Path)
			}
			drafts = append(drafts, f.Write(op.Content, op.Mode))
			if op.Inline != nil {
				blobs[op.Content.Hash] = op.Inline
			}
		case OpDelete:
			d, err := f.Delete()
			if err != nil {
				return domain.AppendRequest{}, 0, opError(len(cmd.Ops), i, err)
			}
			drafts = append(drafts, d)
		case OpMove:
			dst, err := load(op.To)
			if err != nil {
				return domain.AppendRequest{}, 0, err
			}
			ds, err := f.MoveTo(dst)
			if err != nil {
				return domain.AppendRequest{}, 0, opError(len(cmd.Ops), i, err)
			}
			created = append(created, dst.Path)
			drafts = append(drafts, ds...)
		default:
			return domain.AppendRequest{}, 0, domain.Invalid(fmt.Sprintf("ops[%d].op", i), "op_unknown", "unknown operation %q (want write, delete or move)", op.Op)
		}
	}
	fp := cmd.Fingerprint
	if fp == "" && cmd.CommandID != "" {
		fp = fingerprint(cmd.Ops)
	}
	return domain.AppendRequest{CommandID: cmd.CommandID, Meta: cmd.Meta, Expect: expect, Drafts: drafts, Blobs: blobs,
		Fingerprint: fp, Guard: pathGuard(files, created)}, current, nil
}

// fingerprint digests what a change set asks for, so that a command id
// reused for another request is told apart from a retry.
func fingerprint(ops []FileOp) string {
	h := sha256.New()
	for _, op := range ops {
		mode, ev := "-", "-"
		if op.Mode != nil {
			mode = strconv.FormatUint(uint64(*op.Mode), 8)
		}
		if op.ExpectedVersion != nil {
			ev = strconv.FormatUint(*op.ExpectedVersion, 10)
		}
		for _, s := range []string{op.Op, string(op.Path), string(op.To), op.Content.Hash, strconv.FormatInt(op.Content.Size, 10), mode, ev} {
			fmt.Fprintf(h, "%d:%s", len(s), s)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// pathGuard checks, in the log's committer, that a path is a file or a
// directory, never both: no file created by the change set lies below a
// file, and none is a directory that has files. files is the change set's
// final state of every path it touched; created lists the paths it brings
// into existence.
func pathGuard(files map[domain.Path]*aggregates.File, created []domain.Path) func(domain.StreamLookup) error {
	if len(created) == 0 {
		return nil
	}
	return func(log domain.StreamLookup) error {
		exists := func(p domain.Path) (bool, error) {
			if f, ok := files[p]; ok {
				return f.Exists, nil
			}
			f, err := loadFile(log, p)
			if err != nil {
				return false, err
			}
			return f.Exists, nil
		}
		for _, p := range created {
			if f := files[p]; f == nil || !f.Exists {
				continue // moved away again in the same change set
			}
			for dir := parentOf(p); dir != ""; dir = parentOf(dir) {
				ok, err := exists(dir)
				if err != nil {
					return err
				}
				if ok {
					return pathConflict(p, fmt.Sprintf("cannot create %s: %s is a file", p, dir))
				}
			}
			for q, f := range files {
				if f.Exists && q.HasPrefix(string(p)) && q != p {
					return pathConflict(p, fmt.Sprintf("cannot create file %s: it is a directory holding %s", p, q))
				}
			}
			var below domain.Path
			var lookErr error
			err := log.EachStream(domain.FileStreamID(p)+"/", func(stream string) bool {
				q := domain.Path(strings.TrimPrefix(stream, "file:"))
				if _, ours := files[q]; ours {
					return true // decided above from the change set's own state
				}
				ok, err := exists(q)
				if err != nil || ok {
					below, lookErr = q, err
					return false
				}
				return true
			})
			if err == nil {
				err = lookErr
			}
			if err != nil {
				return err
			}
			if below != "" {
				return pathConflict(p, fmt.Sprintf("cannot create file %s: it is a directory holding %s", p, below))
			}
		}
		return nil
	}
}

func pathConflict(p domain.Path, msg string) error {
	return &domain.RuleError{Code: "path_conflict", Message: msg}
}

// parentOf returns the directory of p, "" at the root.
func parentOf(p domain.Path) domain.Path {
	i := strings.LastIndexByte(string(p), '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// loadFile rebuilds a path's aggregate from its latest event.
func loadFile(log interface {
	LastEvent(string) (domain.Event, bool, error)
}, p domain.Path) (*aggregates.File, error) {
	last, ok, err := log.LastEvent(domain.FileStreamID(p))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", p, err)
	}
	var lp *domain.Event
	if ok {
		lp = &last
	}
	return aggregates.NewFile(p, lp)
}

func loadedVersion(expect []domain.Expectation, p domain.Path) uint64 {
	id := domain.FileStreamID(p)
	for _, x := range expect {
		if x.StreamID == id {
			return x.Version
		}
	}
	return 0
}

// opError names the operation at fault when a change set has several.
func opError(n, i int, err error) error {
	if n == 1 {
		return err
	}
	var re *domain.RuleError
	if errors.As(err, &re) {
		return &domain.RuleError{Code: re.Code, Message: fmt.Sprintf("ops[%d]: %s", i, re.Message)}
	}
	return err
}
