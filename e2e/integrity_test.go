package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// rawRequest sends one request with exact header and body bytes and returns
// the status and body. It never fails the test for an error status.
func (e *env) rawRequest(method, base, rawPath string, header map[string]string, body []byte) (int, []byte, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, base+"/", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.URL.Opaque = rawPath
	req.Header.Set("Authorization", "Bearer "+e.sys.AdminToken)
	for k, v := range header {
		req.Header[k] = []string{v}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// apiErr decodes our JSON error body; ok is false for any other body.
func apiErr(body []byte) (code, field string, ok bool) {
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &eb) != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		return "", "", false
	}
	return eb.Error.Code, eb.Error.Field, true
}

// jsonText puts raw bytes inside a JSON string literal as they are: only
// quotes, backslashes and control bytes are escaped, invalid UTF-8 stays.
func jsonText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// nastyText returns text with invalid UTF-8, cut characters and long runs
// of multi-byte characters; header-safe bytes only when forHeader.
func nastyText(r *rand.Rand, forHeader bool) string {
	pieces := []string{"\xff", "\xc3", "\x80", "\xed\xa0\x80", "\xf0\x9f\x98", "é", "e\u0301", "€", "😀", "a", "Z", "-", "<", "&", " ", "\"", "\\"}
	if !forHeader {
		pieces = append(pieces, "\x00", "\n", "\x1f", "/", "..")
	}
	var b strings.Builder
	switch r.IntN(4) {
	case 0:
		b.WriteString(strings.Repeat("é", 60+r.IntN(20)))
	case 1:
		b.WriteString(strings.Repeat("e\u0301", 40+r.IntN(10)))
	}
	for n := 1 + r.IntN(12); n > 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	s := b.String()
	if forHeader {
		s = strings.TrimSpace(s) + "x" // leading and trailing spaces are not kept by HTTP
	}
	return s
}

