package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/semaphore"
)

// BodyError is a failure to read a request's body that is the client's:
// a malformed chunked encoding, a connection that went away, or a body that
// stopped arriving (Timeout). It answers 400, or 408 for a timeout.
type BodyError struct {
	Err     error
	Timeout bool
}

func (e *BodyError) Error() string { return "read request body: " + e.Err.Error() }

func (e *BodyError) Unwrap() error { return e.Err }

// clientBody reads a request body with an idle deadline: every read must
// make progress within idle, and the whole body must arrive within max. Its
// read errors are *BodyError.
type clientBody struct {
	body     io.ReadCloser
	rc       *http.ResponseController
	idle     time.Duration
	deadline time.Time
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.idle > 0 {
		d := time.Now().Add(b.idle)
		if !b.deadline.IsZero() && d.After(b.deadline) {
			d = b.deadline
		}
		// Not every ResponseWriter supports deadlines (tests); then the
		// server's own timeouts are all there is.
		_ = b.rc.SetReadDeadline(d)
	}
	n, err := b.body.Read(p)
	if err != nil && err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return n, err
		}
		return n, &BodyError{Err: err, Timeout: errors.Is(err, os.ErrDeadlineExceeded)}
	}
	return n, err
}

func (b *clientBody) Close() error { return b.body.Close() }

// withBodyLimits wraps every request body in a clientBody, and gives a
// request whose body may be large its share of mem (nil: no bound).
func withBodyLimits(h http.Handler, idle, max time.Duration, mem *bodyMemory) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			b := &clientBody{body: r.Body, rc: http.NewResponseController(w), idle: idle}
			if max > 0 {
				b.deadline = time.Now().Add(max)
			}
			r.Body = b
			// Small bodies, the gate's tool calls among them, never wait
			// for memory: they are read without a hold.
			if mem != nil && (r.ContentLength < 0 || r.ContentLength > smallBody) {
				hold := &bodyHold{mem: mem}
				defer hold.release()
				r = r.WithContext(context.WithValue(r.Context(), bodyHoldKey{}, hold))
			}
		}
		h.ServeHTTP(w, r)
	})
}

// smallBody is the size up to which a body read whole takes no share of
// the server's body memory.
const smallBody = 64 << 10

// bodyMemory bounds the bytes of request bodies a server reads whole into
// memory at once. A JSON body is held several times over while its request
// runs (the body, the decoder's copy, the decoded strings, the batch it
// becomes): without a bound, twelve concurrent change sets of 60 MiB took
// the writer to 2.6 GB of RSS, and enough of them would have it killed for
// memory, the gate with it. A request whose body is larger than the whole
// bound takes all of it and runs alone. Waiting is first come, first served.
type bodyMemory struct {
	sem  *semaphore.Weighted
	size int64
}

func newBodyMemory(size int64) *bodyMemory {
	return &bodyMemory{sem: semaphore.NewWeighted(size), size: size}
}

type bodyHoldKey struct{}

// bodyHold is one request's share of a bodyMemory, taken when its body is
// read and given back when the request ends. Only the request's own
// goroutine uses it.
type bodyHold struct {
	mem *bodyMemory
	n   int64
}

// acquire waits until n bytes (at most the whole bound) are free, or ctx
// ends (the client went away: a *BodyError). A request takes one share.
func (h *bodyHold) acquire(ctx context.Context, n int64) error {
	if h == nil || h.n > 0 {
		return nil
	}
	n = min(n, h.mem.size)
	if err := h.mem.sem.Acquire(ctx, n); err != nil {
		return &BodyError{Err: fmt.Errorf("wait for body memory: %w", err)}
	}
	h.n = n
	return nil
}

func (h *bodyHold) release() {
	if h != nil && h.n > 0 {
		h.mem.sem.Release(h.n)
		h.n = 0
	}
}

// decodeBody decodes a JSON request body of at most limit bytes into v.
// Bad input is a 400 naming the exact field (ops[0].path); anything after
// the JSON value but white space is a 400; unknown fields are refused when
// strict.
func decodeBody(c echo.Context, v any, limit int64, strict bool) error {
	raw, err := readBody(c.Request(), c.Response(), limit)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var (
			ute *json.UnmarshalTypeError
			se  *json.SyntaxError
		)
		switch {
		case errors.As(err, &ute):
			f := jsonPathAt(raw, ute.Offset)
			if f == "" {
				f = ute.Field
			}
			if f == "" {
				f = "body" // the body itself is not an object
			}
			return badRequest(f, "json_type", fmt.Sprintf("field %s has the wrong type (want %s, got %s)", f, ute.Type, ute.Value))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			f := jsonKeyPath(raw, name)
			if f == "" {
				f = "body" // a key with an empty name at the top
			}
			return badRequest(f, "json_unknown_field", fmt.Sprintf("unknown field %q", name))
		case errors.As(err, &se):
			return badRequest("body", "json_invalid", fmt.Sprintf("body is not valid JSON at byte %d: %v", se.Offset, err))
		}
		return badRequest("body", "json_invalid", "body is not valid JSON: "+err.Error())
	}
	if rest := bytes.TrimSpace(raw[dec.InputOffset():]); len(rest) > 0 {
		return badRequest("body", "json_trailing_data", fmt.Sprintf("body has %d bytes after its JSON value", len(rest)))
	}
	return nil
}

