package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// noteAt is an annotation as GET /v1/annotations shows it.
type noteAt struct {
	ID        string `json:"id"`
	Path      string `json:"path"`
	LineStart int    `json:"line_start"`
	LineEnd   int    `json:"line_end"`
	Orphaned  bool   `json:"orphaned"`
	Kind      string `json:"kind"`
	Body      string `json:"body"`
	Author    string `json:"author"`
	Seq       uint64 `json:"seq"`
}

type notesAnswer struct {
	At          uint64   `json:"at"`
	Path        string   `json:"path"`
	Annotations []noteAt `json:"annotations"`
}

func (a notesAnswer) find(id string) (noteAt, bool) {
	for _, n := range a.Annotations {
		if n.ID == id {
			return n, true
		}
	}
	return noteAt{}, false
}

// canMount reports whether this test process can run the fuser.
func canMount() bool {
	_, err := os.Stat("/dev/fuse")
	return os.Geteuid() == 0 && err == nil
}

// TestAnnotationsFollowTheCode: notes anchored to lines of a file (one
// through the CLI, one through the API) follow the file as it changes on
// disk (the watcher of `lighthouse up --project`) and through the API: an
// insertion above moves them down, an edit below leaves them, deleting
// their lines orphans them (kept and flagged), a move takes them along and
// a deletion orphans them. Every earlier point still answers the line
// numbers it had; the mount serves the same JSON; bad input is a 4xx
// naming the field.
func TestAnnotationsFollowTheCode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bin := filepath.Join(binDir, "lighthouse")
	project := filepath.Join(t.TempDir(), "shop")
	const file = "src/cart/cart.go"
	v1 := "package cart\n\n// Total sums the cart.\nfunc Total(items []int) int {\n\treturn 0\n}\n"
	writeProjectFile(t, project, file, v1)
	writeProjectFile(t, project, "README.md", "shop\n")
	var extra []string
	mount := ""
	if canMount() {
		mount = filepath.Join(t.TempDir(), "mnt")
		extra = []string{"--no-mount=false", "--mount", mount}
	} else {
		t.Log("no FUSE here (not root or no /dev/fuse): the mount is not checked")
	}
	g := upProject(t, bin, project, extra...)
	token, err := os.ReadFile(filepath.Join(g.data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	w := client.New(config.AddrURL(filepath.Join(g.data, "writer.addr")), strings.TrimSpace(string(token)))
	r := client.New(config.AddrURL(filepath.Join(g.data, "reader", "reader.addr")), strings.TrimSpace(string(token)))

	// notes returns the reader's answer, raw and decoded, after it has
	// applied everything the writer has.
	notes := func(q url.Values) ([]byte, notesAnswer) {
		t.Helper()
		head, err := w.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		q.Set("min_seq", fmt.Sprint(head))
		body, err := r.Open(ctx, "/v1/annotations?"+q.Encode())
		if err != nil {
			t.Fatalf("GET /v1/annotations?%s: %v", q.Encode(), err)
		}
		defer body.Close()
		raw := []byte(readAll(t, body))
		var ans notesAnswer
		if err := json.Unmarshal(raw, &ans); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		return raw, ans
	}
	of := func(at uint64) notesAnswer {
		t.Helper()
		q := url.Values{"path": {file}}
		if at > 0 {
			q.Set("at", fmt.Sprint(at))
		}
		_, ans := notes(q)
		return ans
	}
	// The watcher imported the file.
	eventually(t, "the import of "+file, func() error {
		body, err := r.Open(ctx, client.FilePath(file))
		if err != nil {
			return err
		}
		return body.Close()
	})

	// One note through the CLI as the user types it, one through the API.
	idTotal := strings.TrimSpace(g.run(project, 0, "annotate", file+":4-6", "--kind", "warning", "Total ignores discounts"))
	var made struct {
		ID  string `json:"id"`
		Seq uint64 `json:"seq"`
	}
	if err := w.PostJSON(ctx, "/v1/annotations", map[string]any{"path": file, "line_start": 3, "line_end": 3, "kind": "todo", "body": "say which discounts"}, &made); err != nil {
		t.Fatal(err)
	}
	idDoc, seqCreated := made.ID, made.Seq
	want := func(ans notesAnswer, id string, start, end int, orphaned bool) {
		t.Helper()
		n, ok := ans.find(id)
		if !ok {
			t.Fatalf("at %d: no annotation %s in %+v", ans.At, id, ans.Annotations)
		}
		if n.LineStart != start || n.LineEnd != end || n.Orphaned != orphaned {
			t.Fatalf("at %d: %s is at %d-%d orphaned=%v, want %d-%d orphaned=%v", ans.At, n.Body, n.LineStart, n.LineEnd, n.Orphaned, start, end, orphaned)
		}
	}
	now := of(0)
	want(now, idTotal, 4, 6, false)
	want(now, idDoc, 3, 3, false)
	if n, _ := now.find(idTotal); n.Kind != "warning" || n.Body != "Total ignores discounts" || n.Author != "admin" {
		t.Errorf("the CLI's note: %+v", n)
	}
	// Paths on the command line are relative to the working directory.
	if out := g.run(filepath.Join(project, "src", "cart"), 0, "annotations", "cart.go"); !strings.Contains(out, file+":4-6") || !strings.Contains(out, "Total ignores discounts") {
		t.Errorf("lighthouse annotations cart.go in src/cart:\n%s", out)
	}

	// 1. On disk: an import block inserted above moves both down.
	v2 := "package cart\n\nimport \"fmt\"\n\n// Total sums the cart.\nfunc Total(items []int) int {\n\treturn 0\n}\n"
	writeProjectFile(t, project, file, v2)
	var seqInserted uint64
	eventually(t, "the notes moved down by the watcher's import", func() error {
		n, _ := of(0).find(idTotal)
		if n.LineStart != 6 {
			return fmt.Errorf("Total's note at %d-%d", n.LineStart, n.LineEnd)
		}
		seqInserted = n.Seq
		return nil
	})
	now = of(0)
	want(now, idTotal, 6, 8, false)
	want(now, idDoc, 5, 5, false)

	// 2. Through the API: an edit below leaves them where they are.
	v3 := v2 + "\nfunc Count(items []int) int { return len(items) }\n"
	if _, err := w.WriteFile(ctx, file, strings.NewReader(v3), client.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	now = of(0)
	want(now, idTotal, 6, 8, false)
	want(now, idDoc, 5, 5, false)

	// 3. On disk: deleting the comment orphans its note; Total's moves up.
	v4 := strings.Replace(v3, "// Total sums the cart.\n", "", 1)
	writeProjectFile(t, project, file, v4)
	eventually(t, "the comment's note orphaned", func() error {
		if n, _ := of(0).find(idDoc); !n.Orphaned {
			return fmt.Errorf("not orphaned: %+v", n)
		}
		return nil
	})
	now = of(0)
	want(now, idTotal, 5, 7, false)
	want(now, idDoc, 5, 5, true) // kept where its lines last were, flagged
	seqOrphaned := now.At

	// Earlier points answer the line numbers they had.
	want(of(seqCreated), idTotal, 4, 6, false)
	want(of(seqCreated), idDoc, 3, 3, false)
	want(of(seqInserted), idTotal, 6, 8, false)
	if _, ok := of(seqCreated - 1).find(idDoc); ok {
		t.Errorf("the API's note shows before it was made")
	}
	// The CLI answers the same at a point.
	out := g.run(project, 0, "annotations", file, "--at", fmt.Sprint(seqCreated))
	if !strings.Contains(out, file+":4-6") || !strings.Contains(out, file+":3") || strings.Contains(out, "orphaned") {
		t.Errorf("lighthouse annotations --at %d:\n%s", seqCreated, out)
	}
	if out := g.run(project, 0, "annotations", file); !strings.Contains(out, file+":5  todo [orphaned]") || !strings.Contains(out, file+":5-7") {
		t.Errorf("lighthouse annotations now:\n%s", out)
	}

	// The mount serves the reader's JSON, now and at past points.
	if mount != "" {
		checkMountNotes(t, mount, file, seqCreated, notes)
		t.Logf("the mount at %s serves the reader's JSON", mount)
	}

	// A move takes the notes along; a deletion orphans them.
	if err := w.PostJSON(ctx, "/v1/files/move", map[string]string{"from": file, "to": "src/cart/total.go"}, nil); err != nil {
		t.Fatal(err)
	}
	_, moved := notes(url.Values{"path": {"src/cart/total.go"}})
	want(moved, idTotal, 5, 7, false)
	want(moved, idDoc, 5, 5, true)
	if _, left := notes(url.Values{"path": {file}}); len(left.Annotations) != 0 {
		t.Errorf("notes left on the old path: %+v", left.Annotations)
	}
	if _, err := w.DeleteFile(ctx, "src/cart/total.go"); err != nil {
		t.Fatal(err)
	}
	_, gone := notes(url.Values{"path": {"src/cart/total.go"}})
	want(gone, idTotal, 5, 7, true)

	// Resolving through the CLI hides a note from then on, not before.
	g.run(project, 0, "annotate", "--resolve", idDoc[:8]) // the prefix annotations prints
	_, all := notes(url.Values{})
	if _, ok := all.find(idDoc); ok {
		t.Errorf("a resolved note still shows: %+v", all.Annotations)
	}
	want(of(seqOrphaned), idDoc, 5, 5, true)

	// Bad input: a 4xx naming the field, and nothing recorded.
	before, _ := w.Head(ctx)
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no path", map[string]any{"line_start": 1, "line_end": 1, "body": "x"}, "path"},
		{"no such file", map[string]any{"path": "src/nope.go", "line_start": 1, "line_end": 1, "body": "x"}, "path"},
		{"path escapes", map[string]any{"path": "../etc/passwd", "line_start": 1, "line_end": 1, "body": "x"}, "path"},
		{"line 0", map[string]any{"path": "README.md", "line_start": 0, "line_end": 1, "body": "x"}, "line_start"},
		{"end before start", map[string]any{"path": "README.md", "line_start": 2, "line_end": 1, "body": "x"}, "line_end"},
		{"end past the file", map[string]any{"path": "README.md", "line_start": 1, "line_end": 99, "body": "x"}, "line_end"},
		{"start past the file", map[string]any{"path": "README.md", "line_start": 50, "line_end": 99, "body": "x"}, "line_start"},
		{"bad kind", map[string]any{"path": "README.md", "line_start": 1, "line_end": 1, "kind": "rant", "body": "x"}, "kind"},
		{"empty body", map[string]any{"path": "README.md", "line_start": 1, "line_end": 1, "body": " "}, "body"},
		{"body too long", map[string]any{"path": "README.md", "line_start": 1, "line_end": 1, "body": strings.Repeat("x", 9000)}, "body"},
		{"line as text", map[string]any{"path": "README.md", "line_start": "one", "line_end": 1, "body": "x"}, "line_start"},
	} {
		err := w.PostJSON(ctx, "/v1/annotations", c.body, nil)
		if !isField(err, 400, c.field) {
			t.Errorf("%s: %v, want 400 naming %s", c.name, err, c.field)
		}
	}
	if after, _ := w.Head(ctx); after != before {
		t.Errorf("bad input appended events: head %d → %d", before, after)
	}
	for q, field := range map[string]string{"at=soon": "at", "at=999999": "at", "path=../x": "path"} {
		_, err := r.Do(ctx, "GET", "/v1/annotations?"+q, nil, nil, nil)
		if !isField(err, 400, field) {
			t.Errorf("GET /v1/annotations?%s: %v, want 400 naming %s", q, err, field)
		}
	}
	if err := w.PostJSON(ctx, "/v1/annotations/no-such-note/resolve", nil, nil); !isStatus(err, 404) {
		t.Errorf("resolving an unknown note: %v, want 404", err)
	}
	if out := g.run(project, 2, "annotate", "README.md", "no lines"); !strings.Contains(out, "PATH:START") {
		t.Errorf("annotate without lines: %s", out)
	}
}

// checkMountNotes compares the mount's annotations/ and
// annotations-history/ files with the reader's answers.
func checkMountNotes(t *testing.T, mount, file string, past uint64, notes func(url.Values) ([]byte, notesAnswer)) {
	t.Helper()
	pastFile := filepath.Join(mount, "annotations-history", fmt.Sprintf("@%d", past), file+".json")
	var got []byte
	eventually(t, "the mount's past annotations", func() error {
		var err error
		got, err = os.ReadFile(pastFile)
		return err
	})
	wantRaw, _ := notes(url.Values{"path": {file}, "at": {fmt.Sprint(past)}})
	if !bytes.Equal(got, wantRaw) {
		t.Errorf("%s:\n%s\nthe reader answers:\n%s", pastFile, got, wantRaw)
	}
	headFile := filepath.Join(mount, "annotations", file+".json")
	eventually(t, "the mount's annotations at the head", func() error {
		got, err := os.ReadFile(headFile)
		if err != nil {
			return err
		}
		wantRaw, _ := notes(url.Values{"path": {file}})
		if !bytes.Equal(got, wantRaw) {
			return fmt.Errorf("%s:\n%s\nthe reader answers:\n%s", headFile, got, wantRaw)
		}
		return nil
	})
	var doc notesAnswer
	if err := json.Unmarshal(got, &doc); err != nil || len(doc.Annotations) != 2 {
		t.Errorf("%s: %v %s", pastFile, err, got)
	}
	if entries, err := os.ReadDir(filepath.Join(mount, "annotations", "src", "cart")); err != nil || len(entries) != 1 || entries[0].Name() != "cart.go.json" {
		t.Errorf("ls annotations/src/cart: %v %v", entries, err)
	}
}
