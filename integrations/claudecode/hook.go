package claudecode

// `lighthouse hook pre|post`: Claude Code command hooks.
//
// Claude Code runs a command hook with the event as one JSON object on stdin
// and reads the answer from the exit code, stdout and stderr (see
// testdata/claude-code/README.md):
//
//   - PreToolUse (`hook pre`) asks the writer's POST /v1/validate whether the
//     tool call may run. It is a guard, so it fails closed: every failure
//     (writer unreachable, HTTP error, timeout, unreadable stdin or answer,
//     unknown decision, bad flags, even a panic) ends in exit 2 with one line
//     on stderr, which Claude Code treats as "blocked" and shows to the model.
//     It never exits 1: Claude Code treats any code but 0 and 2 as a
//     non-blocking error and would run the call.
//   - PostToolUse (`hook post`) copies the file an edit tool just changed to
//     the writer. The tool has already run, so blocking means nothing; a
//     failure prints one line on stderr and exits 1 (non-blocking), and the
//     agent carries on.
//
// RunHook handles its own exit status (it calls os.Exit for every non-zero
// code) so that main's generic "exit 1 on error" never applies to a hook.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lighthouse-ai/lighthouse/domain/policy"
	"github.com/lighthouse-ai/lighthouse/infra/claudecode"
	"github.com/lighthouse-ai/lighthouse/infra/cli"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
)

// Hook limits and defaults.
const (
	hookDefaultTimeout = 5 * time.Second
	hookDefaultWait    = 100 * time.Second
	hookPostTimeout    = 30 * time.Second
	hookMaxPollWait    = 60 * time.Second // the writer caps ?wait= at 60s
	hookPollGap        = 500 * time.Millisecond
	hookMaxBackoff     = 5 * time.Second
	hookMaxReasonBytes = 1000
	// hookStopCloseTimeout bounds closing the review of a hook that is being
	// stopped: whoever stops it may kill it soon after.
	hookStopCloseTimeout = 2 * time.Second
)

// Exit codes Claude Code understands.
const (
	hookExitOK       = 0 // pre: stdout JSON (or nothing) is the answer
	hookExitNonBlock = 1 // post: error, but the agent carries on
	hookExitBlock    = 2 // pre: blocked, stderr is the reason
)

