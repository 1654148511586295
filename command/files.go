// Package command holds the writer's command handlers: each checks a command
// against its aggregates and appends the events it decides.
package command

import (
	"context"
	"errors"
	"fmt"

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
	Mode            uint32            // a write's mode; 0 keeps the current one
	ExpectedVersion *uint64           // the path's stream version the client last saw
}

// ChangeFiles applies one or more file operations atomically.
type ChangeFiles struct {
	CommandID string
	Meta      domain.Metadata
	Ops       []FileOp
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
		req, err := h.decide(cmd)
		if err != nil {
			return domain.AppendResult{}, err
		}
		res, err := h.log.Append(ctx, req)
		var conflict *domain.ConflictError
		if errors.As(err, &conflict) && !clientExpects && attempt < conflictRetries {
			continue // someone else changed a file we read; decide again on fresh state
		}
		return res, err
	}
}

func (h ChangeFilesHandler) decide(cmd ChangeFiles) (domain.AppendRequest, error) {
	files := map[domain.Path]*aggregates.File{}
	var expect []domain.Expectation
	load := func(p domain.Path) (*aggregates.File, error) {
		if f, ok := files[p]; ok {
			return f, nil
		}
		last, ok, err := h.log.LastEvent(domain.FileStreamID(p))
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", p, err)
		}
		var lp *domain.Event
		if ok {
			lp = &last
		}
		f, err := aggregates.NewFile(p, lp)
		if err != nil {
			return nil, err
		}
		files[p] = f
		expect = append(expect, domain.Expectation{StreamID: domain.FileStreamID(p), Version: f.Version})
		return f, nil
	}
	var drafts []domain.Draft
	blobs := map[string][]byte{}
	for i, op := range cmd.Ops {
		f, err := load(op.Path)
		if err != nil {
			return domain.AppendRequest{}, err
		}
		if op.ExpectedVersion != nil && *op.ExpectedVersion != loadedVersion(expect, f.Path) {
			return domain.AppendRequest{}, &domain.ConflictError{StreamID: domain.FileStreamID(f.Path), Expected: *op.ExpectedVersion, Current: loadedVersion(expect, f.Path)}
		}
		switch op.Op {
		case OpWrite:
			drafts = append(drafts, f.Write(op.Content, op.Mode))
			if op.Inline != nil {
				blobs[op.Content.Hash] = op.Inline
			}
		case OpDelete:
			d, err := f.Delete()
			if err != nil {
				return domain.AppendRequest{}, opError(len(cmd.Ops), i, err)
			}
			drafts = append(drafts, d)
		case OpMove:
			dst, err := load(op.To)
			if err != nil {
				return domain.AppendRequest{}, err
			}
			ds, err := f.MoveTo(dst)
			if err != nil {
				return domain.AppendRequest{}, opError(len(cmd.Ops), i, err)
			}
			drafts = append(drafts, ds...)
		default:
			return domain.AppendRequest{}, domain.Invalid(fmt.Sprintf("ops[%d].op", i), "op_unknown", "unknown operation %q (want write, delete or move)", op.Op)
		}
	}
	return domain.AppendRequest{CommandID: cmd.CommandID, Meta: cmd.Meta, Expect: expect, Drafts: drafts, Blobs: blobs}, nil
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
