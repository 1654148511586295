package command

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/lighthouse-ai/lighthouse/domain"
)

func TestAnnotate(t *testing.T) {
	t.Parallel()
	contents := map[string]string{"h3": "a\nb\nc\n", "h1": "a\n"}
	read := func(_ context.Context, hash string) ([]byte, error) {
		c, ok := contents[hash]
		if !ok {
			return nil, fmt.Errorf("no content %s", hash)
		}
		return []byte(c), nil
	}
	write := func(l *streamLog, hash string) {
		if _, err := l.Append(context.Background(), domain.AppendRequest{Drafts: []domain.Draft{{StreamID: "file:f.go", Type: domain.TypeFileWritten,
			Payload: domain.FileWritten{Path: "f.go", Hash: hash, Size: int64(len(contents[hash]))}}}}); err != nil {
			t.Fatal(err)
		}
	}
	author := domain.Agent{ID: "ag", Name: "claude"}
	cases := []struct {
		name      string
		cmd       Annotate
		changeTo  string // the file changes to this content just before the first append
		wantField string
		wantHash  string
	}{
		{"lines of the file", Annotate{Path: "f.go", LineStart: 2, LineEnd: 3, Kind: "todo", Body: "x"}, "", "", "h3"},
		{"no such file", Annotate{Path: "g.go", LineStart: 1, LineEnd: 1, Kind: "note", Body: "x"}, "", "path", ""},
		{"past the end", Annotate{Path: "f.go", LineStart: 1, LineEnd: 4, Kind: "note", Body: "x"}, "", "line_end", ""},
		{"start past the end", Annotate{Path: "f.go", LineStart: 4, LineEnd: 4, Kind: "note", Body: "x"}, "", "line_start", ""},
		{"reversed", Annotate{Path: "f.go", LineStart: 3, LineEnd: 2, Kind: "note", Body: "x"}, "", "line_end", ""},
		{"bad kind", Annotate{Path: "f.go", LineStart: 1, LineEnd: 1, Kind: "idea", Body: "x"}, "", "kind", ""},
		{"empty body", Annotate{Path: "f.go", LineStart: 1, LineEnd: 1, Kind: "note", Body: ""}, "", "body", ""},
		// The file shrinks between the check and the append: the command is
		// decided again on the new content, where line 3 is gone.
		{"file changed meanwhile", Annotate{Path: "f.go", LineStart: 3, LineEnd: 3, Kind: "note", Body: "x"}, "h1", "line_start", ""},
		{"file changed meanwhile, lines still there", Annotate{Path: "f.go", LineStart: 1, LineEnd: 1, Kind: "note", Body: "x"}, "h1", "", "h1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := newStreamLog()
			write(l, "h3")
			if c.changeTo != "" {
				l.beforeAppend = func() { write(l, c.changeTo) }
			}
			c.cmd.Author = author
			got, err := NewAnnotations(l, read).Annotate(context.Background(), c.cmd)
			var ve *domain.ValidationError
			if c.wantField != "" {
				if !errors.As(err, &ve) || ve.Field != c.wantField {
					t.Fatalf("err = %v, want a validation error on %s", err, c.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var p domain.AnnotationCreated
			if err := got.Result.Events[0].DecodePayload(&p); err != nil {
				t.Fatal(err)
			}
			if p.Hash != c.wantHash || p.AnnotationID != got.ID || p.Author != "claude" || p.LineStart != c.cmd.LineStart {
				t.Fatalf("recorded %+v", p)
			}
		})
	}
}

func TestResolveAnnotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newStreamLog()
	h := NewAnnotations(l, func(context.Context, string) ([]byte, error) { return []byte("a\n"), nil })
	if _, err := l.Append(ctx, domain.AppendRequest{Drafts: []domain.Draft{{StreamID: "file:f.go", Type: domain.TypeFileWritten,
		Payload: domain.FileWritten{Path: "f.go", Hash: "h", Size: 2}}}}); err != nil {
		t.Fatal(err)
	}
	a, err := h.Annotate(ctx, Annotate{Path: "f.go", LineStart: 1, LineEnd: 1, Kind: "note", Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Resolve(ctx, domain.Metadata{}, domain.Agent{ID: "ag"}, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	first, err := h.Resolve(ctx, domain.Metadata{}, domain.Agent{ID: "ag"}, a.ID)
	if err != nil || first.Duplicate || len(first.Events) != 1 {
		t.Fatalf("resolve: %+v %v", first, err)
	}
	again, err := h.Resolve(ctx, domain.Metadata{}, domain.Agent{ID: "ag"}, a.ID)
	if err != nil || !again.Duplicate || again.LastSeq != first.LastSeq {
		t.Fatalf("resolving again: %+v %v", again, err)
	}
}
