package watcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// SocketName is the watcher's unix socket in the data directory: hooks and
// the CLI find the watcher there. The data directory is 0700, so only its
// owner can connect.
const SocketName = "watcher.sock"

// editHold is how long an edit tool's open call holds changes back: its
// PostToolUse hook follows at once, or never (a failed tool call).
const editHold = 10 * time.Second

// CallRequest opens or ends an agent's tool call (POST /v1/calls/begin,
// /v1/calls/end).
type CallRequest struct {
	ToolUseID string `json:"tool_use_id"`
	Token     string `json:"token"`
	SessionID string `json:"session_id,omitempty"`
	Tool      string `json:"tool,omitempty"` // begin: the tool; an edit tool's call holds changes back briefly, Bash's up to MaxHold
	Record    bool   `json:"record"`         // end: record the pending changes as this call's
	// Settle (begin) makes a call that changes the log and then the disk
	// the same way (the CLI's put, rm and mv): it waits for a look already
	// under way, and until it ends no look and no recording (another
	// call's end, a restore) reads the disk, which is behind the log
	// meanwhile. It holds for MaxHold at most.
	Settle bool `json:"settle,omitempty"`
}

// CallResult says what ending a call recorded.
type CallResult struct {
	Status string   `json:"status"` // "recorded", "spooled" or "nothing"
	Seq    uint64   `json:"seq,omitempty"`
	Paths  []string `json:"paths,omitempty"`
}

// RestoreRequest restores files on disk and in the log (POST /v1/restore).
type RestoreRequest struct {
	Point     string   `json:"point"`
	Paths     []string `json:"paths"`
	Force     bool     `json:"force"`
	Token     string   `json:"token"`
	CommandID string   `json:"command_id,omitempty"`
}

// RestoreResult says what a restore changed.
type RestoreResult struct {
	OnDisk   bool     `json:"on_disk"` // always true: the watcher restored the files on disk
	Seq      uint64   `json:"seq"`
	Point    uint64   `json:"point"`
	Before   uint64   `json:"before,omitempty"` // the point just before the restore's events; 0 when it appended none
	Restored int      `json:"restored"`
	Deleted  int      `json:"deleted"`
	Written  []string `json:"written,omitempty"`  // paths rewritten on disk
	Removed  []string `json:"removed,omitempty"`  // paths removed from disk
	Recorded []string `json:"recorded,omitempty"` // local changes recorded first (--force)
	Kept     []string `json:"kept,omitempty"`     // ignored files on disk left as they were
	Linked   []string `json:"linked,omitempty"`   // symlinks on disk in scope: the paths at or below them are left out
}

// SymlinkError is a restore refused because a path it was asked for leads
// through a symlink on disk (Link), which could take its writes outside
// the project.
type SymlinkError struct {
	Path, Link string
}

func (e *SymlinkError) Error() string {
	what := "leads through"
	if strings.Trim(e.Path, "/") == e.Link {
		what = "is"
	}
	return fmt.Sprintf("%s %s %s, a symlink on disk; a restore does not write through symlinks (remove the symlink first, or restore another path)", e.Path, what, e.Link)
}

// Status is the watcher's GET /v1/status.
type Status struct {
	Dir       string `json:"dir"`        // the working tree it watches
	Polling   bool   `json:"polling"`    // scanning instead of file notifications
	Dirty     int    `json:"dirty"`      // paths changed and not yet recorded
	OpenCalls int    `json:"open_calls"` // agents' Bash calls in progress
	Spooled   int    `json:"spooled"`    // entries waiting for the writer
	// Refused are files on disk the writer refused to record (a name it
	// does not take, such as one with a control character, or a file too
	// large), left out of the log until they change: the first
	// maxListedRefusals by path, and how many there are.
	Refused      []Refusal `json:"refused,omitempty"`
	RefusedCount int       `json:"refused_count"`
}

// Refusal is one file the writer refused, and its answer.
type Refusal struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// maxListedRefusals bounds Status.Refused.
const maxListedRefusals = 20

