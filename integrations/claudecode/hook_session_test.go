package claudecode

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// TestHookSession runs the session hooks on Claude Code's own payloads
// against a fake writer.
func TestHookSession(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	requests := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
	w := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+body["cwd"]+body["reason"])
		mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/inbox/deliver" {
			rw.Write([]byte(`{"seq":10,"context":"Lighthouse messages for you: m1","delivered":["m1"]}`))
			return
		}
		if strings.HasSuffix(r.URL.Path, "/end") {
			rw.Write([]byte(`{"seq":9,"released":["L1"]}`))
			return
		}
		rw.Write([]byte(`{"seq":8,"context":"You are agent \"claude\" (role builder)."}`))
	}))
	defer w.Close()
	read := func(name string) []byte {
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "claude-code", name))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for _, tc := range []struct {
		name    string
		start   bool
		payload []byte
		ok      bool
		request []string
		stdout  string
	}{
		{"start", true, read("sessionstart.json"), true, []string{"POST /v1/sessions /home/dev/shop", "POST /v1/inbox/deliver "},
			`"additionalContext":"You are agent \"claude\" (role builder).\n\nLighthouse messages for you: m1"`},
		{"end", false, read("sessionend.json"), true, []string{"POST /v1/sessions/4f1c2a9e-7b3d-4e2a-9c1f-2d8e6b5a0c71/end prompt_input_exit"}, ""},
		{"start given an end event", true, read("sessionend.json"), false, nil, ""},
		{"no session id", false, []byte(`{"hook_event_name":"SessionEnd"}`), false, nil, ""},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		var stdout bytes.Buffer
		err := hookSession(context.Background(), client.New(w.URL, "tok"), tc.start, time.Second, bytes.NewReader(tc.payload), &stdout)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		sent := requests()
		if tc.request != nil && !slices.Equal(sent, tc.request) {
			t.Errorf("%s: requests %q, want %q", tc.name, sent, tc.request)
		}
		if !tc.ok && len(sent) != 0 {
			t.Errorf("%s: sent %q after a bad event", tc.name, sent)
		}
		if !strings.Contains(stdout.String(), tc.stdout) || tc.stdout == "" && stdout.Len() != 0 {
			t.Errorf("%s: stdout %q, want %q", tc.name, stdout.String(), tc.stdout)
		}
	}
	if cmd := sessionHookCommand("'/x/lighthouse' hook post --data '/d' --root '/p'", "session-end"); cmd != "'/x/lighthouse' hook session-end --data '/d' --root '/p'" {
		t.Errorf("session command %q", cmd)
	}
}
