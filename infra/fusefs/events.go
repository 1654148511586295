package fusefs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// checkpointEvery is how many events lie between two byte-offset
// checkpoints of the events file: a read walks at most this many events
// before the bytes it wants.
const checkpointEvery = 64

// errFilled stops a walk of the log once a read has its bytes.
var errFilled = errors.New("read filled")

// checkpoint says: the events after seq `after` start at byte off.
type checkpoint struct {
	after uint64
	off   int64
}

// eventLog renders the event log as JSON lines, one domain.Event per line,
// without holding it in memory: it keeps a sparse, append-only index of
// byte offsets, and reads copy the events' stored forms paged from the
// Source. A stored event never changes, so a line always has the length it
// was indexed with.
type eventLog struct {
	src Source

	mu       sync.Mutex // serialises extend
	seq      uint64     // last indexed event
	size     int64      // bytes of all indexed lines
	lastTime time.Time  // time of the last indexed event
	cps      []checkpoint
	sinceCp  int // events indexed since the last checkpoint
}

func newEventLog(src Source) *eventLog {
	return &eventLog{src: src, cps: []checkpoint{{0, 0}}}
}

// extend indexes the events up to the Source's head. It returns the size
// before and after. It reads the events' stored forms and decodes only the
// last one of each page, for its time: indexing pays no decoding.
func (l *eventLog) extend(ctx context.Context) (before, after int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	before = l.size
	head := l.src.Head()
	var last []byte // the stored form of the page's last indexed event
	for l.seq < head {
		last = last[:0]
		err := l.src.StoredEvents(ctx, l.seq, 1024, func(seq uint64, stored []byte) error {
			if seq <= l.seq || seq > head {
				return nil // defensive: the Source repeated itself; or past the head read above
			}
			if l.sinceCp == checkpointEvery {
				l.cps = append(l.cps, checkpoint{after: l.seq, off: l.size})
				l.sinceCp = 0
			}
			l.size += int64(len(stored)) + 1 // the line readAt renders
			l.seq = seq
			l.sinceCp++
			last = append(last[:0], stored...)
			return nil
		})
		// The time goes with what was indexed, even when the walk failed
		// part way: the size and the time move together.
		if len(last) > 0 {
			ev, derr := domain.DecodeEvent(last)
			if derr != nil {
				return before, l.size, fmt.Errorf("event %d: %w", l.seq, derr)
			}
			l.lastTime = ev.Time
		}
		if err != nil {
			return before, l.size, fmt.Errorf("events after %d: %w", l.seq, err)
		}
		if len(last) == 0 {
			break
		}
	}
	return before, l.size, nil
}

// stat returns the indexed size and the time of the last indexed event.
func (l *eventLog) stat() (int64, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size, l.lastTime
}

// readAt fills dest with the bytes of the rendering at off, up to the
// indexed size. It returns how many bytes it filled.
func (l *eventLog) readAt(ctx context.Context, dest []byte, off int64) (int, error) {
	l.mu.Lock()
	size := l.size
	cps := l.cps // append-only: this prefix stays valid
	l.mu.Unlock()

	if off >= size || len(dest) == 0 {
		return 0, nil
	}
	end := off + int64(len(dest))
	if end > size {
		end = size
	}
	i := sort.Search(len(cps), func(i int) bool { return cps[i].off > off }) - 1
	pos, after := cps[i].off, cps[i].after
	limit := checkpointEvery + len(dest)/64 + 1
	if limit > 4096 {
		limit = 4096
	}
	filled := 0
	for pos < end {
		read := false
		err := l.src.StoredEvents(ctx, after, limit, func(seq uint64, stored []byte) error {
			if seq <= after {
				return nil
			}
			read = true
			// The line is stored and a newline; copy the part of it in [off, end).
			lineEnd := pos + int64(len(stored)) + 1
			if lineEnd > off {
				from := max(off-pos, 0)
				to := min(lineEnd, end) - pos
				dst := dest[pos+from-off:]
				if from < int64(len(stored)) {
					n := copy(dst, stored[from:min(to, int64(len(stored)))])
					filled += n
					dst = dst[n:]
				}
				if to == int64(len(stored))+1 {
					dst[0] = '\n'
					filled++
				}
			}
			pos = lineEnd
			after = seq
			if pos >= end {
				return errFilled
			}
			return nil
		})
		if err != nil && !errors.Is(err, errFilled) {
			return filled, fmt.Errorf("events after %d: %w", after, err)
		}
		if !read && pos < end {
			return filled, fmt.Errorf("events after %d: log ended at byte %d, indexed up to %d", after, pos, size)
		}
	}
	return filled, nil
}
