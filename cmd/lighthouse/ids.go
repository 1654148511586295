package main

import (
	"context"
	"errors"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// resolveID turns id, a full id or a prefix of one such as the 8
// characters lists print, into the full id among those list returns
// (client.ResolveID). kind names the thing ("review") and see the command
// listing them, for errors. No match is an error; several, or none given,
// a usage error.
func resolveID(kind, id, see string, list func() ([]string, error)) (string, error) {
	full, err := client.ResolveID(kind, id, "`"+see+"`", list)
	var ie *client.IDError
	if errors.As(err, &ie) && ie.Ambiguous {
		return "", usagef("%s", ie.Msg)
	}
	return full, err
}

// messageIDs lists the ids of the messages in the caller's inbox or, with
// threads, their thread ids.
func messageIDs(ctx context.Context, r *client.Client, minSeq uint64, threads bool) ([]string, error) {
	field := "message_id"
	if threads {
		field = "thread"
	}
	return r.IDs(ctx, "/v1/inbox", "messages", field, minSeq)
}

// leaseIDs lists the ids of the active leases.
func leaseIDs(ctx context.Context, r *client.Client, minSeq uint64) ([]string, error) {
	return r.IDs(ctx, "/v1/leases", "leases", "id", minSeq)
}

// resolveTask turns a task id or prefix into the full id.
func resolveTask(ctx context.Context, r *client.Client, id string, minSeq uint64) (string, error) {
	return resolveID("task", id, "lighthouse task list", func() ([]string, error) {
		return r.IDs(ctx, "/v1/tasks", "tasks", "task_id", minSeq)
	})
}

// annotationIDs lists the ids of the annotations the reader shows.
func annotationIDs(ctx context.Context, r *client.Client, minSeq uint64) ([]string, error) {
	return r.IDs(ctx, "/v1/annotations", "annotations", "id", minSeq)
}

// shortID is the prefix lists print; resolveID takes it back.
func shortID(id string) string { return id[:min(8, len(id))] }
