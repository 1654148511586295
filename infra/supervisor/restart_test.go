package supervisor

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestSuperviseGivesUpOnAProcessThatKeepsExiting: a process that exits and
// cannot be started again is retried as the policy allows, then Supervise
// returns an error naming it.
func TestSuperviseGivesUpOnAProcessThatKeepsExiting(t *testing.T) {
	t.Parallel()
	p, err := Start("fuser", "/bin/sh", []string{"-c", "exit 3"}, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	// No fuser binary in BinDir: every restart fails.
	s := &System{cfg: Config{BinDir: t.TempDir()}, Fuser: p}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = s.Supervise(ctx, &out, RestartPolicy{Max: 3, Window: time.Minute, Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "fuser exited 4 times") {
		t.Fatalf("Supervise = %v, want it to give up on the fuser\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "restarting the fuser failed"); n != 3 {
		t.Fatalf("%d failed restarts reported, want 3:\n%s", n, out.String())
	}
}

// TestSuperviseStopsWithItsContext: Supervise returns nil when ctx ends.
func TestSuperviseStopsWithItsContext(t *testing.T) {
	t.Parallel()
	p, err := Start("reader", "/bin/sh", []string{"-c", "exec sleep 30"}, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	s := &System{Reader: p}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Supervise(ctx, &bytes.Buffer{}, DefaultRestartPolicy()); err != nil {
		t.Fatal(err)
	}
}
