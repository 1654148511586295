package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/watcher"
)

// Tree is the project's working tree on this machine, which a watcher
// records. `put`, `rm` and `mv` change the log first and then the tree the
// same way, so the watcher's next look finds the disk as the log has it
// instead of recording the disk's older state over the change.
type Tree struct {
	// Root is the absolute project root.
	Root string
	// watcher records Root; Hold holds its looks back.
	watcher *watcher.Local
}

// WatchedTree returns the working tree when a watcher runs for c's data
// directory (ok false when none does: the files on disk are not Lighthouse's
// to change).
func (c *Connection) WatchedTree(ctx context.Context) (Tree, bool, error) {
	data, err := c.DataDir()
	if err != nil {
		return Tree{}, false, nil
	}
	local, err := watcher.Dial(data)
	if errors.Is(err, watcher.ErrNoWatcher) {
		return Tree{}, false, nil
	} else if err != nil {
		return Tree{}, false, err
	}
	root, err := c.ProjectRoot(ctx)
	if err != nil || root == "" {
		return Tree{}, false, err
	}
	return Tree{Root: root, watcher: local}, true, nil
}

// Hold keeps the watcher from looking at the tree until release is called:
// between a change to the log and the same change on disk, a look would
// find the disk behind the log and record its older state over the change.
// A look already under way finishes first, and no other recording reads
// the disk meanwhile. The watcher lets go by itself if release never comes
// (a killed CLI), after its longest hold (2 min by default); changes made
// meanwhile are recorded then.
func (t Tree) Hold(ctx context.Context) (release func(), err error) {
	id := "cli-" + rand.Text()
	var ok map[string]string
	if err := t.watcher.Do(ctx, "/v1/calls/begin", watcher.CallRequest{ToolUseID: id, Tool: "lighthouse", Settle: true}, &ok); err != nil {
		return nil, fmt.Errorf("hold the watcher: %w", err)
	}
	return func() {
		var res watcher.CallResult
		// With a context of its own: the change is made, and a caller's
		// ended context must not leave the watcher held.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.watcher.Do(ctx, "/v1/calls/end", watcher.CallRequest{ToolUseID: id}, &res)
	}, nil
}

// abs returns the file of project path p.
func (t Tree) abs(p string) string { return filepath.Join(t.Root, filepath.FromSlash(p)) }

// Write replaces project file p with content and mode, atomically (a
// temporary file renamed over it), creating its directories.
func (t Tree) Write(p string, content []byte, mode os.FileMode) error {
	abs := t.abs(p)
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return fmt.Errorf("write %s on disk: %w", p, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), ".lighthouse-put-*")
	if err != nil {
		return fmt.Errorf("write %s on disk: %w", p, err)
	}
	_, err = tmp.Write(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), abs)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s on disk: %w", p, err)
	}
	return nil
}

// Mode returns the mode of project file p on disk, or def when it is absent.
func (t Tree) Mode(p string, def os.FileMode) os.FileMode {
	if fi, err := os.Stat(t.abs(p)); err == nil && fi.Mode().IsRegular() {
		return fi.Mode().Perm()
	}
	return def
}

// Remove removes project file p; an absent file is no error.
func (t Tree) Remove(p string) error {
	if err := os.Remove(t.abs(p)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s on disk: %w", p, err)
	}
	return nil
}

// Move renames project file from to to, creating to's directories.
func (t Tree) Move(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(t.abs(to)), 0o755); err != nil {
		return fmt.Errorf("move %s on disk: %w", from, err)
	}
	if err := os.Rename(t.abs(from), t.abs(to)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("move %s to %s on disk: %w", from, to, err)
	}
	return nil
}
