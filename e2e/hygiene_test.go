package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawHTTP writes exact bytes to addr and returns the answer, reading at most
// for wait. A request that starts with pipelinedGood is two pipelined
// requests: the good one's answer is read first and must be a 200.
func rawHTTP(t *testing.T, addr, request string, wait time.Duration) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	if strings.HasPrefix(request, pipelinedGood) {
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("the good request ahead of %q: %v", request, err)
		}
		io.Copy(io.Discard, resp.Body)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to %q: %v", request, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// pipelinedGood is a good request to send ahead of another in one write.
const pipelinedGood = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

// TestHTTPHygiene checks the edge: timeouts, the connection cap, malformed
// bodies, exact field names and that every error is our JSON error.
func TestHTTPHygiene(t *testing.T) {
	t.Parallel()
	e := start(t, false, "--body-timeout", "1s", "--max-conns", "8")
	addr := strings.TrimPrefix(e.sys.WriterURL, "http://")
	auth := "Authorization: Bearer " + e.sys.AdminToken + "\r\n"

	bodies := []struct {
		name, request string
		status        int
		code, field   string
	}{
		{"trickling body", "PUT /v1/files/slow.txt HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 100\r\n\r\nabc", 408, "body_timeout", "body"},
		{"malformed chunked body", "PUT /v1/files/c.txt HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400, "body_unreadable", "body"},
		{"malformed chunked JSON", "POST /v1/changes HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n3\r\n{\"o\r\nq\r\n", 400, "body_unreadable", "body"},
	}
	for _, c := range bodies {
		start := time.Now()
		resp, body := rawHTTP(t, addr, c.request, 10*time.Second)
		if code, field, ok := apiErr([]byte(body)); resp.StatusCode != c.status || !ok || code != c.code || field != c.field {
			t.Errorf("%s: %d %s, want %d %s naming %s", c.name, resp.StatusCode, body, c.status, c.code, c.field)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: answered after %v", c.name, d)
		}
	}

	w := e.sys.WriterURL
	jsonCases := []struct {
		name, path, body string
		status           int
		code, field      string
	}{
		{"trailing garbage", "/v1/changes", `{"ops":[{"op":"write","path":"a","content":"x"}]} xyz`, 400, "json_trailing_data", "body"},
		{"two values", "/v1/files/move", `{"from":"a","to":"b"}{}`, 400, "json_trailing_data", "body"},
		{"trailing garbage on validate", "/v1/validate", `{"tool_name":"Bash","tool_input":{"command":"ls"}}]`, 400, "json_trailing_data", "body"},
		{"wrong type in an op", "/v1/changes", `{"ops":[{"op":"write","path":"a","content":"x"},{"op":"write","path":5}]}`, 400, "json_type", "ops[1].path"},
		{"unknown field in an op", "/v1/changes", `{"ops":[{"op":"write","path":"a","content":"x","colour":1}]}`, 400, "json_unknown_field", "ops[0].colour"},
		{"bad path in an op", "/v1/changes", `{"ops":[{"op":"write","path":"a","content":"x"},{"op":"write","path":"../x","content":"x"}]}`, 400, "path_escapes_root", "ops[1].path"},
		{"wrong type in restore paths", "/v1/restore", `{"point":"1","paths":["a",3]}`, 400, "json_type", "paths[1]"},
		{"syntax error", "/v1/changes", `{"ops":[`, 400, "json_invalid", "body"},
		{"long command_id on move", "/v1/files/move", fmt.Sprintf(`{"from":"a","to":"b","command_id":"%s"}`, strings.Repeat("c", 129)), 400, "command_id_too_long", "command_id"},
		{"long command_id on changes", "/v1/changes", fmt.Sprintf(`{"command_id":"%s","ops":[{"op":"delete","path":"a"}]}`, strings.Repeat("c", 129)), 400, "command_id_too_long", "command_id"},
	}
	for _, c := range jsonCases {
		status, body, _ := e.rawRequest("POST", w, c.path, nil, []byte(c.body))
		if code, field, ok := apiErr(body); status != c.status || !ok || code != c.code || field != c.field {
			t.Errorf("%s: %d %s, want %d %s naming %s", c.name, status, body, c.status, c.code, c.field)
		}
	}
	status, body, _ := e.rawRequest("PUT", w, "/v1/files/h.txt", map[string]string{"X-Command-Id": strings.Repeat("c", 129)}, []byte("x"))
	if code, field, _ := apiErr(body); status != 400 || code != "command_id_too_long" || field != "command_id" {
		t.Errorf("long X-Command-Id: %d %s", status, body)
	}

	// 416 is our JSON error too, on the writer's blobs and the reader's files.
	seq := e.put(e.admin, "r.txt", "0123456789")
	if _, err := e.readFile("r.txt", seq); err != nil {
		t.Fatal(err)
	}
	for _, target := range []struct{ base, path string }{{w, "/v1/blobs/" + hashOf("0123456789")}, {e.sys.ReaderURL, "/v1/files/r.txt"}} {
		status, body, h := e.rawRequest("GET", target.base, target.path, map[string]string{"Range": "bytes=100-200"}, nil)
		if code, _, ok := apiErr(body); status != 416 || !ok || code != "requested_range_not_satisfiable" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s beyond its end: %d %q %s", target.path, status, h.Get("Content-Type"), body)
		}
	}

	// The connection cap (8, some held by the reader and our clients):
	// connections held open fill it, the next one waits, and it is served
	// once one closes.
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	var waiting net.Conn
	var waitingReader *bufio.Reader
	for i := 0; i <= 8 && waiting == nil; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") // keep-alive: stays open
		c.SetReadDeadline(time.Now().Add(time.Second))
		br := bufio.NewReader(c)
		if _, err := http.ReadResponse(br, nil); err != nil {
			waiting, waitingReader = c, br
		}
	}
	if waiting == nil {
		t.Fatal("9 connections held open were all served: no cap")
	}
	held[0].Close()
	waiting.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(waitingReader, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the waiting connection was not served once another closed: %v", err)
	}
}