// RunHook is `lighthouse hook pre|post`. It exits the process itself with the
// code Claude Code expects and returns nil only when that code is 0.
func RunHook(ctx context.Context, args []string) error {
	code := hookMain(ctx, args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if code != hookExitOK {
		os.Exit(code)
	}
	return nil
}

// hookMain dispatches to pre or post and returns the exit code.
func hookMain(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		hookFail(stderr, "lighthouse hook: want `hook pre` (PreToolUse) or `hook post` (PostToolUse)")
		return hookExitBlock
	}
	switch args[0] {
	case "pre":
		return hookPreMain(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "post":
		return hookPostMain(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "prompt":
		return hookPromptMain(ctx, args[1:], stdin, stdout, stderr)
	case "session-start", "session-end":
		return hookSessionMain(ctx, args[1:], args[0] == "session-start", stdin, stdout, stderr)
	default:
		hookFail(stderr, fmt.Sprintf("lighthouse hook: unknown hook %q, want pre or post", args[0]))
		return hookExitBlock
	}
}

// hookOptions are the settings of one hook run.
type hookOptions struct {
	Client    *client.Client
	Timeout   time.Duration // pre: the validate call; post: the upload
	Wait      time.Duration // pre: how long to wait for a human review
	Undecided string        // pre: "deny" or "ask" when the review is still pending at Wait
	EmitAllow bool          // pre: print an explicit allow instead of staying silent
	Root      string        // post: project root; "" asks the writer for its own
	Home      string        // the agent's home directory ($HOME), which the gate expands ~ to
	// ClaudeProjectDir is $CLAUDE_PROJECT_DIR: post's project root when
	// neither --root is given nor the writer can be asked.
	ClaudeProjectDir string
	PollGap          time.Duration // pre: least time between two review polls (0: hookPollGap)
	Data             string        // data directory: the watcher's socket and the spool (hook_shadow.go)
	onAllow          func()        // pre: run when the call is allowed (opens it with the watcher)
}

// hookFlags registers the flags both hooks share: the cli.Connection (--url,
// --token, --data) and --timeout.
func hookFlags(fs *flag.FlagSet, defTimeout time.Duration) (*cli.Connection, *durationValue) {
	var c cli.Connection
	c.Register(fs)
	timeout := &durationValue{d: defTimeout}
	fs.Var(timeout, "timeout", "time limit of reading stdin and of the call to the writer (a Go duration, or seconds; pre: env LIGHTHOUSE_HOOK_TIMEOUT)")
	return &c, timeout
}

// hookPreMain parses the flags of `hook pre` and runs it. Every failure is
// exit 2, including a panic.
func hookPreMain(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			hookFail(stderr, fmt.Sprintf("Lighthouse could not check this tool call, so it is blocked: internal error: %v", r))
			code = hookExitBlock
		}
	}()
	blocked := func(err error) int {
		hookFail(stderr, "Lighthouse could not check this tool call, so it is blocked: "+err.Error())
		return hookExitBlock
	}
	fs := flag.NewFlagSet("hook pre", flag.ContinueOnError)
	conn, timeout := hookFlags(fs, hookDefaultTimeout)
	wait := &durationValue{d: hookDefaultWait}
	fs.Var(wait, "wait", "how long to wait for a human to decide an escalated call (env LIGHTHOUSE_HOOK_WAIT; keep it under the hook's timeout in .claude/settings.local.json)")
	undecided := fs.String("undecided", "deny", `answer when the review is still undecided at --wait: "deny" or "ask" (env LIGHTHOUSE_HOOK_UNDECIDED)`)
	emitAllow := fs.Bool("emit-allow", false, "print an explicit allow, which skips Claude Code's own permission prompt (env LIGHTHOUSE_HOOK_EMIT_ALLOW=1)")
	var envErr error
	if v := getenv("LIGHTHOUSE_HOOK_TIMEOUT"); v != "" {
		if err := timeout.Set(v); err != nil {
			envErr = fmt.Errorf("LIGHTHOUSE_HOOK_TIMEOUT: %v", err)
		}
	}
	if v := getenv("LIGHTHOUSE_HOOK_WAIT"); v != "" {
		if err := wait.Set(v); err != nil {
			envErr = fmt.Errorf("LIGHTHOUSE_HOOK_WAIT: %v", err)
		}
	}
	if v := getenv("LIGHTHOUSE_HOOK_UNDECIDED"); v != "" {
		*undecided = v
	}
	if v := getenv("LIGHTHOUSE_HOOK_EMIT_ALLOW"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			envErr = fmt.Errorf("LIGHTHOUSE_HOOK_EMIT_ALLOW=%q is not a boolean", v)
		}
		*emitAllow = b
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: lighthouse hook pre [flags] < PreToolUse JSON")
			cli.PrintFlags(stderr, fs)
			return hookExitBlock
		}
		return blocked(fmt.Errorf("bad hook flags: %v", err))
	}
	if fs.NArg() > 0 {
		return blocked(fmt.Errorf("bad hook flags: unexpected argument %q", fs.Arg(0)))
	}
	if envErr != nil {
		return blocked(envErr)
	}
	if *undecided != "deny" && *undecided != "ask" {
		return blocked(fmt.Errorf(`bad hook flags: --undecided is %q, want "deny" or "ask"`, *undecided))
	}
	conn.NoAdmin = true
	w, err := conn.Writer()
	if err != nil {
		return blocked(err)
	}
	data, _ := conn.DataDir()
	return hookPre(ctx, stdin, stdout, stderr, hookOptions{
		Client: w, Timeout: timeout.d, Wait: wait.d, Undecided: *undecided, EmitAllow: *emitAllow, Home: getenv("HOME"), Data: data,
	})
}

