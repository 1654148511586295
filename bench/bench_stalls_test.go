package bench

import (
	"testing"
	"time"
)

func TestBenchStallFigures(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	for _, c := range []struct {
		name      string
		samples   []time.Duration
		rate      float64 // stalls a second
		over      float64 // % of samples over 20 µs
		mean      time.Duration
		meetStall float64 // % expected to meet a stall
	}{
		{"none", nil, 1000, 0, 0, 0},
		{"the tick of a 1 kHz VM on 3 µs samples", []time.Duration{3 * us, 3 * us, 3 * us, 3 * us}, 1000, 0, 3 * us, 0.3},
		{"one of four over", []time.Duration{2 * us, 4 * us, 20 * us, 46 * us}, 1000, 25, 18 * us, 1.8},
		{"exactly the limit is not over", []time.Duration{20 * us}, 0, 0, 20 * us, 0},
		{"a share is at most all of them", []time.Duration{2 * time.Second}, 1000, 100, 2 * time.Second, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := benchShareOver(c.samples, 20*us); got != c.over {
				t.Errorf("over 20 µs: %v %%, want %v %%", got, c.over)
			}
			mean := benchMean(c.samples)
			if mean != c.mean {
				t.Errorf("mean %v, want %v", mean, c.mean)
			}
			if got := benchStallShare(c.rate, mean); got < c.meetStall-1e-9 || got > c.meetStall+1e-9 {
				t.Errorf("expected to meet a stall: %v %%, want %v %%", got, c.meetStall)
			}
		})
	}
}
