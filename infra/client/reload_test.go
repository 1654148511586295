package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestFollowTokenFile: after the file's token changes, a request refused
// with the old one is sent again, body and all, with the new one, and so is
// every later request carrying the old one; a request with another token
// (an agent's) is left to its 401.
func TestFollowTokenFile(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	valid := map[string]bool{"old": true, "agent": true}
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, tok+":"+string(body))
		ok := valid[tok]
		mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"code":"unauthorized","message":"bad token"}`))
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "service.token")
	if err := os.WriteFile(file, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := New(srv.URL, "old")
	FollowTokenFile(c, file)
	ctx := context.Background()
	if err := c.PostJSON(ctx, "/x", map[string]int{"n": 1}, nil); err != nil {
		t.Fatal(err)
	}
	// Rotated: the server takes only the new token, which is in the file.
	mu.Lock()
	valid = map[string]bool{"new": true}
	seen = nil
	mu.Unlock()
	if err := os.WriteFile(file, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.PostJSON(ctx, "/x", map[string]int{"n": 2}, nil); err != nil {
		t.Fatalf("a request after the rotation: %v", err)
	}
	// A copy made with the old token (as the blob mirror keeps its own).
	stale := &Client{BaseURL: c.BaseURL, Token: "old", HTTP: c.HTTP}
	if _, err := stale.Do(ctx, http.MethodPost, "/x", nil, bytes.NewReader([]byte("3")), nil); err != nil {
		t.Fatalf("a request with the old token after the rotation: %v", err)
	}
	agent := &Client{BaseURL: c.BaseURL, Token: "agent", HTTP: c.HTTP}
	if _, err := agent.Do(ctx, http.MethodGet, "/x", nil, nil, nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("an agent's refused token: %v; want its 401", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{`old:{"n":2}`, `new:{"n":2}`, "new:3", "agent:"}; strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Fatalf("the server saw %q; want %q", seen, want)
	}
}
