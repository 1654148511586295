package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// fullIDLen is the length of a UUID; shorter ids are prefixes.
const fullIDLen = 36

// resolveID turns id, a full id or a prefix of one such as the 8
// characters lists print, into the full id among those list returns. kind
// names the thing ("review") and see the command listing them, for errors.
// No match is an error; several are a usage error listing them.
func resolveID(kind, id, see string, list func() ([]string, error)) (string, error) {
	if len(id) == fullIDLen {
		return id, nil
	}
	if id == "" {
		return "", usagef("empty %s id", kind)
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
		return "", fmt.Errorf("no %s with an id starting %q (see `%s`)", kind, id, see)
	case 1:
		return found[0], nil
	}
	return "", usagef("%s id %q is ambiguous: it starts %s; give more characters", kind, id, strings.Join(found, ", "))
}

// messageIDs lists the ids of the messages in the caller's inbox and,
// with threads, their thread ids.
func messageIDs(ctx context.Context, r *client.Client, minSeq uint64, threads bool) ([]string, error) {
	var ans struct {
		Messages []msgView `json:"messages"`
	}
	if _, err := r.Do(ctx, http.MethodGet, "/v1/inbox?min_seq="+strconv.FormatUint(minSeq, 10), nil, nil, &ans); err != nil {
		return nil, fmt.Errorf("read inbox: %w", err)
	}
	var ids []string
	for _, m := range ans.Messages {
		if threads {
			ids = append(ids, m.Thread)
		} else {
			ids = append(ids, m.MessageID)
		}
	}
	return ids, nil
}

// listIDs lists the ids of what GET path answers under key (a JSON array
// of T), for resolveID.
func listIDs[T any](ctx context.Context, r *client.Client, key, path string, minSeq uint64, id func(T) string) ([]string, error) {
	var ans map[string]json.RawMessage
	if _, err := r.Do(ctx, http.MethodGet, path+"?min_seq="+strconv.FormatUint(minSeq, 10), nil, nil, &ans); err != nil {
		return nil, fmt.Errorf("list %s: %w", key, err)
	}
	var items []T
	if raw, ok := ans[key]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("list %s: %w", key, err)
		}
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, id(it))
	}
	return ids, nil
}

// leaseIDs lists the ids of the active leases.
func leaseIDs(ctx context.Context, r *client.Client, minSeq uint64) ([]string, error) {
	return listIDs(ctx, r, "leases", "/v1/leases", minSeq, func(l leaseJSON) string { return l.ID })
}

// taskIDs lists the ids of the tasks the reader knows, whatever their status.
func taskIDs(ctx context.Context, r *client.Client, minSeq uint64) ([]string, error) {
	return listIDs(ctx, r, "tasks", "/v1/tasks", minSeq, func(t taskView) string { return t.TaskID })
}

// resolveTask turns a task id or prefix into the full id.
func resolveTask(ctx context.Context, r *client.Client, id string, minSeq uint64) (string, error) {
	return resolveID("task", id, "lighthouse task list", func() ([]string, error) { return taskIDs(ctx, r, minSeq) })
}

// annotationIDs lists the ids of the annotations the reader shows.
func annotationIDs(ctx context.Context, r *client.Client, minSeq uint64) ([]string, error) {
	return listIDs(ctx, r, "annotations", "/v1/annotations", minSeq, func(a annotationView) string { return a.ID })
}

// shortID is the prefix lists print; resolveID takes it back.
func shortID(id string) string { return id[:min(8, len(id))] }
