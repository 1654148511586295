package claudecode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/lighthouse-ai/lighthouse/infra/claudecode"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

const hookTestToken = "test-token"

// claudePayload reads a Claude Code event from testdata/claude-code.
func claudePayload(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "claude-code", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// envMap is a getenv over a fixed map.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// fakeWriter fakes the writer's validate and review endpoints.
type fakeWriter struct {
	t        *testing.T
	validate func(w http.ResponseWriter, body []byte)
	// review answers the n-th poll (from 1) of a review; wait is the ?wait= asked.
	review func(w http.ResponseWriter, r *http.Request, n int, wait time.Duration)

	mu        sync.Mutex
	validated [][]byte
	polls     int
	abandoned int
}

func (f *fakeWriter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("Authorization"); got != "Bearer "+hookTestToken {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"unauthorized","message":"bad token"}}`)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/validate":
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.validated = append(f.validated, body)
		f.mu.Unlock()
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			f.t.Errorf("validate Content-Type = %q", ct)
		}
		f.validate(w, body)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/reviews/"):
		if id := strings.TrimPrefix(r.URL.Path, "/v1/reviews/"); id != "rev-1" {
			f.t.Errorf("polled review %q, want rev-1", id)
		}
		wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
		if err != nil || wait <= 0 || wait > 60*time.Second {
			f.t.Errorf("review poll wait=%q", r.URL.Query().Get("wait"))
		}
		f.mu.Lock()
		f.polls++
		n := f.polls
		f.mu.Unlock()
		if f.review == nil {
			f.t.Errorf("unexpected review poll")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		f.review(w, r, n, wait)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/reviews/rev-1/abandon":
		f.mu.Lock()
		f.abandoned++
		f.mu.Unlock()
		io.WriteString(w, `{"id":"rev-1","status":"abandoned","reason":"the agent stopped waiting","deciders":["alice","admin"]}`)
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

func answer(s string) func(http.ResponseWriter, []byte) {
	return func(w http.ResponseWriter, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, s)
	}
}

const escalateAnswer = `{"decision":"escalate","reason":"touches production config","rule":"prod-config","decision_id":"d-3","policy_revision":"r1","cached":false,"review_id":"rev-1","seq":9}`

// reviewAfterPending answers pending on the first poll, then final.
func reviewAfterPending(final string) func(http.ResponseWriter, *http.Request, int, time.Duration) {
	return func(w http.ResponseWriter, r *http.Request, n int, _ time.Duration) {
		if n == 1 {
			io.WriteString(w, `{"id":"rev-1","status":"pending"}`)
			return
		}
		io.WriteString(w, final)
	}
}

// reviewNeverDecided holds each poll for its wait, then answers pending.
func reviewNeverDecided(w http.ResponseWriter, r *http.Request, _ int, wait time.Duration) {
	select {
	case <-time.After(wait):
	case <-r.Context().Done():
		return
	}
	io.WriteString(w, `{"id":"rev-1","status":"pending"}`)
}

// decodeDecision parses the hook's stdout.
func decodeDecision(t *testing.T, out string) (decision, reason string) {
	t.Helper()
	var d struct {
		HookSpecificOutput struct {
			HookEventName            string `json:"hookEventName"`
			PermissionDecision       string `json:"permissionDecision"`
			PermissionDecisionReason string `json:"permissionDecisionReason"`
		} `json:"hookSpecificOutput"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("stdout %q is not a hook decision: %v", out, err)
	}
	if d.HookSpecificOutput.HookEventName != "PreToolUse" {
		t.Errorf("hookEventName = %q", d.HookSpecificOutput.HookEventName)
	}
	return d.HookSpecificOutput.PermissionDecision, d.HookSpecificOutput.PermissionDecisionReason
}