// Status asks the watcher how it is doing.
func (l *Local) Status(ctx context.Context) (Status, error) {
	var st Status
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://watcher/v1/status", nil)
	if err != nil {
		return st, fmt.Errorf("watcher request: %w", err)
	}
	resp, err := l.http.Do(hr)
	if err != nil {
		return st, fmt.Errorf("watcher status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("watcher status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("watcher status answer: %w", err)
	}
	return st, nil
}

// LocalChangesError is a restore refused because files on disk have
// changes the log does not have yet.
type LocalChangesError struct {
	Paths []string `json:"paths"`
}

func (e *LocalChangesError) Error() string {
	return fmt.Sprintf("files on disk have changes the log does not have yet: %v (record them first, or restore with --force)", e.Paths)
}

func (w *Watcher) serve(ctx context.Context) (*http.Server, error) {
	path := filepath.Join(w.cfg.Data, SocketName)
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("watcher: another watcher serves %s", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("watcher: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("watcher: %w", err)
	}
	mux := http.NewServeMux()
	if w.cfg.Metrics != nil {
		mux.Handle("GET /metrics", w.cfg.Metrics)
	}
	mux.HandleFunc("POST /v1/calls/begin", func(rw http.ResponseWriter, r *http.Request) {
		var req CallRequest
		if !decode(rw, r, &req) {
			return
		}
		if req.Settle {
			// The look under way finishes first; every later one, and every
			// recording, sees the call (see lockSettled).
			w.opMu.Lock()
			defer w.opMu.Unlock()
		}
		w.mu.Lock()
		hold := w.cfg.MaxHold
		if req.Tool != "" && req.Tool != "Bash" && !req.Settle {
			hold = min(hold, editHold)
		}
		now := time.Now()
		w.calls[req.ToolUseID] = call{token: req.Token, session: req.SessionID, begun: now, until: now.Add(hold), settle: req.Settle}
		w.mu.Unlock()
		reply(rw, http.StatusOK, map[string]string{"status": "open"})
	})
	mux.HandleFunc("POST /v1/calls/end", func(rw http.ResponseWriter, r *http.Request) {
		var req CallRequest
		if !decode(rw, r, &req) {
			return
		}
		res, err := w.EndCall(r.Context(), req)
		if err != nil {
			reply(rw, http.StatusBadGateway, map[string]string{"error": err.Error()})
			return
		}
		reply(rw, http.StatusOK, res)
	})
	mux.HandleFunc("POST /v1/restore", func(rw http.ResponseWriter, r *http.Request) {
		var req RestoreRequest
		if !decode(rw, r, &req) {
			return
		}
		res, err := w.Restore(r.Context(), req)
		var lc *LocalChangesError
		var se *SymlinkError
		switch {
		case errors.As(err, &lc):
			reply(rw, http.StatusConflict, map[string]any{"error": map[string]any{"code": "local_changes", "message": lc.Error(), "paths": lc.Paths}})
		case errors.As(err, &se):
			reply(rw, http.StatusConflict, map[string]any{"error": map[string]any{"code": "symlink_in_the_way", "message": se.Error(), "field": "paths"}})
		case err != nil:
			var ce *client.Error
			if errors.As(err, &ce) && ce.Status >= 400 && ce.Status < 500 {
				reply(rw, ce.Status, map[string]any{"error": map[string]any{"code": ce.Code, "message": ce.Message, "field": ce.Field}})
				return
			}
			reply(rw, statusOf(err), map[string]any{"error": map[string]any{"code": "restore_failed", "message": err.Error()}})
		default:
			reply(rw, http.StatusOK, res)
		}
	})
	mux.HandleFunc("GET /v1/status", func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		st := Status{Dir: w.dir, Polling: w.polling, Dirty: len(w.dirty), OpenCalls: len(w.calls), RefusedCount: len(w.rejected)}
		for p, r := range w.rejected {
			st.Refused = append(st.Refused, Refusal{Path: p, Reason: r.reason})
		}
		w.mu.Unlock()
		slices.SortFunc(st.Refused, func(a, b Refusal) int { return strings.Compare(a.Path, b.Path) })
		st.Refused = st.Refused[:min(len(st.Refused), maxListedRefusals)]
		st.Spooled = w.spool.Len()
		reply(rw, http.StatusOK, st)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
		os.Remove(path)
	}()
	return srv, nil
}

// EndCall ends an agent's call; with Record it first makes sure every
// change made before now has been seen, then records what is pending as
// the agent, with the call's tool_use_id as command id.
func (w *Watcher) EndCall(ctx context.Context, req CallRequest) (CallResult, error) {
	w.mu.Lock()
	c, open := w.calls[req.ToolUseID]
	delete(w.calls, req.ToolUseID)
	w.mu.Unlock()
	if !req.Record {
		return CallResult{Status: "nothing"}, nil
	}
	if req.Token == "" && open {
		req.Token = c.token
	}
	if req.SessionID == "" && open {
		req.SessionID = c.session
	}
	if req.Token == "" {
		return CallResult{}, errors.New("no agent token for the call")
	}
	w.barrier(ctx)
	if err := w.lockSettled(ctx); err != nil {
		return CallResult{}, err
	}
	// Only what changed since the call began is its own: a person's edit
	// made while another call was open (one whose PostToolUse never came)
	// is not this call's (walkthrough: it was recorded as the next call's).
	res, spooled, err := w.flushLocked(ctx, identity{Token: req.Token, Agent: true, CommandID: req.ToolUseID, SessionID: req.SessionID, Causation: req.ToolUseID}, c.begun)
	w.opMu.Unlock()
	switch {
	case err != nil:
		return CallResult{}, err
	case spooled:
		return CallResult{Status: "spooled", Paths: res.Paths}, nil
	case res.Ops == 0:
		return CallResult{Status: "nothing"}, nil
	}
	return CallResult{Status: "recorded", Seq: res.Seq, Paths: res.Paths}, nil
}

func decode(rw http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<20)).Decode(v); err != nil {
		reply(rw, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": "bad_request", "message": err.Error()}})
		return false
	}
	return true
}

func reply(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	json.NewEncoder(rw).Encode(v)
}

// Local talks to the watcher of a data directory over its unix socket.
type Local struct {
	http *http.Client
}

// ErrNoWatcher means no watcher serves the data directory.
var ErrNoWatcher = errors.New("no watcher is running for this data directory")

// Dial returns a client for DATA's watcher, or ErrNoWatcher.
func Dial(data string) (*Local, error) {
	path := filepath.Join(data, SocketName)
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w (%s: %v)", ErrNoWatcher, path, err)
	}
	c.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Local{http: &http.Client{Transport: tr}}, nil
}

