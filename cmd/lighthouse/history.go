package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/lighthouse-ai/lighthouse/infra/cli"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
)

// runShow prints a file as of a point: `show PATH@POINT` (or just PATH).
func runShow(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	// The point follows the last @ (no point has an @ or a /, and no path
	// is empty); a name with an @ and no point (user@host.txt) is the
	// file, when the text after its last @ names no snapshot.
	arg, point := pos[0], ""
	if i := strings.LastIndexByte(arg, '@'); i > 0 && !strings.Contains(arg[i:], "/") {
		if arg, point = arg[:i], arg[i+1:]; point == "" {
			return usagef("%q ends in @ without a point (a sequence, an RFC 3339 time or a snapshot name)", pos[0])
		}
	}
	r, err := c.Reader()
	if err != nil {
		return err
	}
	show := func(arg, point string) error {
		paths, err := resolvePaths(ctx, &c, []string{arg})
		if err != nil {
			return err
		}
		q := url.Values{}
		if point != "" {
			q.Set("at", point)
		}
		return printFile(ctx, r, paths[0], q)
	}
	err = show(arg, point)
	var ce *client.Error
	if point != "" && errors.As(err, &ce) && ce.Code == "snapshot_unknown" {
		if whole := show(pos[0], ""); whole == nil {
			return nil
		}
	}
	return err
}

// runDiff prints what changed between two points, as unified diffs.
func runDiff(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	path := fs.String("path", "", "only below this path")
	stat := fs.Bool("stat", false, "only list the changed paths")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, r, err := c.ParseReader(fs, args, 1, 2)
	if err != nil {
		return err
	}
	q := url.Values{"from": {pos[0]}}
	if len(pos) == 2 {
		q.Set("to", pos[1])
	}
	if *path != "" {
		paths, err := resolvePaths(ctx, &c, []string{*path})
		if err != nil {
			return err
		}
		if paths[0] != "" {
			q.Set("path", paths[0])
		}
	}
	if *stat {
		q.Set("patches", "false")
	}
	var out struct {
		Changes []struct {
			Path   string `json:"path"`
			Status string `json:"status"`
			From   string `json:"from,omitempty"`
			Patch  string `json:"patch,omitempty"`
			Binary bool   `json:"binary,omitempty"`
		} `json:"changes"`
	}
	if _, err := r.Do(ctx, "GET", "/v1/diff?"+q.Encode(), nil, nil, &out); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	if len(out.Changes) == 0 {
		to := "now"
		if len(pos) == 2 {
			to = pos[1]
		}
		fmt.Fprintf(os.Stderr, "no changes between %s and %s\n", pos[0], to)
	}
	for _, ch := range out.Changes {
		name := ch.Path
		if ch.From != "" {
			name = ch.From + " -> " + ch.Path
		}
		fmt.Printf("%-8s %s\n", ch.Status, name)
		switch {
		case *stat:
		case ch.Binary:
			fmt.Println("Binary files differ")
		case ch.Patch != "":
			fmt.Print(ch.Patch)
		}
	}
	return nil
}

