package httpapi

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// net/http's server answers some requests itself, before any handler runs:
// a malformed request line or header (400), headers over MaxHeaderBytes
// (431), an unsupported transfer encoding (501) or HTTP version (505). It
// writes those in plain text, in one Write on the connection, with exactly
// these headers and no Date. jsonErrorConn recognises that form and sends
// our JSON error body instead, so every error a client gets is ours.
const goErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

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

// jsonErrorConn rewrites the server's own plain-text errors (see
// goErrorHeaders). It rewrites a write only when it directly follows a
// read, as those errors do: a response body, which follows the response's
// own header write, is never touched even if it looks like one. The price:
// a malformed request pipelined behind another in the same read (HTTP/1.1
// pipelining, which browsers and our clients do not use) still gets Go's
// plain-text answer.
type jsonErrorConn struct {
	net.Conn
	mu       sync.Mutex
	lastRead bool   // the last operation that moved bytes was a read
	head     []byte // the start of what was read since the last write
}

// Read reads from the connection and keeps the start of the request.
func (c *jsonErrorConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if !c.lastRead {
			c.head = c.head[:0]
		}
		c.lastRead = true
		if room := maxSeenHead - len(c.head); room > 0 {
			c.head = append(c.head, p[:min(n, room)]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

// Write writes p, or our JSON error in place of a server-written plain one.
func (c *jsonErrorConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	afterRead := c.lastRead
	c.lastRead = false
	var reply []byte
	if afterRead {
		if status, text, ok := parseServerError(p); ok {
			reply = jsonErrorResponse(status, text, c.head)
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

// parseServerError reads a response net/http's server wrote itself:
// "HTTP/1.1 CODE REASON[: TEXT]" + goErrorHeaders + body, where the body
// repeats the status line or (501) names the unsupported transfer encoding.
// It returns the status and Go's text.
func parseServerError(p []byte) (int, string, bool) {
	rest, ok := strings.CutPrefix(string(p), "HTTP/1.1 ")
	if !ok {
		return 0, "", false
	}
	statusLine, body, ok := strings.Cut(rest, goErrorHeaders)
	if !ok || len(statusLine) < 4 || statusLine[3] != ' ' {
		return 0, "", false
	}
	status, err := strconv.Atoi(statusLine[:3])
	if err != nil || status < 400 || status > 599 {
		return 0, "", false
	}
	switch {
	case body == statusLine:
	case status == http.StatusNotImplemented && body == "Unsupported transfer encoding":
	default:
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
