package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lighthouse-ai/lighthouse/infra/watcher"
)

// Tree is the project's working tree on this machine, which a watcher
// records. `put`, `rm` and `mv` change the log first and then the tree the
// same way, so the watcher's next look finds the disk as the log has it
// instead of recording the disk's older state over the change.
type Tree struct {
	// Root is the absolute project root.
	Root string
}

// WatchedTree returns the working tree when a watcher runs for c's data
// directory (ok false when none does: the files on disk are not Lighthouse's
// to change).
func (c *Connection) WatchedTree(ctx context.Context) (Tree, bool, error) {
	data, err := c.DataDir()
	if err != nil {
		return Tree{}, false, nil
	}
	if _, err := watcher.Dial(data); errors.Is(err, watcher.ErrNoWatcher) {
		return Tree{}, false, nil
	} else if err != nil {
		return Tree{}, false, err
	}
	root, err := c.ProjectRoot(ctx)
	if err != nil || root == "" {
		return Tree{}, false, err
	}
	return Tree{Root: root}, true, nil
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
