package claudecode

// Message delivery: `hook prompt` (UserPromptSubmit), and the tail of
// `hook post` (PostToolUse) and `hook session-start` (SessionStart), add
// the agent's new messages to Claude Code's additionalContext. The writer
// marks each message delivered as it answers, so each is shown once.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// Delivery limits: the text added to the context and the time the hooks
// give the writer to answer.
const (
	hookDeliverMaxBytes = 4 << 10
	hookDeliverTimeout  = 2 * time.Second
)

// deliverMessages asks the writer for the caller's new messages, now
// marked delivered, as text for the agent's context; "" when none.
func deliverMessages(ctx context.Context, w *client.Client, session string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, hookDeliverTimeout)
	defer cancel()
	var ans struct {
		Context string `json:"context"`
	}
	if err := w.PostJSON(ctx, "/v1/inbox/deliver", map[string]any{"session_id": session, "max_bytes": hookDeliverMaxBytes}, &ans); err != nil {
		return "", fmt.Errorf("deliver messages: %w", err)
	}
	return ans.Context, nil
}

// writeAdditionalContext answers Claude Code with text for the agent's
// context on event; it writes nothing for empty text.
func writeAdditionalContext(out io.Writer, event, text string) error {
	if text == "" {
		return nil
	}
	return json.NewEncoder(out).Encode(map[string]any{"hookSpecificOutput": map[string]string{"hookEventName": event, "additionalContext": text}})
}

// hookPromptMain runs `hook prompt`, Claude Code's UserPromptSubmit hook:
// it adds the agent's new messages to the context. Failures print one line
// and exit 1, which never blocks the prompt.
func hookPromptMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	fail := func(err error) int {
		hookFail(stderr, "lighthouse hook prompt: "+err.Error())
		return hookExitNonBlock
	}
	defer func() {
		if r := recover(); r != nil {
			code = fail(fmt.Errorf("internal error: %v", r))
		}
	}()
	fs := flag.NewFlagSet("hook prompt", flag.ContinueOnError)
	conn, timeout := hookFlags(fs, hookDeliverTimeout)
	fs.String("root", "", "ignored: accepted so the hooks share the post hook's flags")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return fail(fmt.Errorf("bad hook flags: %w", err))
	}
	conn.NoAdmin = true
	p, err := readHookPayloadWithin(ctx, stdin, timeout.d)
	if err != nil {
		return fail(err)
	}
	if p.HookEventName != "" && p.HookEventName != "UserPromptSubmit" {
		return fail(fmt.Errorf("got a %s event; register `lighthouse hook prompt` for UserPromptSubmit", p.HookEventName))
	}
	w, err := conn.Writer()
	if err != nil {
		return fail(err)
	}
	text, err := deliverMessages(ctx, w, p.SessionID)
	if err != nil {
		return fail(err)
	}
	if err := writeAdditionalContext(stdout, "UserPromptSubmit", text); err != nil {
		return fail(err)
	}
	return hookExitOK
}