// TestInvalidTextNeverBreaksTheChain sends the known examples and random
// invalid bytes in every header and body field that reaches an event, then
// checks that the chain verifies and that a fresh replica applies the whole
// log.
func TestInvalidTextNeverBreaksTheChain(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	w := e.sys.WriterURL

	// The exact example of the issue: a raw 0xff session id.
	status, body, _ := e.rawRequest("PUT", w, "/v1/files/p.txt", map[string]string{"X-Session-Id": "\xff"}, []byte("x"))
	if code, field, _ := apiErr(body); status != 400 || code != "invalid_utf8" || field != "X-Session-Id" {
		t.Fatalf("PUT with X-Session-Id 0xff: %d %s, want 400 invalid_utf8 naming X-Session-Id", status, body)
	}
	// 70 é (and 70 decomposed é) as a validate session_id: cut on a
	// character boundary.
	for _, sess := range []string{strings.Repeat("é", 70), strings.Repeat("e\u0301", 70)} {
		b := fmt.Sprintf(`{"tool_name":"Bash","session_id":"%s","tool_input":{"command":"ls"}}`, sess)
		status, body, h := e.rawRequest("POST", w, "/v1/validate", nil, []byte(b))
		if status != 200 {
			t.Fatalf("validate with long session_id: %d %s", status, body)
		}
		var seq uint64
		fmt.Sscan(h.Get("X-Lighthouse-Seq"), &seq)
		ev, err := eventAt(e, seq)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(ev.SessionID) || len(ev.SessionID) > 128 || !strings.HasPrefix(sess, ev.SessionID) || ev.SessionID == "" {
			t.Fatalf("session_id stored as %q", ev.SessionID)
		}
	}

	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	type request struct {
		method, path string
		header       map[string]string
		body         string
	}
	gen := []func(s, h string) request{
		func(_, h string) request {
			name := []string{"X-Session-Id", "X-Correlation-Id", "X-Causation-Id", "X-Command-Id", "X-Expected-Version"}[r.IntN(5)]
			return request{"PUT", "/v1/files/h.txt", map[string]string{name: h}, "content"}
		},
		func(s, _ string) request {
			return request{"PUT", "/v1/files/" + url.PathEscape(s), nil, "content"}
		},
		func(s, _ string) request {
			return request{"PUT", "/v1/files/q.txt?command_id=" + url.QueryEscape(s) + "&mode=" + url.QueryEscape(s), nil, "content"}
		},
		func(s, _ string) request {
			return request{"POST", "/v1/changes", nil, fmt.Sprintf(`{"command_id":"%s","ops":[{"op":"write","path":"%s","content":"%s"},{"op":"write","path":"ok/%s.txt","content":"x"}]}`,
				jsonText(s), jsonText(s), jsonText(s), jsonText(s))}
		},
		func(s, _ string) request {
			return request{"POST", "/v1/files/move", nil, fmt.Sprintf(`{"from":"p.txt","to":"%s","command_id":"%s"}`, jsonText(s), jsonText(s))}
		},
		func(s, _ string) request {
			return request{"POST", "/v1/validate", nil, fmt.Sprintf(`{"tool_name":"%s","session_id":"%s","tool_use_id":"%s","cwd":"%s","tool_input":{"command":"echo %s"}}`,
				jsonText(s), jsonText(s), jsonText(s), jsonText(s), jsonText(s))}
		},
		func(s, _ string) request {
			return request{"POST", "/v1/validate", nil, fmt.Sprintf(`{"tool_name":"Write","session_id":"s","tool_input":{"file_path":"%s","content":"%s"}}`, jsonText(s), jsonText(s))}
		},
		func(s, _ string) request {
			return request{"POST", "/v1/snapshots", nil, fmt.Sprintf(`{"name":"%s","description":"%s"}`, jsonText(s), jsonText(s))}
		},
		func(s, _ string) request {
			return request{"POST", "/v1/snapshots", nil, fmt.Sprintf(`{"name":"snap%d","description":"%s"}`, r.Uint32(), jsonText(s))}
		},
		func(s, _ string) request {
			return request{"POST", "/v1/agents", nil, fmt.Sprintf(`{"name":"%s","role":"observer"}`, jsonText(s))}
		},
		func(s, _ string) request {
			return request{"POST", "/v1/restore", nil, fmt.Sprintf(`{"point":"1","paths":["%s"],"command_id":"%s"}`, jsonText(s), jsonText(s))}
		},
	}
	accepted := 0
	for i := 0; i < 300; i++ {
		req := gen[r.IntN(len(gen))](nastyText(r, false), nastyText(r, true))
		status, body, _ := e.rawRequest(req.method, w, req.path, req.header, []byte(req.body))
		if status >= 500 {
			t.Fatalf("%s %q %q %q: %d %s", req.method, req.path, req.header, req.body, status, body)
		}
		if status >= 400 {
			if _, _, ok := apiErr(body); !ok {
				t.Fatalf("%s %q: %d with a body that is not our JSON error: %s", req.method, req.path, status, body)
			}
			continue
		}
		accepted++
	}
	t.Logf("%d of 300 random requests accepted", accepted)
	if accepted == 0 {
		t.Fatal("no random request was accepted: the test exercises nothing")
	}

	// verify, through the CLI, and replicas: the running reader and a fresh one.
	cmd := exec.Command(filepath.Join(binDir, "lighthouse"), "verify")
	cmd.Env = append(cmd.Environ(), "LIGHTHOUSE_URL="+w, "LIGHTHOUSE_TOKEN="+e.sys.AdminToken)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "hash chain intact") {
		t.Fatalf("lighthouse verify: %v\n%s", err, out)
	}
	head := e.writerHead()
	ctx := context.Background()
	if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/tree?min_seq=%d&wait=20s", head), nil, nil, nil); err != nil {
		t.Fatalf("reader did not catch up to %d: %v", head, err)
	}
	late, _, err := startExtraReader(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := late.Do(ctx, "GET", fmt.Sprintf("/v1/tree?min_seq=%d&wait=20s", head), nil, nil, nil); err != nil {
		t.Fatalf("a fresh reader did not apply the log up to %d: %v", head, err)
	}
}