// runSnapshot names the current point.
func runSnapshot(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("snapshot", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	desc := fs.String("m", "", "description")
	pos, w, err := c.ParseWriter(fs, args, 1, 1)
	if err != nil {
		return err
	}
	var res httpapi.SnapshotResponse
	if err := w.PostJSON(ctx, "/v1/snapshots", map[string]string{"name": pos[0], "description": *desc}, &res); err != nil {
		return err
	}
	// The point is what `restore NAME` and `show PATH@NAME` go back to;
	// the snapshot's own event comes after it.
	fmt.Printf("snapshot %s at @%d\n", pos[0], res.Point)
	return nil
}

// runRestore brings back the project, or some paths, as of a point: in
// the log (new events) and, when a watcher runs for the project, on disk.
func runRestore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	force := fs.Bool("force", false, "restore even over files on disk whose changes the log does not have yet (they are recorded first)")
	logOnly := fs.Bool("log-only", false, "append the restoring events only; leave the files on disk alone")
	pos, w, err := c.ParseWriter(fs, args, 1, -1)
	if err != nil {
		return err
	}
	paths, err := resolvePaths(ctx, &c, pos[1:])
	if err != nil {
		return err
	}
	for i, p := range paths {
		if p == "" {
			// The project root: everything, as without paths.
			paths = nil
			break
		}
		paths[i] = strings.TrimSuffix(p, "/")
	}
	var out struct {
		Seq      uint64   `json:"seq"`
		Point    uint64   `json:"point"`
		Before   uint64   `json:"before"`
		Restored int      `json:"restored"`
		Deleted  int      `json:"deleted"`
		OnDisk   bool     `json:"on_disk"`
		Written  []string `json:"written"`
		Removed  []string `json:"removed"`
		Recorded []string `json:"recorded"`
		Kept     []string `json:"kept"`
		Linked   []string `json:"linked"`
	}
	req := map[string]any{"point": pos[0], "paths": paths, "force": *force, "log_only": *logOnly}
	if err := w.PostJSON(ctx, "/v1/restore", req, &out); err != nil {
		return err
	}
	if len(out.Recorded) > 0 {
		fmt.Fprintf(os.Stderr, "recorded local changes first: %s\n", strings.Join(out.Recorded, ", "))
	}
	fmt.Fprintf(os.Stderr, "restored %s and deleted %d as of @%d\n", cli.Plural(out.Restored, "file"), out.Deleted, out.Point)
	switch {
	case out.OnDisk:
		fmt.Fprintf(os.Stderr, "on disk: wrote %s, removed %d\n", cli.Plural(len(out.Written), "file"), len(out.Removed))
		if len(out.Kept) > 0 {
			fmt.Fprintf(os.Stderr, "left alone, ignored on disk: %s\n", strings.Join(out.Kept, ", "))
		}
		if len(out.Linked) > 0 {
			fmt.Fprintf(os.Stderr, "left out, symlinks on disk (nothing at or below them restored, in the log or on disk): %s\n", strings.Join(out.Linked, ", "))
		}
	case !*logOnly:
		fmt.Fprintln(os.Stderr, "warning: no watcher runs for the project, so the files on disk were left alone (start `lighthouse up --project DIR`)")
	}
	if out.Before > 0 {
		undo := fmt.Sprintf("lighthouse restore %d", out.Before)
		if *logOnly {
			undo += " --log-only"
		}
		for _, p := range pos[1:] {
			undo += " " + cli.ShellQuote(p)
		}
		fmt.Fprintf(os.Stderr, "to undo it: %s\n", undo)
	}
	fmt.Println(out.Seq)
	return nil
}

// runGrep searches file contents at a point: `grep PATTERN [@POINT]`. Like
// grep(1) it exits 1 when nothing matched and 2 when the search failed, so a
// script can tell the two apart.
func runGrep(ctx context.Context, args []string) error {
	found, err := grep(ctx, args)
	switch {
	case err != nil:
		return statusError{code: exitUsage, err: err}
	case found == 0:
		return statusError{code: exitFailure}
	}
	return nil
}

// grep runs the search and prints its matches, returning how many it printed.
func grep(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("grep", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	literal := fs.Bool("F", false, "the pattern is a literal string")
	ignoreCase := fs.Bool("i", false, "ignore case")
	glob := fs.String("glob", "", "only files matching this glob: a name glob (*.go) matches anywhere, a path glob (src/*.go) is a path relative to the working directory")
	limit := fs.Int("limit", 1000, "at most this many matches")
	asJSON := fs.Bool("json", false, "print one JSON object per match")
	pos, r, err := c.ParseReader(fs, args, 1, 2)
	if err != nil {
		return 0, err
	}
	q := url.Values{"q": {pos[0]}, "limit": {fmt.Sprint(*limit)}}
	if len(pos) == 2 {
		q.Set("at", strings.TrimPrefix(pos[1], "@"))
	}
	if *literal {
		q.Set("literal", "true")
	}
	if *ignoreCase {
		q.Set("ignore_case", "true")
	}
	if *glob != "" {
		g := *glob
		if strings.Contains(g, "/") {
			// A path glob is a path: relative to the working directory
			// inside the project. A bare name glob (*.go) matches anywhere.
			paths, err := resolvePaths(ctx, &c, []string{g})
			if err != nil {
				return 0, err
			}
			g = paths[0]
		}
		q.Set("glob", g)
	}
	body, err := r.Open(ctx, "/v1/search?"+q.Encode())
	if err != nil {
		return 0, err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	found := 0
	for sc.Scan() {
		var m struct {
			Path      string `json:"path"`
			Line      int    `json:"line"`
			Text      string `json:"text"`
			Done      bool   `json:"done"`
			Truncated bool   `json:"truncated"`
			Error     string `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return found, fmt.Errorf("bad search answer: %w", err)
		}
		switch {
		case m.Done && m.Error != "":
			return found, fmt.Errorf("search failed: %s", m.Error)
		case m.Done && m.Truncated:
			fmt.Fprintf(os.Stderr, "(stopped after %d matches)\n", found)
		case !m.Done:
			found++
			if *asJSON {
				if err := json.NewEncoder(os.Stdout).Encode(map[string]any{"path": m.Path, "line": m.Line, "text": m.Text}); err != nil {
					return found, err
				}
				continue
			}
			fmt.Printf("%s:%d:%s\n", m.Path, m.Line, m.Text)
		}
	}
	if err := sc.Err(); err != nil {
		return found, fmt.Errorf("reading the search's answer: %w", err)
	}
	return found, nil
}
