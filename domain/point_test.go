package domain

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

// pointLog is a log for points: sets[i] is the change set of event i+1.
type pointLog struct {
	t0   time.Time
	sets []ChangeSet
}

func (l pointLog) Event(seq uint64) (Event, error) {
	if seq == 0 || seq > uint64(len(l.sets)) {
		return Event{}, fmt.Errorf("no event %d", seq)
	}
	return Event{Seq: seq, Time: l.t0.Add(time.Duration(seq) * time.Second), ChangeSet: l.sets[seq-1]}, nil
}

func (l pointLog) SeqAtTime(t time.Time) (uint64, error) {
	return SeqAtTime(uint64(len(l.sets)), t, l.Event)
}

func (l pointLog) Snapshot(name string) (uint64, bool, error) {
	if name == "mid" {
		return 3, true, nil // a snapshot recorded inside a set (never written so, but read so)
	}
	return 0, false, nil
}

// TestPointsRoundDownToChangeSetEdges: a point inside an atomic change set
// answers as of just before the set, whatever names the point.
func TestPointsRoundDownToChangeSetEdges(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := SpanOf(1, 3), SpanOf(5, 2) // 2-4 and 6-7
	log := pointLog{t0: t0, sets: []ChangeSet{{}, a, a, a, {}, b, b}}
	startsWithSet := pointLog{t0: t0, sets: []ChangeSet{SpanOf(0, 2), SpanOf(0, 2), {}}}
	cases := []struct {
		name string
		log  pointLog
		p    Point
		want uint64
		err  string // the ValidationError's code, when it fails
	}{
		{"lone event", log, Point{Seq: 1}, 1, ""},
		{"first of a set", log, Point{Seq: 2}, 1, ""},
		{"inside a set", log, Point{Seq: 3}, 1, ""},
		{"last of a set", log, Point{Seq: 4}, 4, ""},
		{"after a set", log, Point{Seq: 5}, 5, ""},
		{"inside the last set", log, Point{Seq: 6}, 5, ""},
		{"head", log, Point{Seq: 7}, 7, ""},
		{"time inside a set", log, Point{Time: t0.Add(3*time.Second + time.Millisecond)}, 1, ""},
		{"time at a set's end", log, Point{Time: t0.Add(4 * time.Second)}, 4, ""},
		{"snapshot inside a set", log, Point{Snapshot: "mid"}, 1, ""},
		{"inside the set that starts the log", startsWithSet, Point{Seq: 1}, 0, "point_before_history"},
		{"after the set that starts the log", startsWithSet, Point{Seq: 3}, 3, ""},
		{"past the head", log, Point{Seq: 8}, 0, "point_in_future"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.p.Resolve("at", c.log, uint64(len(c.log.sets)), t0.Add(time.Hour))
			var ve *ValidationError
			switch {
			case c.err != "" && (!errors.As(err, &ve) || ve.Code != c.err || ve.Field != "at"):
				t.Fatalf("Resolve = %d, %v; want %s naming at", got, err, c.err)
			case c.err == "" && (err != nil || got != c.want):
				t.Fatalf("Resolve = %d, %v; want %d", got, err, c.want)
			}
		})
	}
}

// TestChangeSetIsHashed: the change set is covered by the hash, a lone
// event hashes as before the marker existed, and a set that does not hold
// its event is refused.
func TestChangeSetIsHashed(t *testing.T) {
	t.Parallel()
	d := Draft{StreamID: "file:a", Type: "t", Payload: map[string]int{"n": 1}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lone, err := d.Seal(5, 1, at, Metadata{AgentID: "ag"}, "p", ChangeSet{})
	if err != nil {
		t.Fatal(err)
	}
	inSet, err := d.Seal(5, 1, at, Metadata{AgentID: "ag"}, "p", SpanOf(4, 3))
	if err != nil {
		t.Fatal(err)
	}
	if lone.Hash == inSet.Hash {
		t.Fatal("the change set is not in the hash")
	}
	if err := inSet.Verify("p"); err != nil {
		t.Fatal(err)
	}
	raw, err := inSet.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeEvent(raw)
	if err != nil || back.ChangeSet != inSet.ChangeSet || back.Verify("p") != nil {
		t.Fatalf("round trip: %+v, %v", back.ChangeSet, err)
	}
	tampered := inSet
	tampered.ChangeSet.Last++
	if tampered.Verify("p") == nil {
		t.Fatal("a changed change set verifies")
	}
	for _, bad := range []ChangeSet{{First: 6, Last: 7}, {First: 5, Last: 5}, {First: 1, Last: 4}} {
		if _, err := d.Seal(5, 1, at, Metadata{}, "p", bad); err == nil {
			t.Errorf("Seal at 5 with change set %+v: no error", bad)
		}
	}
}

// TestLoneEventHashIsUnchanged pins the hash of an event without a change
// set to the value the code before the marker computed (taken from that
// code), so logs written before it still verify.
func TestLoneEventHashIsUnchanged(t *testing.T) {
	t.Parallel()
	e := Event{ID: uuid.MustParse("0b7c6f1e-2a43-4b8e-9d3c-5f1a2b3c4d5e"), Seq: 42, StreamID: "file:a.txt", StreamVersion: 3,
		Type: "file.written", SchemaVersion: 1, Time: time.Unix(1767225600, 123456789).UTC(), AgentID: "ag-1", SessionID: "s-1",
		CorrelationID: "c-1", CausationID: "k-1", Payload: []byte(`{"path":"a.txt"}`), PrevHash: "ab12"}
	if got, want := e.ComputeHash(), "027dca78d762b704b152a15e7f4f7297d553322f9541fefc9b67eb923728d8cc"; got != want {
		t.Fatalf("hash %s, want %s (before the change-set marker)", got, want)
	}
}
