package fusefs

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestEventLogReadAt reads the events file's rendering at every offset, in
// lengths that end inside a line, on its newline and past the end, and
// checks each against the whole log rendered at once. It also checks the
// index's size and time after growth in pages smaller and larger than one
// read.
func TestEventLogReadAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := newFakeSource()
	for i := range 23 {
		src.write("f"+strconv.Itoa(i%5)+".txt", strings.Repeat("x", i*7), 0o644)
	}
	l := newEventLog(src)
	before, after, err := l.extend(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := src.allEvents(t)
	if before != 0 || after != int64(len(want)) {
		t.Fatalf("extend: %d -> %d bytes, want 0 -> %d", before, after, len(want))
	}
	size, mtime := l.stat()
	if last := src.events[len(src.events)-1].Time; size != int64(len(want)) || !mtime.Equal(last) {
		t.Fatalf("stat: %d bytes at %v, want %d at %v", size, mtime, len(want), last)
	}
	for _, n := range []int{1, 2, 77, 1000, len(want) + 1} {
		buf := make([]byte, n)
		for off := range int64(len(want)) {
			got, err := l.readAt(ctx, buf, off)
			if err != nil {
				t.Fatalf("readAt(%d bytes, %d): %v", n, off, err)
			}
			if w := want[off:min(off+int64(n), int64(len(want)))]; !bytes.Equal(buf[:got], w) {
				t.Fatalf("readAt(%d bytes, %d) = %q, want %q", n, off, buf[:got], w)
			}
		}
	}
	if got, err := l.readAt(ctx, make([]byte, 10), int64(len(want))); got != 0 || err != nil {
		t.Errorf("readAt at the end = %d, %v; want 0, nil", got, err)
	}

	// Growth past a page of the index (1,024 events) and its checkpoints.
	for i := range 1500 {
		src.write("g.txt", strconv.Itoa(i), 0o644)
	}
	before, after, err = l.extend(ctx)
	want = src.allEvents(t)
	if err != nil || after != int64(len(want)) || before == after {
		t.Fatalf("extend: %d -> %d bytes, %v; want -> %d", before, after, err, len(want))
	}
	if _, mtime := l.stat(); !mtime.Equal(src.events[len(src.events)-1].Time) {
		t.Errorf("stat time %v, want the last event's", mtime)
	}
	buf := make([]byte, 4096)
	for off := int64(0); off < int64(len(want)); off += 997 {
		got, err := l.readAt(ctx, buf, off)
		if w := want[off:min(off+4096, int64(len(want)))]; err != nil || !bytes.Equal(buf[:got], w) {
			t.Fatalf("readAt(4096 bytes, %d) = %d bytes, %v; want %d", off, got, err, len(w))
		}
	}
}

// failingEvents is a Source whose walks of the log fail after failAfter
// events in all (once), mid-page.
type failingEvents struct {
	*fakeSource
	failAfter int
	walked    int
}

func (s *failingEvents) StoredEvents(ctx context.Context, after uint64, limit int, fn func(seq uint64, stored []byte) error) error {
	return s.fakeSource.StoredEvents(ctx, after, limit, func(seq uint64, stored []byte) error {
		if s.walked == s.failAfter {
			s.walked++
			return errors.New("the store failed")
		}
		s.walked++
		return fn(seq, stored)
	})
}

// TestEventLogExtendFailsMidPage: a walk that fails part way keeps what it
// indexed, with the time of the last event it indexed, and the next extend
// goes on from there.
func TestEventLogExtendFailsMidPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, failAfter := range []int{0, 1, 150, 1023, 1024, 1199} {
		src := &failingEvents{fakeSource: newFakeSource(), failAfter: failAfter}
		for i := range 1200 {
			src.write("f.txt", strconv.Itoa(i), 0o644)
		}
		l := newEventLog(src)
		if _, _, err := l.extend(ctx); err == nil {
			t.Fatalf("fail after %d: extend succeeded", failAfter)
		}
		all := src.allEvents(t)
		size, mtime := l.stat()
		indexed := bytes.Count(all[:size], []byte("\n"))
		if size > 0 && all[size-1] != '\n' {
			t.Fatalf("fail after %d: size %d is not at a line's end", failAfter, size)
		}
		if indexed != failAfter {
			t.Errorf("fail after %d: %d events indexed", failAfter, indexed)
		}
		if indexed > 0 && !mtime.Equal(src.events[indexed-1].Time) {
			t.Errorf("fail after %d: time %v, want event %d's %v", failAfter, mtime, indexed, src.events[indexed-1].Time)
		}
		if _, after, err := l.extend(ctx); err != nil || after != int64(len(all)) {
			t.Errorf("fail after %d: the next extend: %d bytes, %v; want %d", failAfter, after, err, len(all))
		}
		if _, mtime := l.stat(); !mtime.Equal(src.events[len(src.events)-1].Time) {
			t.Errorf("fail after %d: time %v after the next extend, want the last event's", failAfter, mtime)
		}
	}
}