func TestHookPre(t *testing.T) {
	t.Parallel()
	type tc struct {
		name     string
		payload  string // file in testdata/claude-code
		stdin    []byte // instead of payload
		validate func(http.ResponseWriter, []byte)
		review   func(http.ResponseWriter, *http.Request, int, time.Duration)
		args     []string
		env      map[string]string
		url      string // instead of the fake's

		wantCode     int
		wantDecision string   // "" means no stdout
		wantReason   []string // substrings of the reason (stdout) or of stderr (exit 2)
		notReason    string   // must not be in the reason
		wantPolls    int      // -1: do not check
		noValidate   bool     // the hook must not call the writer
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	cases := []tc{
		{name: "allow is silent", payload: "pre-bash.json",
			validate: answer(`{"decision":"allow","reason":"tests are fine","rule":"bash-tests","decision_id":"d-1","policy_revision":"r1","cached":false,"seq":7}`)},
		{name: "allow emitted with flag", payload: "pre-read.json", args: []string{"--emit-allow"},
			validate:     answer(`{"decision":"allow","reason":"reading is fine","rule":"read-any","decision_id":"d-1","policy_revision":"r1","cached":true,"seq":7}`),
			wantDecision: "allow", wantReason: []string{"reading is fine", "read-any"}},
		{name: "allow emitted with env", payload: "pre-edit.json", env: map[string]string{"LIGHTHOUSE_HOOK_EMIT_ALLOW": "1"},
			validate:     answer(`{"decision":"allow","reason":"ok","rule":"edit-docs","decision_id":"d-1","policy_revision":"r1","cached":false,"seq":7}`),
			wantDecision: "allow", wantReason: []string{"edit-docs"}},
		{name: "unknown answer fields are harmless", payload: "pre-bash.json",
			validate: answer(`{"decision":"allow","reason":"","rule":"","decision_id":"d-1","policy_revision":"r1","cached":false,"seq":7,"new_field":{"x":1}}`)},
		{name: "block denies with rule", payload: "pre-write.json",
			validate:     answer(`{"decision":"block","reason":"no writes under internal/ during the freeze","rule":"freeze-internal","decision_id":"d-2","policy_revision":"r1","cached":false,"seq":8}`),
			wantDecision: "deny", wantReason: []string{"no writes under internal/ during the freeze", "freeze-internal"}},
		{name: "block denies even with emit-allow", payload: "pre-multiedit.json", args: []string{"--emit-allow"},
			validate:     answer(`{"decision":"block","reason":"frozen","rule":"freeze","decision_id":"d-2","policy_revision":"r1","cached":false,"seq":8}`),
			wantDecision: "deny", wantReason: []string{"frozen", "freeze"}},
		{name: "escalate then approved allows explicitly", payload: "pre-bash.json", validate: answer(escalateAnswer),
			review:       reviewAfterPending(`{"id":"rev-1","status":"approved","reason":"fine for now","decided_by":["id-a"],"decided_by_names":["alice"]}`),
			wantDecision: "allow", wantReason: []string{"approved", "alice", "fine for now"}, wantPolls: 2},
		{name: "escalate then approved emitted", payload: "pre-bash.json", validate: answer(escalateAnswer), args: []string{"--emit-allow"},
			review:       reviewAfterPending(`{"id":"rev-1","status":"approved","reason":"fine for now","decided_by":["alice"]}`),
			wantDecision: "allow", wantReason: []string{"approved", "alice", "fine for now"}, wantPolls: 2},
		{name: "escalate then denied", payload: "pre-bash.json", validate: answer(escalateAnswer),
			review:       reviewAfterPending(`{"id":"rev-1","status":"denied","reason":"not on a Friday","decided_by":[{"name":"bob"}]}`),
			wantDecision: "deny", wantReason: []string{"not on a Friday", "bob", "prod-config"}, wantPolls: 2},
		{name: "escalate then expired", payload: "pre-bash.json", validate: answer(escalateAnswer),
			review:       reviewAfterPending(`{"id":"rev-1","status":"expired","reason":"nobody answered","decided_by":[]}`),
			wantDecision: "deny", wantReason: []string{"expired", "nobody answered"}, wantPolls: 2},
		{name: "escalate undecided denies", payload: "pre-bash.json", validate: answer(escalateAnswer), args: []string{"--wait", "1s"},
			review:       reviewNeverDecided,
			wantDecision: "deny", wantReason: []string{"no reviewer decided", "rev-1", "touches production config", "prod-config", "is now closed", "alice, admin", "retry"}, wantPolls: -1},
		{name: "escalate undecided asks with flag", payload: "pre-bash.json", validate: answer(escalateAnswer), args: []string{"--wait", "1", "--undecided", "ask"},
			review:       reviewNeverDecided,
			wantDecision: "ask", wantReason: []string{"touches production config", "rev-1"}, wantPolls: -1},
		{name: "escalate undecided asks with env", payload: "pre-bash.json", validate: answer(escalateAnswer),
			env:          map[string]string{"LIGHTHOUSE_HOOK_UNDECIDED": "ask", "LIGHTHOUSE_HOOK_WAIT": "1s"},
			review:       reviewNeverDecided,
			wantDecision: "ask", wantReason: []string{"touches production config"}, wantPolls: -1},
		{name: "escalate rides out a writer restart", payload: "pre-bash.json", validate: answer(escalateAnswer),
			review: func(w http.ResponseWriter, r *http.Request, n int, _ time.Duration) {
				if n == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					io.WriteString(w, `{"error":{"code":"unavailable","message":"restarting"}}`)
					return
				}
				io.WriteString(w, `{"id":"rev-1","status":"denied","reason":"no"}`)
			},
			wantDecision: "deny", wantReason: []string{"no"}, wantPolls: 2},
		{name: "escalate with unknown review fails closed", payload: "pre-bash.json", validate: answer(escalateAnswer),
			review: func(w http.ResponseWriter, r *http.Request, n int, _ time.Duration) {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"error":{"code":"review_not_found","message":"no such review"}}`)
			},
			wantCode: 2, wantReason: []string{"review_not_found"}, wantPolls: 1},
		{name: "escalate with garbage review fails closed", payload: "pre-bash.json", validate: answer(escalateAnswer),
			review: func(w http.ResponseWriter, r *http.Request, n int, _ time.Duration) {
				io.WriteString(w, `<html>oops</html>`)
			},
			wantCode: 2, wantPolls: 1},
		{name: "escalate with unknown status fails closed", payload: "pre-bash.json", validate: answer(escalateAnswer),
			review: func(w http.ResponseWriter, r *http.Request, n int, _ time.Duration) {
				io.WriteString(w, `{"id":"rev-1","status":"maybe"}`)
			},
			wantCode: 2, wantReason: []string{"maybe"}, wantPolls: 1},
		{name: "escalate without review id fails closed", payload: "pre-bash.json",
			validate: answer(`{"decision":"escalate","reason":"x","rule":"y","decision_id":"d","policy_revision":"r","cached":false,"seq":1}`),
			wantCode: 2, wantReason: []string{"review_id"}},
		{name: "unreachable writer", payload: "pre-bash.json", url: closedURL, noValidate: true,
			wantCode: 2, wantReason: []string{"blocked", "refused"}, notReason: "did not answer"},
		{name: "writer 500", payload: "pre-bash.json",
			validate: func(w http.ResponseWriter, _ []byte) {
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"error":{"code":"internal","message":"policy store down\nsecond line"}}`)
			},
			wantCode: 2, wantReason: []string{"500", "policy store down second line"}, notReason: "did not answer"},
		{name: "writer 500 with html body", payload: "pre-bash.json",
			validate: func(w http.ResponseWriter, _ []byte) {
				w.WriteHeader(http.StatusBadGateway)
				io.WriteString(w, "<html>\n<body>"+strings.Repeat("bad gateway ", 500)+"</body>\n</html>")
			},
			wantCode: 2, wantReason: []string{"502"}},
		{name: "garbage answer", payload: "pre-bash.json", validate: answer(`this is not json`),
			wantCode: 2, wantReason: []string{"decode"}},
		{name: "wrong answer type", payload: "pre-bash.json", validate: answer(`{"decision":["allow"]}`),
			wantCode: 2},
		{name: "unknown decision", payload: "pre-bash.json", validate: answer(`{"decision":"maybe","reason":"","rule":"","decision_id":"d","policy_revision":"r","cached":false,"seq":1}`),
			wantCode: 2, wantReason: []string{`"maybe"`}},
		{name: "empty decision", payload: "pre-bash.json", validate: answer(`{}`),
			wantCode: 2},
		{name: "validate timeout", payload: "pre-bash.json", args: []string{"--timeout", "200ms"},
			validate: func(w http.ResponseWriter, _ []byte) {
				time.Sleep(2 * time.Second)
				io.WriteString(w, `{"decision":"allow"}`)
			},
			wantCode: 2, wantReason: []string{"did not answer within 200ms"}},
		{name: "garbage stdin", stdin: []byte("rm -rf /\n"), noValidate: true, wantCode: 2, wantReason: []string{"JSON"}},
		{name: "truncated stdin", stdin: []byte(`{"tool_name":"Bash","tool_input":{"command":"ls"`), noValidate: true, wantCode: 2},
		{name: "empty stdin", stdin: []byte{}, noValidate: true, wantCode: 2},
		{name: "JSON null stdin", stdin: []byte("null"), noValidate: true, wantCode: 2},
		{name: "stdin without tool", stdin: []byte(`{"session_id":"s"}`), noValidate: true, wantCode: 2, wantReason: []string{"tool_name"}},
		{name: "an 11 MiB Write is judged without its content",
			stdin: append(append([]byte(`{"hook_event_name":"PreToolUse","tool_name":"Write","tool_input":{"file_path":"/p/big.txt","content":"`), bytes.Repeat([]byte("a"), 11<<20)...), `"}}`...),
			validate: func(w http.ResponseWriter, body []byte) {
				if len(body) > 1<<20 || !bytes.Contains(body, []byte(`"file_path":"/p/big.txt"`)) || !bytes.Contains(body, []byte("bytes left out")) {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				io.WriteString(w, `{"decision":"block","reason":"checked","rule":"r","decision_id":"d","policy_revision":"r","cached":false,"seq":1}`)
			},
			wantDecision: "deny", wantReason: []string{"checked"}},
		{name: "oversized field other than content", stdin: append(append([]byte(`{"tool_name":"Bash","tool_input":{"command":"`), bytes.Repeat([]byte("a"), 11<<20)...), `"}}`...),
			noValidate: true, wantCode: 2, wantReason: []string{"tool_input.command", "too large to check"}},
		{name: "post event on the pre hook", payload: "post-write.json", noValidate: true, wantCode: 2, wantReason: []string{"PostToolUse"}},
		{name: "bad undecided flag", payload: "pre-bash.json", args: []string{"--undecided", "allow"}, noValidate: true, wantCode: 2},
		{name: "bad wait env", payload: "pre-bash.json", env: map[string]string{"LIGHTHOUSE_HOOK_WAIT": "soon"}, noValidate: true, wantCode: 2, wantReason: []string{"LIGHTHOUSE_HOOK_WAIT"}},
		{name: "unknown flag", payload: "pre-bash.json", args: []string{"--nope"}, noValidate: true, wantCode: 2},
		{name: "stray argument", payload: "pre-bash.json", args: []string{"extra"}, noValidate: true, wantCode: 2},
		{name: "bad token", payload: "pre-bash.json", args: []string{"--token", "wrong"}, noValidate: true,
			wantCode: 2, wantReason: []string{"401"}},
		{name: "no token", payload: "pre-bash.json", args: []string{"--token", "", "--data", "/nonexistent-lighthouse-data"}, noValidate: true,
			wantCode: 2, wantReason: []string{"token"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fw := &fakeWriter{t: t, validate: c.validate, review: c.review}
			if fw.validate == nil {
				fw.validate = func(w http.ResponseWriter, _ []byte) {
					t.Errorf("unexpected validate call")
					w.WriteHeader(http.StatusTeapot)
				}
			}
			srv := httptest.NewServer(fw)
			defer srv.Close()
			url := srv.URL
			if c.url != "" {
				url = c.url
			}
			stdin := c.stdin
			if c.payload != "" {
				stdin = claudePayload(t, c.payload)
			}
			args := append([]string{"pre", "--url", url, "--token", hookTestToken}, c.args...)
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			code := hookMain(ctx, args, envMap(c.env), bytes.NewReader(stdin), &stdout, &stderr)
			if time.Since(start) > 10*time.Second {
				t.Errorf("hook took %v", time.Since(start))
			}
			if code != c.wantCode {
				t.Fatalf("exit code = %d, want %d (stdout %q, stderr %q)", code, c.wantCode, stdout.String(), stderr.String())
			}
			var reason string
			switch {
			case code == 2:
				if stdout.Len() != 0 {
					t.Errorf("exit 2 with stdout %q", stdout.String())
				}
				reason = stderr.String()
				if strings.Count(reason, "\n") != 1 || !strings.HasSuffix(reason, "\n") {
					t.Errorf("stderr is not one line: %q", reason)
				}
				if len(reason) > hookMaxReasonBytes+10 {
					t.Errorf("stderr is %d bytes", len(reason))
				}
			case c.wantDecision == "":
				if stdout.Len() != 0 || stderr.Len() != 0 {
					t.Errorf("want silence, got stdout %q stderr %q", stdout.String(), stderr.String())
				}
			default:
				var d string
				d, reason = decodeDecision(t, stdout.String())
				if d != c.wantDecision {
					t.Errorf("decision = %q, want %q (reason %q)", d, c.wantDecision, reason)
				}
			}
			for _, s := range c.wantReason {
				if !strings.Contains(reason, s) {
					t.Errorf("reason %q lacks %q", reason, s)
				}
			}
			if c.notReason != "" && strings.Contains(reason, c.notReason) {
				t.Errorf("reason %q has %q", reason, c.notReason)
			}
			fw.mu.Lock()
			defer fw.mu.Unlock()
			if c.noValidate && len(fw.validated) > 0 {
				t.Errorf("the hook called validate %d times, want none", len(fw.validated))
			}
			if !c.noValidate && c.url == "" {
				if len(fw.validated) != 1 {
					t.Fatalf("validate called %d times, want 1", len(fw.validated))
				}
				var want bytes.Buffer
				if json.Compact(&want, stdin) == nil && len(want.Bytes()) <= claudecode.MaxString && !bytes.Equal(fw.validated[0], want.Bytes()) {
					t.Errorf("validate body is not the event as sent:\n got %q\nwant %q", fw.validated[0], want.Bytes())
				}
			}
			if c.wantPolls >= 0 && fw.polls != c.wantPolls {
				t.Errorf("review polled %d times, want %d", fw.polls, c.wantPolls)
			}
			// A hook that stops waiting closes the review; one that got a
			// decision leaves it alone.
			if wantAbandon := strings.HasPrefix(c.name, "escalate undecided"); (fw.abandoned == 1) != wantAbandon {
				t.Errorf("review abandoned %d times, want it abandoned: %v", fw.abandoned, wantAbandon)
			}
		})
	}
}

