package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// TestPointInsideAChangeSet: every event of an atomic change set carries
// the set's range, and a point that falls inside the set answers as of just
// before it, from the reader (tree, file, diff, search) and from the mount,
// so no answer ever shows part of the set.
func TestPointInsideAChangeSet(t *testing.T) {
	t.Parallel()
	mount := os.Geteuid() == 0
	if _, err := os.Stat("/dev/fuse"); err != nil {
		mount = false
	}
	e := start(t, mount)
	if mount && e.sys.Fuser == nil {
		t.Logf("no fuser (%v): checking the reader only", e.sys.FuserError)
		mount = false
	}
	ctx := context.Background()
	base := e.put(e.admin, "base.txt", "base needle\n")
	set := []string{"set/a.txt", "set/b.txt", "set/c.txt", "set/d.txt"}
	ops := []map[string]any{}
	for _, p := range set {
		ops = append(ops, map[string]any{"op": "write", "path": p, "content": "needle in " + p + "\n"})
	}
	var res client.CommandResult
	if err := e.admin.PostJSON(ctx, "/v1/changes", map[string]any{"ops": ops}, &res); err != nil {
		t.Fatal(err)
	}
	last := res.Seq
	first := last - uint64(len(set)) + 1
	if first != base+1 {
		t.Fatalf("change set at %d-%d, after base.txt at %d", first, last, base)
	}
	// The log marks the set on every one of its events.
	for seq := first; seq <= last; seq++ {
		ev, err := eventAt(e, seq)
		if err != nil {
			t.Fatal(err)
		}
		if ev.ChangeSet.First != first || ev.ChangeSet.Last != last {
			t.Fatalf("event %d: change set %+v, want %d-%d", seq, ev.ChangeSet, first, last)
		}
	}
	if ev, err := eventAt(e, base); err != nil || ev.ChangeSet.First != 0 {
		t.Fatalf("a lone event carries a change set: %+v, %v", ev.ChangeSet, err)
	}
	if out, err := cli(t, e, "verify"); err != nil {
		t.Fatalf("lighthouse verify: %v\n%s", err, out)
	}

	// at=POINT on the reader: everything or nothing of the set.
	for at := base; at <= last; at++ {
		want := base // inside the set: as of just before it
		if at == last {
			want = last
		}
		var tree struct {
			At    uint64 `json:"at"`
			Files []struct{ Path string }
		}
		h, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/tree?at=%d&min_seq=%d", at, last), nil, nil, &tree)
		if err != nil {
			t.Fatal(err)
		}
		got := setFiles(tree.Files)
		if (want == last && len(got) != len(set)) || (want == base && len(got) != 0) {
			t.Errorf("tree at %d has %d of the set's %d files: %v", at, len(got), len(set), got)
		}
		if tree.At != want || h.Get("X-Lighthouse-Point-At") != fmt.Sprint(want) {
			t.Errorf("tree at %d reports the point %d (header %q), want %d", at, tree.At, h.Get("X-Lighthouse-Point-At"), want)
		}
		for _, p := range set {
			body, err := e.reader.Open(ctx, fmt.Sprintf("%s?at=%d", client.FilePath(p), at))
			if err == nil {
				body.Close()
			}
			if (want == last) != (err == nil) || (err != nil && !isStatus(err, 404)) {
				t.Errorf("%s at %d: %v (the point is %d)", p, at, err, want)
			}
			// The 404 of a point inside the set says why the file is not there.
			if inside := fmt.Sprintf("@%d is inside an atomic change set, so it reads as @%d", at, base); at != base && want == base && (err == nil || !strings.Contains(err.Error(), inside)) {
				t.Errorf("%s at %d: %v, want it to say %q", p, at, err, inside)
			}
		}
		var diff struct {
			To      uint64 `json:"to"`
			Changes []struct{ Path string }
		}
		if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/diff?from=%d&to=%d&patches=false", base, at), nil, nil, &diff); err != nil {
			t.Fatal(err)
		}
		if diff.To != want || (want == last) != (len(diff.Changes) == len(set)) || (want == base && len(diff.Changes) != 0) {
			t.Errorf("diff %d..%d: to %d, %d changes, want to %d", base, at, diff.To, len(diff.Changes), want)
		}
		body, err := e.reader.Open(ctx, fmt.Sprintf("/v1/search?q=needle&at=%d", at))
		if err != nil {
			t.Fatal(err)
		}
		matches := strings.Count(readAll(t, body), `"path":"set/`)
		body.Close()
		if (want == last && matches != len(set)) || (want == base && matches != 0) {
			t.Errorf("search at %d finds %d of the set's files", at, matches)
		}
	}

	// The same, as a user asks for the revision a tree lists.
	out, err := cli(t, e, "show", fmt.Sprintf("%s@%d", set[0], first))
	if wantMsg := fmt.Sprintf("@%d is inside an atomic change set, so it reads as @%d", first, base); err == nil || !strings.Contains(out, wantMsg) {
		t.Errorf("lighthouse show %s@%d: %v\n%s\nwant it to say %q", set[0], first, err, out, wantMsg)
	}

	// The mount's history/@SEQ: the same answers.
	if !mount {
		return
	}
	mnt := e.sys.MountDir()
	eventually(t, "the set in the mount", func() error {
		_, err := os.Stat(filepath.Join(mnt, "current", set[len(set)-1]))
		return err
	})
	for at := first; at <= last; at++ {
		dir := filepath.Join(mnt, "history", fmt.Sprintf("@%d", at), "set")
		entries, err := os.ReadDir(dir)
		switch {
		case at < last && !errors.Is(err, os.ErrNotExist):
			t.Errorf("history/@%d/set: %d entries, %v; want no directory (the point is before the set)", at, len(entries), err)
		case at == last && (err != nil || len(entries) != len(set)):
			t.Errorf("history/@%d/set: %d entries, %v; want the whole set", at, len(entries), err)
		}
		if b, err := os.ReadFile(filepath.Join(mnt, "history", fmt.Sprintf("@%d", at), "base.txt")); err != nil || string(b) != "base needle\n" {
			t.Errorf("history/@%d/base.txt = %q, %v", at, b, err)
		}
	}
}

// setFiles returns the paths under set/, sorted.
func setFiles(files []struct{ Path string }) []string {
	var out []string
	for _, f := range files {
		if strings.HasPrefix(f.Path, "set/") {
			out = append(out, f.Path)
		}
	}
	sort.Strings(out)
	return out
}
