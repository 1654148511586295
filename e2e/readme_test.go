package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock returns the lines of the sh block that follows the marker
// "<!-- quickstart:NAME" in the README.
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	state := 0 // 0 before the marker, 1 before the fence, 2 inside
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case state == 0 && strings.HasPrefix(l, "<!-- quickstart:"+name+" "):
			state = 1
		case state == 1 && l == "```sh":
			state = 2
		case state == 2 && l == "```":
			return strings.Join(lines, "\n") + "\n"
		case state == 2:
			lines = append(lines, l)
		}
	}
	t.Fatalf("README.md has no quickstart:%s sh block", name)
	return ""
}

// TestReadmeQuickStart runs the README's "Guard a project with Claude Code"
// commands exactly as written, in a fresh home directory: the first
// terminal's block in the background, then the second terminal's.
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq is not installed (scripts/deps.sh installs it)")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := []string{"HOME=" + home}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "LIGHTHOUSE_") || strings.HasPrefix(k, "XDG_") || k == "HOME" || k == "CLAUDECODE" {
			continue
		}
		env = append(env, kv)
	}
	// The Go caches stay where they are (a fresh HOME would rebuild
	// everything), and the ports are free ones rather than the defaults.
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, k+"="+strings.TrimSpace(string(out)))
	}
	for _, k := range []string{"LIGHTHOUSE_WRITER_ADDR", "LIGHTHOUSE_READER_ADDR", "LIGHTHOUSE_BUS_ADDR"} {
		env = append(env, k+"=127.0.0.1:0")
	}

	term1 := exec.Command("bash", "-e", "-c", readmeBlock(t, "terminal1"))
	term1.Dir, term1.Env = repo, env
	term1.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out1 := &syncBuffer{}
	term1.Stdout, term1.Stderr = out1, out1
	if err := term1.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- term1.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-term1.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			syscall.Kill(-term1.Process.Pid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("terminal 1:\n%s", tail(out1.String(), 4000))
		}
	})
	deadline := time.Now().Add(4 * time.Minute) // make run may build
	for !strings.Contains(out1.String(), "lighthouse is up") {
		select {
		case err := <-exited:
			t.Fatalf("terminal 1 exited: %v\n%s", err, out1.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("lighthouse did not come up:\n%s", out1.String())
		}
	}
	if !strings.Contains(out1.String(), "project "+filepath.Join(home, "shop")) {
		t.Errorf("up does not name the project:\n%s", out1.String())
	}

	term2 := exec.Command("bash", "-e", "-c", readmeBlock(t, "terminal2"))
	term2.Dir, term2.Env = repo, env
	out, err := term2.CombinedOutput()
	if err != nil {
		t.Fatalf("terminal 2: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		"added the Lighthouse hooks to " + filepath.Join(home, "shop", ".claude", "settings.local.json"),
		"ok    token     the hooks act as agent claude (builder)",
		"ok    writer",
		`"permissionDecision":"deny"`,
		"(rule rm-",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal 2 output lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, `"permissionDecision"`) != 1 || strings.Contains(got, "FAIL") {
		t.Errorf("want exactly one decision printed (the deny) and no failed check:\n%s", got)
	}
	if lines := strings.Split(strings.TrimSpace(got), "\n"); lines[len(lines)-1] != "// edited by the agent" {
		t.Errorf("the shadowed main.go does not end with the edit:\n%s", got)
	}
}
