// Package e2e runs the real binaries (writer, reader, fuser) against real
// Pebble directories and the real bus, and talks to them over HTTP.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	lhcli "github.com/lighthouse-ai/lighthouse/infra/cli"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// binDir holds the binaries under test: $LIGHTHOUSE_BIN, or a fresh build.
var binDir string

// gateProject is the project directory the gate tests guard: real, so the
// writer can resolve it, and shared, set once by TestMain.
var gateProject string

func TestMain(m *testing.M) {
	if lhcli.InAgentSession() && os.Getenv(detachedEnv) == "" {
		os.Exit(runDetached())
	}
	os.Exit(runTests(m))
}

// runTests prepares what the tests share (the binaries, the quoted install path
// and the gate's project), runs them and removes what it made.
func runTests(m *testing.M) int {
	binDir = os.Getenv("LIGHTHOUSE_BIN")
	if binDir == "" {
		dir, err := os.MkdirTemp("", "lighthouse-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/lighthouse-ai/lighthouse/cmd/...")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build binaries:", err)
			return 1
		}
		binDir = dir
	}
	quoted, err := os.MkdirTemp("", "lighthouse-quoted-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(quoted)
	if quotedBin, err = installQuoted(quoted); err != nil {
		fmt.Fprintln(os.Stderr, "install the quoted binary:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "lighthouse-project-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "project dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if gateProject, err = filepath.EvalSymlinks(dir); err != nil {
		fmt.Fprintln(os.Stderr, "project dir:", err)
		return 1
	}
	return m.Run()
}

// quotedBin is the lighthouse binary installed in a directory whose name has
// two spaces and a quote, as a user's install path may. It is copied once,
// before any test runs: a copy made while parallel tests fork would leave
// its write descriptor in a forked child until that child execs, and running
// the copy then fails with "text file busy".
var quotedBin string

// installQuoted copies the lighthouse binary into "my  tools/it's" under
// dir and returns its path.
func installQuoted(dir string) (string, error) {
	dir = filepath.Join(dir, "my  tools", "it's")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	src, err := os.Open(filepath.Join(binDir, "lighthouse"))
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst := filepath.Join(dir, "lighthouse")
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return "", err
	}
	return dst, f.Close()
}

// detachedEnv marks the test binary runDetached started.
const detachedEnv = "LH_E2E_DETACHED"

// runDetached runs this test binary again outside the Claude Code session
// this one runs in (a developer's agent running make test): the tests act
// as people too, and the CLI refuses people's admin-token fallback to any
// process below one that started with CLAUDECODE. The copy starts without
// the variable, in a background subshell whose parent exits at once, so
// its only ancestor is the system's. It returns the copy's exit status.
func runDetached() int {
	codeFile, err := os.CreateTemp("", "lighthouse-e2e-code-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	codeFile.Close()
	defer os.Remove(codeFile.Name())
	cmd := exec.Command("/bin/sh", "-c", `("$@"; echo $? > "$LH_E2E_CODE_FILE") &`, "sh", os.Args[0])
	cmd.Args = append(cmd.Args, os.Args[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLAUDECODE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, detachedEnv+"=1", "LH_E2E_CODE_FILE="+codeFile.Name())
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	io.Copy(os.Stdout, out) // until the copy and its subshell close it
	cmd.Wait()
	raw, err := os.ReadFile(codeFile.Name())
	code, convErr := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || convErr != nil {
		fmt.Fprintln(os.Stderr, "e2e: the detached test run left no exit status")
		return 1
	}
	return code
}

// syncBuffer collects process output for assertions and for failure logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type env struct {
	t      *testing.T
	sys    *supervisor.System
	out    *syncBuffer
	admin  *client.Client // writer, as admin
	reader *client.Client // reader, as admin
	data   string
}

// start runs a whole system in a temp dir and stops it when the test ends.
// Writer flags may be added; by default the rate limit is off.
func start(t *testing.T, mount bool, writerArgs ...string) *env {
	t.Helper()
	cfg := supervisor.Config{WriterArgs: append([]string{"--rate", "0"}, writerArgs...)}
	if mount {
		cfg.Mount = filepath.Join(t.TempDir(), "mnt")
	}
	return startConfig(t, cfg)
}

// startConfig runs the system cfg describes, with the binaries under test
// (and a temp data directory unless cfg names one), and stops it when the test ends.
func startConfig(t *testing.T, cfg supervisor.Config) *env {
	t.Helper()
	out := &syncBuffer{}
	if cfg.Data == "" {
		cfg.Data = t.TempDir()
	}
	data := cfg.Data
	cfg.BinDir, cfg.Output = binDir, out
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sys, err := supervisor.StartSystem(ctx, cfg)
	if err != nil {
		t.Fatalf("start system: %v\n%s", err, out.String())
	}
	e := &env{t: t, sys: sys, out: out, data: data,
		admin: client.New(sys.WriterURL, sys.AdminToken), reader: client.New(sys.ReaderURL, sys.AdminToken)}
	t.Cleanup(func() {
		if err := sys.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if t.Failed() {
			t.Logf("process output:\n%s", tail(out.String(), 6000))
		}
	})
	return e
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// addAgent registers an agent and returns a writer client with its token.
func (e *env) addAgent(name, role string) (*client.Client, string) {
	e.t.Helper()
	var out struct {
		Agent struct {
			ID string `json:"id"`
		} `json:"agent"`
		Token string `json:"token"`
	}
	if err := e.admin.PostJSON(context.Background(), "/v1/agents", map[string]string{"name": name, "role": role}, &out); err != nil {
		e.t.Fatalf("add agent %s: %v", name, err)
	}
	return client.New(e.sys.WriterURL, out.Token), out.Agent.ID
}

func (e *env) put(c *client.Client, path, content string) uint64 {
	e.t.Helper()
	res, err := c.WriteFile(context.Background(), path, strings.NewReader(content), client.WriteOptions{})
	if err != nil {
		e.t.Fatalf("put %s: %v", path, err)
	}
	return res.Seq
}

// readFile reads a file from the reader after it has applied minSeq.
func (e *env) readFile(path string, minSeq uint64) (string, error) {
	body, err := e.reader.Open(context.Background(), fmt.Sprintf("%s?min_seq=%d", client.FilePath(path), minSeq))
	if err != nil {
		return "", err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	return string(b), err
}

// raw sends a request with an exact, uncleaned path.
func (e *env) raw(method, base, rawPath, token string, body io.Reader) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, base+"/", body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.URL.Opaque = rawPath
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) writerHead() uint64 {
	e.t.Helper()
	var st struct {
		Head uint64 `json:"head"`
	}
	if _, err := e.admin.Do(context.Background(), "GET", "/v1/status", nil, nil, &st); err != nil {
		e.t.Fatalf("writer status: %v", err)
	}
	return st.Head
}
