package bench

import (
	"slices"
	"testing"
	"time"
)

func TestBenchMsgSubject(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		subject   string
		round, i  int
		wantMatch bool
	}{
		{benchMsgSubject(0, 0), 0, 0, true},
		{benchMsgSubject(3, 1999), 3, 1999, true},
		{"bench r1 #", 0, 0, false},
		{"bench r #4", 0, 0, false},
		{"bench r1 #-4", 0, 0, false},
		{"bench r1 #4x", 0, 0, false},
		{"review this please", 0, 0, false},
		{"", 0, 0, false},
	} {
		round, i, ok := benchParseMsgSubject(c.subject)
		if ok != c.wantMatch || ok && (round != c.round || i != c.i) {
			t.Errorf("%q: = %d, %d, %v; want %d, %d, %v", c.subject, round, i, ok, c.round, c.i, c.wantMatch)
		}
	}
}

// TestBenchDeliveries checks that a message counts once, at its first
// delivery, that other rounds' and unknown messages are ignored, and that
// latencies run from the scheduled send time.
func TestBenchDeliveries(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	loop := benchOpenLoop{Rate: 100, Calls: 4} // one every 10 ms
	d := newBenchDeliveries(2, loop.Calls)
	steps := []struct {
		subject string
		after   time.Duration // from start
		first   bool
	}{
		{benchMsgSubject(2, 0), 5 * time.Millisecond, true},
		{benchMsgSubject(2, 0), 9 * time.Millisecond, false},  // the same message in a later poll
		{benchMsgSubject(1, 1), 11 * time.Millisecond, false}, // a message of another round
		{benchMsgSubject(2, 9), 12 * time.Millisecond, false}, // beyond the round's messages
		{"hello", 12 * time.Millisecond, false},               // not the bench's
		{benchMsgSubject(2, 2), 27 * time.Millisecond, true},  // 7 ms after its send at 20 ms
		{benchMsgSubject(2, 1), 27 * time.Millisecond, true},  // 17 ms after its send at 10 ms
		{benchMsgSubject(2, 2), 40 * time.Millisecond, false},
	}
	for _, s := range steps {
		if got := d.saw(s.subject, start.Add(s.after)); got != s.first {
			t.Errorf("saw(%q) = %v, want %v", s.subject, got, s.first)
		}
	}
	if n := d.delivered(); n != 3 {
		t.Errorf("delivered = %d, want 3", n)
	}
	lat, missing := d.latencies(func(i int) time.Time { return loop.at(start, i) })
	slices.Sort(lat)
	want := []time.Duration{5 * time.Millisecond, 7 * time.Millisecond, 17 * time.Millisecond}
	if !slices.Equal(lat, want) || missing != 1 {
		t.Errorf("latencies = %v, missing %d; want %v, missing 1", lat, missing, want)
	}
}
