package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"
)

// The machine's own stalls: how often, and for how long, something stops
// a goroutine that only computes — mostly outside the process (the
// kernel's timer tick, the hypervisor, other processes), though the loop
// would also meet this process's own collections and scheduling. On the
// 2-core VMs this project is measured on, a busy thread lost ~42 µs once
// every millisecond (docs/bench-perf.txt item 35): an operation of T µs
// then meets one in about T/10 % of its samples, which that puts past
// 40 µs. A p99 is that stall once the share nears 1 %.

// benchScStalls names the baseline.
const benchScStalls = "baseline: stalls of a busy goroutine (4 KiB SHA-256s back to back)"

// benchStallOver is how much longer than the median iteration of the busy
// loop an iteration must take to count as a stall: several times the
// iteration itself (~2.4 µs here), and far under the stalls it is for.
const benchStallOver = 10 * time.Microsecond

// benchStallsKept bounds the stalls one run records (a machine stalling
// every 100 µs for 2 s has 20,000): the rest are counted, not kept.
const benchStallsKept = 1 << 16

// benchStalls runs the busy loop on one goroutine for the baseline duration
// and reports the stalls it met: their rate, their length (beyond the
// median iteration) and the share of the time they took. The rate is kept
// for the in-process gate's figures (b.stallRate).
func (b *benchRun) benchStalls(ctx context.Context) error {
	b.progress("baseline: stalls of a busy goroutine, %s", b.p.Baseline)
	var block [4096]byte
	hash := func() {
		sum := sha256.Sum256(block[:])
		block[0] = sum[0] // each hash depends on the last
	}
	// The median iteration, from a short run first, so that the loop
	// itself only compares and rarely stores: growing a slice, or
	// touching a fresh page of one, would be a stall of its own making.
	cal := make([]time.Duration, 1001)
	prev := time.Now()
	for i := range cal {
		hash()
		now := time.Now()
		cal[i], prev = now.Sub(prev), now
	}
	median := benchSummarise(cal).P50
	stalls := make([]time.Duration, benchStallsKept)
	n, iterations, lost := 0, 0, time.Duration(0)
	start := time.Now()
	prev = start
	for deadline := start.Add(b.p.Baseline); prev.Before(deadline); iterations++ {
		if iterations%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		hash()
		now := time.Now()
		if lap := now.Sub(prev); lap > median+benchStallOver {
			lost += lap - median
			if n < len(stalls) {
				stalls[n] = lap - median
			}
			n++
			now = time.Now() // the store (a first touch of its page) is not the next lap's
		}
		prev = now
	}
	elapsed := prev.Sub(start)
	s := benchSummarise(stalls[:min(n, len(stalls))])
	b.stallRate = perSecond(n, elapsed)
	b.rep.add(benchScStalls, "iteration p50", us(median), "µs")
	b.rep.add(benchScStalls, fmt.Sprintf("stalls/s (an iteration over its p50 by more than %v)", benchStallOver), b.stallRate, "stalls/s")
	b.rep.add(benchScStalls, "stall p50 (beyond the iteration's p50)", us(s.P50), "µs")
	b.rep.add(benchScStalls, "stall p99", us(s.P99), "µs") // of the first benchStallsKept
	b.rep.add(benchScStalls, "time lost to stalls", 100*ratio(float64(lost), float64(elapsed)), "%")
	b.rep.add(benchScStalls, "iterations", float64(iterations), "iterations")
	return nil
}

// benchStallShare is the share of samples of the given mean length that
// would meet a stall at rate stalls a second by chance, in percent: a
// stall lands in a sample about rate × length times. It bounds the share
// the stalls push past a limit from above: a short stall may not.
func benchStallShare(rate float64, mean time.Duration) float64 {
	return min(100, 100*rate*mean.Seconds())
}

// benchShareOver is the share of samples over limit, in percent.
func benchShareOver(samples []time.Duration, limit time.Duration) float64 {
	if len(samples) == 0 {
		return 0
	}
	n := 0
	for _, s := range samples {
		if s > limit {
			n++
		}
	}
	return 100 * float64(n) / float64(len(samples))
}

// benchMean is the mean of samples, 0 for none.
func benchMean(samples []time.Duration) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return sum / time.Duration(len(samples))
}
