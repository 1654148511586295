package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUp runs the one command a newcomer runs, `lighthouse up`, uses the
// system through the CLI and stops it with SIGTERM.
func TestUp(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	mount := filepath.Join(t.TempDir(), "mnt")
	args := []string{"up", "--data", data, "--writer-addr", "127.0.0.1:0", "--reader-addr", "127.0.0.1:0", "--bus-addr", "127.0.0.1:0", "--mount", mount}
	fuse := os.Geteuid() == 0
	if _, err := os.Stat("/dev/fuse"); err != nil {
		fuse = false
	}
	if !fuse {
		args = append(args, "--no-mount")
	}
	up := exec.Command(filepath.Join(binDir, "lighthouse"), args...)
	// up guards the directory it runs in; put writes there too.
	project := t.TempDir()
	up.Dir = project
	var out syncBuffer
	up.Stdout, up.Stderr = &out, &out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()
	defer func() {
		if up.ProcessState == nil {
			up.Process.Kill()
		}
	}()
	eventually(t, "lighthouse up ready", func() error {
		if !strings.Contains(out.String(), "lighthouse is up") {
			return os.ErrNotExist
		}
		return nil
	})
	// The banner names the addresses the processes bound.
	var addrs [2]string
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && (f[0] == "writer" || f[0] == "reader") {
			i := map[string]int{"writer": 0, "reader": 1}[f[0]]
			addrs[i] = strings.TrimPrefix(f[1], "http://")
		}
	}
	if addrs[0] == "" || addrs[1] == "" {
		t.Fatalf("the banner names no addresses:\n%s", out.String())
	}
	token, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^lh_[A-Za-z0-9_-]{43}$`).Match(token) {
		t.Fatalf("admin.token holds %q, want only the token", token)
	}
	if fi, _ := os.Stat(filepath.Join(data, "admin.token")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode %v", fi.Mode().Perm())
	}
	run := func(stdin string, args ...string) string {
		cmd := exec.Command(filepath.Join(binDir, "lighthouse"), args...)
		cmd.Env = append(os.Environ(), "LIGHTHOUSE_DATA="+data, "LIGHTHOUSE_URL=http://"+addrs[0], "LIGHTHOUSE_READER_URL=http://"+addrs[1], "LIGHTHOUSE_TOKEN=")
		cmd.Stdin = strings.NewReader(stdin)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lighthouse %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return string(b)
	}
	seq := strings.TrimSpace(run("hello from up\n", "put", "notes/hello.txt"))
	// The watcher records the project, so put writes the disk too.
	if b, err := os.ReadFile(filepath.Join(project, "notes", "hello.txt")); err != nil || string(b) != "hello from up\n" {
		t.Fatalf("put in a watched project: on disk %q, %v", b, err)
	}
	if got := run("", "cat", "--min-seq", seq, "notes/hello.txt"); got != "hello from up\n" {
		t.Fatalf("cat = %q", got)
	}
	if fuse {
		eventually(t, "file in the mount", func() error {
			b, err := os.ReadFile(filepath.Join(mount, "current", "notes", "hello.txt"))
			if err == nil && !bytes.Equal(b, []byte("hello from up\n")) {
				return os.ErrInvalid
			}
			return err
		})
	} else if !strings.Contains(out.String(), "mount") {
		t.Logf("no FUSE here; up said:\n%s", out.String())
	}
	up.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("up exited with %v after SIGTERM:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("up did not stop on SIGTERM:\n%s", out.String())
	}
	for _, a := range addrs[:2] {
		if _, err := http.Get("http://" + a + "/healthz"); err == nil {
			t.Errorf("%s still answers after up stopped", a)
		}
	}
	if fuse {
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mounts), mount) {
			t.Errorf("%s still mounted after up stopped", mount)
		}
	}
}

// TestTwoProjectsWithDefaultAddresses guards two projects of one user at
// once, each with a plain `lighthouse up --project DIR`: the second finds
// the default ports taken, says so and takes free ones, every command run
// inside either project reaches that project's own writer, and neither
// project's agent can reach the other's data directory.
func TestTwoProjectsWithDefaultAddresses(t *testing.T) {
	t.Parallel()
	var systems [2]*guarded
	state := t.TempDir()
	for i := range systems {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "README"), []byte("project "+strconv.Itoa(i)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		systems[i] = startUp(t, filepath.Join(binDir, "lighthouse"), dir, state, "--no-mount")
	}
	notes := 0
	for _, g := range systems {
		if strings.Contains(g.out.String(), "note: the writer's default address") {
			notes++
		}
	}
	if notes == 0 {
		t.Fatalf("both writers bound the default address? outputs:\n%s\n---\n%s", systems[0].out.String(), systems[1].out.String())
	}
	var writers [2]string
	for i, g := range systems {
		var st struct {
			WriterURL string `json:"writer_url"`
		}
		if err := json.Unmarshal([]byte(g.run(g.project, 0, "status", "--json")), &st); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(g.out.String(), "writer  "+st.WriterURL+"\n") {
			t.Fatalf("project %d: status inside it names writer %q, its up said:\n%s", i, st.WriterURL, g.out.String())
		}
		writers[i] = st.WriterURL
		eventually(t, "the watcher's import", func() error {
			out := g.run(g.project, 0, "tree")
			if !strings.Contains(out, "README") {
				return fmt.Errorf("tree: %s", out)
			}
			return nil
		})
		if got := g.run(g.project, 0, "cat", "README"); got != "project "+strconv.Itoa(i)+"\n" {
			t.Fatalf("project %d: cat README = %q", i, got)
		}
	}
	if writers[0] == writers[1] {
		t.Fatalf("both projects reach the writer at %s", writers[0])
	}

	// A second `up` of a running project leaves it alone.
	a, b := systems[0], systems[1]
	out := a.run(a.project, 1, "up", "--project", a.project, "--no-mount")
	if !strings.Contains(out, "already running") || strings.Contains(out, "note:") {
		t.Fatalf("second up of the same project said:\n%s", out)
	}
	if got := a.run(a.project, 0, "cat", "README"); got != "project 0\n" {
		t.Fatalf("after a second up, cat README = %q", got)
	}

	// The first project's agent goes for the second project's tokens.
	a.run(a.project, 0, "init", "claude")
	pre, _ := settingsCommands(t, a.project)
	agentEnv := []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	for _, c := range []struct {
		tool  string
		input map[string]any
	}{
		{"Bash", map[string]any{"command": "cat " + filepath.Join(b.data, "admin.token")}},
		{"Bash", map[string]any{"command": "cat " + filepath.Join(state, "lighthouse", "projects") + "/*/agents/*.token"}},
		{"Read", map[string]any{"file_path": filepath.Join(b.data, "agents", "claude.token")}},
		{"Grep", map[string]any{"pattern": "lh_", "path": state}},
	} {
		r := claudeHook(t, pre, agentEnv, map[string]any{"session_id": "s", "hook_event_name": "PreToolUse", "cwd": a.project,
			"tool_name": c.tool, "tool_input": c.input, "tool_use_id": "t"})
		if reason := r.denied(t); !strings.Contains(reason, "builtin.protected-path") {
			t.Errorf("%s %v: denied %q, want denied by builtin.protected-path", c.tool, c.input, reason)
		}
	}
}

// TestUpRestartsKilledProcesses kills the fuser and the reader that
// `lighthouse up` started with SIGKILL: up restarts each, the fuser detaches
// its stale mount and the mount serves again, with what was written while
// it was down.
func TestUpRestartsKilledProcesses(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("FUSE tests mount directly and need root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	data := t.TempDir()
	mount := filepath.Join(t.TempDir(), "mnt")
	// A project of its own: with a watcher running, `put` writes the disk.
	up := exec.Command(filepath.Join(binDir, "lighthouse"), "up", "--project", t.TempDir(), "--data", data, "--writer-addr", "127.0.0.1:0",
		"--reader-addr", "127.0.0.1:0", "--bus-addr", "127.0.0.1:0", "--mount", mount)
	var out syncBuffer
	up.Stdout, up.Stderr = &out, &out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()
	t.Cleanup(func() {
		up.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			up.Process.Kill()
		}
		if t.Failed() {
			t.Logf("up said:\n%s", tail(out.String(), 6000))
		}
	})
	// up prints its summary line by line: wait for the mount's line too.
	eventually(t, "lighthouse up ready, with its mount", func() error {
		if !strings.Contains(out.String(), "lighthouse is up") || !strings.Contains(out.String(), "  mount   "+mount) {
			return os.ErrNotExist
		}
		return nil
	})
	var writer string
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "writer" {
			writer = f[1]
		}
	}
	put := func(path, content string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "lighthouse"), "put", path)
		cmd.Env = append(os.Environ(), "LIGHTHOUSE_DATA="+data, "LIGHTHOUSE_URL="+writer, "LIGHTHOUSE_TOKEN=")
		cmd.Stdin = strings.NewReader(content)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("lighthouse put %s: %v\n%s", path, err, b)
		}
	}
	inMount := func(path, content string) func() error {
		return func() error {
			b, err := os.ReadFile(filepath.Join(mount, "current", path))
			if err == nil && string(b) != content {
				err = fmt.Errorf("%s = %q", path, b)
			}
			return err
		}
	}
	put("before.txt", "before\n")
	eventually(t, "before.txt in the mount", inMount("before.txt", "before\n"))

	for round, name := range []string{"fuser", "reader", "fuser"} {
		pid := childPid(t, up.Process.Pid, name)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 the %s (%d): %v", name, pid, err)
		}
		path := fmt.Sprintf("while-%d.txt", round)
		put(path, name+"\n") // the writer takes writes while a replica is down
		eventually(t, fmt.Sprintf("round %d: up restarts the %s", round, name), func() error {
			if p, ok := findChild(up.Process.Pid, name); !ok || p == pid {
				return fmt.Errorf("no new %s yet", name)
			}
			return nil
		})
		eventually(t, fmt.Sprintf("round %d: the mount serves %s after the %s restarted", round, path, name), inMount(path, name+"\n"))
	}
	// up says so once the restarted process is ready, which may be just
	// after the mount serves again.
	eventually(t, "up reports two fuser restarts", func() error {
		if n := strings.Count(out.String(), "fuser restarted"); n != 2 {
			return fmt.Errorf("up reported %d fuser restarts, want 2", n)
		}
		return nil
	})
	select {
	case err := <-exited:
		t.Fatalf("up exited: %v", err)
	default:
	}
}

// childPid returns the pid of parent's child process named name.
func childPid(t *testing.T, parent int, name string) int {
	t.Helper()
	var pid int
	eventually(t, "the "+name+" process", func() error {
		p, ok := findChild(parent, name)
		if !ok {
			return fmt.Errorf("%d has no child %s", parent, name)
		}
		pid = p
		return nil
	})
	return pid
}

// findChild finds parent's child named name in /proc.
func findChild(parent int, name string) (int, bool) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces, so cut at the last ')'.
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 2 || s[open+1:end] != name || f[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == parent {
			return pid, true
		}
	}
	return 0, false
}

// TestDaemonLogClosed starts the writer with its log piped into `head -1`
// (bash, for the writer's own exit status): once head has gone, the writer's
// next log line must stop it through its context, not kill it with SIGPIPE
// (status 141), which would leave a fuser's mount behind.
func TestDaemonLogClosed(t *testing.T) {
	t.Parallel()
	line := fmt.Sprintf("%s --data %s --addr 127.0.0.1:0 --bus-addr 127.0.0.1:0 --project-root %s 2>&1 | head -1 >/dev/null; echo ${PIPESTATUS[0]}",
		filepath.Join(binDir, "writer"), t.TempDir(), t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "-c", line).Output()
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if status := strings.TrimSpace(string(out)); status == "141" || status == "" {
		t.Fatalf("the writer exited with status %q after its log closed (141: killed by SIGPIPE)", status)
	}
}