// TestHookPreSendsSession checks the session header and that the wait asked
// of the writer is capped at its 60s limit.
func TestHookPreSendsSession(t *testing.T) {
	t.Parallel()
	var gotSession, gotWait string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/validate" {
			gotSession = r.Header.Get("X-Session-Id")
			io.WriteString(w, escalateAnswer)
			return
		}
		gotWait = r.URL.Query().Get("wait")
		io.WriteString(w, `{"id":"rev-1","status":"approved"}`)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := hookMain(context.Background(), []string{"pre", "--url", srv.URL, "--token", "t", "--wait", "100s"},
		envMap(nil), bytes.NewReader(claudePayload(t, "pre-bash.json")), &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), `"allow"`) {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if gotSession != "5b1c2d7e-0a3f-4c55-9e1d-2f6a8b9c0d11" {
		t.Errorf("X-Session-Id = %q", gotSession)
	}
	if gotWait != "60s" {
		t.Errorf("wait = %q, want 60s", gotWait)
	}
}

// TestHookPreCancelled: a signal (cancelled context) while waiting for a
// review blocks the call.
func TestHookPreCancelled(t *testing.T) {
	t.Parallel()
	fw := &fakeWriter{t: t, validate: answer(escalateAnswer), review: reviewNeverDecided}
	srv := httptest.NewServer(fw)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := hookMain(ctx, []string{"pre", "--url", srv.URL, "--token", hookTestToken, "--undecided", "ask"},
		envMap(nil), bytes.NewReader(claudePayload(t, "pre-bash.json")), &stdout, &stderr)
	if code != 2 || stdout.Len() != 0 {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// TestHookPrePanics: a panic inside the hook still ends in exit 2.
func TestHookPrePanics(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := hookPre(context.Background(), panicReader{}, &stdout, &stderr, hookOptions{Client: client.New("http://127.0.0.1:1", "t")})
	if code != 2 || !strings.Contains(stderr.String(), "internal error") {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	pr, pw := io.Pipe() // stdin that never ends
	defer pw.Close()
	code = hookPre(context.Background(), pr, &stdout, &stderr, hookOptions{Client: client.New("http://127.0.0.1:1", "t"), Timeout: 100 * time.Millisecond})
	if code != 2 || !strings.Contains(stderr.String(), "stdin") {
		t.Fatalf("stuck stdin: code %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	code = hookPre(context.Background(), errReader{}, &stdout, &stderr, hookOptions{Client: client.New("http://127.0.0.1:1", "t")})
	if code != 2 || !strings.Contains(stderr.String(), "stdin") {
		t.Fatalf("unreadable stdin: code %d, stderr %q", code, stderr.String())
	}
}

type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("boom") }

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestHookMainDispatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want int
	}{
		{nil, 2},
		{[]string{"sideways"}, 2},
		{[]string{"pre", "-h"}, 2},
		{[]string{"post", "--nope"}, 1},
	} {
		var stdout, stderr bytes.Buffer
		if got := hookMain(context.Background(), c.args, envMap(nil), strings.NewReader("{}"), &stdout, &stderr); got != c.want {
			t.Errorf("hook %v: exit %d, want %d (stderr %q)", c.args, got, c.want, stderr.String())
		}
	}
}

func TestDurationValue(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"100", 100 * time.Second, false},
		{"1.5", 1500 * time.Millisecond, false},
		{"90s", 90 * time.Second, false},
		{"2m", 2 * time.Minute, false},
		{"-1", 0, true},
		{"-3s", 0, true},
		{"soon", 0, true},
	} {
		var v durationValue
		err := v.Set(c.in)
		if (err != nil) != c.err || (err == nil && v.d != c.want) {
			t.Errorf("Set(%q) = %v, %v; want %v, err %v", c.in, v.d, err, c.want, c.err)
		}
	}
}

