// Package policyfile loads the project's policy files and reloads them when
// they change or on SIGHUP, swapping atomically; a broken file is rejected
// with its line and reason, and the policy in force stays.
package policyfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
)

// Status is what the watcher last did.
type Status struct {
	Revision       string
	ShadowRevision string
	Source         string
	LoadedAt       time.Time
	LastError      string
}

// Watcher keeps a PolicyHolder in step with a policy file and an optional
// shadow policy file. Empty paths mean the built-in default policy and no
// shadow.
type Watcher struct {
	Path       string
	ShadowPath string
	Holder     *command.PolicyHolder
	Log        *slog.Logger
	// OnActivate is told of every revision put in force.
	OnActivate func(revision, source string, shadow bool)

	mu      sync.Mutex
	status  Status
	lastRaw [2][]byte
}

// Parse reads a policy file on top of the built-in policy ("" means the
// built-in policy alone). Errors name the file and line.
func Parse(path string) (*policy.Policy, error) {
	p, _, err := parseFile(path)
	return p, err
}

func parseFile(path string) (*policy.Policy, []byte, error) {
	if path == "" {
		return policy.Default(), nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read policy: %w", err)
	}
	p, err := policy.Parse(raw, policy.Default())
	if err != nil {
		var pe *policy.ParseError
		if errors.As(err, &pe) {
			return nil, raw, fmt.Errorf("%s:%d: %s", path, pe.Line, pe.Msg)
		}
		return nil, raw, fmt.Errorf("%s: %w", path, err)
	}
	return p, raw, nil
}

// Reload reads the files and, if they parse and changed, puts them in force.
func (w *Watcher) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	enforced, raw, err := parseFile(w.Path)
	var shadow *policy.Policy
	var shadowRaw []byte
	if err == nil && w.ShadowPath != "" {
		shadow, shadowRaw, err = parseFile(w.ShadowPath)
	}
	if err != nil {
		w.status.LastError = err.Error()
		w.Log.Error("policy rejected; the previous policy stays in force", "err", err)
		return err
	}
	w.status.LastError = ""
	if w.status.Revision != "" && bytes.Equal(raw, w.lastRaw[0]) && bytes.Equal(shadowRaw, w.lastRaw[1]) {
		return nil
	}
	w.lastRaw = [2][]byte{raw, shadowRaw}
	w.Holder.Swap(command.Policies{Enforced: enforced, Shadow: shadow})
	w.status = Status{Revision: enforced.Revision(), Source: w.source(), LoadedAt: time.Now().UTC()}
	if shadow != nil {
		w.status.ShadowRevision = shadow.Revision()
	}
	w.Log.Info("policy in force", "revision", w.status.Revision, "source", w.status.Source, "shadow", w.status.ShadowRevision)
	if w.OnActivate != nil {
		w.OnActivate(w.status.Revision, w.status.Source, false)
		if shadow != nil {
			w.OnActivate(w.status.ShadowRevision, w.ShadowPath, true)
		}
	}
	return nil
}

// BuiltinSource is the Source of the built-in policy alone (no file).
const BuiltinSource = "built-in default"

func (w *Watcher) source() string {
	if w.Path == "" {
		return BuiltinSource
	}
	return w.Path
}

// Status returns what the watcher last did.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// settle is how long a changed file must stay unchanged before it is read.
const settle = 100 * time.Millisecond

// Run reloads on SIGHUP and when a file's size or modification time
// changes, until ctx ends.
func (w *Watcher) Run(ctx context.Context, every time.Duration) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	stamp := w.stamp()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			stamp = w.stamp()
			w.Reload()
		case <-t.C:
			s := w.stamp()
			if s == stamp {
				continue
			}
			// An editor may still be writing: reload only once the file
			// has stopped changing for a moment.
			select {
			case <-ctx.Done():
				return
			case <-time.After(settle):
			}
			if w.stamp() != s {
				continue
			}
			stamp = s
			w.Reload()
		}
	}
}

func (w *Watcher) stamp() string {
	var s string
	for _, p := range []string{w.Path, w.ShadowPath} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			s += "missing;"
		}
	}
	return s
}
