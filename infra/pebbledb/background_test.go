package pebbledb

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestBackgroundErrorsPaceRetries: the retries of a run of failures pause
// 0, 10 ms, 20 ms … up to 1 s; the run is logged at its first failure and
// then every 10 s, not at each; a success logs the recovery and starts the
// pauses over.
func TestBackgroundErrorsPaceRetries(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	clock := time.Unix(0, 0)
	var pauses []time.Duration
	b := newBackgroundErrors(slog.New(slog.NewTextHandler(&out, nil)))
	b.now = func() time.Time { return clock }
	b.sleep = func(d time.Duration) { pauses = append(pauses, d); clock = clock.Add(d) }
	errFull := errors.New("no space left on device")

	for range 20 {
		b.failed(errFull)
	}
	want := []time.Duration{10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}
	if len(pauses) != len(want) {
		t.Fatalf("pauses = %v, want %v ms", pauses, want)
	}
	for i, w := range want {
		if pauses[i] != w*time.Millisecond {
			t.Fatalf("pause %d = %v, want %v ms (all: %v)", i+2, pauses[i], w, pauses)
		}
	}
	// 20 failures over 13.27 s: logged at the first and once 10 s later.
	if n := strings.Count(out.String(), "\n"); n != 2 || !strings.Contains(out.String(), "still failing") {
		t.Fatalf("logged %d lines, want 2:\n%s", n, out.String())
	}

	b.ended(errFull) // a failed flush's end changes nothing
	b.ended(nil)
	if !strings.Contains(out.String(), "background work recovered") || !strings.Contains(out.String(), "failures=20") {
		t.Fatalf("no recovery logged:\n%s", out.String())
	}
	pauses = nil
	b.failed(errFull)
	b.failed(errFull)
	if len(pauses) != 1 || pauses[0] != 10*time.Millisecond {
		t.Fatalf("pauses after a recovery = %v, want [10ms]", pauses)
	}
	lines := strings.Count(out.String(), "\n")
	b.ended(nil)
	b.ended(nil)
	if n := strings.Count(out.String(), "\n"); n != lines+1 {
		t.Fatalf("successes without failures logged:\n%s", out.String())
	}
}
