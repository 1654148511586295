package main

import (
	"context"
	"errors"

	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
	"github.com/lighthouse-ai/lighthouse/infra/watcher"
)

// watcherRestorer hands restores to the watcher that serves the writer's
// data directory (`lighthouse up --project` runs it there): it has the
// working tree, the writer may not.
type watcherRestorer struct{ data string }

// RestoreOnDisk implements httpapi.DiskRestorer.
func (r watcherRestorer) RestoreOnDisk(ctx context.Context, token string, req httpapi.RestoreRequest) (int, []byte, bool, error) {
	l, err := watcher.Dial(r.data)
	if errors.Is(err, watcher.ErrNoWatcher) {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, err
	}
	status, body, err := l.Raw(ctx, "/v1/restore", watcher.RestoreRequest{Point: req.Point, Paths: req.Paths, Force: req.Force, Token: token, CommandID: req.CommandID})
	if err != nil {
		return 0, nil, false, err
	}
	return status, body, true, nil
}
