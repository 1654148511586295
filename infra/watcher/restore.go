package watcher

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// inScope reports whether p is one of paths or below one (no paths: all).
func inScope(p string, paths []string) bool {
	if len(paths) == 0 {
		return true
	}
	for _, pre := range paths {
		pre = strings.Trim(pre, "/")
		if pre == "" || p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

// Restore brings the log and then the working tree back to a point. Files
// in scope whose disk state the log does not have yet make it refuse with a
// *LocalChangesError, touching nothing, unless Force: then those changes are
// recorded first (so they stay in history) and overwritten. The restoring
// events are appended by the writer's POST /v1/restore as the caller (its
// token, log_only); the watcher then writes each file in scope whose disk state
// differs from the log, atomically (temporary file and rename), and removes
// those the log no longer has, with the directories that leaves empty,
// leaving alone files on disk that are ignored (Kept). Paths with a
// symlink on disk at or above them are left out, of the log's events as of
// the disk, and their symlinks listed (Linked); a requested path through a
// symlink is refused (*SymlinkError) before anything is appended.
func (w *Watcher) Restore(ctx context.Context, req RestoreRequest) (RestoreResult, error) {
	w.barrier(ctx)
	var out RestoreResult
	if err := w.lockSettled(ctx); err != nil {
		return out, err
	}
	defer w.opMu.Unlock()
	if err := w.sync(ctx); err != nil {
		return out, err
	}
	for _, p := range req.Paths {
		if link := w.h.symlinkOn(strings.Trim(p, "/")); link != "" {
			return out, &SymlinkError{Path: p, Link: link}
		}
	}
	cands, disk, err := w.scope(req.Paths, true)
	if err != nil {
		return out, err
	}
	if local := plan(cands, disk, w.st); len(local) > 0 {
		if !req.Force {
			var paths []string
			for _, op := range local {
				paths = append(paths, op.Path)
				if op.To != "" {
					paths = append(paths, op.To)
				}
			}
			sort.Strings(paths)
			return out, &LocalChangesError{Paths: paths}
		}
		res, err := sendOps(ctx, w.cfg.Writer, identity{Correlation: "watcher:before-restore"}, local, w.diskContent)
		if err != nil {
			return out, fmt.Errorf("record local changes before the restore: %w", err)
		}
		out.Recorded = res.Paths
	}
	// Paths at or below a symlink on disk are left out of the restore, in
	// the log as on disk: the log has no symlinks, and writing through one
	// could leave the project. The writer is told to leave them out too,
	// so that the log keeps saying what the disk holds.
	out.Linked = w.linksIn(req.Paths)
	c := *w.cfg.Writer
	c.Token = req.Token
	var ans struct {
		Seq      uint64 `json:"seq"`
		Point    uint64 `json:"point"`
		Before   uint64 `json:"before"`
		Restored int    `json:"restored"`
		Deleted  int    `json:"deleted"`
	}
	if err := c.PostJSON(ctx, "/v1/restore", map[string]any{"point": req.Point, "paths": req.Paths, "exclude": out.Linked, "command_id": req.CommandID, "log_only": true}, &ans); err != nil {
		return out, err
	}
	out.OnDisk, out.Seq, out.Point, out.Before, out.Restored, out.Deleted = true, ans.Seq, ans.Point, ans.Before, ans.Restored, ans.Deleted
	if err := w.sync(ctx); err != nil {
		return out, err
	}
	cands, disk, err = w.scope(req.Paths, false)
	if err != nil {
		return out, err
	}
	// An ignored file on disk is never touched, even at a path the log
	// once had: it may be a person's local file, such as the settings that
	// hold the gate's hooks. Ignored means by the rules on disk before the
	// restore or by those it brings back: the ignore files are restored
	// first, so that undoing a restore that removed a .gitignore does not
	// remove what that .gitignore ignores.
	ignorers := []*ignorer{w.ignorer()}
	apply := func(p string) error {
		l, d := w.st.logged(p), disk[p]
		_, onDisk := disk[p]
		link := w.h.symlinkOn(p)
		switch {
		case !l.Exists && !onDisk && link != p, l.Exists && onDisk && d.Hash == l.Hash && d.Mode == l.Mode:
			return nil // as the log has it
		case link != "":
			// Left out (out.Linked); a symlink made since is left
			// alone as well.
		case onDisk && slices.ContainsFunc(ignorers, func(ig *ignorer) bool { return ig.ignored(p, false) }):
			out.Kept = append(out.Kept, p)
		case l.Exists:
			if err := w.writeFromLog(ctx, p, l); err != nil {
				return err
			}
			out.Written = append(out.Written, p)
		default:
			if err := w.root.Remove(filepath.FromSlash(p)); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("remove %s: %w", p, err)
			}
			out.Removed = append(out.Removed, p)
			w.removeEmptiedDirs(p)
		}
		return nil
	}
	// The ignore files first (see above); then removals, so that a
	// directory a file replaced is gone before the file is written back.
	isIgnoreFile := func(p string) bool { return path.Base(p) == ".gitignore" }
	each := func(pick func(p string) bool) error {
		for _, p := range cands {
			if pick(p) {
				if err := apply(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := each(isIgnoreFile); err != nil {
		return out, err
	}
	restored, err := newIgnorer(w.dir, append([]string{w.cfg.Data}, w.cfg.Skip...))
	if err != nil {
		return out, fmt.Errorf("read the restored ignore files: %w", err)
	}
	ignorers = append(ignorers, restored)
	for _, logged := range []bool{false, true} {
		if err := each(func(p string) bool { return !isIgnoreFile(p) && w.st.logged(p).Exists == logged }); err != nil {
			return out, err
		}
	}
	return out, nil
}

// linksIn returns the symlinks on disk, in scope, at or above a path the
// log has had: what a restore must leave out.
func (w *Watcher) linksIn(scope []string) []string {
	seen := map[string]bool{}
	var links []string
	for _, p := range w.st.known() {
		if !inScope(p, scope) {
			continue
		}
		if l := w.h.symlinkOn(p); l != "" && !seen[l] {
			seen[l] = true
			links = append(links, l)
		}
	}
	sort.Strings(links)
	return links
}

// removeEmptiedDirs removes the directories above p, a file just removed,
// that are left empty, up to the project's root (not included). It stops at
// the first that is not empty: anything in it, an ignored file too, keeps it.
func (w *Watcher) removeEmptiedDirs(p string) {
	for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if w.root.Remove(filepath.FromSlash(dir)) != nil {
			return
		}
	}
}

// scope returns the candidate paths under paths: shadowed files on disk
// and every file the log has there (ignored ones too unless shadowedOnly,
// since the log is what is restored).
func (w *Watcher) scope(paths []string, shadowedOnly bool) ([]string, map[string]diskFile, error) {
	disk := map[string]diskFile{}
	ig := w.ignorer()
	cands, err := w.statTree(ig, func(rel string) bool { return inScope(rel, paths) }, disk)
	if err != nil {
		return nil, nil, err
	}
	for p := range w.st.files {
		if !inScope(p, paths) || (shadowedOnly && ig.ignored(p, false)) {
			continue
		}
		if _, ok := disk[p]; ok {
			continue
		}
		if d, ok, err := w.h.stat(p); err == nil && ok {
			disk[p] = d
		}
		cands = append(cands, p)
	}
	sort.Strings(cands)
	return cands, disk, nil
}

// writeFromLog writes a file's content from the writer's blobs atomically,
// through the project's os.Root, so that no symlink takes it outside.
func (w *Watcher) writeFromLog(ctx context.Context, p string, l logFile) error {
	body, err := w.cfg.Writer.Open(ctx, "/v1/blobs/"+l.Hash)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", p, err)
	}
	defer body.Close()
	rel := filepath.FromSlash(p)
	if err := w.root.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return fmt.Errorf("restore %s: %w", p, err)
	}
	if fi, err := w.root.Lstat(rel); err == nil && fi.IsDir() {
		return fmt.Errorf("restore %s: a directory is in the way", p)
	}
	tmp := filepath.Join(filepath.Dir(rel), fmt.Sprintf(".lighthouse-restore-%d", rand.Uint64()))
	f, err := w.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(l.Mode&0o777))
	if err != nil {
		return fmt.Errorf("restore %s: %w", p, err)
	}
	defer w.root.Remove(tmp)
	_, err = io.Copy(f, body)
	if err == nil {
		err = f.Chmod(os.FileMode(l.Mode & 0o777)) // the umask may have cut the mode
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.root.Rename(tmp, rel)
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", p, err)
	}
	return nil
}
