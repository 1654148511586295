package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBenchMessagesAndProjects runs `lighthouse bench --quick --only
// messages,projects --json` as a user types it: only the selected
// scenarios (and the baselines) run, every message sent reaches its
// recipient's inbox, and every project started stays up, answers its
// validates and shadows its edits. It checks the report, never timings.
func TestBenchMessagesAndProjects(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lh := filepath.Join(binDir, "lighthouse")
	cmd := exec.CommandContext(ctx, lh, "bench", "--quick", "--only", "messages,projects", "--json", "--bin", binDir, "--dir", t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lighthouse bench: %v\n%s", err, tail(stderr.String(), 40))
	}
	var rep struct {
		Figures []struct {
			Scenario, Figure, Unit string
			Value                  float64
		} `json:"figures"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, tail(stdout.String(), 20))
	}
	type key struct{ sc, fig string }
	got := map[key]float64{}
	steps := map[string]bool{} // the projects scenario's per-N names
	var sent, delivered []float64
	for _, f := range rep.Figures {
		got[key{f.Scenario, f.Figure}] = f.Value
		switch {
		case strings.HasPrefix(f.Scenario, "baseline: "), f.Scenario == "projects per machine (summary)":
		case strings.HasPrefix(f.Scenario, "messages: "):
			switch f.Figure {
			case "messages sent":
				sent = append(sent, f.Value)
			case "messages delivered":
				delivered = append(delivered, f.Value)
			}
		case strings.HasPrefix(f.Scenario, "projects per machine: "):
			steps[f.Scenario] = true
		default:
			t.Errorf("scenario %q ran, but --only asked for messages and projects", f.Scenario)
		}
	}
	if len(sent) == 0 || len(sent) != len(delivered) {
		t.Fatalf("messages: sent %v, delivered %v (warnings %v)", sent, delivered, rep.Warnings)
	}
	for i := range sent {
		if sent[i] <= 0 || delivered[i] != sent[i] {
			t.Errorf("messages: %v sent, %v delivered (warnings %v)", sent[i], delivered[i], rep.Warnings)
		}
	}
	if n := got[key{"projects per machine (summary)", "projects per machine (largest N within the limit)"}]; n < 1 {
		t.Errorf("projects per machine = %v, want at least 1 (warnings %v)", n, rep.Warnings)
	}
	if len(steps) < 2 {
		t.Errorf("projects: %d values of N measured, want 2 in a quick run: %v", len(steps), steps)
	}
	for sc := range steps {
		for _, f := range []string{"failed validates", "processes that exited", "projects whose last edit did not reach the reader in 10 s"} {
			if v, ok := got[key{sc, f}]; !ok || v != 0 {
				t.Errorf("%s / %s = %v (reported %v), want 0 (warnings %v)", sc, f, v, ok, rep.Warnings)
			}
		}
		for _, f := range []string{"RSS per project", "validates answered", "disk edits"} {
			if got[key{sc, f}] <= 0 {
				t.Errorf("%s / %s = %v, want > 0", sc, f, got[key{sc, f}])
			}
		}
	}

	// Bad input is a non-zero exit that names it.
	out, err := exec.CommandContext(ctx, lh, "bench", "--only").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "only") {
		t.Errorf("lighthouse bench --only (no value): err %v, output %q; want a non-zero exit naming --only", err, out)
	}
}

// TestBenchOutputClosed runs `lighthouse bench … | true` through sh -c: the
// pipe's reader is gone before the bench prints its table. The bench must
// then clean up as on Ctrl-C (its temporary directory removed, no process
// left on it), not die of SIGPIPE at its first line and leave them behind.
func TestBenchOutputClosed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	line := fmt.Sprintf("%s bench --quick --only lag --bin %s --dir %s | true", filepath.Join(binDir, "lighthouse"), binDir, dir)
	sh := exec.CommandContext(ctx, "sh", "-c", line)
	var stderr bytes.Buffer
	sh.Stderr = &stderr
	sh.WaitDelay = 5 * time.Second // a process left running would hold stderr open
	if err := sh.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, tail(stderr.String(), 40))
	}
	if !strings.Contains(stderr.String(), "bench: stopping writer and reader") {
		t.Fatalf("the bench did not run to its end:\n%s", tail(stderr.String(), 40))
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("the bench left %v in %s after its output closed", left, dir)
	}
	if pids := processesNaming(dir); len(pids) > 0 {
		t.Errorf("processes %v still run on %s", pids, dir)
	}
}

// processesNaming lists the live processes whose command line holds s.
func processesNaming(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) {
			pid, _ := strconv.Atoi(e.Name())
			pids = append(pids, pid)
		}
	}
	return pids
}
