package pebbledb

import (
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Pacing of failed background work (backgroundErrors).
const (
	firstRetryPause = 10 * time.Millisecond
	maxRetryPause   = time.Second
	failureLogEvery = 10 * time.Second
)

// backgroundErrors paces Pebble's retries of a failed flush or compaction.
// Pebble retries at once and without end ("TODO(peter): count consecutive
// flush errors and backoff"): on a full disk a replica spent more than a
// core on it and logged ~4,000 lines a second. This listener logs the
// first failure of a run, then a count every failureLogEvery, and the
// recovery; and it pauses the goroutine that failed before its retry,
// from firstRetryPause doubling to maxRetryPause. Pebble calls it holding
// its database mutex, so a pause also holds off Close, Metrics and a
// memtable switch for at most maxRetryPause; reads do not take that mutex,
// and writes that need a new memtable wait on the failing flush anyway.
type backgroundErrors struct {
	log   *slog.Logger
	now   func() time.Time
	sleep func(time.Duration)

	mu       sync.Mutex
	failures int           // since the last success
	logged   time.Time     // when the run was last logged
	pause    time.Duration // before the next retry
}

func newBackgroundErrors(log *slog.Logger) *backgroundErrors {
	return &backgroundErrors{log: log, now: time.Now, sleep: time.Sleep}
}

// listen sets l's callbacks for background errors and for the ends of
// flushes and compactions.
func (b *backgroundErrors) listen(l *pebble.EventListener) {
	l.BackgroundError = b.failed
	l.FlushEnd = func(info pebble.FlushInfo) { b.ended(info.Err) }
	l.CompactionEnd = func(info pebble.CompactionInfo) { b.ended(info.Err) }
}

// failed logs err when due and pauses before Pebble's retry.
func (b *backgroundErrors) failed(err error) {
	b.mu.Lock()
	now := b.now()
	b.failures++
	switch {
	case b.failures == 1:
		b.logged = now
		b.log.Error("background work failed; retrying with pauses", "err", err)
	case now.Sub(b.logged) >= failureLogEvery:
		b.logged = now
		b.log.Error("background work still failing", "failures", b.failures, "err", err)
	}
	pause := b.pause
	b.pause = min(max(2*b.pause, firstRetryPause), maxRetryPause)
	b.mu.Unlock()
	if pause > 0 {
		b.sleep(pause)
	}
}

// ended ends a run of failures when a flush or compaction succeeds.
func (b *backgroundErrors) ended(err error) {
	if err != nil {
		return // BackgroundError reports it
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures > 0 {
		b.log.Info("background work recovered", "failures", b.failures)
		b.failures, b.pause = 0, 0
	}
}
