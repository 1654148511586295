package httpapi

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// goLikeError is a response body that looks exactly like net/http's own
// plain-text 400: a handler's body is never rewritten.
const goLikeError = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"

// TestServerErrorsAreJSON sends requests net/http refuses before any
// handler runs and checks each answer is our JSON error naming the field.
func TestServerErrorsAreJSON(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/echo-go-error" {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, goLikeError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}), MaxHeaderBytes: 1 << 20, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(withJSONServerErrors(srv, ln))
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	cases := []struct {
		name, request string
		status        int
		code, field   string
	}{
		{"garbage request line", "NOT A REQUEST\r\n\r\n", 400, "request_malformed", "request_line"},
		{"bad HTTP version", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request_malformed", "request_line"},
		{"header without a colon", "GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400, "request_malformed", "headers"},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, "request_malformed", "Host"},
		{"HTTP/2 version on HTTP/1", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505, "http_version_unsupported", "request_line"},
		{"unknown transfer encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "transfer_encoding_unsupported", "Transfer-Encoding"},
		{"headers over 1 MiB", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20+8192) + "\r\n\r\n", 431, "headers_too_large", "headers"},
		{"unknown Expect", "POST / HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nContent-Length: 3\r\n\r\nabc", 417, "expectation_unsupported", "Expect"},
		{"after a good request", "BROKEN\r\n\r\n", 400, "request_malformed", "request_line"},
		{"after a good request, header", "GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400, "request_malformed", "headers"},
		{"pipelined behind a good request", "BROKEN\r\n\r\n", 400, "request_malformed", "request_line"},
		{"pipelined behind a good request, header", "GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400, "request_malformed", "headers"},
		{"pipelined behind a good request, missing Host", "GET / HTTP/1.1\r\n\r\n", 400, "request_malformed", "Host"},
		{"pipelined behind a good request, unknown Expect", "POST / HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nContent-Length: 0\r\n\r\n", 417, "expectation_unsupported", "Expect"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp := rawRoundTrip(t, addr, c.request, strings.Fields(c.name)[0])
			var body ErrorBody
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" ||
				json.Unmarshal(raw, &body) != nil || body.Error.Code != c.code || body.Error.Field != c.field || body.Error.Message == "" {
				t.Fatalf("%d %q %s; want %d %s naming %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw, c.status, c.code, c.field)
			}
		})
	}
	t.Run("a handler's body that looks like Go's error", func(t *testing.T) {
		t.Parallel()
		resp := rawRoundTrip(t, addr, "GET /echo-go-error HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "")
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(raw) != goLikeError {
			t.Fatalf("%d %q", resp.StatusCode, raw)
		}
	})
}

// rawRoundTrip writes request and reads its response. With before "after"
// it first sends a good request on the same connection and reads its
// answer; with "pipelined" it sends the good request and request in one
// write, and reads both answers.
func rawRoundTrip(t *testing.T, addr, request, before string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	const good = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	readGood := func() {
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("first request: %v", err)
		}
	}
	switch before {
	case "after":
		io.WriteString(conn, good)
		readGood()
	case "pipelined":
		request = good + request
	}
	go io.WriteString(conn, request) // a server may answer before it has read everything
	if before == "pipelined" {
		readGood()
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return resp
}