// TestServerWrittenErrorsAreJSON sends requests Go's HTTP server refuses
// itself, before any handler runs, to the writer and the reader over raw
// TCP: each answer is our JSON error naming the part at fault, not Go's
// plain-text one.
func TestServerWrittenErrorsAreJSON(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	cases := []struct {
		name, request string
		status        int
		code, field   string
	}{
		{"malformed request line", "GET /v1/status HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400, "request_malformed", "request_line"},
		{"not HTTP at all", "HELLO\r\n\r\n", 400, "request_malformed", "request_line"},
		{"bad header", "GET /v1/status HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n", 400, "request_malformed", "headers"},
		{"bad header name", "GET /v1/status HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400, "request_malformed", "headers"},
		{"no Host", "GET /v1/status HTTP/1.1\r\n\r\n", 400, "request_malformed", "Host"},
		{"oversized headers", "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 1<<20+8192) + "\r\n\r\n", 431, "headers_too_large", "headers"},
		{"unknown transfer encoding", "PUT /v1/files/t.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br\r\n\r\n", 501, "transfer_encoding_unsupported", "Transfer-Encoding"},
		{"unknown Expect", "PUT /v1/files/t.txt HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417, "expectation_unsupported", "Expect"},
		{"pipelined: not HTTP", pipelinedGood + "HELLO\r\n\r\n", 400, "request_malformed", "request_line"},
		{"pipelined: bad header", pipelinedGood + "GET /v1/status HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n", 400, "request_malformed", "headers"},
		{"pipelined: unknown Expect", pipelinedGood + "PUT /v1/files/t.txt HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n", 417, "expectation_unsupported", "Expect"},
	}
	for _, base := range []string{e.sys.WriterURL, e.sys.ReaderURL} {
		addr := strings.TrimPrefix(base, "http://")
		for _, c := range cases {
			resp, body := rawHTTP(t, addr, c.request, 10*time.Second)
			if code, field, ok := apiErr([]byte(body)); resp.StatusCode != c.status || !ok || code != c.code || field != c.field ||
				resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s on %s: %d %q %s, want %d %s naming %s", c.name, base, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.code, c.field)
			}
		}
	}
}
