// Package watcher shadows a project's working tree into the log: it imports
// the tree on first start, reconciles it on later starts, follows changes
// with kernel notifications (fsnotify, falling back to periodic scans), and
// records every change through the writer's ordinary HTTP commands. It
// never touches the store. Agents' hooks talk to it over a unix socket in
// the data directory to attribute their Bash calls, and it spools changes
// durably while the writer is unreachable.
package watcher

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// ignorer decides which paths of the project are shadowed: it applies the
// project's .gitignore files (and .git/info/exclude) with go-git's matcher
// and always skips .git/ and the absolute directories in skip (the data
// directory, the mount).
type ignorer struct {
	mu       sync.Mutex
	root     string
	skip     []string
	patterns []gitignore.Pattern
	matcher  gitignore.Matcher
	loaded   map[string]bool // directories whose .gitignore is read
}

// newIgnorer reads root's ignore files. skip lists absolute directories
// that are never shadowed.
func newIgnorer(root string, skip []string) (*ignorer, error) {
	ig := &ignorer{root: root, loaded: map[string]bool{}}
	for _, s := range skip {
		if s == "" {
			continue
		}
		abs, err := filepath.Abs(s)
		if err != nil {
			return nil, fmt.Errorf("skip dir %s: %w", s, err)
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		ig.skip = append(ig.skip, abs)
	}
	if err := ig.readFile(filepath.Join(root, ".git", "info", "exclude"), nil); err != nil {
		return nil, err
	}
	if err := ig.loadDir(""); err != nil {
		return nil, err
	}
	return ig, nil
}

// loadDir adds the patterns of rel/.gitignore (rel is slash-separated,
// "" for the root). Parents must be loaded before children.
func (ig *ignorer) loadDir(rel string) error {
	ig.mu.Lock()
	defer ig.mu.Unlock()
	if ig.loaded[rel] {
		return nil
	}
	ig.loaded[rel] = true
	var domain []string
	if rel != "" {
		domain = strings.Split(rel, "/")
	}
	return ig.readFile(filepath.Join(ig.root, filepath.FromSlash(rel), ".gitignore"), domain)
}

func (ig *ignorer) readFile(path string, domain []string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read ignore file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ig.patterns = append(ig.patterns, gitignore.ParsePattern(line, domain))
	}
	ig.matcher = gitignore.NewMatcher(ig.patterns)
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// ignored reports whether the slash-separated project path rel is skipped.
func (ig *ignorer) ignored(rel string, isDir bool) bool {
	if rel == "" || rel == "." {
		return false
	}
	ig.mu.Lock()
	defer ig.mu.Unlock()
	parts := strings.Split(rel, "/")
	if slices.Contains(parts, ".git") {
		// Git's own, at any depth: a nested repository's directory, or the
		// .git file that points a worktree or submodule at its repository
		// (git never tracks a path through .git either).
		return true
	}
	abs := filepath.Join(ig.root, filepath.FromSlash(rel))
	for _, s := range ig.skip {
		if abs == s || strings.HasPrefix(abs, s+string(filepath.Separator)) {
			return true
		}
	}
	return ig.matcher != nil && ig.matcher.Match(parts, isDir)
}
