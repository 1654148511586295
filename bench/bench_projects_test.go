package bench

import (
	"strings"
	"testing"
	"time"
)

func TestBenchStatusMiB(t *testing.T) {
	t.Parallel()
	const status = "Name:\twriter\nVmPeak:\t  900000 kB\nVmHWM:\t   53248 kB\nVmRSS:\t   40960 kB\nThreads:\t12\n"
	const meminfo = "MemTotal:       24684544 kB\nMemFree:        22589440 kB\nMemAvailable:   23482368 kB\n"
	for _, c := range []struct {
		name, text, field string
		want              float64
		err               string
	}{
		{"VmRSS", status, "VmRSS", 40, ""},
		{"VmHWM", status, "VmHWM", 52, ""},
		{"MemAvailable", meminfo, "MemAvailable", 22932, ""},
		{"prefix of another field is not the field", "VmRSSx: 1 kB\n", "VmRSS", 0, "no VmRSS"},
		{"missing", status, "VmSwap", 0, "no VmSwap"},
		{"not kB", "VmRSS: 12 MB\n", "VmRSS", 0, "unexpected"},
		{"not a number", "VmRSS: x kB\n", "VmRSS", 0, "invalid syntax"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := benchStatusMiB(strings.NewReader(c.text), c.field)
			wantParsed(t, got, err, c.want, c.err)
		})
	}
}

// wantParsed fails t unless a parse that should fail (wantErr set) failed
// with an error containing wantErr, or one that should succeed gave want.
func wantParsed[T comparable](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("= %v, %v; want %v", got, err, want)
	}
}

func TestBenchProjVerdict(t *testing.T) {
	t.Parallel()
	p := benchProjParamsFor(false)
	first := benchProjStep{N: 1, Validate: benchLatencies{N: 30, P99: 8 * time.Millisecond}, RSS: 130, MemBudget: 1000}
	fastFirst := benchProjStep{N: 1, Validate: benchLatencies{N: 30, P99: time.Millisecond}}
	step := func(p99 time.Duration, mod func(*benchProjStep)) benchProjStep {
		s := benchProjStep{N: 4, Validate: benchLatencies{N: 120, P99: p99}, RSS: 520, MemBudget: 1000}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	for _, c := range []struct {
		name  string
		first benchProjStep
		s     benchProjStep
		ok    bool
		why   string
	}{
		{"the N=1 step itself", first, first, true, ""},
		{"p99 at 10×", first, step(80*time.Millisecond, nil), true, ""},
		{"p99 over 10×", first, step(81*time.Millisecond, nil), false, "validate p99 81.0 ms > 80.0 ms"},
		{"a fast N=1 uses the floor", fastFirst, step(50*time.Millisecond, nil), true, ""},
		{"over the floor", fastFirst, step(51*time.Millisecond, nil), false, "> 50.0 ms"},
		{"a failed validate", first, step(time.Millisecond, func(s *benchProjStep) { s.Failed = 1 }), false, "1 validates failed"},
		{"an edit not shadowed", first, step(time.Millisecond, func(s *benchProjStep) { s.Unseen = 2 }), false, "2 disk edits"},
		{"a dead process", first, step(time.Millisecond, func(s *benchProjStep) { s.Dead = 1 }), false, "1 processes exited"},
		{"nothing answered", first, step(0, func(s *benchProjStep) { s.Validate.N = 0 }), false, "no validate answered"},
		{"over the memory budget", first, step(time.Millisecond, func(s *benchProjStep) { s.RSS = 1001 }), false, "RSS 1001 MiB > the 1000 MiB budget"},
		{"no budget known", first, step(time.Millisecond, func(s *benchProjStep) { s.RSS, s.MemBudget = 1e9, 0 }), true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ok, why := benchProjVerdict(p, c.first, c.s)
			if ok != c.ok || !strings.Contains(why, c.why) || ok && why != "" {
				t.Fatalf("= %v %q, want %v and a reason containing %q", ok, why, c.ok, c.why)
			}
		})
	}
}
