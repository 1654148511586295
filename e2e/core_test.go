package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
)

func TestWriteReadBack(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	builder, builderID := e.addAgent("builder-1", "builder")
	seq := e.put(builder, "src/main.go", "package main\n")
	got, err := e.readFile("src/main.go", seq)
	if err != nil || got != "package main\n" {
		t.Fatalf("read back = %q, %v", got, err)
	}
	seq = e.put(builder, "src/main.go", "package main // v2\n")
	var tree struct {
		Files []struct {
			Path    string `json:"path"`
			Version uint64 `json:"version"`
			Agent   string `json:"last_agent"`
			Seq     uint64 `json:"last_seq"`
			Size    int64  `json:"size"`
		} `json:"files"`
	}
	if _, err := e.reader.Do(context.Background(), "GET", fmt.Sprintf("/v1/tree?min_seq=%d", seq), nil, nil, &tree); err != nil {
		t.Fatal(err)
	}
	if len(tree.Files) != 1 || tree.Files[0].Version != 2 || tree.Files[0].Agent != builderID || tree.Files[0].Seq != seq || tree.Files[0].Size != 19 {
		t.Fatalf("tree = %+v, want one file at version 2 by %s seq %d", tree.Files, builderID, seq)
	}
	var hist struct {
		Revisions []struct {
			Seq  uint64 `json:"last_seq"`
			Hash string `json:"hash"`
		} `json:"revisions"`
	}
	if _, err := e.reader.Do(context.Background(), "GET", "/v1/files/src/main.go/history", nil, nil, &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist.Revisions) != 2 {
		t.Fatalf("history has %d revisions, want 2", len(hist.Revisions))
	}
	// The old content is still there, at its point.
	old, err := e.reader.Open(context.Background(), fmt.Sprintf("/v1/files/src/main.go?at=%d", hist.Revisions[0].Seq))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	buf := new(strings.Builder)
	if _, err := fmt.Fprint(buf, readAll(t, old)); err != nil || buf.String() != "package main\n" {
		t.Fatalf("content at %d = %q", hist.Revisions[0].Seq, buf.String())
	}
	// Event filters: by agent, type and path.
	var evs struct {
		Events []domain.Event `json:"events"`
	}
	q := fmt.Sprintf("/v1/events?agent=%s&type=file.&path=src&min_seq=%d", builderID, seq)
	if _, err := e.reader.Do(context.Background(), "GET", q, nil, nil, &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs.Events) != 2 {
		t.Fatalf("filtered events = %d, want 2", len(evs.Events))
	}
	for _, ev := range evs.Events {
		if ev.AgentID != builderID || ev.Type != domain.TypeFileWritten {
			t.Errorf("event %d by %s of type %s", ev.Seq, ev.AgentID, ev.Type)
		}
	}
	var st struct {
		Applied    uint64  `json:"applied"`
		WriterHead *uint64 `json:"writer_head"`
		Lag        *uint64 `json:"lag"`
	}
	if _, err := e.reader.Do(context.Background(), "GET", fmt.Sprintf("/v1/status?min_seq=%d", seq), nil, nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Applied < seq || st.WriterHead == nil || *st.WriterHead < seq || st.Lag == nil {
		t.Fatalf("status = %+v", st)
	}
}

func TestChangeSetIsAtomic(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	e.put(e.admin, "old.txt", "old")
	var res client.CommandResult
	err := e.admin.PostJSON(ctx, "/v1/changes", map[string]any{"ops": []map[string]any{
		{"op": "write", "path": "a.txt", "content": "A"},
		{"op": "write", "path": "b.bin", "content_base64": "AAEC"},
		{"op": "move", "path": "old.txt", "to": "new.txt"},
	}}, &res)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"a.txt": "A", "b.bin": "\x00\x01\x02", "new.txt": "old"} {
		if got, err := e.readFile(path, res.Seq); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := e.readFile("old.txt", res.Seq); !isStatus(err, 404) {
		t.Errorf("old.txt after move: %v, want 404", err)
	}
	head := e.writerHead()
	// A change set with one bad operation changes nothing.
	err = e.admin.PostJSON(ctx, "/v1/changes", map[string]any{"ops": []map[string]any{
		{"op": "write", "path": "c.txt", "content": "C"},
		{"op": "delete", "path": "missing.txt"},
	}}, &res)
	if !isStatus(err, 404) {
		t.Fatalf("change set with a missing delete: %v, want 404", err)
	}
	err = e.admin.PostJSON(ctx, "/v1/changes", map[string]any{"ops": []map[string]any{
		{"op": "write", "path": "c.txt", "content": "C"},
		{"op": "write", "path": "../escape", "content": "x"},
	}}, &res)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 400 || ce.Field != "ops[1].path" {
		t.Fatalf("change set with a bad path: %v, want 400 naming ops[1].path", err)
	}
	if h := e.writerHead(); h != head {
		t.Fatalf("failed change sets appended events: head %d → %d", head, h)
	}
}

func TestVersionConflict(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	e.put(e.admin, "f.txt", "1")
	e.put(e.admin, "f.txt", "2")
	v := uint64(1)
	_, err := e.admin.WriteFile(ctx, "f.txt", strings.NewReader("3"), client.WriteOptions{ExpectedVersion: &v})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusConflict || ce.CurrentVersion == nil || *ce.CurrentVersion != 2 {
		t.Fatalf("stale write: %v, want 409 naming current version 2", err)
	}
	v = 2
	if _, err := e.admin.WriteFile(ctx, "f.txt", strings.NewReader("3"), client.WriteOptions{ExpectedVersion: &v}); err != nil {
		t.Fatalf("write at the right version: %v", err)
	}
	zero := uint64(0)
	if _, err := e.admin.WriteFile(ctx, "new.txt", strings.NewReader("x"), client.WriteOptions{ExpectedVersion: &zero}); err != nil {
		t.Fatalf("create with expected version 0: %v", err)
	}
}

func TestIdempotentRetry(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	o := client.WriteOptions{CommandID: "cmd-42"}
	first, err := e.admin.WriteFile(ctx, "f.txt", strings.NewReader("once"), o)
	if err != nil {
		t.Fatal(err)
	}
	head := e.writerHead()
	again, err := e.admin.WriteFile(ctx, "f.txt", strings.NewReader("once"), o)
	if err != nil {
		t.Fatal(err)
	}
	if again.Seq != first.Seq || !again.Duplicate || first.Duplicate {
		t.Fatalf("retry = %+v, first = %+v", again, first)
	}
	if h := e.writerHead(); h != head {
		t.Fatalf("retry appended: head %d → %d", head, h)
	}
	// The same id from another agent is another command.
	other, _ := e.addAgent("other", "builder")
	res, err := other.WriteFile(ctx, "g.txt", strings.NewReader("x"), o)
	if err != nil || res.Duplicate {
		t.Fatalf("same id, other agent: %+v, %v", res, err)
	}
}

func TestPathAttacks(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	head := e.writerHead()
	cases := []struct {
		name, path, code string
	}{
		{"dotdot", "/v1/files/../etc/passwd", "path_escapes_root"},
		{"inner dotdot", "/v1/files/a/../../x", "path_escapes_root"},
		{"encoded dotdot", "/v1/files/%2e%2e/%2e%2e/x", "path_escapes_root"},
		{"encoded slash dotdot", "/v1/files/a%2f..%2f..%2fx", "path_escapes_root"},
		{"absolute", "/v1/files//etc/passwd", "path_absolute"},
		{"nul", "/v1/files/a%00b", "path_nul_byte"},
		{"control", "/v1/files/a%0ab", "path_control_char"},
		{"backslash", "/v1/files/..%5c..%5cx", "path_backslash"},
		{"too long", "/v1/files/" + strings.Repeat("a/", 2100) + "x", "path_too_long"},
		{"long component", "/v1/files/" + strings.Repeat("a", 300), "path_too_long"},
		{"root", "/v1/files/.", "path_empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.raw("PUT", e.sys.WriterURL, tc.path, e.sys.AdminToken, strings.NewReader("x"))
			var eb struct {
				Error struct{ Code, Field string }
			}
			json.Unmarshal([]byte(body), &eb)
			if status != 400 || eb.Error.Code != tc.code || eb.Error.Field != "path" {
				t.Fatalf("PUT %s = %d %s, want 400 %s naming path", tc.path, status, body, tc.code)
			}
		})
	}
	// Moves confine both ends.
	err := e.admin.PostJSON(context.Background(), "/v1/files/move", map[string]string{"from": "a", "to": "../b"}, nil)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 400 || ce.Field != "to" {
		t.Fatalf("move to ../b: %v, want 400 naming to", err)
	}
	if h := e.writerHead(); h != head {
		t.Fatalf("attacks appended events: head %d → %d", head, h)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	for name, token := range map[string]string{"no token": "", "bad token": "lh_nope"} {
		if status, _ := e.raw("PUT", e.sys.WriterURL, "/v1/files/x", token, strings.NewReader("x")); status != 401 {
			t.Errorf("writer with %s: %d, want 401", name, status)
		}
		if status, _ := e.raw("GET", e.sys.ReaderURL, "/v1/tree", token, nil); status != 401 {
			t.Errorf("reader with %s: %d, want 401", name, status)
		}
	}
	observer, _ := e.addAgent("watcher", "observer")
	if _, err := observer.WriteFile(ctx, "x", strings.NewReader("x"), client.WriteOptions{}); !isStatus(err, 403) {
		t.Errorf("observer write: %v, want 403", err)
	}
	builder, builderID := e.addAgent("builder", "builder")
	if err := builder.PostJSON(ctx, "/v1/agents", map[string]string{"name": "evil", "role": "admin"}, nil); !isStatus(err, 403) {
		t.Errorf("builder adds an agent: %v, want 403", err)
	}
	if err := e.admin.PostJSON(ctx, "/v1/agents", map[string]string{"name": "builder", "role": "builder"}, nil); !isStatus(err, 409) {
		t.Errorf("taken name: %v, want 409", err)
	}
	if err := e.admin.PostJSON(ctx, "/v1/agents", map[string]string{"name": "x", "role": "king"}, nil); !isField(err, 400, "role") {
		t.Errorf("unknown role: %v, want 400 naming role", err)
	}
	// The agent of an event is the token's, whatever the request claims.
	res, err := builder.WriteFile(ctx, "who.txt", strings.NewReader("me"), client.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var evs struct {
		Events []domain.Event `json:"events"`
	}
	if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/events?after=%d&limit=1&min_seq=%d", res.Seq-1, res.Seq), http.Header{"X-Agent-Id": {"admin"}}, nil, &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs.Events) != 1 || evs.Events[0].AgentID != builderID {
		t.Fatalf("event agent = %+v, want %s", evs.Events, builderID)
	}
	// A new agent's token works on the reader once it has applied the registration.
	if _, err := client.New(e.sys.ReaderURL, observer.Token).Do(ctx, "GET", fmt.Sprintf("/v1/tree?min_seq=%d", res.Seq), nil, nil, nil); err != nil {
		t.Fatalf("observer reads: %v", err)
	}
}

func TestReaderRestartResumes(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	var seq uint64
	for i := 0; i < 50; i++ {
		seq = e.put(e.admin, fmt.Sprintf("f%d.txt", i), fmt.Sprint(i))
	}
	if _, err := e.readFile("f49.txt", seq); err != nil {
		t.Fatal(err)
	}
	if err := e.sys.Reader.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkpoint := e.writerHead()
	for i := 50; i < 80; i++ {
		seq = e.put(e.admin, fmt.Sprintf("f%d.txt", i), fmt.Sprint(i))
	}
	if err := e.sys.StartReader(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The second start opened the projection where the first left it.
	opens := strings.Count(e.out.String(), `"msg":"projection opened"`)
	if opens != 2 || !strings.Contains(e.out.String(), fmt.Sprintf(`"msg":"projection opened","process":"reader","position":%d`, checkpoint)) {
		t.Fatalf("reader did not resume from its checkpoint (%d):\n%s", checkpoint, e.out.String())
	}
	for _, i := range []int{0, 49, 50, 79} {
		if got, err := e.readFile(fmt.Sprintf("f%d.txt", i), seq); err != nil || got != fmt.Sprint(i) {
			t.Errorf("f%d.txt = %q, %v", i, got, err)
		}
	}
}

func TestLateReaderCatchesUp(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	const total, batch = 10000, 500
	ctx := context.Background()
	var last uint64
	for b := 0; b < total/batch; b++ {
		ops := make([]map[string]any, batch)
		for i := range ops {
			n := b*batch + i
			ops[i] = map[string]any{"op": "write", "path": fmt.Sprintf("d%d/f%d.txt", n%50, n), "content": fmt.Sprint(n)}
		}
		var res client.CommandResult
		if err := e.admin.PostJSON(ctx, "/v1/changes", map[string]any{"ops": ops}, &res); err != nil {
			t.Fatal(err)
		}
		last = res.Seq
	}
	// A second reader on a fresh directory, started after the fact.
	late, _, err := startExtraReader(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tree struct {
		Files []json.RawMessage `json:"files"`
	}
	if _, err := late.Do(ctx, "GET", fmt.Sprintf("/v1/tree?min_seq=%d", last), nil, nil, &tree); err != nil {
		t.Fatal(err)
	}
	if len(tree.Files) != total {
		t.Fatalf("late reader has %d files, want %d", len(tree.Files), total)
	}
}

// TestWriterKill9LosesNothing streams writes from several agents, kills the
// writer with SIGKILL mid-stream, restarts it and checks that every
// acknowledged write is in the log and that the reader converges to exactly
// the writer's state.
func TestWriterKill9LosesNothing(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	type ack struct {
		content string
		seq     uint64
	}
	var (
		mu    sync.Mutex
		acked = map[string]ack{} // path → last acknowledged write
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := fmt.Sprintf("w%d/f%d.txt", w, i%20)
				content := fmt.Sprintf("w%d-%d", w, i)
				res, err := e.admin.WriteFile(ctx, path, strings.NewReader(content), client.WriteOptions{})
				if err != nil {
					time.Sleep(20 * time.Millisecond) // the writer is down; keep trying
					continue
				}
				mu.Lock()
				if res.Seq > acked[path].seq {
					acked[path] = ack{content, res.Seq}
				}
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	e.sys.Writer.Kill()
	time.Sleep(300 * time.Millisecond)
	if err := e.sys.StartWriter(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	// The writer's log is the truth: fold it into the final state.
	state, _, after := foldLog(ctx, t, e.admin)
	var verify struct {
		OK       bool   `json:"ok"`
		Verified uint64 `json:"verified"`
	}
	if _, err := e.admin.Do(ctx, "GET", "/v1/verify", nil, nil, &verify); err != nil || !verify.OK || verify.Verified != after {
		t.Fatalf("hash chain after crash: %+v, %v", verify, err)
	}
	// Every acknowledged write is durable: its event is in the log.
	for path, a := range acked {
		ev, err := eventAt(e, a.seq)
		if err != nil {
			t.Fatalf("acknowledged seq %d: %v", a.seq, err)
		}
		c, _, _ := domain.AsFileChange(ev)
		if string(c.Path) != path || c.Hash != hashOf(a.content) {
			t.Fatalf("acknowledged write %s=%q at %d is not in the log (found %+v)", path, a.content, a.seq, c)
		}
	}
	// The reader converges to exactly the writer's state.
	var tree struct {
		Files []struct {
			Path string `json:"path"`
			Hash string `json:"hash"`
		} `json:"files"`
	}
	if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/tree?min_seq=%d", after), nil, nil, &tree); err != nil {
		t.Fatal(err)
	}
	if len(tree.Files) != len(state) {
		t.Fatalf("reader has %d files, writer %d", len(tree.Files), len(state))
	}
	for _, f := range tree.Files {
		if state[f.Path] != f.Hash {
			t.Errorf("%s: reader %s, writer %s", f.Path, f.Hash, state[f.Path])
		}
	}
	var st struct {
		Applied uint64 `json:"applied"`
	}
	if _, err := e.reader.Do(ctx, "GET", "/v1/status", nil, nil, &st); err != nil || st.Applied != after {
		t.Fatalf("reader applied %d, writer head %d (%v)", st.Applied, after, err)
	}
}

// TestUnchangedWriteAppendsNothing: a write of the content (and mode) a file
// already holds is no change, so it appends no event, which would count as
// its agent's change of the file. `lighthouse put` says so and prints the
// file's current sequence; a new mode or content is a change; a retried
// command id is still a duplicate. (And `put dir/`, which wrote a file
// named dir, is refused.)
func TestUnchangedWriteAppendsNothing(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	put := func(content string, args ...string) (seq string, stderr string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "lighthouse"), append([]string{"put"}, args...)...)
		cmd.Env = append(cmd.Environ(), "LIGHTHOUSE_URL="+e.sys.WriterURL, "LIGHTHOUSE_TOKEN="+e.sys.AdminToken)
		cmd.Stdin = strings.NewReader(content)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("lighthouse put %v: %v\n%s", args, err, errb.String())
		}
		return strings.TrimSpace(out.String()), errb.String()
	}
	first, _ := put("same\n", "a.txt")
	head := e.writerHead()
	again, note := put("same\n", "a.txt")
	if again != first || !strings.Contains(note, "a.txt already holds this content") {
		t.Fatalf("put of the same content: seq %s (first %s), stderr %q", again, first, note)
	}
	if h := e.writerHead(); h != head {
		t.Fatalf("put of the same content appended: head %d -> %d", head, h)
	}
	for _, c := range []struct {
		name, content string
		args          []string
	}{
		{"a new mode", "same\n", []string{"--mode", "755", "a.txt"}},
		{"new content", "other\n", []string{"a.txt"}},
		{"the content again at another path", "same\n", []string{"b.txt"}},
	} {
		seq, note := put(c.content, c.args...)
		if strings.Contains(note, "already holds") || seq == first || e.writerHead() == head {
			t.Fatalf("%s: seq %s, stderr %q, head %d: want a new event", c.name, seq, note, e.writerHead())
		}
		head = e.writerHead()
	}
	// A directory's path is no file to write.
	cmd := exec.Command(filepath.Join(binDir, "lighthouse"), "put", "dir/")
	cmd.Env = append(cmd.Environ(), "LIGHTHOUSE_URL="+e.sys.WriterURL, "LIGHTHOUSE_TOKEN="+e.sys.AdminToken)
	cmd.Stdin = strings.NewReader("x")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), `"dir/" names a directory`) || e.writerHead() != head {
		t.Errorf("lighthouse put dir/: %v\n%s", err, out)
	}
	// A retried command id is answered as the duplicate it is.
	o := client.WriteOptions{CommandID: "same-again"}
	w1, err := e.admin.WriteFile(ctx, "c.txt", strings.NewReader("c"), o)
	if err != nil {
		t.Fatal(err)
	}
	if w2, err := e.admin.WriteFile(ctx, "c.txt", strings.NewReader("c"), o); err != nil || !w2.Duplicate || w2.Unchanged || w2.Seq != w1.Seq {
		t.Fatalf("retried command: %+v, %v (first %+v)", w2, err, w1)
	}
	// Without a command id, the unchanged answer carries the file's sequence.
	if w3, err := e.admin.WriteFile(ctx, "c.txt", strings.NewReader("c"), client.WriteOptions{}); err != nil || !w3.Unchanged || w3.Seq != w1.Seq {
		t.Fatalf("unchanged write: %+v, %v (first %+v)", w3, err, w1)
	}
}