// readHookPayloadWithin reads the hook event from r (see
// claudecode.ReadPayload) with a time limit.
func readHookPayloadWithin(ctx context.Context, r io.Reader, d time.Duration) (claudecode.Payload, error) {
	type result struct {
		p   claudecode.Payload
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			if v := recover(); v != nil {
				res.err = fmt.Errorf("internal error reading stdin: %v", v)
			}
			done <- res
		}()
		res.p, res.err = claudecode.ReadPayload(r)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case res := <-done:
		return res.p, res.err
	case <-t.C:
		return claudecode.Payload{}, fmt.Errorf("no complete hook event on stdin within %v", d)
	case <-ctx.Done():
		return claudecode.Payload{}, ctx.Err()
	}
}

// bulkInputKeys are the tool_input fields that carry file contents, which
// the gate does not judge by: when they are too long to forward they are
// left out. Any other long field makes the call too large to check.
var bulkInputKeys = map[string]bool{"content": true, "new_string": true, "old_string": true, "new_source": true}

// checkElided refuses a PreToolUse event whose left-out strings are not
// file contents: the gate must see the command, the paths and the URLs.
func checkElided(p claudecode.Payload) error {
	for _, e := range p.Elided {
		parts := strings.Split(e, ".")
		if len(parts) >= 2 && parts[0] == "tool_input" && bulkInputKeys[parts[len(parts)-1]] {
			continue
		}
		return fmt.Errorf("the field %s is over %d bytes, too large to check", e, claudecode.MaxString)
	}
	return nil
}

// validateAnswer is the writer's answer to POST /v1/validate.
type validateAnswer struct {
	Decision       string `json:"decision"`
	Reason         string `json:"reason"`
	Rule           string `json:"rule"`
	DecisionID     string `json:"decision_id"`
	PolicyRevision string `json:"policy_revision"`
	Cached         bool   `json:"cached"`
	ReviewID       string `json:"review_id"`
	Seq            uint64 `json:"seq"`
}

// reviewAnswer is the writer's answer to GET /v1/reviews/{id}.
type reviewAnswer struct {
	ID        string          `json:"id"`
	Status    string          `json:"status"`
	Reason    string          `json:"reason"`
	DecidedBy json.RawMessage `json:"decided_by"`
	// DecidedByNames names the deciders (DecidedBy holds their ids).
	DecidedByNames json.RawMessage `json:"decided_by_names"`
}

