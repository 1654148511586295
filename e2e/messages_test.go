package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// additionalContext decodes a hook's answer: the event it names and the
// text it adds to the agent's context ("" for no answer).
func additionalContext(t *testing.T, r hookResult) (event, text string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("hook exit %d: %s", r.code, r.stderr)
	}
	if strings.TrimSpace(r.stdout) == "" {
		return "", ""
	}
	var out struct {
		HookSpecificOutput struct {
			HookEventName     string `json:"hookEventName"`
			AdditionalContext string `json:"additionalContext"`
		} `json:"hookSpecificOutput"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("hook answered %q: %v", r.stdout, err)
	}
	return out.HookSpecificOutput.HookEventName, out.HookSpecificOutput.AdditionalContext
}

// TestMessagesDeliveredOnceThroughHooks: messages addressed by name, role
// and capability reach the right agents; the real hook binary adds each
// new message to Claude Code's additionalContext on UserPromptSubmit,
// PostToolUse or SessionStart exactly once, bounded in size with a pointer
// to the rest; the inbox long-polls and read, ack and threads work.
func TestMessagesDeliveredOnceThroughHooks(t *testing.T) {
	t.Parallel()
	ta := setupTwoAgents(t)
	prompt := settingsHook(t, ta.g.project, "UserPromptSubmit")
	if !strings.Contains(prompt, " hook prompt") {
		t.Fatalf("UserPromptSubmit runs %q", prompt)
	}
	lines := strings.Split(strings.TrimSpace(ta.g.run(ta.g.project, 0, "agent", "add", "sec-1", "--role", "expert", "--capability", "security,performance")), "\n")
	tokSec := strings.TrimSpace(lines[len(lines)-1])
	if out := ta.g.run(ta.g.project, 0, "agent", "list", "--json"); !strings.Contains(out, `"security"`) {
		t.Fatalf("agent list lacks sec-1's capabilities:\n%s", out)
	}
	promptA := func() hookResult {
		return claudeHook(t, prompt, ta.envA, map[string]any{"session_id": ta.sessA, "hook_event_name": "UserPromptSubmit", "cwd": ta.g.project, "prompt": "go on"})
	}
	send := func(token string, args ...string) string {
		t.Helper()
		return strings.TrimSpace(mustRun(t, ta, token, append([]string{"msg", "send"}, args...)...))
	}

	// sec-1 waits for a message to its capability while the user sends it.
	type polled struct {
		out string
		err error
		at  time.Time
	}
	done := make(chan polled, 1)
	go func() {
		out, err := ta.lighthouse(tokSec, "msg", "inbox", "--unread", "--wait", "20s", "--json")
		done <- polled{out, err, time.Now()}
	}()
	time.Sleep(500 * time.Millisecond)
	sentAt := time.Now()
	toSec := send("", "--to", "capability:security", "-s", "audit auth", "-m", "src/auth changed")
	select {
	case p := <-done:
		if p.err != nil || !strings.Contains(p.out, toSec) {
			t.Fatalf("sec-1's long-poll: %v\n%s", p.err, p.out)
		}
		if d := p.at.Sub(sentAt); d > 10*time.Second {
			t.Errorf("the long-poll answered %v after the send", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sec-1's long-poll never answered")
	}

	sessionStart := ta.sessionStart(t, ta.envA, ta.sessA)
	if strings.Contains(sessionStart, "Lighthouse messages") {
		t.Fatalf("SessionStart delivered messages before any was sent:\n%s", sessionStart)
	}
	direct := send(ta.tokenB, "--to", "claude", "-s", "cart refactor", "-m", "please look at src/cart", "--ack")
	toRole := send(tokSec, "--to", "role:builder", "-s", "builders: freeze", "-m", "no merges today")
	for _, c := range []struct {
		name, token, id string
		want            bool
	}{
		{"claude gets the direct message", ta.tokenA, direct, true},
		{"claude gets the role message", ta.tokenA, toRole, true},
		{"claude-2 gets the role message", ta.tokenB, toRole, true},
		{"claude-2 does not get claude's message", ta.tokenB, direct, false},
		{"sec-1 gets no role message it sent", tokSec, toRole, false},
		{"claude does not get sec-1's capability message", ta.tokenA, toSec, false},
	} {
		out := mustRun(t, ta, c.token, "msg", "inbox", "--json")
		if strings.Contains(out, c.id) != c.want {
			t.Errorf("%s: inbox\n%s", c.name, out)
		}
	}

	// UserPromptSubmit delivers both, once.
	ev, text := additionalContext(t, promptA())
	if ev != "UserPromptSubmit" || strings.Count(text, direct) != 1 || strings.Count(text, toRole) != 1 || !strings.Contains(text, "please look at src/cart") {
		t.Fatalf("prompt hook delivered (%s):\n%s", ev, text)
	}
	if ev, text := additionalContext(t, promptA()); text != "" {
		t.Fatalf("second prompt hook delivered again (%s):\n%s", ev, text)
	}
	// PostToolUse delivers what arrived since, once.
	later := send(ta.tokenB, "--to", "claude", "-s", "one more", "-m", "after your edit")
	post := func() hookResult {
		return claudeHook(t, ta.post, ta.envA, map[string]any{"session_id": ta.sessA, "hook_event_name": "PostToolUse", "cwd": ta.g.project,
			"tool_name": "Read", "tool_input": map[string]any{"file_path": ta.cartFile}, "tool_use_id": "toolu_msg1"})
	}
	ev, text = additionalContext(t, post())
	if ev != "PostToolUse" || strings.Count(text, later) != 1 || strings.Contains(text, direct) {
		t.Fatalf("post hook delivered (%s):\n%s", ev, text)
	}
	if _, text := additionalContext(t, post()); text != "" {
		t.Fatalf("second post hook delivered again:\n%s", text)
	}
	// A burst is cut to a bounded context that points to the rest; the
	// next hooks deliver the rest, each message once.
	body := strings.Repeat("long body ", 200)
	var burst []string
	for range 5 {
		burst = append(burst, send(ta.tokenB, "--to", "claude", "-s", "burst", "-m", body))
	}
	seen := map[string]int{}
	for i := 0; i < 6; i++ {
		_, text := additionalContext(t, promptA())
		if len(text) > 5000 {
			t.Fatalf("delivery %d is %d bytes", i, len(text))
		}
		if i == 0 && !strings.Contains(text, "more unread message(s): run `lighthouse msg inbox --unread`") {
			t.Fatalf("the first delivery of the burst has no pointer to the rest:\n%.300s", text)
		}
		for _, id := range burst {
			seen[id] += strings.Count(text, id)
		}
	}
	for _, id := range burst {
		if seen[id] != 1 {
			t.Errorf("burst message %s delivered %d times", id, seen[id])
		}
	}
	// A new session starts with no message delivered again.
	if ctx := ta.sessionStart(t, ta.envA, "sess-a2"); strings.Contains(ctx, direct) || strings.Contains(ctx, "Lighthouse messages") {
		t.Fatalf("SessionStart delivered again:\n%s", ctx)
	}
	// SessionStart delivers a message sent while no session ran.
	fresh := send(ta.tokenB, "--to", "claude", "-s", "welcome back")
	if ctx := ta.sessionStart(t, ta.envA, "sess-a3"); strings.Count(ctx, fresh) != 1 {
		t.Fatalf("SessionStart did not deliver %s:\n%s", fresh, ctx)
	}

	// Read and ack; the reply joins the thread; only recipients mark.
	mustRun(t, ta, ta.tokenA, "msg", "read", direct)
	if out := mustRun(t, ta, ta.tokenA, "msg", "inbox", "--unread", "--json"); strings.Contains(out, direct) || !strings.Contains(out, toRole) {
		t.Fatalf("unread inbox after reading %s:\n%s", direct, out)
	}
	mustRun(t, ta, ta.tokenA, "msg", "ack", direct)
	if out, err := ta.lighthouse(ta.tokenB, "msg", "ack", direct); err == nil {
		t.Fatalf("claude-2 acked a message it did not receive:\n%s", out)
	}
	reply := send(ta.tokenA, "--to", "claude-2", "--reply-to", direct[:8], "-m", "on it") // the prefix the inbox prints
	thread := mustRun(t, ta, ta.tokenB, "msg", "thread", direct, "--json")
	var th struct {
		Messages []struct {
			MessageID string `json:"message_id"`
			Receipts  map[string]struct {
				AckedAt *time.Time `json:"acked_at"`
			} `json:"receipts"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(thread), &th); err != nil || len(th.Messages) != 2 || th.Messages[0].MessageID != direct || th.Messages[1].MessageID != reply {
		t.Fatalf("thread %s: %v\n%s", direct, err, thread)
	}
	acked := false
	for _, r := range th.Messages[0].Receipts {
		acked = acked || r.AckedAt != nil
	}
	if !acked {
		t.Errorf("the thread does not show claude's ack:\n%s", thread)
	}
	if out, err := ta.lighthouse(tokSec, "msg", "thread", direct); err == nil {
		t.Fatalf("sec-1 read a thread it is not part of:\n%s", out)
	}
	if out, err := ta.lighthouse(ta.tokenA, "msg", "send", "--to", "nobody-here", "-m", "x"); err == nil {
		t.Fatalf("a message to an unknown agent was sent:\n%s", out)
	}
}
