package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// cli runs the real lighthouse CLI against e's system.
func cli(t *testing.T, e *env, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "lighthouse"), args...)
	cmd.Env = append(os.Environ(), "LIGHTHOUSE_URL="+e.sys.WriterURL, "LIGHTHOUSE_READER_URL="+e.sys.ReaderURL, "LIGHTHOUSE_TOKEN="+e.sys.AdminToken)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func treeAt(t *testing.T, e *env, at string, minSeq uint64) map[string]string {
	t.Helper()
	var out struct {
		Files []struct{ Path, Hash string }
	}
	if _, err := e.reader.Do(context.Background(), "GET", fmt.Sprintf("/v1/tree?at=%s&min_seq=%d", at, minSeq), nil, nil, &out); err != nil {
		t.Fatalf("tree at %s: %v", at, err)
	}
	m := map[string]string{}
	for _, f := range out.Files {
		m[f.Path] = f.Hash
	}
	return m
}

func TestSnapshotChangeRestore(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	e.put(e.admin, "a.txt", "v1\n")
	e.put(e.admin, "dir/b.txt", "b\n")
	if out, err := cli(t, e, "snapshot", "before", "-m", "the good state"); err != nil {
		t.Fatalf("snapshot: %v %s", err, out)
	}
	mid := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	e.put(e.admin, "a.txt", "v2\n")
	if _, err := e.admin.DeleteFile(ctx, "dir/b.txt"); err != nil {
		t.Fatal(err)
	}
	head := e.put(e.admin, "c.txt", "new\n")
	before := treeAt(t, e, "before", head)
	if len(before) != 2 || before["a.txt"] != hashOf("v1\n") || before["dir/b.txt"] != hashOf("b\n") {
		t.Fatalf("tree at snapshot = %v", before)
	}
	if got := treeAt(t, e, mid.Format(time.RFC3339Nano), head); len(got) != 2 || got["a.txt"] != hashOf("v1\n") {
		t.Fatalf("tree at %s = %v", mid, got)
	}
	if out, err := cli(t, e, "show", "a.txt@before"); err != nil || out != "v1\n" {
		t.Fatalf("show a.txt@before = %q, %v", out, err)
	}
	// Restoring only some paths touches only them.
	var res struct {
		Seq               uint64
		Restored, Deleted int
	}
	if err := e.admin.PostJSON(ctx, "/v1/restore", map[string]any{"point": "before", "paths": []string{"dir"}}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Restored != 1 || res.Deleted != 0 {
		t.Fatalf("restore dir = %+v", res)
	}
	now := treeAt(t, e, "", res.Seq)
	if now["dir/b.txt"] != hashOf("b\n") || now["a.txt"] != hashOf("v2\n") || now["c.txt"] == "" {
		t.Fatalf("after restoring dir: %v", now)
	}
	// The whole project, with the CLI; history is kept, not rewritten.
	out, err := cli(t, e, "restore", "before")
	if err != nil || !strings.Contains(out, "restored 1 file and deleted 1") {
		t.Fatalf("restore before: %v %s", err, out)
	}
	seq := e.writerHead()
	if got := treeAt(t, e, "", seq); len(got) != 2 || got["a.txt"] != hashOf("v1\n") || got["dir/b.txt"] != hashOf("b\n") {
		t.Fatalf("after restore: %v", got)
	}
	var hist struct {
		Revisions []json.RawMessage `json:"revisions"`
	}
	if _, err := e.reader.Do(ctx, "GET", "/v1/files/a.txt/history", nil, nil, &hist); err != nil || len(hist.Revisions) != 3 {
		t.Fatalf("a.txt has %d revisions, want 3 (v1, v2, restored v1): %v", len(hist.Revisions), err)
	}
	// Nothing left to restore: no events.
	if err := e.admin.PostJSON(ctx, "/v1/restore", map[string]any{"point": "before"}, &res); err != nil || res.Restored+res.Deleted != 0 {
		t.Fatalf("second restore = %+v, %v", res, err)
	}
	if h := e.writerHead(); h != seq {
		t.Fatalf("a no-op restore appended: %d → %d", seq, h)
	}
}

func TestPointErrors(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	seq := e.put(e.admin, "a.txt", "a")
	cases := []struct{ at, code string }{
		{"2001-01-01T00:00:00Z", "point_before_history"},
		{time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "point_in_future"},
		{"999999", "point_in_future"},
		{"0", "point_before_history"},
		{"nosuch", "snapshot_unknown"},
		{"12:00", "point_invalid"},
	}
	for _, tc := range cases {
		_, err := e.reader.Do(context.Background(), "GET", fmt.Sprintf("/v1/tree?at=%s&min_seq=%d", tc.at, seq), nil, nil, nil)
		var ce *client.Error
		if !isField(err, 400, "at") || !errorsAs(err, &ce) || ce.Code != tc.code {
			t.Errorf("at=%s: %v, want 400 %s", tc.at, err, tc.code)
		}
	}
	if err := e.admin.PostJSON(context.Background(), "/v1/restore", map[string]any{"point": "999999"}, nil); !isField(err, 400, "point") {
		t.Errorf("restore to the future: %v", err)
	}
	if err := e.admin.PostJSON(context.Background(), "/v1/snapshots", map[string]any{"name": "1abc"}, nil); !isField(err, 400, "name") {
		t.Errorf("snapshot named like a number: %v", err)
	}
	for _, name := range []string{"now", "HEAD"} {
		if err := e.admin.PostJSON(context.Background(), "/v1/snapshots", map[string]any{"name": name}, nil); !isCode(err, 400, "name_reserved") {
			t.Errorf("snapshot named %s, which reads as the head: %v", name, err)
		}
	}
	e.admin.PostJSON(context.Background(), "/v1/snapshots", map[string]any{"name": "s"}, nil)
	if err := e.admin.PostJSON(context.Background(), "/v1/snapshots", map[string]any{"name": "s"}, nil); !isStatus(err, 409) {
		t.Errorf("taken snapshot name: %v", err)
	}
}

// TestDiffAndSearchMatchTheMount compares the reader's diff with `diff -r`
// and its search with `grep -rn`, both run over the FUSE mount.
func TestDiffAndSearchMatchTheMount(t *testing.T) {
	t.Parallel()
	e, mnt := startMounted(t)
	ctx := context.Background()
	e.put(e.admin, "keep.txt", "same\n")
	e.put(e.admin, "mod.txt", "one\nTODO two\nthree\n")
	e.put(e.admin, "gone.txt", "bye TODO\n")
	e.put(e.admin, "old/name.txt", "moved content\n")
	e.admin.PostJSON(ctx, "/v1/snapshots", map[string]string{"name": "s1"}, nil)
	e.put(e.admin, "mod.txt", "one\nTODO 2\nthree\nfour\n")
	e.admin.DeleteFile(ctx, "gone.txt")
	e.admin.PostJSON(ctx, "/v1/files/move", map[string]string{"from": "old/name.txt", "to": "new/name.txt"}, nil)
	e.put(e.admin, "add.txt", "fresh TODO\n")
	var snap client.CommandResult
	if err := e.admin.PostJSON(ctx, "/v1/snapshots", map[string]string{"name": "s2"}, &snap); err != nil {
		t.Fatal(err)
	}
	var diff struct {
		Changes []struct{ Path, Status, From, Patch string }
	}
	if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/diff?from=s1&to=s2&min_seq=%d", snap.Seq), nil, nil, &diff); err != nil {
		t.Fatal(err)
	}
	var api []string
	for _, c := range diff.Changes {
		switch c.Status {
		case "added":
			api = append(api, "only in s2: "+c.Path)
		case "deleted":
			api = append(api, "only in s1: "+c.Path)
		case "moved":
			api = append(api, "only in s1: "+c.From, "only in s2: "+c.Path)
		case "modified":
			api = append(api, "differ: "+c.Path)
			if !strings.Contains(c.Patch, "-TODO two\n+TODO 2\n") || !strings.Contains(c.Patch, "+four\n") {
				t.Errorf("patch of %s:\n%s", c.Path, c.Patch)
			}
		}
	}
	eventually(t, "snapshots in the mount", func() error {
		_, err := os.Stat(filepath.Join(mnt, "snapshots", "s2", "add.txt"))
		return err
	})
	s1, s2 := filepath.Join(mnt, "snapshots", "s1"), filepath.Join(mnt, "snapshots", "s2")
	out, _ := exec.Command("diff", "-rq", s1, s2).CombinedOutput()
	var mount []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case strings.HasPrefix(line, "Only in "+s1):
			dir, name, _ := strings.Cut(strings.TrimPrefix(line, "Only in "+s1), ": ")
			mount = append(mount, "only in s1: "+strings.TrimPrefix(dir+"/"+name, "/"))
		case strings.HasPrefix(line, "Only in "+s2):
			dir, name, _ := strings.Cut(strings.TrimPrefix(line, "Only in "+s2), ": ")
			mount = append(mount, "only in s2: "+strings.TrimPrefix(dir+"/"+name, "/"))
		case strings.HasPrefix(line, "Files "):
			f := strings.Fields(line)
			mount = append(mount, "differ: "+strings.TrimPrefix(f[1], s1+"/"))
		}
	}
	// diff -r names a whole directory that exists on one side only.
	for i, m := range mount {
		if m == "only in s1: old" {
			mount[i] = "only in s1: old/name.txt"
		}
		if m == "only in s2: new" {
			mount[i] = "only in s2: new/name.txt"
		}
	}
	sort.Strings(api)
	sort.Strings(mount)
	if strings.Join(api, "\n") != strings.Join(mount, "\n") {
		t.Fatalf("reader diff:\n%s\n\ndiff -r over the mount:\n%s\n(raw: %s)", strings.Join(api, "\n"), strings.Join(mount, "\n"), out)
	}
	// Search at s1 finds what grep -rn finds over history/@<seq of s1>.
	var s1seq struct{ Seq uint64 }
	if _, err := e.reader.Do(ctx, "GET", "/v1/snapshots/s1", nil, nil, &s1seq); err != nil {
		t.Fatal(err)
	}
	past := filepath.Join(mnt, "history", fmt.Sprintf("@%d", s1seq.Seq))
	grepOut, err := exec.Command("grep", "-rn", "TODO", past).CombinedOutput()
	if err != nil {
		t.Fatalf("grep -rn: %v %s", err, grepOut)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(grepOut)), "\n") {
		want = append(want, strings.TrimPrefix(l, past+"/"))
	}
	body, err := e.reader.Open(ctx, "/v1/search?q=TODO&at=s1")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	var got []string
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		var m struct {
			Path string
			Line int
			Text string
			Done bool
		}
		json.Unmarshal(sc.Bytes(), &m)
		if !m.Done {
			got = append(got, fmt.Sprintf("%s:%d:%s", m.Path, m.Line, m.Text))
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if len(got) != 2 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("search at s1:\n%s\ngrep -rn over the mount:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if out, err := cli(t, e, "grep", "TODO", "@s2"); err != nil || !strings.Contains(out, "add.txt:1:fresh TODO") || strings.Contains(out, "gone.txt") {
		t.Fatalf("lighthouse grep TODO @s2: %v\n%s", err, out)
	}
}

