package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// TestDomainRules checks the rules that span requests: a path is a file or
// a directory, a command id means one request, modes are kept exactly and
// observers append nothing.
func TestDomainRules(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	w := e.admin
	put := func(path, content string, o client.WriteOptions) (client.CommandResult, error) {
		return w.WriteFile(ctx, path, strings.NewReader(content), o)
	}
	changes := func(body map[string]any) error {
		return w.PostJSON(ctx, "/v1/changes", body, nil)
	}
	write := func(p string) map[string]any { return map[string]any{"op": "write", "path": p, "content": "x"} }
	move := func(body map[string]any) error { return w.PostJSON(ctx, "/v1/files/move", body, nil) }
	for _, p := range []string{"a/b.txt", "f.txt", "del/x.txt", "mv/src.txt"} {
		if _, err := put(p, "x", client.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	conflicts := []struct {
		name string
		do   func() error
	}{
		{"file over a directory", func() error { _, err := put("a", "x", client.WriteOptions{}); return err }},
		{"file below a file", func() error { _, err := put("a/b.txt/c", "x", client.WriteOptions{}); return err }},
		{"file below a file, deep", func() error { _, err := put("f.txt/d/e/g", "x", client.WriteOptions{}); return err }},
		{"move below a file", func() error { return move(map[string]any{"from": "mv/src.txt", "to": "f.txt/c"}) }},
		{"move onto a directory", func() error { return move(map[string]any{"from": "mv/src.txt", "to": "a"}) }},
		{"within one change set", func() error { return changes(map[string]any{"ops": []any{write("n/o.txt"), write("n")}}) }},
		{"within one change set, reversed", func() error { return changes(map[string]any{"ops": []any{write("m"), write("m/o.txt")}}) }},
	}
	for _, c := range conflicts {
		if err := c.do(); !isCode(err, 409, "path_conflict") {
			t.Errorf("%s: %v, want 409 path_conflict", c.name, err)
		}
	}
	// What stays allowed: replacing a directory's last file by a file of
	// the directory's name in one change set, a deleted file's name as a
	// directory, and moving a file below its own old name.
	allowed := []struct {
		name string
		do   func() error
	}{
		{"delete then file of the dir's name", func() error {
			return changes(map[string]any{"ops": []any{map[string]any{"op": "delete", "path": "del/x.txt"}, write("del")}})
		}},
		{"deleted file's name as a directory", func() error {
			if _, err := w.DeleteFile(ctx, "f.txt"); err != nil {
				return err
			}
			_, err := put("f.txt/now-a-dir.txt", "x", client.WriteOptions{})
			return err
		}},
		{"move below its own old name", func() error { return move(map[string]any{"from": "mv/src.txt", "to": "mv/src.txt/inside"}) }},
	}
	for _, c := range allowed {
		if err := c.do(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	// Racing creations of a file and a directory of the same name: never both.
	for i := 0; i < 20; i++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, p := range []string{fmt.Sprintf("race%d", i), fmt.Sprintf("race%d/x.txt", i)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = put(p, "x", client.WriteOptions{})
			}()
		}
		wg.Wait()
		if errs[0] == nil && errs[1] == nil {
			t.Fatalf("race %d: both the file and the directory were created", i)
		}
	}

	// A command id means one request.
	o := client.WriteOptions{CommandID: "k-1"}
	first, err := put("c.txt", "A", o)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := put("c.txt", "A", o); err != nil || !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("same request again: %+v, %v", again, err)
	}
	reused := []struct {
		name string
		do   func() error
	}{
		{"other content", func() error { _, err := put("c.txt", "B", o); return err }},
		{"other path", func() error { _, err := put("d.txt", "A", o); return err }},
		{"other mode", func() error {
			_, err := put("c.txt", "A", client.WriteOptions{CommandID: "k-1", Mode: "600"})
			return err
		}},
		{"change set", func() error { return changes(map[string]any{"command_id": "k-1", "ops": []any{write("c.txt")}}) }},
		{"restore", func() error {
			return w.PostJSON(ctx, "/v1/restore", map[string]any{"point": "1", "command_id": "k-1"}, nil)
		}},
	}
	for _, c := range reused {
		if err := c.do(); !isCode(err, 409, "command_id_reused") {
			t.Errorf("command id reused, %s: %v, want 409 command_id_reused", c.name, err)
		}
	}
	if err := w.PostJSON(ctx, "/v1/restore", map[string]any{"point": "1", "command_id": strings.Repeat("r", 129)}, nil); !isField(err, 400, "command_id") {
		t.Errorf("restore with a 129-byte command_id: %v", err)
	}

	// Modes are kept exactly or refused.
	modes := []struct {
		path, mode string
		want       uint32
		status     int
	}{
		{"m0.txt", "0000", 0, 200},
		{"m1.txt", "000", 0, 200},
		{"m2.txt", "0755", 0o755, 200},
		{"m3.txt", "", 0o644, 200},
		{"m4.txt", "4755", 0, 400},
		{"m5.txt", "1777", 0, 400},
		{"m6.txt", "rw", 0, 400},
		{"m7.txt", "-1", 0, 400},
	}
	for _, m := range modes {
		_, err := put(m.path, "x", client.WriteOptions{Mode: m.mode})
		if m.status != 200 {
			if !isField(err, m.status, "mode") {
				t.Errorf("mode %q: %v, want %d naming mode", m.mode, err, m.status)
			}
			continue
		}
		if err != nil {
			t.Fatalf("mode %q: %v", m.mode, err)
		}
	}
	if err := changes(map[string]any{"ops": []any{map[string]any{"op": "write", "path": "m8.txt", "content": "x", "mode": "0"}}}); err != nil {
		t.Fatal(err)
	}
	last := e.writerHead()
	var tree struct {
		Files []struct {
			Path string `json:"path"`
			Mode uint32 `json:"mode"`
		} `json:"files"`
	}
	if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/tree?min_seq=%d", last), nil, nil, &tree); err != nil {
		t.Fatal(err)
	}
	got := map[string]uint32{}
	for _, f := range tree.Files {
		got[f.Path] = f.Mode
	}
	for _, m := range append(modes, struct {
		path, mode string
		want       uint32
		status     int
	}{"m8.txt", "0", 0, 200}) {
		if mode, ok := got[m.path]; m.status == 200 && (!ok || mode != m.want) {
			t.Errorf("%s written with mode %q has mode %o (%v), want %o", m.path, m.mode, mode, ok, m.want)
		}
	}

	// Observers append nothing: not even a gate decision.
	observer, _ := e.addAgent("watcher", "observer")
	head := e.writerHead()
	call := map[string]any{"tool_name": "Bash", "session_id": "s", "tool_input": map[string]any{"command": "ls"}}
	if err := observer.PostJSON(ctx, "/v1/validate", call, nil); !isStatus(err, 403) {
		t.Errorf("observer validate: %v, want 403", err)
	}
	if err := observer.PostJSON(ctx, "/v1/snapshots", map[string]any{"name": "obs"}, nil); !isStatus(err, 403) {
		t.Errorf("observer snapshot: %v, want 403", err)
	}
	if h := e.writerHead(); h != head {
		t.Errorf("observer requests appended: head %d → %d", head, h)
	}
	expert, _ := e.addAgent("expert", "expert")
	if err := expert.PostJSON(ctx, "/v1/validate", call, nil); err != nil {
		t.Errorf("expert validate: %v", err)
	}
}

func isCode(err error, status int, code string) bool {
	var ce *client.Error
	return errorsAs(err, &ce) && ce.Status == status && ce.Code == code
}
