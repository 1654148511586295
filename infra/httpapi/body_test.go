package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/labstack/echo/v4"
)

func TestJSONPaths(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw    string
		offset int64
		want   string
	}{
		{`{"ops":[{"path":"a"},{"path":5}]}`, 30, "ops[1].path"},
		{`{"paths":["a",3]}`, 15, "paths[1]"},
		{`{"a":{"b":[[1,2],[3,true]]}}`, 24, "a.b[1][1]"},
		{`{"a":{},"b":[],"c":{"d":null}}`, 27, "c.d"},
		{`7`, 1, ""},
		{`{"a":1}`, 100, ""},
	}
	for _, c := range cases {
		if got := jsonPathAt([]byte(c.raw), c.offset); got != c.want {
			t.Errorf("jsonPathAt(%s, %d) = %q, want %q", c.raw, c.offset, got, c.want)
		}
	}
	if got := jsonKeyPath([]byte(`{"ops":[{"op":"x"},{"path":"a","colour":1}]}`), "colour"); got != "ops[1].colour" {
		t.Errorf("jsonKeyPath = %q", got)
	}
}

// decodeStatus runs decodeBody on raw into v and returns the status the
// error maps to (200 for none).
func decodeStatus(raw []byte, v any, strict bool) (int, ErrorDetail) {
	e := echo.New()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(raw)))
	c := e.NewContext(req, httptest.NewRecorder())
	if err := decodeBody(c, v, 1<<20, strict); err != nil {
		return statusOf(err)
	}
	return 200, ErrorDetail{}
}

