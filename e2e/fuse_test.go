package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startMounted runs a system with the fuser, or skips where FUSE cannot work.
func startMounted(t *testing.T) (*env, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("FUSE tests mount directly and need root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	e := start(t, true)
	if e.sys.Fuser == nil {
		t.Fatalf("fuser did not start: %v\n%s", e.sys.FuserError, e.out.String())
	}
	return e, e.sys.MountDir()
}

// eventually polls fn until it returns nil or 15 s pass (generous: CI
// machines are small and busy; a pass is usually a few milliseconds).
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestMountServesTheProject(t *testing.T) {
	t.Parallel()
	e, mnt := startMounted(t)
	cur := filepath.Join(mnt, "current")
	e.put(e.admin, "src/main.go", "package main\n// TODO: fix\n")
	e.put(e.admin, "src/util/strings.go", "package util\n")
	first := e.put(e.admin, "README.md", "hello\n")
	eventually(t, "README in the mount", func() error {
		b, err := os.ReadFile(filepath.Join(cur, "README.md"))
		if err == nil && string(b) != "hello\n" {
			err = fmt.Errorf("content %q", b)
		}
		return err
	})
	if got := run(t, "cat", filepath.Join(cur, "src/main.go")); got != "package main\n// TODO: fix\n" {
		t.Fatalf("cat = %q", got)
	}
	if got := run(t, "grep", "-rn", "TODO", cur); !strings.Contains(got, "src/main.go:2:// TODO: fix") {
		t.Fatalf("grep -r = %q", got)
	}
	found := strings.Fields(run(t, "find", cur, "-type", "f", "-name", "*.go"))
	if len(found) != 2 { // find also lists (and caches) current/src
		t.Fatalf("find = %v", found)
	}
	if got := strings.TrimSpace(run(t, "stat", "-c", "%s %a %h", filepath.Join(cur, "src/util/strings.go"))); got != "13 644 1" {
		t.Fatalf("stat = %q", got)
	}
	// Listings are cached by the kernel across opens; once a new file can
	// be opened, a listing of its directory shows it too.
	e.put(e.admin, "src/added.go", "package main\n")
	eventually(t, "new file in the mount", func() error {
		_, err := os.ReadFile(filepath.Join(cur, "src/added.go"))
		return err
	})
	if got := strings.Fields(run(t, "ls", filepath.Join(cur, "src"))); !slices.Equal(got, []string{"added.go", "main.go", "util"}) {
		t.Fatalf("ls current/src after a new file = %v", got)
	}
	// Writes are refused with EROFS.
	err := os.WriteFile(filepath.Join(cur, "new.txt"), []byte("x"), 0o644)
	if !errors.Is(err, syscall.EROFS) {
		t.Fatalf("create in the mount: %v, want EROFS", err)
	}
	if err := os.Remove(filepath.Join(cur, "README.md")); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("remove in the mount: %v, want EROFS", err)
	}
	// A change to a cached file is visible on the next read.
	if b, _ := os.ReadFile(filepath.Join(cur, "README.md")); string(b) != "hello\n" {
		t.Fatalf("cached read %q", b)
	}
	e.put(e.admin, "README.md", "hello, world\n")
	if _, err := e.admin.DeleteFile(context.Background(), "src/util/strings.go"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "changed README in the mount", func() error {
		b, err := os.ReadFile(filepath.Join(cur, "README.md"))
		if err == nil && string(b) != "hello, world\n" {
			err = fmt.Errorf("stale content %q", b)
		}
		return err
	})
	eventually(t, "deleted file gone", func() error {
		if _, err := os.Stat(filepath.Join(cur, "src/util/strings.go")); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	// History: the project as of the first README write.
	past := filepath.Join(mnt, "history", fmt.Sprintf("@%d", first))
	out, err := exec.Command("diff", "-r", past, cur).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "< hello\n") || !strings.Contains(string(out), "Only in "+past+"/src: util") {
		t.Fatalf("diff -r history/@%d current: %v\n%s", first, err, out)
	}
	if b, err := os.ReadFile(filepath.Join(past, "README.md")); err != nil || string(b) != "hello\n" {
		t.Fatalf("history README = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "history", "@999999")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("future point: %v, want ENOENT", err)
	}
}

func TestMountEventsFollowAndRestart(t *testing.T) {
	t.Parallel()
	e, mnt := startMounted(t)
	seq := e.put(e.admin, "a.txt", "a")
	events := filepath.Join(mnt, "events")
	eventually(t, "events file has the write", func() error {
		b, err := os.ReadFile(events)
		if err == nil && !strings.Contains(string(b), fmt.Sprintf(`"seq":%d,`, seq)) {
			err = fmt.Errorf("no seq %d in %d bytes", seq, len(b))
		}
		return err
	})
	// tail -f sees an event appended after it started.
	tail := exec.Command("tail", "-n", "0", "-f", events)
	stdout, _ := tail.StdoutPipe()
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer tail.Process.Kill()
	time.Sleep(300 * time.Millisecond)
	seq = e.put(e.admin, "b.txt", "b")
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	select {
	case l := <-lines:
		if !strings.Contains(l, fmt.Sprintf(`"seq":%d,`, seq)) {
			t.Fatalf("tail -f printed %q, want event %d", l, seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tail -f saw no new event")
	}
	tail.Process.Kill()
	tail.Wait()

	// A restarted fuser resumes from its checkpoint and serves what came meanwhile.
	if err := e.sys.Fuser.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.put(e.admin, "c.txt", "c")
	if err := e.sys.StartFuser(context.Background()); err != nil {
		t.Fatalf("restart fuser: %v\n%s", err, e.out.String())
	}
	if !strings.Contains(e.out.String(), fmt.Sprintf(`"process":"fuser","position":%d`, seq)) {
		t.Fatalf("fuser did not resume from %d:\n%s", seq, e.out.String())
	}
	eventually(t, "c.txt after restart", func() error {
		b, err := os.ReadFile(filepath.Join(mnt, "current", "c.txt"))
		if err == nil && string(b) != "c" {
			err = fmt.Errorf("content %q", b)
		}
		return err
	})

	// Each line of the events file is the writer's event, as JSON encodes
	// it: the fuser serves the bytes it stored, which must be exactly that.
	head, err := e.admin.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := e.admin.Events(context.Background(), 0, int(head))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		want.Write(append(b, '\n'))
	}
	eventually(t, "the events file is the log as JSON lines", func() error {
		b, err := os.ReadFile(events)
		if err == nil && string(b) != want.String() {
			err = fmt.Errorf("%d bytes, want %d:\n%s\nwant:\n%s", len(b), want.Len(), b, want.String())
		}
		return err
	})
}

func TestMountShowsPendingReviews(t *testing.T) {
	t.Parallel()
	e, mnt := startMounted(t)
	builder, _ := e.addAgent("builder", "builder")
	reviewer, _ := e.addAgent("reviewer", "reviewer")
	d := validate(t, builder, bashPayload(t, "git push origin main"))
	if d.Decision != "escalate" {
		t.Fatalf("git push → %+v", d)
	}
	file := filepath.Join(mnt, "pending", d.ReviewID+".json")
	eventually(t, "pending review in the mount", func() error {
		b, err := os.ReadFile(file)
		if err == nil && !strings.Contains(string(b), "git push origin main") {
			err = fmt.Errorf("content %s", b)
		}
		return err
	})
	if err := reviewer.PostJSON(context.Background(), "/v1/reviews/"+d.ReviewID+"/deny", map[string]string{"reason": "no"}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "decided review leaves pending/", func() error {
		if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

// TestFuserKill9Remounts kills the fuser with SIGKILL, which leaves a stale
// mount ("transport endpoint is not connected"); the next start detaches it
// and serves the mount again.
func TestFuserKill9Remounts(t *testing.T) {
	t.Parallel()
	e, mnt := startMounted(t)
	e.put(e.admin, "a.txt", "a")
	eventually(t, "a.txt in the mount", func() error {
		_, err := os.Stat(filepath.Join(mnt, "current", "a.txt"))
		return err
	})
	for round := 0; round < 2; round++ {
		e.sys.Fuser.Kill()
		<-e.sys.Fuser.Done()
		if round == 0 {
			time.Sleep(1500 * time.Millisecond) // past the kernel's 1 s attribute cache of the root
		}
		if _, err := os.Stat(filepath.Join(mnt, "current", fmt.Sprintf("never-%d", round))); !errors.Is(err, syscall.ENOTCONN) {
			t.Fatalf("round %d: after kill -9 the mount answers %v, want a stale mount (ENOTCONN)", round, err)
		}
		e.put(e.admin, fmt.Sprintf("after-%d.txt", round), "b")
		if err := e.sys.StartFuser(context.Background()); err != nil {
			t.Fatalf("round %d: restart after kill -9: %v\n%s", round, err, tail(e.out.String(), 3000))
		}
		eventually(t, "the write made while the fuser was down", func() error {
			b, err := os.ReadFile(filepath.Join(mnt, "current", fmt.Sprintf("after-%d.txt", round)))
			if err == nil && string(b) != "b" {
				err = fmt.Errorf("content %q", b)
			}
			return err
		})
	}
}
