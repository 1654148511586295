package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// fullIDLen is the length of a UUID, the ids Lighthouse gives messages,
// tasks, leases, reviews and annotations; shorter ids are prefixes.
const fullIDLen = 36

// IDError is an id that names no single item: it is empty, nothing's id
// starts with it, or several ids do (Ambiguous). Its message says which.
type IDError struct {
	Msg       string
	Ambiguous bool
}

func (e *IDError) Error() string { return e.Msg }

// ResolveID turns id, a full id or a prefix of one such as the 8 characters
// lists print, into the full id among those list returns. kind names the
// thing ("task") and see where to look for ids, for the error. A full-length
// id is returned as is, without listing; the server judges it.
func ResolveID(kind, id, see string, list func() ([]string, error)) (string, error) {
	if len(id) == fullIDLen {
		return id, nil
	}
	if id == "" {
		return "", &IDError{Msg: fmt.Sprintf("empty %s id", kind), Ambiguous: true}
	}
	all, err := list()
	if err != nil {
		return "", err
	}
	var found []string
	seen := map[string]bool{}
	for _, full := range all {
		if strings.HasPrefix(full, id) && !seen[full] {
			seen[full] = true
			found = append(found, full)
		}
	}
	switch len(found) {
	case 0:
		return "", &IDError{Msg: fmt.Sprintf("no %s with an id starting %q (see %s)", kind, id, see)}
	case 1:
		return found[0], nil
	}
	return "", &IDError{Msg: fmt.Sprintf("%s id %q is ambiguous: it starts %s; give more characters", kind, id, strings.Join(found, ", ")), Ambiguous: true}
}

// IDs lists the string field of each object in the JSON array under key in
// the answer of GET path, once the server has applied minSeq (a reader's
// min_seq; 0 asks nothing): the candidates of ResolveID.
func (c *Client) IDs(ctx context.Context, path, key, field string, minSeq uint64) ([]string, error) {
	u, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", key, err)
	}
	if minSeq > 0 {
		q := u.Query()
		q.Set("min_seq", strconv.FormatUint(minSeq, 10))
		u.RawQuery = q.Encode()
	}
	var ans map[string]json.RawMessage
	if _, err := c.Do(ctx, http.MethodGet, u.String(), nil, nil, &ans); err != nil {
		return nil, fmt.Errorf("list %s: %w", key, err)
	}
	var items []map[string]json.RawMessage
	if raw, ok := ans[key]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("list %s: %w", key, err)
		}
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		var id string
		if raw, ok := it[field]; ok && json.Unmarshal(raw, &id) == nil && id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
