package aggregates

import (
	"errors"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

func TestFileRules(t *testing.T) {
	t.Parallel()
	ref := domain.ContentRef{Hash: "abc", Size: 3}
	f, _ := NewFile("a", nil)
	if _, err := f.Delete(); !isRule(err, "file_not_found") {
		t.Fatalf("delete of a new file: %v", err)
	}
	d := f.Write(ref, 0)
	if d.Type != domain.TypeFileWritten || f.Version != 1 || !f.Exists || f.Mode != domain.DefaultFileMode {
		t.Fatalf("after write: %+v %+v", d, f)
	}
	dst, _ := NewFile("b", nil)
	ds, err := f.MoveTo(dst)
	if err != nil || len(ds) != 2 || f.Exists || !dst.Exists || dst.Content != ref {
		t.Fatalf("move: %v %+v %+v", err, f, dst)
	}
	if ds[0].Type != domain.TypeFileDeleted || ds[1].Type != domain.TypeFileMoved {
		t.Fatalf("move drafts: %+v", ds)
	}
	other, _ := NewFile("c", nil)
	other.Write(ref, 0o755)
	if _, err := other.MoveTo(dst); !isRule(err, "file_exists") {
		t.Fatalf("move onto an existing file: %v", err)
	}
	if _, err := dst.MoveTo(dst); err == nil {
		t.Fatal("move onto itself succeeded")
	}
}

func TestNewFileFromLastEvent(t *testing.T) {
	t.Parallel()
	d := domain.Draft{StreamID: "file:a", Type: domain.TypeFileMoved, SchemaVersion: 1,
		Payload: domain.FileMoved{From: "z", To: "a", Hash: "h", Size: 9, Mode: 0o600}}
	e, err := d.Seal(7, 3, e0Time, domain.Metadata{}, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFile("a", &e)
	if err != nil || !f.Exists || f.Version != 3 || f.Content.Size != 9 || f.Mode != 0o600 {
		t.Fatalf("rebuilt %+v, %v", f, err)
	}
}

func isRule(err error, code string) bool {
	var re *domain.RuleError
	return errors.As(err, &re) && re.Code == code
}

var e0Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