// FuzzJSONBodies feeds every JSON request body type arbitrary bytes: the
// answer is a success or a 4xx naming a field, never a panic or a 500.
func FuzzJSONBodies(f *testing.F) {
	seeds := []string{
		`{"command_id":"c","ops":[{"op":"write","path":"a","content":"x","mode":"644"}]}`,
		`{"ops":[{"op":"move","path":"a","to":"b","expected_version":3}]} x`,
		`{"ops":[{"op":"write","path":5}]}`,
		`{"from":"a","to":"b"}{}`,
		`{"point":"@3","paths":["a",3]}`,
		`{"tool_name":"Bash","tool_input":{"command":"ls"},"session_id":"\xff"}`,
		`{"name":"n","role":"builder","x":1}`,
		`{"reason":"ok","for_pattern":true}`,
		`{"hashes":["ab"]}`,
		`[`, `"`, `{"a":`, "\xef\xbb\xbf{}", `{"ops":[{"content_base64":"!!"}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	targets := []func() (any, bool){
		func() (any, bool) { return &changesRequest{}, true },
		func() (any, bool) { return &moveRequest{}, true },
		func() (any, bool) { return &RestoreRequest{}, true },
		func() (any, bool) { return &addAgentRequest{}, true },
		func() (any, bool) { return &snapshotRequest{}, true },
		func() (any, bool) { return &voteRequest{}, true },
		func() (any, bool) { return &preToolUse{}, false },
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, target := range targets {
			v, strict := target()
			status, detail := decodeStatus(raw, v, strict)
			if status != 200 && (status < 400 || status >= 500 || detail.Code == "" || detail.Field == "") {
				t.Fatalf("%T from %q: %d %+v", v, raw, status, detail)
			}
		}
		jsonPathAt(raw, int64(len(raw)/2))
	})
}

func TestPlainErrorsBecomeJSON(t *testing.T) {
	t.Parallel()
	e := newEcho(slog.New(slog.NewTextHandler(io.Discard, nil)), func() error { return nil }, Metrics{})
	e.GET("/plain", func(c echo.Context) error {
		http.Error(c.Response(), "invalid range", http.StatusRequestedRangeNotSatisfiable)
		return nil
	})
	e.GET("/json", func(c echo.Context) error { return badRequest("x", "x_bad", "bad x") })
	cases := []struct {
		path, code string
		status     int
	}{
		{"/plain", "requested_range_not_satisfiable", 416},
		{"/json", "x_bad", 400},
		{"/nowhere", "not_found", 404},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != c.status || rec.Header().Get("Content-Type") != "application/json" && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") ||
			!strings.Contains(rec.Body.String(), `"code":"`+c.code+`"`) {
			t.Errorf("%s: %d %q %s", c.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
		}
	}
}

// TestReadBody: a body is read whole whether or not it declares its length
// (small, and large enough to grow the buffer), one that declares it is
// held at exactly its size, one shorter or longer than it declares is the
// client's error, and either is refused past the limit.
func TestReadBody(t *testing.T) {
	t.Parallel()
	small, large := strings.Repeat("{}", 3000), strings.Repeat("[1]", 100_000)
	cases := []struct {
		name     string
		body     string
		length   int64 // the request's ContentLength; -1 is unknown (chunked)
		limit    int64
		wantErr  error // nil, or the type it must be
		exactCap bool
	}{
		{"declared", small, int64(len(small)), 1 << 20, nil, true},
		{"declared, large", large, int64(len(large)), 1 << 20, nil, true},
		{"chunked", small, -1, 1 << 20, nil, false},
		{"chunked, large", large, -1, 1 << 20, nil, false},
		{"declared, at the limit", large, int64(len(large)), int64(len(large)), nil, true},
		{"declared, over the limit", small, int64(len(small)), 100, &http.MaxBytesError{}, false},
		{"chunked, over the limit", large, -1, 100, &http.MaxBytesError{}, false},
		{"declared, shorter than declared", large, int64(len(large)) + 1, 1 << 20, &BodyError{}, false},
		{"declared, longer than declared", large, int64(len(large)) - 1, 1 << 20, &BodyError{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "/", iotest.HalfReader(strings.NewReader(c.body)))
			req.ContentLength = c.length
			raw, err := readBody(req, httptest.NewRecorder(), c.limit)
			var (
				mbe *http.MaxBytesError
				be  *BodyError
			)
			switch want := c.wantErr.(type) {
			case nil:
				if err != nil || string(raw) != c.body {
					t.Fatalf("%d bytes, err %v; want the body's %d", len(raw), err, len(c.body))
				}
			case *http.MaxBytesError:
				if !errors.As(err, &mbe) {
					t.Fatalf("err %v, want %T", err, want)
				}
			case *BodyError:
				// A client's fault: 400, not 500.
				if !errors.As(err, &be) {
					t.Fatalf("err %v, want %T", err, want)
				}
				if status, _ := statusOf(err); status != http.StatusBadRequest {
					t.Errorf("err %v answers %d, want 400", err, status)
				}
			}
			if c.exactCap && cap(raw) != len(c.body) {
				t.Errorf("cap %d, want exactly the body's %d bytes", cap(raw), len(c.body))
			}
		})
	}
}

// TestBodyMemory: bodies over 64 KiB read whole share the server's body
// memory. One that would pass it waits (until a share is given back, when
// its request ends, or until its client goes away: the client's error), small bodies never wait, a body larger than the whole
// bound runs alone, and a body declared over the limit is refused before
// it is read.
func TestBodyMemory(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	type result struct {
		err error
		n   int
	}
	// serve runs one request through withBodyLimits; its handler reads the
	// body, reports, and returns once hold is closed (or at once when hold
	// is nil).
	serve := func(mem *bodyMemory, ctx context.Context, body string, length, limit int64, hold chan struct{}) <-chan result {
		out := make(chan result, 1)
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(body))
		req.ContentLength = length
		h := withBodyLimits(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, err := readBody(r, w, limit)
			out <- result{err, len(raw)}
			if hold != nil {
				<-hold
			}
		}), 0, 0, mem)
		go h.ServeHTTP(httptest.NewRecorder(), req)
		return out
	}
	waiting := func(t *testing.T, mem *bodyMemory, body string, length int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		var be *BodyError
		if r := <-serve(mem, ctx, body, length, 1<<30, nil); !errors.As(r.err, &be) || !errors.Is(r.err, context.DeadlineExceeded) {
			t.Fatalf("a body of %d bytes (length %d) read %d bytes, err %v, while the memory was held; want it to wait", len(body), length, r.n, r.err)
		}
	}
	passes := func(t *testing.T, ch <-chan result, want int) {
		t.Helper()
		if r := <-ch; r.err != nil || r.n != want {
			t.Fatalf("read %d bytes, err %v; want %d", r.n, r.err, want)
		}
	}
	big, small := strings.Repeat("b", 600<<10), strings.Repeat("s", smallBody)

	t.Run("a share past the bound waits until the first request ends", func(t *testing.T) {
		t.Parallel()
		mem := newBodyMemory(size)
		first := make(chan struct{})
		passes(t, serve(mem, t.Context(), big, int64(len(big)), 1<<30, first), len(big))
		waiting(t, mem, big, int64(len(big)))
		waiting(t, mem, big, -1) // a chunked body, once past smallBody
		passes(t, serve(mem, t.Context(), small, int64(len(small)), 1<<30, nil), len(small))
		passes(t, serve(mem, t.Context(), small, -1, 1<<30, nil), len(small))
		close(first)
		passes(t, serve(mem, t.Context(), big, int64(len(big)), 1<<30, nil), len(big))
	})
	t.Run("a body larger than the bound runs alone", func(t *testing.T) {
		t.Parallel()
		mem := newBodyMemory(size)
		huge := strings.Repeat("h", 3*size)
		first := make(chan struct{})
		passes(t, serve(mem, t.Context(), huge, int64(len(huge)), 1<<30, first), len(huge))
		waiting(t, mem, strings.Repeat("b", smallBody+1), smallBody+1)
		close(first)
		passes(t, serve(mem, t.Context(), huge, -1, 1<<30, nil), len(huge))
	})
	t.Run("a body declared over the limit is not read", func(t *testing.T) {
		t.Parallel()
		req := httptest.NewRequest(http.MethodPost, "/", iotest.ErrReader(errors.New("read")))
		req.ContentLength = 1 << 20
		var mbe *http.MaxBytesError
		if _, err := readBody(req, httptest.NewRecorder(), 1<<10); !errors.As(err, &mbe) {
			t.Fatalf("err %v, want %T before reading", err, mbe)
		}
	})
}
