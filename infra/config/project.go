package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// ProjectDir returns dir as the project root Lighthouse guards: absolute,
// cleaned, with every symlink resolved. It fails when dir does not exist or
// is not a directory.
func ProjectDir(dir string) (string, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("project directory %q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("project directory %q: %w", dir, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("project directory %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("project directory %q is not a directory", dir)
	}
	return real, nil
}

// StateHome returns the user's state directory for Lighthouse:
// $XDG_STATE_HOME/lighthouse, else ~/.local/state/lighthouse.
func StateHome() (string, error) {
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "lighthouse"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(home) {
		return "", errors.New("no state directory: set XDG_STATE_HOME or HOME, or pass --data")
	}
	return filepath.Join(home, ".local", "state", "lighthouse"), nil
}

// DefaultDataDir returns the data directory of the project at the absolute
// path project (see ProjectDir): STATE/projects/NAME-HASH, where NAME is the
// project's base name and HASH the first 12 hex digits of the SHA-256 of its
// path. It lies outside the project, so the agents working in it do not
// come across the tokens, the store or the mount.
func DefaultDataDir(project string) (string, error) {
	state, err := StateHome()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(project))
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == 0 || r < ' ' {
			return '_'
		}
		return r
	}, filepath.Base(project))
	return filepath.Join(state, "projects", name+"-"+hex.EncodeToString(sum[:6])), nil
}

// FindDataDir returns the data directory for commands run in dir: that of
// the closest directory, dir or one of its parents, whose default data
// directory exists, so any command run inside a guarded project finds it.
// When none exists it returns dir's own default data directory.
func FindDataDir(dir string) (string, error) {
	_, data, ok, err := LocateProject(dir)
	if err != nil || ok {
		return data, err
	}
	start, err := ProjectDir(dir)
	if err != nil {
		return "", err
	}
	return DefaultDataDir(start)
}

// LocateProject finds the guarded project dir lies in: the closest
// directory, dir or one of its parents, whose default data directory
// exists. It returns that project root (absolute, symlinks resolved) and its
// data directory; ok is false when there is none.
func LocateProject(dir string) (root, data string, ok bool, err error) {
	start, err := ProjectDir(dir)
	if err != nil {
		return "", "", false, err
	}
	for d := start; ; d = filepath.Dir(d) {
		data, err := DefaultDataDir(d)
		if err != nil {
			return "", "", false, err
		}
		if fi, err := os.Stat(data); err == nil && fi.IsDir() {
			return d, data, true, nil
		}
		if d == filepath.Dir(d) {
			return "", "", false, nil
		}
	}
}

// Within reports whether path p is dir or lies below it. Both are absolute
// and cleaned.
func Within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// AddrURL returns "http://ADDR" from an address file a server wrote (see
// httpapi.Serve), or "" when the file is missing or empty.
func AddrURL(addrFile string) string {
	raw, err := os.ReadFile(addrFile)
	if err != nil {
		return ""
	}
	addr := strings.TrimSpace(string(raw))
	if addr == "" {
		return ""
	}
	return "http://" + addr
}

// AddToGitignore appends to the .gitignore file the patterns it does not
// list yet, under the comment line "# Lighthouse: WHY", creating the file if
// needed.
func AddToGitignore(file, why string, patterns []string) error {
	raw, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", file, err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(raw), "\n") {
		have[strings.TrimSpace(l)] = true
	}
	var add strings.Builder
	for _, p := range patterns {
		if !have[p] && !have[strings.TrimSuffix(p, "/")] {
			add.WriteString(p + "\n")
		}
	}
	if add.Len() == 0 {
		return nil
	}
	prefix := ""
	if len(raw) > 0 && !strings.HasSuffix(string(raw), "\n") {
		prefix = "\n"
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("update %s: %w", file, err)
	}
	_, err = f.WriteString(prefix + "# Lighthouse: " + why + "\n" + add.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", file, err)
	}
	return nil
}

// OwnTokenFile is the file in the data directory that holds the token of
// one of the writer's own identities (admin, lighthouse-service,
// lighthouse-watcher); ok is false for any other agent.
func OwnTokenFile(data, agent string) (file string, ok bool) {
	switch agent {
	case domain.AgentAdmin:
		return filepath.Join(data, "admin.token"), true
	case domain.AgentService:
		return filepath.Join(data, "service.token"), true
	case domain.AgentWatcher:
		return filepath.Join(data, "watcher.token"), true
	}
	return "", false
}
