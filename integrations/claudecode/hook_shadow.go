package claudecode

// The hooks' part in shadowing the working tree (see infra/watcher):
//
//   - `hook pre`, when it allows a tool call that may change files, opens
//     the call with the project's watcher, which then holds back what it
//     sees until the call ends, so the call's changes are the agent's.
//   - `hook post` for Bash asks the watcher to record what the call changed
//     as the agent, with command_id = tool_use_id, before it returns.
//   - `hook post` for an edit tool, when the writer is unreachable, spools
//     the file durably in DATA/spool (with the agent's token, so the replay
//     is the agent's) and exits 0 with one warning line.
//
// Everything here is best effort towards the watcher: no watcher running
// means no Bash shadowing (silently), never a failed hook.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/claudecode"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/watcher"
)

// shadowTool reports whether a tool's calls may change files in the tree.
func shadowTool(name string) bool {
	switch name {
	case "Bash", "Write", "Edit", "MultiEdit", "NotebookEdit":
		return true
	}
	return false
}

// shadowBeginTimeout bounds the pre hook's note to the watcher: a local
// socket, normally well under a millisecond, but a busy machine can be slow,
// and a lost note makes the watcher record the call's changes as its own.
const shadowBeginTimeout = 2 * time.Second

// shadowBegin tells the watcher an allowed call is about to run.
func shadowBegin(ctx context.Context, data string, c *client.Client, p claudecode.Payload) {
	if data == "" || c == nil || p.ToolUseID == "" || !shadowTool(p.ToolName) {
		return
	}
	l, err := watcher.Dial(data)
	if err != nil {
		return
	}
	bctx, cancel := context.WithTimeout(ctx, shadowBeginTimeout)
	defer cancel()
	var out map[string]string
	_ = l.Do(bctx, "/v1/calls/begin", watcher.CallRequest{ToolUseID: p.ToolUseID, Token: c.Token, SessionID: p.SessionID, Tool: p.ToolName}, &out)
}

// shadowEnd ends a call with the watcher; record asks it to record the
// call's changes as the agent's. It returns the watcher's answer, or
// ok=false when no watcher runs.
func shadowEnd(ctx context.Context, data, token string, p claudecode.Payload, record bool) (watcher.CallResult, bool, error) {
	var res watcher.CallResult
	if data == "" {
		return res, false, nil
	}
	l, err := watcher.Dial(data)
	if err != nil {
		return res, false, nil
	}
	err = l.Do(ctx, "/v1/calls/end", watcher.CallRequest{ToolUseID: p.ToolUseID, Token: token, SessionID: p.SessionID, Record: record}, &res)
	return res, true, err
}

// shadowBash is `hook post` for Bash: the watcher records what the call
// changed, as the agent. It always exits 0 (the command has run).
func shadowBash(ctx context.Context, stderr io.Writer, o hookOptions, p claudecode.Payload, writer func() (*client.Client, error)) int {
	c := o.Client
	if c == nil {
		var err error
		if c, err = writer(); err != nil {
			hookFail(stderr, "lighthouse hook post: "+err.Error())
			return hookExitNonBlock
		}
	}
	res, ok, err := shadowEnd(ctx, o.Data, c.Token, p, true)
	switch {
	case !ok:
		// No watcher runs (the project is not shadowed): nothing to do.
	case err != nil:
		hookFail(stderr, "lighthouse hook post: the watcher could not record this Bash call: "+err.Error())
		return hookExitNonBlock
	case res.Status == "spooled":
		hookFail(stderr, fmt.Sprintf("lighthouse hook post: warning: the writer is unreachable; this call's changes (%d paths) are spooled in %s and recorded when it is back", len(res.Paths), filepath.Join(o.Data, "spool")))
	}
	return hookExitOK
}

// shadowSpoolEdit keeps an edit tool's file in the spool when the writer is
// unreachable. ok is false when err is not about reachability (then the
// hook fails as before).
func shadowSpoolEdit(ctx context.Context, stderr io.Writer, o hookOptions, p claudecode.Payload, c *client.Client, rootReal, rel string, err error) (int, bool) {
	if !watcher.Unreachable(err) || o.Data == "" {
		return 0, false
	}
	fail := func(err error) (int, bool) {
		hookFail(stderr, "lighthouse hook post: the writer is unreachable and spooling failed: "+err.Error())
		return hookExitNonBlock, true
	}
	sp, serr := watcher.OpenSpool(o.Data)
	if serr != nil {
		return fail(serr)
	}
	r, serr := os.OpenRoot(rootReal)
	if serr != nil {
		return fail(serr)
	}
	defer r.Close()
	f, serr := r.Open(rel)
	if serr != nil {
		return fail(serr)
	}
	defer f.Close()
	fi, serr := f.Stat()
	if serr != nil {
		return fail(serr)
	}
	hash, size, serr := sp.PutContent(f)
	if serr != nil {
		return fail(serr)
	}
	e := watcher.Entry{Token: c.Token, Agent: true, CommandID: p.ToolUseID, SessionID: p.SessionID, Causation: p.ToolUseID,
		Ops: []watcher.Op{{Op: "write", Path: rel, Hash: hash, Size: size, Mode: uint32(fi.Mode().Perm())}}}
	if serr := sp.Append(e); serr != nil {
		return fail(serr)
	}
	_, _, _ = shadowEnd(ctx, o.Data, c.Token, p, false)
	hookFail(stderr, fmt.Sprintf("lighthouse hook post: warning: the writer is unreachable (%v); %s is spooled in %s and recorded when it is back", err, rel, sp.Dir))
	return hookExitOK, true
}

// shadowReplay sends what an earlier hook spooled, when no watcher runs to
// do it (a running watcher replays its spool itself). Best effort.
func shadowReplay(ctx context.Context, data string, c *client.Client) {
	if data == "" || c == nil {
		return
	}
	if _, err := os.Stat(filepath.Join(data, "spool")); err != nil {
		return
	}
	if _, err := watcher.Dial(data); err == nil {
		return
	}
	_, _ = watcher.ReplaySpool(ctx, data, c, nil)
}

// shadowRelease ends a call `hook post` does not copy itself (NotebookEdit
// for now), so the watcher records its changes at once, as its own.
func shadowRelease(ctx context.Context, data string, p claudecode.Payload) {
	if shadowTool(p.ToolName) && p.ToolUseID != "" {
		_, _, _ = shadowEnd(ctx, data, "", p, false)
	}
}
