package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// net/http's server answers some requests itself, before any handler runs:
// a malformed request line or header (400), headers over MaxHeaderBytes
// (431), an unknown Expect header (417), an unsupported transfer encoding
// (501) or HTTP version (505). It writes those in plain text or with no
// body. withJSONServerErrors sends our JSON error body instead, so every
// error a client gets is ours.

// withJSONServerErrors makes srv answer in our JSON error form every request it
// refuses itself, and returns ln wrapped for srv to serve. A connection
// knows when one of srv's handlers is answering: from the handler's start
// until the server goes idle after the response. Any response written
// outside that is the server's own, pipelined or not.
func withJSONServerErrors(srv *http.Server, ln net.Listener) net.Listener {
	h := srv.Handler
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, errorConnKey{}, c)
	}
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		if jc, ok := c.(*jsonErrorConn); ok && s == http.StateIdle {
			jc.setResponding(false)
		}
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if jc, ok := r.Context().Value(errorConnKey{}).(*jsonErrorConn); ok {
			jc.setResponding(true)
		}
		h.ServeHTTP(w, r)
	})
	return jsonErrorListener{ln}
}

// errorConnKey is the request context key of the request's jsonErrorConn.
type errorConnKey struct{}

// jsonErrorListener wraps every accepted connection in a jsonErrorConn.
type jsonErrorListener struct{ net.Listener }

// Accept returns the next connection, wrapped.
func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c}, nil
}

// maxSeenHead is how much of a request's start a connection keeps to say
// which part of it was malformed.
const maxSeenHead = 8 << 10

// jsonErrorConn rewrites the responses the server writes itself: a write
// made while no handler is answering. A handler's response, however
// it looks, is never touched.
type jsonErrorConn struct {
	net.Conn
	mu         sync.Mutex
	responding bool   // a handler is answering a request
	wrote      bool   // the last operation that moved bytes was a write
	head       []byte // the start of what was read since the last write
}

func (c *jsonErrorConn) setResponding(on bool) {
	c.mu.Lock()
	c.responding = on
	c.mu.Unlock()
}

// Read reads from the connection and keeps the start of the request.
func (c *jsonErrorConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if c.wrote {
			c.head = c.head[:0]
		}
		c.wrote = false
		if room := maxSeenHead - len(c.head); room > 0 {
			c.head = append(c.head, p[:min(n, room)]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

// Write writes p, or our JSON error in place of a server-written one.
func (c *jsonErrorConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.wrote = true
	var reply []byte
	if !c.responding {
		if status, text, ok := parseServerError(p); ok {
			reply = jsonErrorResponse(status, text, requestAtFault(c.head))
		}
	}
	c.mu.Unlock()
	if reply != nil {
		if _, err := c.Conn.Write(reply); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// requestAtFault returns the request in head the server refused: requests
// it answered may precede it in the same read (HTTP/1.1 pipelining).
func requestAtFault(head []byte) []byte {
	r := bytes.NewReader(head)
	br := bufio.NewReader(r)
	for {
		start := len(head) - r.Len() - br.Buffered()
		req, err := http.ReadRequest(br)
		if err == nil {
			_, err = io.Copy(io.Discard, req.Body)
		}
		switch {
		case start == len(head):
			return head // every request in it is well formed: name what we can
		case err != nil:
			return head[start:]
		}
	}
}

// parseServerError reads a response the server wrote itself,
// "HTTP/1.1 CODE REASON[: TEXT]\r\n…", and returns its status and Go's
// text. Only errors (4xx and 5xx) are rewritten.
func parseServerError(p []byte) (int, string, bool) {
	rest, ok := strings.CutPrefix(string(p), "HTTP/1.1 ")
	if !ok {
		return 0, "", false
	}
	statusLine, _, ok := strings.Cut(rest, "\r\n")
	if !ok || len(statusLine) < 4 || statusLine[3] != ' ' {
		return 0, "", false
	}
	status, err := strconv.Atoi(statusLine[:3])
	if err != nil || status < 400 || status > 599 {
		return 0, "", false
	}
	_, text, _ := strings.Cut(statusLine[4:], ": ")
	return status, text, true
}

// requestLineRE is a well-formed HTTP/1 request line.
var requestLineRE = regexp.MustCompile(`^[!#$%&'*+.^_` + "`" + `|~0-9A-Za-z-]+ [^ \x00-\x20\x7f]+ HTTP/[0-9]\.[0-9]\r?$`)

// jsonErrorResponse is a whole HTTP response carrying our JSON error for a
// request the server refused itself; head is the start of that request,
// read to name the part at fault.
func jsonErrorResponse(status int, text string, head []byte) []byte {
	d := ErrorDetail{Code: "request_malformed", Field: "headers"}
	line, _, complete := strings.Cut(string(head), "\n")
	switch {
	case status == http.StatusRequestHeaderFieldsTooLarge:
		d.Code, d.Message = "headers_too_large", "the request's headers are over the limit of 1 MiB"
	case status == http.StatusExpectationFailed:
		d.Code, d.Field, d.Message = "expectation_unsupported", "Expect", "the only Expect value accepted is 100-continue"
	case status == http.StatusNotImplemented:
		d.Code, d.Field, d.Message = "transfer_encoding_unsupported", "Transfer-Encoding", "the only transfer encoding accepted is chunked"
	case status == http.StatusHTTPVersionNotSupported:
		d.Code, d.Field, d.Message = "http_version_unsupported", "request_line", "the request's HTTP version is not supported: "+text
	case strings.Contains(text, "Host header"):
		d.Field, d.Message = "Host", "the request's Host header: "+text
	case !complete || !requestLineRE.MatchString(line):
		d.Field, d.Message = "request_line", "the request line is not METHOD TARGET HTTP/1.x"
		if text != "" {
			d.Message += ": " + text
		}
	default:
		d.Message = "a request header is malformed"
		if text != "" {
			d.Message += ": " + text
		}
	}
	body, err := json.Marshal(ErrorBody{Error: d})
	if err != nil { // an ErrorBody always encodes; keep a valid answer anyway
		body = []byte(`{"error":{"code":"request_malformed","message":"malformed request"}}`)
	}
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}