// readBody reads r's body, at most limit bytes (a body declaring more is
// refused before it is read). A body larger than smallBody first takes its
// share of the server's body memory (bodyMemory), which may wait. A body
// that declares its length (Content-Length) ends in a buffer of exactly that
// size: read by io.ReadAll, a change set of megabytes was kept with up to a
// quarter more than its size. The buffer still grows only as bytes arrive
// (doubling from 64 KiB), so a client that declares a large body and sends
// none does not make the server hold it.
func readBody(r *http.Request, w http.ResponseWriter, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	hold, _ := r.Context().Value(bodyHoldKey{}).(*bodyHold)
	n := r.ContentLength
	if n > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	if n < 0 {
		// Length unknown: a body that turns out larger than smallBody
		// takes a share as large as it may grow.
		head, err := io.ReadAll(io.LimitReader(body, smallBody+1))
		if err != nil || len(head) <= smallBody {
			return head, err
		}
		if err := hold.acquire(r.Context(), limit); err != nil {
			return nil, err
		}
		buf := bytes.NewBuffer(head)
		_, err = buf.ReadFrom(body)
		return buf.Bytes(), err
	}
	if n > smallBody {
		if err := hold.acquire(r.Context(), n); err != nil {
			return nil, err
		}
	}
	raw := make([]byte, 0, min(n, 64<<10))
	for int64(len(raw)) < n {
		if len(raw) == cap(raw) {
			raw = append(make([]byte, 0, min(2*int64(cap(raw)), n)), raw...)
		}
		m, err := body.Read(raw[len(raw):cap(raw)])
		raw = raw[:len(raw)+m]
		if err == io.EOF && int64(len(raw)) < n {
			return nil, &BodyError{Err: fmt.Errorf("%w: %d of the %d bytes declared", io.ErrUnexpectedEOF, len(raw), n)}
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
	}
	// net/http stops a body at its Content-Length; a body that does not
	// (a test's, a proxy's) must not lose its tail unseen.
	if m, _ := body.Read(make([]byte, 1)); m > 0 {
		return nil, &BodyError{Err: fmt.Errorf("body longer than the %d bytes declared", n)}
	}
	return raw, nil
}

// jsonToken is one value or key of a JSON document with its path.
type jsonToken struct {
	path  string
	key   string // set for an object key
	end   int64  // offset just after the token
	isKey bool
}

// walkJSON calls fn with every key and scalar value of raw, and with every
// object or array once it ends, until fn returns false.
func walkJSON(raw []byte, fn func(jsonToken) bool) {
	type frame struct {
		obj       bool
		key       string
		idx       int
		expectKey bool
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.obj {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.idx)
			}
		}
		return b.String()
	}
	advance := func() { // a value of the top container is complete
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		if top.obj {
			top.expectKey = true
		} else {
			top.idx++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		end := dec.InputOffset()
		if len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if !fn(jsonToken{path: path(), end: end}) {
					return
				}
				advance()
				continue
			}
			key, _ := tok.(string)
			top := &stack[len(stack)-1]
			top.key, top.expectKey = key, false
			if !fn(jsonToken{path: path(), key: key, end: end, isKey: true}) {
				return
			}
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, expectKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			if !fn(jsonToken{path: path(), end: end}) {
				return
			}
			advance()
		default:
			if !fn(jsonToken{path: path(), end: end}) {
				return
			}
			advance()
		}
	}
}

// jsonPathAt names the value of raw that ends at or after offset, as
// "ops[0].path"; "" when there is none.
func jsonPathAt(raw []byte, offset int64) string {
	var out string
	walkJSON(raw, func(t jsonToken) bool {
		if !t.isKey && t.end >= offset {
			out = t.path
			return false
		}
		return true
	})
	return out
}

// jsonKeyPath names the first key called name in raw, as "ops[0].x".
func jsonKeyPath(raw []byte, name string) string {
	out := name
	walkJSON(raw, func(t jsonToken) bool {
		if t.isKey && t.key == name {
			out = t.path
			return false
		}
		return true
	})
	return out
}