// hookPre runs the PreToolUse hook: it reads the event from stdin, asks the
// writer, and answers Claude Code. It returns the exit code.
func hookPre(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, o hookOptions) (code int) {
	blocked := func(err error) int {
		hookFail(stderr, "Lighthouse could not check this tool call, so it is blocked: "+err.Error())
		return hookExitBlock
	}
	defer func() {
		if r := recover(); r != nil {
			code = blocked(fmt.Errorf("internal error: %v", r))
		}
	}()
	if o.Client == nil {
		return blocked(errors.New("no writer client"))
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = hookDefaultTimeout
	}
	// Claude Code closes stdin after the event; should it not, give up in
	// time rather than be killed at the hook's timeout, which fails open.
	p, err := readHookPayloadWithin(ctx, stdin, timeout)
	if err != nil {
		return blocked(err)
	}
	if err := checkElided(p); err != nil {
		return blocked(err)
	}
	if p.ToolName == "" {
		return blocked(errors.New("the hook event on stdin has no tool_name"))
	}
	if p.HookEventName != "" && p.HookEventName != "PreToolUse" {
		return blocked(fmt.Errorf("`lighthouse hook pre` got a %s event; register it for PreToolUse", p.HookEventName))
	}
	o.onAllow = func() { shadowBegin(ctx, o.Data, o.Client, p) }

	vctx, cancel := context.WithTimeout(ctx, timeout)
	h := http.Header{"Content-Type": {"application/json"}}
	if p.SessionID != "" {
		h.Set("X-Session-Id", p.SessionID)
	}
	if filepath.IsAbs(o.Home) {
		h.Set(httpapi.HeaderAgentHome, filepath.Clean(o.Home))
	}
	var ans validateAnswer
	_, err = o.Client.Do(vctx, http.MethodPost, "/v1/validate", h, bytes.NewReader(p.Raw), &ans)
	timedOut := errors.Is(vctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	if err != nil {
		if timedOut {
			return blocked(fmt.Errorf("the writer did not answer within %v (%v)", timeout, err))
		}
		return blocked(err)
	}

	switch ans.Decision {
	case "allow":
		return hookAllow(stdout, stderr, o, "Lighthouse allowed this call"+ruleSuffix(ans.Reason, ans.Rule))
	case "block":
		return hookAnswer(stdout, stderr, "deny", "Lighthouse blocked this call"+ruleSuffix(ans.Reason, ans.Rule))
	case "escalate":
		if ans.ReviewID == "" {
			return blocked(errors.New("the writer escalated the call but sent no review_id"))
		}
		return hookAwaitReview(ctx, stdout, stderr, o, ans)
	default:
		return blocked(fmt.Errorf("the writer answered an unknown decision %q", ans.Decision))
	}
}

// hookAwaitReview long-polls the review of an escalated call until a human
// decides or o.Wait runs out.
func hookAwaitReview(ctx context.Context, stdout, stderr io.Writer, o hookOptions, ans validateAnswer) int {
	blocked := func(err error) int {
		hookFail(stderr, fmt.Sprintf("Lighthouse escalated this call for review %s and could not get the decision, so it is blocked: %v", ans.ReviewID, err))
		return hookExitBlock
	}
	// stopped blocks the call when the hook itself is stopped (Claude Code
	// timed it out, the user interrupted it) and first closes its review,
	// as when its wait runs out, so that no reviewer is left approving a
	// call nobody waits for. Only a kill it cannot catch leaves the review
	// open, until its deadline.
	stopped := func() int {
		cause := context.Cause(ctx)
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hookStopCloseTimeout)
		defer cancel()
		if _, err := hookAbandon(closeCtx, o, ans.ReviewID, "the agent's hook was stopped: "+cause.Error()); err != nil {
			return blocked(fmt.Errorf("%w (closing review %s failed: %w; it stays open until its deadline, and approving it will not run this call)", cause, ans.ReviewID, err))
		}
		return blocked(fmt.Errorf("%w; review %s is closed", cause, ans.ReviewID))
	}
	gap := o.PollGap
	if gap <= 0 {
		gap = hookPollGap
	}
	deadline := time.Now().Add(o.Wait)
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var lastErr error
	failures := 0
	for {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			break
		}
		w := min(remaining, hookMaxPollWait)
		secs := int(w / time.Second)
		if secs < 1 {
			secs = 1
		}
		start := time.Now()
		var r reviewAnswer
		_, err := o.Client.Do(wctx, http.MethodGet,
			"/v1/reviews/"+url.PathEscape(ans.ReviewID)+"?wait="+strconv.Itoa(secs)+"s", nil, nil, &r)
		if err != nil {
			if ctx.Err() != nil {
				return stopped()
			}
			if wctx.Err() != nil {
				break // our deadline, not the writer's fault
			}
			var ce *client.Error
			if errors.As(err, &ce) && ce.Refused() {
				return blocked(err)
			}
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			if errors.As(err, &se) || errors.As(err, &te) {
				return blocked(err) // a garbage answer will not get better
			}
			// A transient failure (cli.Connection, 5xx): retry until the deadline.
			lastErr = err
			failures++
			if !sleepCtx(wctx, min(gap<<min(failures, 8), hookMaxBackoff)) && ctx.Err() != nil {
				return stopped()
			}
			continue
		}
		lastErr, failures = nil, 0
		by := decidedBy(firstRaw(r.DecidedByNames, r.DecidedBy))
		switch r.Status {
		case "approved":
			// A person approved this very call: say so explicitly, so Claude
			// Code does not ask a second time.
			o.EmitAllow = true
			return hookAllow(stdout, stderr, o, "Lighthouse review approved"+by+ruleSuffix(r.Reason, ""))
		case "denied":
			return hookAnswer(stdout, stderr, "deny", "Lighthouse review denied this call"+by+ruleSuffix(r.Reason, ans.Rule))
		case "expired":
			return hookAnswer(stdout, stderr, "deny", "Lighthouse review expired without a decision, so the call is denied"+ruleSuffix(r.Reason, ans.Rule))
		case "abandoned":
			return hookAnswer(stdout, stderr, "deny", "Lighthouse review "+ans.ReviewID+" was closed without a decision, so the call is denied"+ruleSuffix(r.Reason, ans.Rule))
		case "pending", "":
			// Guard against a writer that answers at once instead of holding
			// the poll: never poll more often than every gap.
			if d := gap - time.Since(start); d > 0 {
				if !sleepCtx(wctx, d) && ctx.Err() != nil {
					return stopped()
				}
			}
		default:
			return blocked(fmt.Errorf("the writer answered an unknown review status %q", r.Status))
		}
	}
	if ctx.Err() != nil {
		return stopped()
	}
	if lastErr != nil {
		return blocked(lastErr)
	}
	// Close the review as an event, so that a reviewer who comes late is
	// told the call is gone instead of approving into the void. A decision
	// that won the race is honoured.
	closed, err := hookAbandon(ctx, o, ans.ReviewID, fmt.Sprintf("the agent stopped waiting after %v", o.Wait))
	closeNote := ""
	if err != nil {
		if ctx.Err() != nil {
			return stopped()
		}
		closeNote = fmt.Sprintf(" (closing review %s failed: %v; it stays open until its deadline, and approving it will not run this call)", ans.ReviewID, err)
	}
	switch closed.Status {
	case "approved":
		o.EmitAllow = true
		return hookAllow(stdout, stderr, o, "Lighthouse review approved"+decidedBy(firstRaw(closed.DecidedByNames, closed.DecidedBy))+ruleSuffix(closed.Reason, ""))
	case "denied":
		return hookAnswer(stdout, stderr, "deny", "Lighthouse review denied this call"+decidedBy(firstRaw(closed.DecidedByNames, closed.DecidedBy))+ruleSuffix(closed.Reason, ans.Rule))
	}
	what := "Lighthouse escalated this call for human review" + ruleSuffix(ans.Reason, ans.Rule)
	who := "a reviewer or an admin"
	if c, ok := strings.CutPrefix(closed.Route, "capability:"); ok {
		who = "a reviewer, an admin or an agent with capability " + c
	}
	if len(closed.Deciders) > 0 {
		who += " (" + strings.Join(closed.Deciders, ", ") + ")"
	}
	state := "is now closed"
	if closeNote != "" {
		state = "was not closed" + closeNote
	}
	retry := fmt.Sprintf("Review %s %s. %s can approve calls like this one: retry the call while one of them watches (`lighthouse review watch` or the console) and approves the new review, optionally --for-pattern to allow such calls from now on.", ans.ReviewID, state, upperFirst(who))
	if o.Undecided == "ask" {
		return hookAnswer(stdout, stderr, "ask", fmt.Sprintf("%s; no Lighthouse reviewer decided within %v. %s", what, o.Wait, retry))
	}
	return hookAnswer(stdout, stderr, "deny", fmt.Sprintf("%s; no reviewer decided within %v, so it is denied. %s", what, o.Wait, retry))
}

