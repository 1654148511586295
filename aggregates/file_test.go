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
	d := f.Write(ref, nil)
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
	exec := uint32(0o755)
	other.Write(ref, &exec)
	if _, err := other.MoveTo(dst); !isRule(err, "file_exists") {
		t.Fatalf("move onto an existing file: %v", err)
	}
	if _, err := dst.MoveTo(dst); err == nil {
		t.Fatal("move onto itself succeeded")
	}
}

func TestFileModesAreKept(t *testing.T) {
	t.Parallel()
	ref := domain.ContentRef{Hash: "abc", Size: 3}
	mode := func(m uint32) *uint32 { return &m }
	cases := []struct {
		name  string
		modes []*uint32 // successive writes
		want  uint32
	}{
		{"default", []*uint32{nil}, domain.DefaultFileMode},
		{"zero is kept", []*uint32{mode(0)}, 0},
		{"zero survives a write without mode", []*uint32{mode(0), nil}, 0},
		{"exec", []*uint32{mode(0o755)}, 0o755},
		{"changed", []*uint32{mode(0o600), mode(0o640)}, 0o640},
	}
	for _, c := range cases {
		f, _ := NewFile("a", nil)
		var d domain.Draft
		for _, m := range c.modes {
			d = f.Write(ref, m)
		}
		if got := d.Payload.(domain.FileWritten).Mode; got != c.want || f.Mode != c.want {
			t.Errorf("%s: mode %o, want %o", c.name, got, c.want)
		}
	}
}

func TestNewFileFromLastEvent(t *testing.T) {
	t.Parallel()
	d := domain.Draft{StreamID: "file:a", Type: domain.TypeFileMoved, SchemaVersion: 1,
		Payload: domain.FileMoved{From: "z", To: "a", Hash: "h", Size: 9, Mode: 0o600}}
	e, err := d.Seal(7, 3, e0Time, domain.Metadata{}, "", domain.ChangeSet{})
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
