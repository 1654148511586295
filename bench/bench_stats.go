package bench

import (
	"math"
	"slices"
	"time"
)

// benchPercentile returns the p-th percentile (0 < p <= 100) of sorted
// samples by the nearest-rank method: the smallest sample with at least p%
// of the samples at or below it. It returns 0 for no samples.
func benchPercentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// benchLatencies summarises a set of latency samples.
type benchLatencies struct {
	N                   int
	P50, P99, P999, Max time.Duration
}

// benchSummarise sorts samples (in place) and takes the percentiles.
func benchSummarise(samples []time.Duration) benchLatencies {
	slices.Sort(samples)
	s := benchLatencies{N: len(samples)}
	if len(samples) == 0 {
		return s
	}
	s.P50 = benchPercentile(samples, 50)
	s.P99 = benchPercentile(samples, 99)
	s.P999 = benchPercentile(samples, 99.9)
	s.Max = samples[len(samples)-1]
	return s
}

// ms and us express a duration as fractional milliseconds / microseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// perSecond is n events over d, as a rate.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
