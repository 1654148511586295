package claudecode

// `lighthouse hook session-start|session-end` (Claude Code's SessionStart
// and SessionEnd hooks) and the Read part of `hook post` (a seen mark for
// the stale-write guard).

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/claudecode"
	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// Time limits of the session hooks. Claude Code gives SessionEnd about
// 1.5 s, so it makes one call with a second at most.
const (
	hookSessionStartTimeout = 5 * time.Second
	hookSessionEndTimeout   = time.Second
)

// hookSessionMain parses the flags of `hook session-start` (start true) or
// `hook session-end` and runs it. Failures print one line and exit 1, which
// Claude Code treats as non-blocking: a session is never kept from running.
func hookSessionMain(ctx context.Context, args []string, start bool, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	name := "hook session-end"
	def := hookSessionEndTimeout
	if start {
		name, def = "hook session-start", hookSessionStartTimeout
	}
	fail := func(err error) int {
		hookFail(stderr, "lighthouse "+name+": "+err.Error())
		return hookExitNonBlock
	}
	defer func() {
		if r := recover(); r != nil {
			code = fail(fmt.Errorf("internal error: %v", r))
		}
	}()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	conn, timeout := hookFlags(fs, def)
	fs.String("root", "", "ignored: accepted so the session hooks share the post hook's flags")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return fail(fmt.Errorf("bad hook flags: %v", err))
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("bad hook flags: unexpected argument %q", fs.Arg(0)))
	}
	conn.NoAdmin = true
	w, err := conn.Writer()
	if err != nil {
		return fail(err)
	}
	if err := hookSession(ctx, w, start, timeout.d, stdin, stdout); err != nil {
		return fail(err)
	}
	return hookExitOK
}

// sessionHookEvents maps the session hooks to Claude Code's events.
var sessionHookEvents = map[string]string{"session-start": "SessionStart", "session-end": "SessionEnd", "prompt": "UserPromptSubmit"}

// sessionHookCommand builds the command of a session hook from the post
// hook's: the same binary and flags, another hook.
func sessionHookCommand(post, kind string) string {
	return strings.Replace(post, " hook post", " hook "+kind, 1)
}

// sessionEvent is the part of Claude Code's SessionStart and SessionEnd
// payloads the hooks read.
type sessionEvent struct {
	SessionID     string `json:"session_id"`
	Cwd           string `json:"cwd"`
	HookEventName string `json:"hook_event_name"`
	Source        string `json:"source"` // SessionStart
	Reason        string `json:"reason"` // SessionEnd
}

// hookSession records the start (answering Claude Code with the context
// for the agent on stdout) or the end (releasing the session's leases) of
// a session through the writer w, within timeout.
func hookSession(ctx context.Context, w *client.Client, start bool, timeout time.Duration, stdin io.Reader, stdout io.Writer) error {
	want := "SessionEnd"
	if start {
		want = "SessionStart"
	}
	p, err := readHookPayloadWithin(ctx, stdin, timeout)
	if err != nil {
		return err
	}
	var ev sessionEvent
	if err := json.Unmarshal(p.Raw, &ev); err != nil {
		return fmt.Errorf("read the %s event: %w", want, err)
	}
	if ev.HookEventName != "" && ev.HookEventName != want {
		return fmt.Errorf("got a %s event; register this hook for %s", ev.HookEventName, want)
	}
	if ev.SessionID == "" {
		return errors.New("the event has no session_id")
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !start {
		var res struct {
			Released []string `json:"released"`
		}
		err := w.PostJSON(cctx, "/v1/sessions/"+url.PathEscape(ev.SessionID)+"/end", map[string]string{"reason": ev.Reason}, &res)
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
			return nil // already ended (or never started): nothing to release
		}
		if err != nil {
			return fmt.Errorf("end session %s: %w", ev.SessionID, err)
		}
		return nil
	}
	var res struct {
		Context string `json:"context"`
	}
	if err := w.PostJSON(cctx, "/v1/sessions", map[string]string{"session_id": ev.SessionID, "cwd": ev.Cwd, "source": ev.Source}, &res); err != nil {
		return fmt.Errorf("start session %s: %w", ev.SessionID, err)
	}
	text := res.Context
	if msgs, err := deliverMessages(ctx, w, ev.SessionID); err == nil && msgs != "" {
		text += "\n\n" + msgs
	}
	return writeAdditionalContext(stdout, "SessionStart", text)
}

// hookPostRead tells the writer that the session read the project file
// rel, so that the stale-write guard knows which version it saw.
func hookPostRead(ctx context.Context, c *client.Client, p claudecode.Payload, rel string) error {
	if p.SessionID == "" {
		return nil
	}
	var res struct {
		SeenSeq uint64 `json:"seen_seq"`
	}
	if err := c.PostJSON(ctx, "/v1/sessions/"+url.PathEscape(p.SessionID)+"/seen", map[string]string{"path": rel}, &res); err != nil {
		return fmt.Errorf("record that %s was read: %w", rel, err)
	}
	return nil
}