// putRecord is one PUT the fake writer saw.
type putRecord struct {
	path, commandID, mode, session, auth string
	body                                 []byte
}

type fakeFileWriter struct {
	mu     sync.Mutex
	puts   []putRecord
	status int
	root   string // the project root GET /v1/status reports
}

func (f *fakeFileWriter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodGet && r.URL.Path == "/v1/status" {
		json.NewEncoder(w).Encode(map[string]any{"head": 1, "project_root": f.root})
		return
	}
	if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v1/files/") {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	f.puts = append(f.puts, putRecord{
		path: r.URL.EscapedPath(), commandID: r.URL.Query().Get("command_id"), mode: r.URL.Query().Get("mode"),
		session: r.Header.Get("X-Session-Id"), auth: r.Header.Get("Authorization"), body: body,
	})
	if f.status != 0 {
		w.WriteHeader(f.status)
		io.WriteString(w, `{"error":{"code":"internal","message":"disk full"}}`)
		return
	}
	io.WriteString(w, `{"seq":`+strconv.Itoa(len(f.puts))+`,"first_seq":1,"duplicate":false}`)
}

// postPayload rewrites a PostToolUse testdata event to point at filePath
// with cwd.
func postPayload(t *testing.T, name, filePath, cwd string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(claudePayload(t, name), &m); err != nil {
		t.Fatal(err)
	}
	if m["tool_name"] == "NotebookEdit" {
		m["tool_input"].(map[string]any)["notebook_path"] = filePath
	} else {
		m["tool_input"].(map[string]any)["file_path"] = filePath
	}
	m["cwd"] = cwd
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestHookPost(t *testing.T) {
	t.Parallel()
	const session = "5b1c2d7e-0a3f-4c55-9e1d-2f6a8b9c0d11"
	type setup struct {
		root, outside string
	}
	cases := []struct {
		name    string
		payload func(t *testing.T, s setup) []byte
		args    func(s setup) []string // extra flags
		env     func(s setup) map[string]string
		status  int // the fake writer's answer

		wantCode int
		wantPut  *putRecord // nil: no request
		wantErr  string     // substring of stderr
	}{
		{name: "write streams the file from disk",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", filepath.Join(s.root, "internal", "cart", "cart.go"), s.root)
			},
			wantPut: &putRecord{path: "/v1/files/internal/cart/cart.go", commandID: "toolu_01Q2w3E4r5T6y7U8i9O0pAsD", mode: "644", session: session,
				body: []byte("package cart // on disk\n")}},
		{name: "edit",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-edit.json", filepath.Join(s.root, "README.md"), s.root)
			},
			wantPut: &putRecord{path: "/v1/files/README.md", commandID: "toolu_01ZxCvBnM1a2S3d4F5g6H7j8", mode: "644", session: session, body: []byte("# Shop service\n")}},
		{name: "multiedit of an executable with an odd name",
			payload: func(t *testing.T, s setup) []byte {
				p := postPayload(t, "post-edit.json", filepath.Join(s.root, "bin", "run me#1.sh"), s.root)
				return bytes.Replace(p, []byte(`"Edit"`), []byte(`"MultiEdit"`), 1)
			},
			wantPut: &putRecord{path: "/v1/files/bin/run%20me%231.sh", commandID: "toolu_01ZxCvBnM1a2S3d4F5g6H7j8", mode: "755", session: session, body: []byte("#!/bin/sh\n")}},
		{name: "root from --root, not cwd",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-edit.json", filepath.Join(s.root, "README.md"), "/somewhere/else")
			},
			args:    func(s setup) []string { return []string{"--root", s.root} },
			wantPut: &putRecord{path: "/v1/files/README.md", commandID: "toolu_01ZxCvBnM1a2S3d4F5g6H7j8", mode: "644", session: session, body: []byte("# Shop service\n")}},
		{name: "root from the writer, not cwd",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-edit.json", filepath.Join(s.root, "README.md"), s.outside)
			},
			env:     func(s setup) map[string]string { return map[string]string{"CLAUDE_PROJECT_DIR": s.outside} },
			wantPut: &putRecord{path: "/v1/files/README.md", commandID: "toolu_01ZxCvBnM1a2S3d4F5g6H7j8", mode: "644", session: session, body: []byte("# Shop service\n")}},
		{name: "root reached through a symlink",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-edit.json", filepath.Join(s.outside, "project-link", "README.md"), filepath.Join(s.outside, "project-link"))
			},
			wantPut: &putRecord{path: "/v1/files/README.md", commandID: "toolu_01ZxCvBnM1a2S3d4F5g6H7j8", mode: "644", session: session, body: []byte("# Shop service\n")}},
		{name: "symlink inside the root writes its target",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-edit.json", filepath.Join(s.root, "docs-link.md"), s.root)
			},
			wantPut: &putRecord{path: "/v1/files/README.md", commandID: "toolu_01ZxCvBnM1a2S3d4F5g6H7j8", mode: "644", session: session, body: []byte("# Shop service\n")}},
		{name: "path outside the root",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", filepath.Join(s.outside, "secret.txt"), s.root)
			},
			wantCode: 1, wantErr: "outside the project root"},
		{name: "dot-dot path",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", s.root+"/../"+filepath.Base(s.outside)+"/secret.txt", s.root)
			},
			wantCode: 1, wantErr: "outside the project root"},
		{name: "dot-dot path that lands inside, as the gate resolves it",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", s.root+"/internal/../README.md", s.root)
			},
			wantPut: &putRecord{path: "/v1/files/README.md", commandID: "toolu_01Q2w3E4r5T6y7U8i9O0pAsD", mode: "644", session: session, body: []byte("# Shop service\n")}},
		{name: "symlinked directory escaping the root",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", filepath.Join(s.root, "escape-dir", "secret.txt"), s.root)
			},
			wantCode: 1, wantErr: "outside the project root"},
		{name: "symlinked file escaping the root",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", filepath.Join(s.root, "escape.txt"), s.root)
			},
			wantCode: 1, wantErr: "outside the project root"},
		{name: "the root itself",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", s.root, s.root)
			},
			wantCode: 1, wantErr: "outside the project root"},
		{name: "a directory",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", filepath.Join(s.root, "internal"), s.root)
			},
			wantCode: 1, wantErr: "regular file"},
		{name: "relative path against cwd, as the gate resolves it",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", "cart/cart.go", filepath.Join(s.root, "internal"))
			},
			wantPut: &putRecord{path: "/v1/files/internal/cart/cart.go", commandID: "toolu_01Q2w3E4r5T6y7U8i9O0pAsD", mode: "644", session: session, body: []byte("package cart // on disk\n")}},
		{name: "~ against the agent's HOME",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", "~/README.md", s.outside)
			},
			env:     func(s setup) map[string]string { return map[string]string{"HOME": s.root} },
			wantPut: &putRecord{path: "/v1/files/README.md", commandID: "toolu_01Q2w3E4r5T6y7U8i9O0pAsD", mode: "644", session: session, body: []byte("# Shop service\n")}},
		{name: "notebook edit",
			payload: func(t *testing.T, s setup) []byte {
				p := postPayload(t, "post-write.json", filepath.Join(s.root, "README.md"), s.root)
				p = bytes.Replace(p, []byte(`"file_path"`), []byte(`"notebook_path"`), 1)
				return bytes.Replace(p, []byte(`"Write"`), []byte(`"NotebookEdit"`), 1)
			},
			wantPut: &putRecord{path: "/v1/files/README.md", commandID: "toolu_01Q2w3E4r5T6y7U8i9O0pAsD", mode: "644", session: session, body: []byte("# Shop service\n")}},
		{name: "edit inside a Claude Code worktree",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-edit.json", filepath.Join(s.root, ".claude", "worktrees", "feat", "main.go"), filepath.Join(s.root, ".claude", "worktrees", "feat"))
			},
			wantPut: &putRecord{path: "/v1/files/.claude/worktrees/feat/main.go", commandID: "toolu_01ZxCvBnM1a2S3d4F5g6H7j8", mode: "644", session: session, body: []byte("package main\n")}},
		{name: "an 11 MiB edit event",
			payload: func(t *testing.T, s setup) []byte {
				var m map[string]any
				json.Unmarshal(postPayload(t, "post-edit.json", filepath.Join(s.root, "README.md"), s.root), &m)
				m["tool_response"] = map[string]any{"originalFile": strings.Repeat("x", 11<<20)}
				raw, _ := json.Marshal(m)
				return raw
			},
			wantPut: &putRecord{path: "/v1/files/README.md", commandID: "toolu_01ZxCvBnM1a2S3d4F5g6H7j8", mode: "644", session: session, body: []byte("# Shop service\n")}},
		{name: "missing file",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-write.json", filepath.Join(s.root, "gone.txt"), s.root)
			},
			wantCode: 1, wantErr: "gone.txt"},
		{name: "no file_path",
			payload: func(t *testing.T, s setup) []byte {
				return []byte(`{"hook_event_name":"PostToolUse","tool_name":"Write","tool_input":{},"cwd":"` + s.root + `"}`)
			},
			wantCode: 1, wantErr: "file_path"},
		{name: "writer error is non-blocking",
			payload: func(t *testing.T, s setup) []byte {
				return postPayload(t, "post-edit.json", filepath.Join(s.root, "README.md"), s.root)
			},
			status:   http.StatusInternalServerError,
			wantCode: 1, wantErr: "disk full",
			wantPut: &putRecord{path: "/v1/files/README.md", commandID: "toolu_01ZxCvBnM1a2S3d4F5g6H7j8", mode: "644", session: session, body: []byte("# Shop service\n")}},
		{name: "bash is ignored",
			payload: func(t *testing.T, s setup) []byte {
				return bytes.Replace(claudePayload(t, "pre-bash.json"), []byte(`"PreToolUse"`), []byte(`"PostToolUse"`), 1)
			}},
		{name: "read is ignored",
			payload: func(t *testing.T, s setup) []byte {
				return bytes.Replace(claudePayload(t, "pre-read.json"), []byte(`"PreToolUse"`), []byte(`"PostToolUse"`), 1)
			}},
		{name: "pre event on the post hook",
			payload: func(t *testing.T, s setup) []byte {
				p := postPayload(t, "post-edit.json", filepath.Join(s.root, "README.md"), s.root)
				return bytes.Replace(p, []byte(`"PostToolUse"`), []byte(`"PreToolUse"`), 1)
			},
			wantCode: 1, wantErr: "PreToolUse"},
		{name: "garbage stdin is non-blocking",
			payload:  func(t *testing.T, s setup) []byte { return []byte("garbage") },
			wantCode: 1, wantErr: "JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			s := setup{root: filepath.Join(base, "project"), outside: filepath.Join(base, "outside")}
			mustWrite(t, filepath.Join(s.root, "internal", "cart", "cart.go"), "package cart // on disk\n", 0o644)
			mustWrite(t, filepath.Join(s.root, "README.md"), "# Shop service\n", 0o644)
			mustWrite(t, filepath.Join(s.root, "bin", "run me#1.sh"), "#!/bin/sh\n", 0o755)
			mustWrite(t, filepath.Join(s.outside, "secret.txt"), "top secret\n", 0o644)
			mustWrite(t, filepath.Join(s.root, ".claude", "worktrees", "feat", "main.go"), "package main\n", 0o644)
			mustSymlink(t, s.outside, filepath.Join(s.root, "escape-dir"))
			mustSymlink(t, filepath.Join(s.outside, "secret.txt"), filepath.Join(s.root, "escape.txt"))
			mustSymlink(t, "README.md", filepath.Join(s.root, "docs-link.md"))
			mustSymlink(t, s.root, filepath.Join(s.outside, "project-link"))

			fw := &fakeFileWriter{status: c.status, root: s.root}
			srv := httptest.NewServer(fw)
			defer srv.Close()
			args := []string{"post", "--url", srv.URL, "--token", hookTestToken}
			if c.args != nil {
				args = append(args, c.args(s)...)
			}
			env := map[string]string{}
			if c.env != nil {
				env = c.env(s)
			}
			var stdout, stderr bytes.Buffer
			code := hookMain(context.Background(), args, envMap(env), bytes.NewReader(c.payload(t, s)), &stdout, &stderr)
			if code != c.wantCode {
				t.Fatalf("exit code = %d, want %d (stderr %q)", code, c.wantCode, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q", stdout.String())
			}
			if c.wantErr == "" && stderr.Len() != 0 {
				t.Errorf("stderr %q", stderr.String())
			}
			if c.wantErr != "" {
				if !strings.Contains(stderr.String(), c.wantErr) || strings.Count(stderr.String(), "\n") != 1 {
					t.Errorf("stderr %q, want one line with %q", stderr.String(), c.wantErr)
				}
			}
			fw.mu.Lock()
			defer fw.mu.Unlock()
			if c.wantPut == nil {
				if len(fw.puts) != 0 {
					t.Fatalf("unexpected writes: %+v", fw.puts)
				}
				return
			}
			if len(fw.puts) != 1 {
				t.Fatalf("%d writes, want 1", len(fw.puts))
			}
			got, want := fw.puts[0], *c.wantPut
			want.auth = "Bearer " + hookTestToken
			if got.path != want.path || got.commandID != want.commandID || got.mode != want.mode || got.session != want.session ||
				got.auth != want.auth || !bytes.Equal(got.body, want.body) {
				t.Errorf("write\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func mustWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}
