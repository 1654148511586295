package domain

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Event types of named points in history.
const (
	TypeSnapshotCreated = "snapshot.created"
)

// SnapshotStreamID is the stream of one named snapshot; names are unique.
func SnapshotStreamID(name string) string { return "snapshot:" + name }

// SnapshotCreated names a point in history.
type SnapshotCreated struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Seq         uint64 `json:"seq"` // the last event the snapshot includes
}

var snapshotNameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9._-]{0,99}$`)

// ValidateSnapshotName checks a snapshot's name: it starts with a letter
// (so it is never taken for a sequence number or a time) and is usable as a
// directory name.
func ValidateSnapshotName(field, name string) error {
	if !snapshotNameRE.MatchString(name) {
		return Invalid(field, "name_invalid", "snapshot name %q must start with a letter and have at most 100 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

// Point names a moment in history: a global sequence ("120" or "@120"), an
// RFC 3339 time, or a snapshot's name.
type Point struct {
	Seq      uint64
	Time     time.Time
	Snapshot string
}

// ParsePoint reads a point; field names the input for errors.
func ParsePoint(field, s string) (Point, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Point{}, Invalid(field, "point_empty", "a point is a sequence number, an RFC 3339 time or a snapshot name")
	}
	if n, err := strconv.ParseUint(strings.TrimPrefix(s, "@"), 10, 64); err == nil {
		if n == 0 {
			return Point{}, Invalid(field, "point_before_history", "sequence 0 is before the first event")
		}
		return Point{Seq: n}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return Point{Time: t}, nil
	}
	if ValidateSnapshotName(field, s) == nil {
		return Point{Snapshot: s}, nil
	}
	return Point{}, Invalid(field, "point_invalid", "%q is not a sequence number, an RFC 3339 time or a snapshot name", s)
}

// PointIndex finds points in a log.
type PointIndex interface {
	// SeqAtTime returns the last sequence at or before t, 0 if none.
	SeqAtTime(t time.Time) (uint64, error)
	// Snapshot returns the sequence a snapshot names.
	Snapshot(name string) (uint64, bool, error)
	// Event returns the event at seq (1 up to the head).
	Event(seq uint64) (Event, error)
}

// Resolve turns a point into a global sequence of a log whose head is head,
// rounded down to a change-set edge (ChangeSetEdge): the answer at a point
// holds each atomic change set whole or not at all. A point before the
// first event, inside a change set that starts the log, or after the head
// is an error naming field.
func (p Point) Resolve(field string, idx PointIndex, head uint64, now time.Time) (uint64, error) {
	seq, err := p.resolve(field, idx, head, now)
	if err != nil {
		return 0, err
	}
	edge, err := ChangeSetEdge(seq, idx.Event)
	if err != nil {
		return 0, err
	}
	if edge == 0 {
		return 0, Invalid(field, "point_before_history", "sequence %d is inside the change set that starts the log: nothing comes before it", seq)
	}
	return edge, nil
}

// ChangeSetEdge rounds seq down to the edge of a change set: when the event
// at seq belongs to an atomic change set that goes on after it, the answer
// is the last sequence before the set (0 when the set starts the log).
// Otherwise it is seq itself. event reads the log.
func ChangeSetEdge(seq uint64, event func(seq uint64) (Event, error)) (uint64, error) {
	if seq == 0 {
		return 0, nil
	}
	e, err := event(seq)
	if err != nil {
		return 0, fmt.Errorf("change set at %d: %w", seq, err)
	}
	if cs := e.ChangeSet; cs.Last > seq && cs.First <= seq {
		return cs.First - 1, nil
	}
	return seq, nil
}

func (p Point) resolve(field string, idx PointIndex, head uint64, now time.Time) (uint64, error) {
	switch {
	case p.Snapshot != "":
		seq, ok, err := idx.Snapshot(p.Snapshot)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, Invalid(field, "snapshot_unknown", "no snapshot named %q", p.Snapshot)
		}
		return seq, nil
	case !p.Time.IsZero():
		if p.Time.After(now) {
			return 0, Invalid(field, "point_in_future", "%s is in the future", p.Time.Format(time.RFC3339))
		}
		seq, err := idx.SeqAtTime(p.Time)
		if err != nil {
			return 0, err
		}
		if seq == 0 {
			return 0, Invalid(field, "point_before_history", "%s is before the first event", p.Time.Format(time.RFC3339))
		}
		return seq, nil
	}
	if p.Seq > head {
		return 0, Invalid(field, "point_in_future", "sequence %d is after the last event (%d)", p.Seq, head)
	}
	return p.Seq, nil
}

// SeqAtTime binary-searches a log of head events, read through event, for
// the last sequence whose time is at or before t (0 when none): event times
// grow with sequence.
func SeqAtTime(head uint64, t time.Time, event func(seq uint64) (Event, error)) (uint64, error) {
	lo, hi := uint64(0), head // event lo is at or before t (0: none); events after hi are after t
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		e, err := event(mid)
		if err != nil {
			return 0, err
		}
		if e.Time.After(t) {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	return lo, nil
}
