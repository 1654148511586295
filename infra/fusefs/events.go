package fusefs

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// checkpointEvery is how many events lie between two byte-offset
// checkpoints of the events file: a read re-encodes at most this many
// events before the bytes it wants.
const checkpointEvery = 64

// checkpoint says: the events after seq `after` start at byte off.
type checkpoint struct {
	after uint64
	off   int64
}

// eventLog renders the event log as JSON lines, one domain.Event per line,
// without holding it in memory: it keeps a sparse, append-only index of
// byte offsets, and reads re-encode events paged from the Source.
// Encoding is deterministic, so a line always has the length it was
// indexed with.
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

// encodeEvent is an event's line in the events file: its stored form (the
// bytes the replica received and checked, which json.Marshal of the event
// reproduces; no encoding is paid for an event decoded from them) and a
// newline.
func encodeEvent(ev *domain.Event) ([]byte, error) {
	b, err := ev.Stored()
	if err != nil {
		return nil, err
	}
	line := make([]byte, len(b)+1)
	copy(line, b)
	line[len(b)] = '\n'
	return line, nil
}

// extend indexes the events up to the Source's head. It returns the size
// before and after.
func (l *eventLog) extend(ctx context.Context) (before, after int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	before = l.size
	head := l.src.Head()
	for l.seq < head {
		evs, err := l.src.Events(ctx, l.seq, 1024)
		if err != nil {
			return before, l.size, fmt.Errorf("events after %d: %w", l.seq, err)
		}
		if len(evs) == 0 {
			break
		}
		for i := range evs {
			ev := &evs[i]
			if ev.Seq <= l.seq {
				continue // defensive: the Source repeated itself
			}
			if ev.Seq > head {
				return before, l.size, nil
			}
			stored, err := ev.Stored()
			if err != nil {
				return before, l.size, err
			}
			if l.sinceCp == checkpointEvery {
				l.cps = append(l.cps, checkpoint{after: l.seq, off: l.size})
				l.sinceCp = 0
			}
			l.size += int64(len(stored)) + 1 // the line encodeEvent renders
			l.seq = ev.Seq
			l.lastTime = ev.Time
			l.sinceCp++
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
		evs, err := l.src.Events(ctx, after, limit)
		if err != nil {
			return filled, fmt.Errorf("events after %d: %w", after, err)
		}
		if len(evs) == 0 {
			return filled, fmt.Errorf("events after %d: log ended at byte %d, indexed up to %d", after, pos, size)
		}
		for k := range evs {
			ev := &evs[k]
			if ev.Seq <= after {
				continue
			}
			line, err := encodeEvent(ev)
			if err != nil {
				return filled, err
			}
			lineEnd := pos + int64(len(line))
			if lineEnd > off {
				from := int64(0)
				if off > pos {
					from = off - pos
				}
				to := int64(len(line))
				if lineEnd > end {
					to -= lineEnd - end
				}
				filled += copy(dest[pos+from-off:], line[from:to])
			}
			pos = lineEnd
			after = ev.Seq
			if pos >= end {
				break
			}
		}
	}
	return filled, nil
}