// abandonAnswer is the writer's answer to POST /v1/reviews/{id}/abandon.
type abandonAnswer struct {
	reviewAnswer
	Deciders []string `json:"deciders"`
	Route    string   `json:"route"` // capability:NAME when the policy routed the review
}

// hookAbandon closes the review the hook stops waiting for. When a vote got
// there first, it returns the review as decided.
func hookAbandon(ctx context.Context, o hookOptions, id, reason string) (abandonAnswer, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = hookDefaultTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out abandonAnswer
	err := o.Client.PostJSON(actx, "/v1/reviews/"+url.PathEscape(id)+"/abandon", map[string]string{"reason": reason}, &out)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Code == "review_closed" {
		var r reviewAnswer
		if _, gerr := o.Client.Do(actx, http.MethodGet, "/v1/reviews/"+url.PathEscape(id), nil, nil, &r); gerr != nil {
			return out, fmt.Errorf("%w (then: %w)", err, gerr)
		}
		return abandonAnswer{reviewAnswer: r}, nil
	}
	if err != nil {
		return out, fmt.Errorf("close review %s: %w", id, err)
	}
	return out, nil
}

// upperFirst capitalises the first letter of s.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// hookAllow answers allow: silence (Claude Code's own rules apply) unless
// the explicit allow is wanted.
func hookAllow(stdout, stderr io.Writer, o hookOptions, reason string) int {
	if o.onAllow != nil {
		o.onAllow()
	}
	if !o.EmitAllow {
		return hookExitOK
	}
	// If the allow cannot be printed, silence is the safe fallback.
	_ = writeHookDecision(stdout, "allow", reason)
	return hookExitOK
}

