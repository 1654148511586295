package watcher

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// fakeWriter is the part of the writer's API the watcher uses: the log as
// GET /v1/events, and POST /v1/changes with expected versions.
type fakeWriter struct {
	mu      sync.Mutex
	events  []domain.Event
	version map[string]uint64
	sets    int
	race    func(f *fakeWriter) // runs (locked) once, just before the first change set is checked
}

func newFakeWriter() *fakeWriter { return &fakeWriter{version: map[string]uint64{}} }

func (f *fakeWriter) write(path, content, agent string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeLocked(path, content, agent)
}

func (f *fakeWriter) writeLocked(path, content, agent string) {
	f.appendLocked(domain.TypeFileWritten, path, map[string]any{"path": path, "hash": sum(content), "size": len(content), "mode": 0o644}, agent)
}

func (f *fakeWriter) appendLocked(typ, path string, payload any, agent string) {
	raw, _ := json.Marshal(payload)
	f.version[path]++
	f.events = append(f.events, domain.Event{Seq: uint64(len(f.events) + 1), StreamID: "file:" + path, StreamVersion: f.version[path], Type: typ, Payload: raw, AgentID: agent})
}

func (f *fakeWriter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	agent := r.Header.Get("Authorization")
	switch r.URL.Path {
	case "/v1/events":
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		w.Header().Set("X-Lighthouse-Head", strconv.Itoa(len(f.events)))
		for _, e := range f.events[min(after, len(f.events)):] {
			json.NewEncoder(w).Encode(e)
		}
	case "/v1/changes":
		var req struct {
			Ops []struct {
				Op, Path, To, Mode string
				ContentBase64      string  `json:"content_base64"`
				Expected           *uint64 `json:"expected_version"`
			} `json:"ops"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if f.race != nil {
			f.race(f)
			f.race = nil
		}
		for _, op := range req.Ops {
			if op.Expected != nil && *op.Expected != f.version[op.Path] {
				w.WriteHeader(http.StatusConflict)
				fmt.Fprintf(w, `{"error":{"code":"version_conflict","message":"%s"}}`, op.Path)
				return
			}
		}
		f.sets++
		for _, op := range req.Ops {
			switch op.Op {
			case opWrite:
				b, _ := base64.StdEncoding.DecodeString(op.ContentBase64)
				f.appendLocked(domain.TypeFileWritten, op.Path, map[string]any{"path": op.Path, "hash": sum(string(b)), "size": len(b), "mode": 0o644}, agent)
			case opDelete:
				f.appendLocked(domain.TypeFileDeleted, op.Path, map[string]any{"path": op.Path}, agent)
			}
		}
		fmt.Fprintf(w, `{"seq":%d}`, len(f.events))
	default:
		http.NotFound(w, r)
	}
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// syncedWatcher returns a polling watcher (longest hold maxHold, 0 for the
// default) of a new tree holding a.go "v1", which the fake writer's log
// has too, synced with that log. The writer's server closes with the test.
func syncedWatcher(t *testing.T, maxHold time.Duration) (*Watcher, *fakeWriter, *httptest.Server) {
	t.Helper()
	dir, data := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.go"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFakeWriter()
	f.write("a.go", "v1", "Bearer watcher")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	w, err := New(Config{Dir: dir, Data: data, Writer: client.New(srv.URL, "watcher"), Poll: true, MaxHold: maxHold})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w, f, srv
}

func TestFlush(t *testing.T) {
	for _, tc := range []struct {
		name string
		// race runs in the writer just before it checks the watcher's first change set.
		race       func(f *fakeWriter)
		down       bool
		wantWrites int // writes of the new content in the log
		wantByUs   bool
		wantSpool  int
	}{
		{name: "a change is recorded", wantWrites: 1, wantByUs: true},
		{name: "a hook recorded it first: nothing twice", race: func(f *fakeWriter) { f.writeLocked("a.go", "v2", "Bearer agent") }, wantWrites: 1},
		{name: "other content written meanwhile: ours after the conflict", race: func(f *fakeWriter) { f.writeLocked("a.go", "other", "Bearer agent") }, wantWrites: 1, wantByUs: true},
		{name: "writer down: spooled once", down: true, wantSpool: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, f, srv := syncedWatcher(t, 0)
			dir, ctx := w.cfg.Dir, context.Background()
			if err := os.WriteFile(filepath.Join(dir, "a.go"), []byte("v2"), 0o644); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			f.race = tc.race
			f.mu.Unlock()
			if tc.down {
				srv.Close()
			}
			for range 2 { // a second flush must not repeat the first
				w.markDirty("a.go")
				if _, _, err := w.flush(ctx, identity{}); err != nil {
					t.Fatal(err)
				}
			}
			writes, byUs := 0, false
			for _, e := range f.events {
				c, _, _ := domain.AsFileChange(e)
				if c.Path == "a.go" && c.Hash == sum("v2") {
					writes++
					byUs = byUs || (e.AgentID == "Bearer watcher" && e.Seq > 1)
				}
			}
			if writes != tc.wantWrites || byUs != tc.wantByUs {
				t.Fatalf("%d writes of v2 (by the watcher: %v), want %d (%v)", writes, byUs, tc.wantWrites, tc.wantByUs)
			}
			if n := w.spool.Len(); n != tc.wantSpool {
				t.Fatalf("spool has %d entries, want %d", n, tc.wantSpool)
			}
		})
	}
}

// TestSettledCallKeepsLooksOffAChange is the CLI's put, rm and mv: a call
// begun with Settle waits for a look already under way (and holds from
// then on), a look that fell due before it gives way, and another call
// ending with a recording waits for it, so nothing reads the disk between
// the change in the log and the same change on disk (and records it over
// the change: "the watcher undid put/mv/rm").
func TestSettledCallKeepsLooksOffAChange(t *testing.T) {
	t.Parallel()
	// The look under way below outlasts the longest hold: the hold must
	// count from when the call is open, not from when it asked.
	const maxHold = 2 * time.Second
	w, f, _ := syncedWatcher(t, maxHold)
	dir, data := w.cfg.Dir, w.cfg.Data
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := w.serve(ctx); err != nil {
		t.Fatal(err)
	}
	local, err := Dial(data)
	if err != nil {
		t.Fatal(err)
	}

	// A look under way, stopped inside the writer: the begin must wait.
	inLook, letGo := make(chan struct{}), make(chan struct{})
	f.mu.Lock()
	f.race = func(*fakeWriter) { close(inLook); <-letGo }
	f.mu.Unlock()
	if err := os.WriteFile(filepath.Join(dir, "b.go"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.markDirty("b.go")
	var once sync.Once
	release := func() { once.Do(func() { close(letGo) }) }
	defer release() // a failing test must not leave the writer's handler waiting
	looked := make(chan error, 1)
	go func() { _, _, err := w.flushIdle(ctx); looked <- err }()
	<-inLook
	begun := make(chan error, 1)
	go func() {
		var ok map[string]string
		begun <- local.Do(ctx, "/v1/calls/begin", CallRequest{ToolUseID: "cli-1", Tool: "lighthouse", Settle: true}, &ok)
	}()
	select {
	case err := <-begun:
		t.Fatalf("a settling begin returned during a look (%v)", err)
	case <-time.After(maxHold + 200*time.Millisecond):
	}
	release()
	if err := <-looked; err != nil {
		t.Fatal(err)
	}
	if err := <-begun; err != nil {
		t.Fatal(err)
	}

	// The CLI's rm: the log first, then the disk. A look due meanwhile
	// records nothing, and an agent's call ending meanwhile records after.
	f.mu.Lock()
	f.appendLocked(domain.TypeFileDeleted, "a.go", map[string]any{"path": "a.go"}, "Bearer admin")
	f.mu.Unlock()
	w.markDirty("a.go")
	if res, _, err := w.flushIdle(ctx); err != nil || res.Ops != 0 {
		t.Fatalf("a look during the call recorded %d ops (%v)", res.Ops, err)
	}
	agentEnded := make(chan error, 1)
	go func() {
		_, err := w.EndCall(ctx, CallRequest{ToolUseID: "agent-1", Token: "agent", Record: true})
		agentEnded <- err
	}()
	select {
	case err := <-agentEnded:
		t.Fatalf("an agent's call ended with a recording during the CLI's change (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := os.Remove(filepath.Join(dir, "a.go")); err != nil {
		t.Fatal(err)
	}
	var res CallResult
	if err := local.Do(ctx, "/v1/calls/end", CallRequest{ToolUseID: "cli-1"}, &res); err != nil {
		t.Fatal(err)
	}
	if err := <-agentEnded; err != nil {
		t.Fatal(err)
	}
	if res, _, err := w.flushIdle(ctx); err != nil || res.Ops != 0 {
		t.Fatalf("the look after the call recorded %d ops (%v): the disk is as the log has it", res.Ops, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.events {
		if c, _, _ := domain.AsFileChange(e); c.Path == "a.go" && e.AgentID != "Bearer admin" && e.Seq > 1 {
			t.Fatalf("the watcher recorded a.go over the CLI's change: %+v", e)
		}
	}
}
