package claudecode

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/watcher"
)

func TestHookPostShadow(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":{"code":"path_invalid","message":"no"}}`))
	}))
	defer refuse.Close()
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":{"code":"internal","message":"disk full"}}`))
	}))
	defer fail.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	for _, tc := range []struct {
		name       string
		tool       string
		writerURL  string
		wantCode   int
		wantStderr string
		wantSpool  int
	}{
		{"edit, writer down: spooled as the agent", "Write", downURL, 0, "spooled", 1},
		{"edit, writer refuses: fails, nothing spooled", "Write", refuse.URL, 1, "copy", 0},
		{"edit, writer fails: fails, nothing spooled", "Write", fail.URL, 1, "disk full", 0},
		{"bash, no watcher: nothing", "Bash", downURL, 0, "", 0},
		{"read, writer down: the seen mark is lost, nothing spooled", "Read", downURL, 1, "record that a.go was read", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, data := t.TempDir(), t.TempDir()
			file := filepath.Join(root, "a.go")
			if err := os.WriteFile(file, []byte("package a\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			in, _ := json.Marshal(map[string]any{"hook_event_name": "PostToolUse", "tool_name": tc.tool, "tool_use_id": "toolu_1",
				"session_id": "s1", "cwd": root, "tool_input": map[string]any{"file_path": file, "command": "true"}})
			var stderr bytes.Buffer
			c := client.New(tc.writerURL, "agent-token")
			code := hookPost(context.Background(), bytes.NewReader(in), &stderr, hookOptions{Root: root, Data: data, Client: c},
				func() (*client.Client, error) { return c, nil })
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantStderr) || (tc.wantStderr == "") != (stderr.Len() == 0) || strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
				t.Fatalf("exit %d, stderr %q; want %d and %q on one line", code, stderr.String(), tc.wantCode, tc.wantStderr)
			}
			sp, err := watcher.OpenSpool(data)
			if err != nil {
				t.Fatal(err)
			}
			es, err := sp.Entries()
			if err != nil || len(es) != tc.wantSpool {
				t.Fatalf("spool has %d entries (%v), want %d", len(es), err, tc.wantSpool)
			}
			if tc.wantSpool == 1 {
				e := es[0]
				if e.Token != "agent-token" || !e.Agent || e.CommandID != "toolu_1" || e.SessionID != "s1" || len(e.Ops) != 1 || e.Ops[0].Path != "a.go" || e.Ops[0].Mode != 0o644 {
					t.Fatalf("spooled %+v", e)
				}
				r, err := sp.OpenContent(e.Ops[0].Hash)
				if err != nil {
					t.Fatal(err)
				}
				r.Close()
			}
		})
	}
}