// hookAnswer prints a deny or ask decision. If stdout is broken, the call is
// blocked through exit 2 instead.
func hookAnswer(stdout, stderr io.Writer, decision, reason string) int {
	if err := writeHookDecision(stdout, decision, reason); err != nil {
		hookFail(stderr, reason)
		return hookExitBlock
	}
	return hookExitOK
}

// hookDecision is Claude Code's PreToolUse JSON output.
type hookDecision struct {
	HookSpecificOutput struct {
		HookEventName            string `json:"hookEventName"`
		PermissionDecision       string `json:"permissionDecision"`
		PermissionDecisionReason string `json:"permissionDecisionReason,omitempty"`
	} `json:"hookSpecificOutput"`
}

func writeHookDecision(w io.Writer, decision, reason string) error {
	var d hookDecision
	d.HookSpecificOutput.HookEventName = "PreToolUse"
	d.HookSpecificOutput.PermissionDecision = decision
	d.HookSpecificOutput.PermissionDecisionReason = reason
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

// ruleSuffix renders ": reason (rule R)" for the parts that are present.
func ruleSuffix(reason, rule string) string {
	var b strings.Builder
	if r := strings.TrimSpace(reason); r != "" {
		b.WriteString(": ")
		b.WriteString(r)
	}
	if rule != "" {
		b.WriteString(" (rule ")
		b.WriteString(rule)
		b.WriteString(")")
	}
	return b.String()
}

// decidedBy renders " by a, b" from the review's decided_by, whatever its
// element shape (names, or objects with a name or id).
func decidedBy(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return ""
	}
	var names []string
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil && s != "" {
			names = append(names, s)
			continue
		}
		var o struct {
			Name    string `json:"name"`
			AgentID string `json:"agent_id"`
			ID      string `json:"id"`
		}
		if json.Unmarshal(it, &o) == nil {
			for _, n := range []string{o.Name, o.AgentID, o.ID} {
				if n != "" {
					names = append(names, n)
					break
				}
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " by " + strings.Join(names, ", ")
}

// firstRaw returns the first non-empty of a and b.
func firstRaw(a, b json.RawMessage) json.RawMessage {
	if len(a) > 0 && string(a) != "null" && string(a) != "[]" {
		return a
	}
	return b
}

// hookFail writes msg to stderr as one bounded line.
func hookFail(stderr io.Writer, msg string) {
	fmt.Fprintln(stderr, oneLine(msg))
}

// oneLine flattens msg to a single line of at most hookMaxReasonBytes.
func oneLine(msg string) string {
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
	if len(msg) > hookMaxReasonBytes {
		cut := hookMaxReasonBytes
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// sleepCtx sleeps for d or until ctx ends; it reports whether it slept the
// whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// durationValue is a flag that takes a Go duration ("90s", "2m") or a plain
// number of seconds ("100"), like Claude Code's own timeouts.
type durationValue struct{ d time.Duration }

func (v *durationValue) String() string {
	if v == nil {
		return ""
	}
	return v.d.String()
}

func (v *durationValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 || n > 24*3600 {
			return fmt.Errorf("duration %q is out of range", s)
		}
		v.d = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (like 100s) or a number of seconds", s)
	}
	if d < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	v.d = d
	return nil
}

// editTools are the tools whose file `hook post` copies to the writer, with
// the tool_input field that names the file.
var editTools = map[string]string{"Write": "file_path", "Edit": "file_path", "MultiEdit": "file_path", "NotebookEdit": "notebook_path"}

// hookPostMain parses the flags of `hook post` and runs it.
//
// PostToolUse runs after the tool: the file is already changed on disk and
// exit 2 could not undo it (it would only feed stderr to the model as if the
// tool had failed). So every failure here prints one line on stderr and exits
// 1, a non-blocking error: Claude Code notes it and the agent carries on.
//
// After a successful run it adds the agent's new messages to the context
// (hook_messages.go); an agent without a token simply gets none.
func hookPostMain(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			hookFail(stderr, fmt.Sprintf("lighthouse hook post: internal error: %v", r))
			code = hookExitNonBlock
		}
	}()
	fail := func(err error) int {
		hookFail(stderr, "lighthouse hook post: "+err.Error())
		return hookExitNonBlock
	}
	fs := flag.NewFlagSet("hook post", flag.ContinueOnError)
	conn, timeout := hookFlags(fs, hookPostTimeout)
	root := fs.String("root", "", "project root the file must lie in (default: the writer's project root)")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: lighthouse hook post [flags] < PostToolUse JSON")
			cli.PrintFlags(stderr, fs)
			return hookExitNonBlock
		}
		return fail(fmt.Errorf("bad hook flags: %v", err))
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("bad hook flags: unexpected argument %q", fs.Arg(0)))
	}
	conn.NoAdmin = true
	// The token is resolved lazily: a post hook for a non-edit tool needs none.
	data, _ := conn.DataDir()
	var raw bytes.Buffer
	if stdin != nil {
		stdin = io.TeeReader(stdin, &raw)
	}
	writer := func() (*client.Client, error) {
		c, err := conn.Writer()
		var down *cli.NotRunningError
		if errors.As(err, &down) {
			// A stopped writer is unreachable like one that does not
			// answer: the edit is spooled for when it is back, as the agent.
			token, terr := conn.ResolveToken()
			if terr != nil {
				return nil, terr
			}
			return client.Down(token, err), nil
		}
		return c, err
	}
	code = hookPost(ctx, stdin, stderr, hookOptions{Timeout: timeout.d, Root: *root, Home: getenv("HOME"), Data: data, ClaudeProjectDir: getenv("CLAUDE_PROJECT_DIR")}, writer)
	if code != hookExitOK {
		return code
	}
	var ev struct {
		SessionID string `json:"session_id"`
	}
	if json.Unmarshal(raw.Bytes(), &ev) != nil {
		return code
	}
	w, err := conn.Writer()
	if err != nil {
		return code
	}
	text, err := deliverMessages(ctx, w, ev.SessionID)
	if err != nil {
		// The edit is shadowed, and said nothing: messages the writer
		// cannot deliver now stay undelivered for the next hook.
		return code
	}
	if err := writeAdditionalContext(stdout, "PostToolUse", text); err != nil {
		return fail(err)
	}
	return code
}