// Raw posts req to the watcher's route and returns the answer as it is.
func (l *Local) Raw(ctx context.Context, route string, req any) (int, []byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, nil, fmt.Errorf("encode: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://watcher"+route, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("watcher request: %w", err)
	}
	resp, err := l.http.Do(hr)
	if err != nil {
		return 0, nil, fmt.Errorf("watcher %s: %w", route, err)
	}
	defer resp.Body.Close()
	raw := new(bytes.Buffer)
	if _, err := raw.ReadFrom(resp.Body); err != nil {
		return 0, nil, fmt.Errorf("watcher %s: %w", route, err)
	}
	return resp.StatusCode, raw.Bytes(), nil
}

// Do posts req to the watcher's route and decodes a 200 answer into out; a
// 409 from a restore is a *LocalChangesError.
func (l *Local) Do(ctx context.Context, route string, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://watcher"+route, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("watcher request: %w", err)
	}
	resp, err := l.http.Do(hr)
	if err != nil {
		return fmt.Errorf("watcher %s: %w", route, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("watcher %s answer: %w", route, err)
		}
		return nil
	}
	var eb struct {
		Error struct {
			Code    string   `json:"code"`
			Message string   `json:"message"`
			Paths   []string `json:"paths"`
		} `json:"error"`
	}
	raw := new(bytes.Buffer)
	raw.ReadFrom(resp.Body)
	if json.Unmarshal(raw.Bytes(), &eb) == nil && eb.Error.Code == "local_changes" {
		return &LocalChangesError{Paths: eb.Error.Paths}
	}
	if eb.Error.Message != "" {
		return fmt.Errorf("watcher %s: %d %s", route, resp.StatusCode, eb.Error.Message)
	}
	return fmt.Errorf("watcher %s: %d %s", route, resp.StatusCode, bytes.TrimSpace(raw.Bytes()))
}

// statusOf passes a writer's refusal on with its status; anything else is
// a 502.
func statusOf(err error) int {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status >= 400 {
		return ce.Status
	}
	return http.StatusBadGateway
}