// TestQueryParamsAreChecked: a search pattern or glob that does not parse,
// and a boolean parameter that is neither true nor false, are 400s naming
// the parameter (the search's came back as a bare "Bad Request", and a
// misspelt boolean quietly meant false).
func TestQueryParamsAreChecked(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	seq := e.put(e.admin, "a.txt", "needle\n")
	for _, c := range []struct {
		path, field, code string
	}{
		{"/v1/search?q=(", "q", "pattern_invalid"},
		{"/v1/search?q=x&glob=[", "glob", ""},
		{"/v1/search?q=x&literal=maybe", "literal", "literal_invalid"},
		{"/v1/search?q=x&ignore_case=yes", "ignore_case", "ignore_case_invalid"},
		{fmt.Sprintf("/v1/diff?from=%d&patches=maybe", seq), "patches", "patches_invalid"},
		{"/v1/events?newest=maybe", "newest", "newest_invalid"},
		{"/v1/inbox?unread=maybe", "unread", "unread_invalid"},
	} {
		_, err := e.reader.Do(ctx, "GET", c.path, nil, nil, nil)
		var ce *client.Error
		if !errorsAs(err, &ce) || ce.Status != 400 || ce.Field != c.field || (c.code != "" && ce.Code != c.code) {
			t.Errorf("GET %s: %v; want 400 %s naming %s", c.path, err, c.code, c.field)
		}
	}
	// What still works: the booleans' spellings, and a search's matches.
	for _, p := range []string{"/v1/search?q=needle&literal=true&ignore_case=0", "/v1/inbox?unread=1", "/v1/events?newest=false"} {
		if _, err := e.reader.Do(ctx, "GET", p, nil, nil, nil); err != nil {
			t.Errorf("GET %s: %v", p, err)
		}
	}
	// Through the CLI, as a user types it.
	// Like grep(1): 2 for an error, 1 for no match, so a script can tell them apart.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"grep", "("}, 2, "pattern_invalid"},
		{[]string{"grep", "x", "--glob", "["}, 2, "glob"},
		{[]string{"grep", "needle", "@no-such-snapshot"}, 2, "no-such-snapshot"},
		{[]string{"grep", "no such text anywhere"}, 1, ""},
		{[]string{"grep", "-F", "needle"}, 0, "needle"},
	} {
		out, err := cli(t, e, c.args...)
		if code := exitCode(err); code != c.code || !strings.Contains(out, c.want) || (c.code == 1 && out != "") {
			t.Errorf("lighthouse %s: exit %d (%v), want %d with %q\n%s", strings.Join(c.args, " "), code, err, c.code, c.want, out)
		}
	}
}