// hookPost runs the PostToolUse hook: for an edit tool it streams the file's
// current content to the writer at its project-relative path, with the
// tool_use_id as command id (a retried hook appends nothing) and the session
// in X-Session-Id. It returns the exit code.
func hookPost(ctx context.Context, stdin io.Reader, stderr io.Writer, o hookOptions, writer func() (*client.Client, error)) (code int) {
	fail := func(err error) int {
		hookFail(stderr, "lighthouse hook post: "+err.Error())
		return hookExitNonBlock
	}
	defer func() {
		if r := recover(); r != nil {
			code = fail(fmt.Errorf("internal error: %v", r))
		}
	}()
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = hookPostTimeout
	}
	p, err := readHookPayloadWithin(ctx, stdin, timeout)
	if err != nil {
		return fail(err)
	}
	if p.HookEventName != "" && p.HookEventName != "PostToolUse" {
		return fail(fmt.Errorf("got a %s event; register `lighthouse hook post` for PostToolUse", p.HookEventName))
	}
	if p.ToolName == "Bash" {
		return shadowBash(ctx, stderr, o, p, writer)
	}
	key, ok := editTools[p.ToolName]
	if p.ToolName == "Read" { // a seen mark for the stale-write guard (hook_session.go)
		key, ok = "file_path", true
	}
	if !ok {
		shadowRelease(ctx, o.Data, p)
		return hookExitOK
	}
	file := p.InputString(key)
	if file == "" {
		return fail(fmt.Errorf("%s event has no tool_input.%s", p.ToolName, key))
	}
	var c *client.Client
	if o.Client != nil {
		c = o.Client
	} else if c, err = writer(); err != nil {
		return fail(err)
	}
	uctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	root := o.Root
	if root == "" {
		var st struct {
			ProjectRoot string `json:"project_root"`
		}
		_, err := c.Do(uctx, http.MethodGet, "/v1/status", nil, nil, &st)
		var ce *client.Error
		switch {
		case err == nil:
			root = st.ProjectRoot
		case !errors.As(err, &ce) && o.ClaudeProjectDir != "":
			// The writer is unreachable: the edit is spooled relative to
			// the directory Claude Code runs in.
			root = o.ClaudeProjectDir
		default:
			return fail(fmt.Errorf("ask the writer for its project root: %v", err))
		}
	}
	if root == "" {
		return fail(errors.New("no project root: pass --root"))
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = root
	}
	// The gate judged the call on this same resolution of the path.
	abs := policy.ToolPath(file, cwd, o.Home)
	if abs == "" {
		return fail(fmt.Errorf("tool_input.%s %q cannot be resolved (cwd %q)", key, file, p.Cwd))
	}
	rootReal, rel, err := confinePath(root, abs)
	if p.ToolName == "Read" { // a read outside the project has nothing to mark
		if err == nil {
			if err := hookPostRead(uctx, c, p, rel); err != nil {
				return fail(err)
			}
		}
		return hookExitOK
	}
	if err != nil {
		return fail(err)
	}
	r, err := os.OpenRoot(rootReal)
	if err != nil {
		return fail(err)
	}
	defer r.Close()
	if fi, err := r.Lstat(rel); err != nil {
		return fail(err)
	} else if !fi.Mode().IsRegular() {
		return fail(fmt.Errorf("%s is not a regular file", file))
	}
	// os.Root keeps the open below the root even if a path component is
	// swapped for a symlink after confinePath looked.
	f, err := r.Open(rel)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if !fi.Mode().IsRegular() {
		return fail(fmt.Errorf("%s is not a regular file", file))
	}
	q := url.Values{}
	if p.ToolUseID != "" {
		q.Set("command_id", p.ToolUseID)
	}
	q.Set("mode", strconv.FormatUint(uint64(fi.Mode().Perm()), 8))
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if p.SessionID != "" {
		h.Set("X-Session-Id", p.SessionID)
	}
	shadowReplay(uctx, o.Data, c)
	var res client.CommandResult
	if _, err := c.Do(uctx, http.MethodPut, client.FilePath(rel)+"?"+q.Encode(), h, f, &res); err != nil {
		if code, ok := shadowSpoolEdit(ctx, stderr, o, p, c, rootReal, rel, err); ok {
			return code
		}
		return fail(fmt.Errorf("copy %s to the writer: %v", rel, err))
	}
	_, _, _ = shadowEnd(uctx, o.Data, c.Token, p, false)
	return hookExitOK
}

