package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// corpusDir holds the public gate corpus: policy test case files for the
// built-in policy, one per class of call.
const corpusDir = "../../testdata/gate-corpus"

var corpusSummary = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// TestGateCorpus runs every corpus file through `lighthouse policy test`, as
// a user would: the binary in LIGHTHOUSE_BIN (set by `make test`), or else
// the same code path in process. Every case of every file must pass.
func TestGateCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no corpus files in %s", corpusDir)
	}
	bin := os.Getenv("LIGHTHOUSE_BIN")
	if bin != "" {
		bin = filepath.Join(bin, "lighthouse")
		if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
			t.Fatalf("LIGHTHOUSE_BIN is set but has no lighthouse binary: %v", err)
		}
	}
	total := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var out string
			var runErr error
			if bin != "" {
				cmd := exec.Command(bin, "policy", "test", "-policy", "", f)
				cmd.Env = append(os.Environ(), "LIGHTHOUSE_POLICY=")
				var buf bytes.Buffer
				cmd.Stdout, cmd.Stderr = &buf, &buf
				runErr = cmd.Run()
				out = buf.String()
			} else {
				out, runErr = captureStdout(t, func() error { return policyTest(policySource{from: "the test"}, f) })
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "FAIL") {
					t.Error(line)
				}
			}
			m := corpusSummary.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no summary line in output (err %v):\n%s", runErr, out)
			}
			passed, _ := strconv.Atoi(m[1])
			failed, _ := strconv.Atoi(m[2])
			if failed != 0 || runErr != nil {
				t.Errorf("%d passed, %d failed (err %v)", passed, failed, runErr)
			}
			if passed == 0 {
				t.Errorf("%s has no cases", f)
			}
			total += passed
		})
	}
	t.Logf("gate corpus: %d cases in %d files", total, len(files))
}

// captureStdout runs fn with os.Stdout redirected and returns what it printed.
func captureStdout(t *testing.T, fn func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r)
		done <- b.Bytes()
	}()
	runErr := fn()
	os.Stdout = old
	w.Close()
	return string(<-done), runErr
}
