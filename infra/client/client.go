// Package client speaks Lighthouse's HTTP APIs: the CLI, projections that
// backfill from the writer, and tests use it.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// Client calls one Lighthouse server (writer or reader) as one agent.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// New returns a client for baseURL with a pooled HTTP client.
func New(baseURL, token string) *Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 1024
	return &Client{BaseURL: strings.TrimSuffix(baseURL, "/"), Token: token, HTTP: &http.Client{Transport: t, Timeout: 5 * time.Minute}}
}

// Down returns a client of a server known not to run (no address to reach
// it at): each of its requests fails with cause, as a refused connection
// does, so callers that keep work for later when the server is unreachable
// (the hooks' spool) do so.
func Down(token string, cause error) *Client {
	return &Client{BaseURL: "http://server-not-running.invalid", Token: token, HTTP: &http.Client{Transport: downTransport{cause}}}
}

// downTransport fails every request with its cause.
type downTransport struct{ cause error }

func (d downTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return nil, d.cause
}

// Error is a non-2xx answer, carrying the server's JSON error.
type Error struct {
	Status         int
	Code           string  `json:"code"`
	Message        string  `json:"message"`
	Field          string  `json:"field"`
	CurrentVersion *uint64 `json:"current_version"`
	// Method and URL are the request that was answered, so messages can
	// name the server reached.
	Method string `json:"-"`
	URL    string `json:"-"`
}

// Refused reports whether the server refused the request itself (a 4xx
// other than 408 and 429): sending it again gets the same answer.
func (e *Error) Refused() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%d %s (field %s): %s", e.Status, e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Do sends a request and decodes a JSON answer into out (if non-nil).
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, body io.Reader, out any) (http.Header, error) {
	resp, err := c.send(ctx, method, path, header, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.Header, fmt.Errorf("decode %s %s answer: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// send returns the response of a 2xx answer, whose body the caller closes.
func (c *Client) send(ctx context.Context, method, path string, header http.Header, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var eb struct {
			Error Error `json:"error"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(raw, &eb) != nil || eb.Error.Code == "" {
			eb.Error = Error{Code: "http_error", Message: strings.TrimSpace(string(raw))}
		}
		eb.Error.Status = resp.StatusCode
		eb.Error.Method, eb.Error.URL = method, c.BaseURL+path
		return nil, &eb.Error
	}
	return resp, nil
}

// Open returns the body of a GET for streaming; the caller closes it.
func (c *Client) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// CommandResult is the writer's answer to an accepted command.
type CommandResult struct {
	Seq       uint64 `json:"seq"`
	FirstSeq  uint64 `json:"first_seq"`
	Duplicate bool   `json:"duplicate"`
	// Unchanged: the files already held what was written; nothing was
	// appended and Seq is their newest sequence.
	Unchanged bool `json:"unchanged"`
}

// WriteOptions are the optional parts of a file write.
type WriteOptions struct {
	ExpectedVersion *uint64
	CommandID       string
	Mode            string // octal, for example "755"
}

// FilePath escapes a project path for a URL. Dot segments are escaped too
// (%2E): left as they are, the client's URL would resolve them away, and
// the server would answer for another route instead of refusing the path.
func FilePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		switch s {
		case ".", "..":
			parts[i] = strings.Repeat("%2E", len(s))
		default:
			parts[i] = url.PathEscape(s)
		}
	}
	return "/v1/files/" + strings.Join(parts, "/")
}

// WriteFile stores content at path.
func (c *Client) WriteFile(ctx context.Context, path string, content io.Reader, o WriteOptions) (CommandResult, error) {
	q := url.Values{}
	if o.ExpectedVersion != nil {
		q.Set("expected_version", strconv.FormatUint(*o.ExpectedVersion, 10))
	}
	if o.CommandID != "" {
		q.Set("command_id", o.CommandID)
	}
	if o.Mode != "" {
		q.Set("mode", o.Mode)
	}
	p := FilePath(path)
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var r CommandResult
	_, err := c.Do(ctx, http.MethodPut, p, nil, content, &r)
	return r, err
}

// DeleteFile deletes path.
func (c *Client) DeleteFile(ctx context.Context, path string) (CommandResult, error) {
	var r CommandResult
	_, err := c.Do(ctx, http.MethodDelete, FilePath(path), nil, nil, &r)
	return r, err
}

// PostJSON sends v as JSON and decodes the answer into out.
func (c *Client) PostJSON(ctx context.Context, path string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	_, err = c.Do(ctx, http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body), out)
	return err
}

// Events reads up to limit events after seq from the writer's log, and the
// writer's head at the time.
func (c *Client) Events(ctx context.Context, after uint64, limit int) ([]domain.Event, uint64, error) {
	resp, err := c.send(ctx, http.MethodGet, fmt.Sprintf("/v1/events?after=%d&limit=%d", after, limit), nil, nil)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	head, _ := strconv.ParseUint(resp.Header.Get("X-Lighthouse-Head"), 10, 64)
	var out []domain.Event
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		// The event keeps its line (a copy: the scanner reuses its buffer),
		// so a replica stores the bytes it checked without encoding again.
		e, err := domain.DecodeEvent(bytes.Clone(sc.Bytes()))
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("read events: %w", err)
	}
	return out, head, nil
}

// Review is a review as the writer answers GET /v1/reviews and
// GET /v1/reviews/{id}: the escalated call, who asked (id and name), its
// session and cwd, the rule, and who decided it, by name.
type Review struct {
	ID                string          `json:"id"`
	Status            string          `json:"status"`
	Reason            string          `json:"reason"`
	EscalationReason  string          `json:"escalation_reason"`
	Tool              string          `json:"tool"`
	Input             json.RawMessage `json:"input"`
	Rule              string          `json:"rule"`
	RequesterID       string          `json:"requester_id"`
	Requester         string          `json:"requester"`
	SessionID         string          `json:"session_id"`
	Cwd               string          `json:"cwd"`
	Shape             string          `json:"shape"`
	Deadline          time.Time       `json:"deadline"`
	RequestedAt       time.Time       `json:"requested_at"`
	ApprovalsRequired int             `json:"approvals_required"`
	DecidedByNames    []string        `json:"decided_by_names"`
	ApproverNames     []string        `json:"approver_names"`
	Deciders          []string        `json:"deciders,omitempty"`
}

// ApprovalProgress says how far a pending review that needs several
// approvals is, "1 of 2 so far (bob)"; "" for one that needs a single one.
func (r Review) ApprovalProgress() string {
	if r.ApprovalsRequired < 2 {
		return ""
	}
	line := fmt.Sprintf("%d of %d so far", len(r.ApproverNames), r.ApprovalsRequired)
	if len(r.ApproverNames) > 0 {
		line += " (" + strings.Join(r.ApproverNames, ", ") + ")"
	}
	return line
}

// Head asks a writer (or a reader) for its head: the last sequence of its
// log (or applied). Pass it as min_seq to a reader to read one's own writes.
func (c *Client) Head(ctx context.Context) (uint64, error) {
	var st struct {
		Head uint64 `json:"head"`
	}
	if _, err := c.Do(ctx, "GET", "/v1/status", nil, nil, &st); err != nil {
		return 0, err
	}
	return st.Head, nil
}