// confinePath resolves symlinks in root and in the absolute path file and
// returns the real root and file's slash-separated path relative to it. It
// refuses a file outside root (also through a symlink) and the root itself.
func confinePath(root, file string) (rootReal, rel string, err error) {
	if !filepath.IsAbs(file) {
		return "", "", fmt.Errorf("file path %q is not absolute", file)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", "", fmt.Errorf("project root %q: %v", root, err)
	}
	if rootReal, err = filepath.EvalSymlinks(absRoot); err != nil {
		return "", "", fmt.Errorf("project root: %v", err)
	}
	fileReal, err := filepath.EvalSymlinks(filepath.Clean(file))
	if err != nil {
		return "", "", fmt.Errorf("file path: %v", err)
	}
	r, err := filepath.Rel(rootReal, fileReal)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
		return "", "", fmt.Errorf("file path %q is outside the project root %s (resolved: %s)", file, rootReal, fileReal)
	}
	return rootReal, filepath.ToSlash(r), nil
}

// PrintHookFlags prints the flags of `hook pre` or `hook post` on w.
func PrintHookFlags(which string, w io.Writer) {
	if which == "pre" {
		hookPreMain(context.Background(), []string{"-h"}, os.Getenv, nil, io.Discard, w)
		return
	}
	hookPostMain(context.Background(), []string{"-h"}, os.Getenv, nil, io.Discard, w)
}
