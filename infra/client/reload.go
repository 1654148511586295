package client

import (
	"net/http"
	"strings"
	"sync"

	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// FollowTokenFile makes c pick up its token again from file when the server
// answers 401: a process of Lighthouse's own (the reader, the fuser, the
// watcher) keeps working after `agent rotate` writes its identity's new
// token there, without a restart. Only requests carrying the token file
// held are affected (the watcher also sends agents' own tokens); such a
// request refused with 401 is sent once more with the file's new token, and
// later requests with the old one are sent with the new one. c's Token is
// the token read from file at start.
func FollowTokenFile(c *Client, file string) {
	base := c.HTTP.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.HTTP.Transport = &fileToken{base: base, file: file, own: c.Token}
}

// fileToken is the transport of FollowTokenFile.
type fileToken struct {
	base http.RoundTripper
	file string

	mu    sync.Mutex
	own   string          // the token the file held when last read
	stale map[string]bool // tokens the file held before: sent as own
}

func (t *fileToken) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	t.mu.Lock()
	own, stale := t.own, t.stale[sent]
	t.mu.Unlock()
	if stale {
		req, sent = withToken(req, own), own
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || sent != own || (req.Body != nil && req.GetBody == nil) {
		return resp, err
	}
	fresh, ferr := config.Token("", t.file)
	if ferr != nil || fresh == own {
		return resp, nil
	}
	t.mu.Lock()
	if t.stale == nil {
		t.stale = map[string]bool{}
	}
	t.stale[own], t.own = true, fresh
	t.mu.Unlock()
	retry := withToken(req, fresh)
	if req.GetBody != nil {
		body, berr := req.GetBody()
		if berr != nil {
			return resp, nil
		}
		retry.Body = body
	}
	resp.Body.Close()
	return t.base.RoundTrip(retry)
}

// withToken is a copy of req carrying token.
func withToken(req *http.Request, token string) *http.Request {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}