// TestEscapedPathParams: a name or id escaped in the request's path is
// decoded before it is used, on the writer and the reader alike
// (DELETE /v1/agents/lighthouse%2Dwatcher was refused as an invalid name,
// where the unescaped one is refused as the writer's own identity).
func TestEscapedPathParams(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	e.put(e.admin, "a.txt", "a\n")
	if err := e.admin.PostJSON(ctx, "/v1/snapshots", map[string]string{"name": "s-1"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		c                  *client.Client
		method, path, code string
		status             int
	}{
		{e.admin, "DELETE", "/v1/agents/lighthouse%2Dwatcher", "agent_protected", 422},
		{e.admin, "DELETE", "/v1/agents/lighthouse-watcher", "agent_protected", 422},
		{e.admin, "POST", "/v1/agents/n%6F-such-agent/rotate", "not_found", 404},
		{e.reader, "GET", "/v1/snapshots/s%2D1", "", 200},
		{e.reader, "GET", "/v1/snapshots/s%2D2", "snapshot_unknown", 404},
	} {
		_, err := c.c.Do(ctx, c.method, c.path, nil, nil, nil)
		var ce *client.Error
		switch {
		case c.status == 200 && err != nil:
			t.Errorf("%s %s: %v", c.method, c.path, err)
		case c.status != 200 && (!errorsAs(err, &ce) || ce.Status != c.status || ce.Code != c.code):
			t.Errorf("%s %s: %v; want %d %s", c.method, c.path, err, c.status, c.code)
		}
	}
}

// TestShowNamesWithAt: `show` takes the point after the last @, so a file
// whose name has an @ can be shown, at head and at a point; an @ with no
// point after it is a usage error, not the head.
func TestShowNamesWithAt(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	first := e.put(e.admin, "user@host.txt", "one\n")
	e.put(e.admin, "user@host.txt", "two\n")
	e.put(e.admin, "@types/node/index.d.ts", "declare\n")
	for _, c := range []struct{ arg, want string }{
		{"user@host.txt", "two\n"},
		{fmt.Sprintf("user@host.txt@%d", first), "one\n"},
		{"@types/node/index.d.ts", "declare\n"},
	} {
		if out, err := cli(t, e, "show", c.arg); err != nil || out != c.want {
			t.Errorf("lighthouse show %s = %q, %v; want %q", c.arg, out, err, c.want)
		}
	}
	if out, err := cli(t, e, "show", "user@host.txt@"); err == nil || !strings.Contains(out, "ends in @ without a point") {
		t.Errorf("lighthouse show user@host.txt@: %v\n%s", err, out)
	}
}
