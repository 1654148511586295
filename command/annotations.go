package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// ContentReader reads stored content by its SHA-256 (hex).
type ContentReader func(ctx context.Context, hash string) ([]byte, error)

// Annotations handles annotations: notes anchored to lines of a file. The
// writer only records where a note was put; every replica follows it
// through later file changes itself (projections.Annotations), so file
// writes cost nothing more here.
type Annotations struct {
	log     EventLog
	content ContentReader
}

// NewAnnotations returns the handler appending to log and reading file
// content through content.
func NewAnnotations(log EventLog, content ContentReader) *Annotations {
	return &Annotations{log: log, content: content}
}

// Annotate anchors a note to lines of a file's current content.
type Annotate struct {
	Meta      domain.Metadata
	Author    domain.Agent
	Path      string
	LineStart int
	LineEnd   int
	Kind      string
	Body      string
}

// Annotated is the new annotation's id and where it was appended.
type Annotated struct {
	ID     string
	Path   domain.Path
	Result domain.AppendResult
}

// Annotate validates and records an annotation. The lines must exist in
// the file's content as it is when the event is appended: a file changed
// meanwhile is read again. Bad input is a *domain.ValidationError naming
// the field.
func (h *Annotations) Annotate(ctx context.Context, cmd Annotate) (Annotated, error) {
	p, err := domain.ParsePath("path", cmd.Path)
	if err != nil {
		return Annotated{}, err
	}
	if !domain.ValidAnnotationKind(cmd.Kind) {
		return Annotated{}, domain.Invalid("kind", "kind_invalid", "kind %q: want note, warning, todo or review", cmd.Kind)
	}
	if err := domain.CheckAnnotationBody("body", cmd.Body); err != nil {
		return Annotated{}, err
	}
	if cmd.LineStart < 1 {
		return Annotated{}, domain.Invalid("line_start", "line_invalid", "line_start is 1 or more, got %d", cmd.LineStart)
	}
	if cmd.LineEnd < cmd.LineStart {
		return Annotated{}, domain.Invalid("line_end", "line_invalid", "line_end (%d) is before line_start (%d)", cmd.LineEnd, cmd.LineStart)
	}
	id := uuid.NewString()
	for attempt := 0; ; attempt++ {
		f, err := loadFile(h.log, p)
		if err != nil {
			return Annotated{}, err
		}
		if !f.Exists {
			return Annotated{}, domain.Invalid("path", "file_not_found", "no file %s", p)
		}
		if f.Content.Size > domain.MaxAnnotatedBytes {
			return Annotated{}, domain.Invalid("path", "file_too_large", "%s has %d bytes; annotations follow files of at most %d", p, f.Content.Size, domain.MaxAnnotatedBytes)
		}
		data, err := h.content(ctx, f.Content.Hash)
		if err != nil {
			return Annotated{}, fmt.Errorf("read %s: %w", p, err)
		}
		if n := domain.LineCount(data); cmd.LineEnd > n {
			field := "line_end"
			if cmd.LineStart > n {
				field = "line_start"
			}
			return Annotated{}, domain.Invalid(field, "line_out_of_range", "%s has %d lines; lines %d-%d do not exist", p, n, cmd.LineStart, cmd.LineEnd)
		}
		ev := domain.AnnotationCreated{AnnotationID: id, Path: p, LineStart: cmd.LineStart, LineEnd: cmd.LineEnd, Kind: cmd.Kind, Body: cmd.Body,
			AuthorID: cmd.Author.ID, Author: cmd.Author.Name, Hash: f.Content.Hash, FileVersion: f.Version}
		stream := domain.AnnotationStreamID(id)
		res, err := h.log.Append(ctx, domain.AppendRequest{Meta: cmd.Meta,
			// The file must still be the content the lines were checked in.
			Expect: []domain.Expectation{{StreamID: domain.FileStreamID(p), Version: f.Version}, {StreamID: stream, Version: 0}},
			Drafts: []domain.Draft{{StreamID: stream, Type: domain.TypeAnnotationCreated, SchemaVersion: 1, Payload: ev}}})
		var conflict *domain.ConflictError
		if errors.As(err, &conflict) && attempt < conflictRetries {
			continue
		}
		if err != nil {
			return Annotated{}, err
		}
		return Annotated{ID: id, Path: p, Result: res}, nil
	}
}

// Resolve records that annotation id is done with. Resolving it again
// appends nothing; an unknown id is domain.ErrNotFound.
func (h *Annotations) Resolve(ctx context.Context, meta domain.Metadata, agent domain.Agent, id string) (domain.AppendResult, error) {
	stream := domain.AnnotationStreamID(id)
	last, ok, err := h.log.LastEvent(stream)
	if err != nil {
		return domain.AppendResult{}, err
	}
	if !ok {
		return domain.AppendResult{}, fmt.Errorf("annotation %s: %w", id, domain.ErrNotFound)
	}
	if last.Type == domain.TypeAnnotationResolved {
		return domain.AppendResult{FirstSeq: last.Seq, LastSeq: last.Seq, Duplicate: true}, nil
	}
	return h.log.Append(ctx, domain.AppendRequest{Meta: meta,
		Expect: []domain.Expectation{{StreamID: stream, Version: last.StreamVersion}},
		Drafts: []domain.Draft{{StreamID: stream, Type: domain.TypeAnnotationResolved, SchemaVersion: 1,
			Payload: domain.AnnotationResolved{AnnotationID: id, AgentID: agent.ID, Agent: agent.Name}}}})
}
