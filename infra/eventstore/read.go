package eventstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// StreamVersion returns how many events stream has (0 for a new stream).
func (s *Store) StreamVersion(stream string) (uint64, error) {
	h, err := s.streamHead(stream)
	return h.version, err
}

// LastEvent returns the newest event of stream, ok=false for a new stream.
func (s *Store) LastEvent(stream string) (domain.Event, bool, error) {
	h, err := s.streamHead(stream)
	if err != nil || h.version == 0 {
		return domain.Event{}, false, err
	}
	seq := h.seq
	if seq == 0 {
		// Not appended to since open: its index entry names the event.
		if seq, err = s.streamSeq(stream, h.version); err != nil {
			return domain.Event{}, false, err
		}
	}
	e, err := s.Event(seq)
	return e, err == nil, err
}

// streamHead returns stream's head: the zero head for a new stream, an
// error wrapping errDamaged when its version record did not decode.
func (s *Store) streamHead(stream string) (streamHead, error) {
	s.mu.RLock()
	h := s.streams[stream]
	s.mu.RUnlock()
	if h.damaged {
		return streamHead{}, fmt.Errorf("stream %s: %w: its version record does not decode", stream, errDamaged)
	}
	return h, nil
}

// streamSeq returns the seq of version v of stream from the stream index.
func (s *Store) streamSeq(stream string, v uint64) (uint64, error) {
	raw, ok, err := pebbledb.Get(s.db, streamKey(stream, v))
	if err != nil {
		return 0, s.noteDamage(err)
	}
	if !ok || len(raw) != 8 {
		return 0, s.noteDamage(fmt.Errorf("stream %s version %d: %w: no index entry of 8 bytes", stream, v, errDamaged))
	}
	return binary.BigEndian.Uint64(raw), nil
}

// loadStreams reads every stream's version into s.streams. A version
// record that does not decode marks its stream damaged (its appends and
// reads fail) and the store with it (see Ready).
func (s *Store) loadStreams() error {
	s.streams = map[string]streamHead{}
	lower := []byte(prefixVersion)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: pebbledb.PrefixEnd(lower)})
	if err != nil {
		return fmt.Errorf("load stream versions: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		stream, raw := string(it.Key()[len(prefixVersion):]), it.Value()
		if len(raw) != 8 {
			s.noteDamage(fmt.Errorf("stream %s: %w: a version record of %d bytes", stream, errDamaged, len(raw)))
			s.streams[stream] = streamHead{damaged: true}
			continue
		}
		s.streams[stream] = streamHead{version: binary.BigEndian.Uint64(raw)}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("load stream versions: %w", s.noteDamage(err))
	}
	return nil
}

// Event returns the event at seq.
func (s *Store) Event(seq uint64) (domain.Event, error) {
	raw, ok, err := pebbledb.Get(s.db, eventKey(seq))
	if err != nil {
		return domain.Event{}, s.noteDamage(err)
	}
	if !ok {
		return domain.Event{}, fmt.Errorf("event %d: %w", seq, domain.ErrNotFound)
	}
	// DecodeEvent, not json.Unmarshal: the writer's start replays every
	// event of its views' streams through here (see ReplayStreams).
	e, err := domain.DecodeEvent(raw)
	if err != nil {
		return domain.Event{}, s.noteDamage(fmt.Errorf("decode event %d: %w: %w", seq, errDamaged, err))
	}
	return e, nil
}

// Read returns up to limit events with seq > after, in order.
func (s *Store) Read(after uint64, limit int) ([]domain.Event, error) {
	var out []domain.Event
	err := s.scan(after, limit, func(raw []byte) error {
		// The event keeps its bytes: copy them out of the iterator's buffer.
		e, err := domain.DecodeEvent(append([]byte(nil), raw...))
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// ReadRaw is Read without decoding: each element is one event's JSON.
func (s *Store) ReadRaw(after uint64, limit int) ([]json.RawMessage, error) {
	var out []json.RawMessage
	err := s.scan(after, limit, func(raw []byte) error {
		out = append(out, append(json.RawMessage(nil), raw...))
		return nil
	})
	return out, err
}

// scan reads the events after after, up to the head: an event committed
// but not yet applied to the writer's views (see Observe) is not read yet.
func (s *Store) scan(after uint64, limit int, fn func(raw []byte) error) error {
	head, _ := s.Head()
	if after >= head {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: eventKey(after + 1),
		UpperBound: eventKey(head + 1),
	})
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok && n < limit; ok = it.Next() {
		if err := fn(it.Value()); err != nil {
			return err
		}
		n++
	}
	if err := it.Error(); err != nil {
		return s.noteDamage(fmt.Errorf("read events: %w", err))
	}
	return nil
}

// ReplayStreams calls fn with every event of every stream whose id starts
// with prefix, stream by stream, oldest first: how the writer rebuilds its
// in-memory views (agents, reviews, learned decisions) at start.
func (s *Store) ReplayStreams(prefix string, fn func(domain.Event) error) error {
	return s.replay(prefix, func(stream string) error {
		events, err := s.StreamEvents(stream)
		if err != nil {
			return err
		}
		for _, e := range events {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReplayLatest calls fn with the newest event of every stream whose id
// starts with prefix, stream by stream. It is ReplayStreams for streams
// whose every event carries the stream's whole state (file streams, see
// aggregates.File), so the writer's start costs one event per file rather
// than one per change in the log's history.
func (s *Store) ReplayLatest(prefix string, fn func(domain.Event) error) error {
	return s.replay(prefix, func(stream string) error {
		e, ok, err := s.LastEvent(stream)
		if err != nil || !ok {
			return err
		}
		return fn(e)
	})
}

// replay calls each with every stream that starts with prefix, in order,
// and stops at the first error.
func (s *Store) replay(prefix string, each func(stream string) error) error {
	var failed error
	if err := s.EachStream(prefix, func(stream string) bool {
		failed = each(stream)
		return failed == nil
	}); err != nil {
		return err
	}
	return failed
}

// Published returns the outbox cursor: the last seq handed to the bus.
func (s *Store) Published() (uint64, error) {
	raw, ok, err := pebbledb.Get(s.db, []byte(keyPublished))
	if err != nil || !ok {
		return 0, err
	}
	return binary.BigEndian.Uint64(raw), nil
}

// SetPublished moves the outbox cursor. It is not fsync'd: after a crash the
// relay republishes a few events, which consumers drop by sequence.
func (s *Store) SetPublished(seq uint64) error {
	if err := s.db.Set([]byte(keyPublished), pebbledb.Uint64(seq), pebble.NoSync); err != nil {
		return fmt.Errorf("set outbox cursor: %w", err)
	}
	return nil
}

// Verify walks the whole chain and reports the first broken link.
func (s *Store) Verify() (uint64, error) {
	prev := ""
	var n uint64
	err := s.walk(func(e domain.Event) error {
		if e.Seq != n+1 {
			return fmt.Errorf("gap: event %d follows %d", e.Seq, n)
		}
		if err := e.Verify(prev); err != nil {
			return err
		}
		prev, n = e.Hash, e.Seq
		return nil
	})
	return n, err
}

// walk calls fn with every event of the log, oldest first, until fn
// returns an error.
func (s *Store) walk(fn func(domain.Event) error) error {
	var n uint64
	for {
		evs, err := s.Read(n, 1000)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
			n = e.Seq
		}
	}
}

// StreamEvents returns every event of stream, oldest first.
func (s *Store) StreamEvents(stream string) ([]domain.Event, error) {
	start := pebbledb.Key(prefixStream, []byte(stream), []byte{0})
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: pebbledb.PrefixEnd(start)})
	if err != nil {
		return nil, fmt.Errorf("scan stream: %w", err)
	}
	defer it.Close()
	var out []domain.Event
	for ok := it.First(); ok; ok = it.Next() {
		e, err := s.Event(binary.BigEndian.Uint64(it.Value()))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, it.Error()
}

// Blobs is the small content stored with the events; a lone PutBlob (an
// upload before the command that refers to it) is fsync'd.
func (s *Store) Blobs() pebbledb.Blobs {
	return pebbledb.Blobs{DB: s.db, Write: pebble.Sync, Dir: s.dir, Reserve: s.reserve}
}

// SeqAtTime returns the last sequence at or before t (0 when none).
func (s *Store) SeqAtTime(t time.Time) (uint64, error) {
	head, _ := s.Head()
	return domain.SeqAtTime(head, t, s.Event)
}

// Snapshot returns the sequence a named snapshot records.
func (s *Store) Snapshot(name string) (uint64, bool, error) {
	e, ok, err := s.LastEvent(domain.SnapshotStreamID(name))
	if err != nil || !ok {
		return 0, false, err
	}
	var p domain.SnapshotCreated
	if err := e.DecodePayload(&p); err != nil {
		return 0, false, err
	}
	return p.Seq, true, nil
}

// StreamAt returns the newest event of stream at or before seq: one binary
// search over the stream's versions.
func (s *Store) StreamAt(stream string, seq uint64) (domain.Event, bool, error) {
	v, err := s.StreamVersion(stream)
	if err != nil || v == 0 {
		return domain.Event{}, false, err
	}
	lo, hi := uint64(0), v // version lo is at or before seq (0: none)
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		at, err := s.streamSeq(stream, mid)
		if err != nil {
			return domain.Event{}, false, err
		}
		if at > seq {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	if lo == 0 {
		return domain.Event{}, false, nil
	}
	at, err := s.streamSeq(stream, lo)
	if err != nil {
		return domain.Event{}, false, err
	}
	e, err := s.Event(at)
	return e, err == nil, err
}

// Streams returns the ids of every stream whose id starts with prefix.
func (s *Store) Streams(prefix string) ([]string, error) {
	var out []string
	err := s.EachStream(prefix, func(stream string) bool {
		out = append(out, stream)
		return true
	})
	return out, err
}

// EachStream calls fn with the id of every stream that starts with prefix,
// in order, until fn returns false.
func (s *Store) EachStream(prefix string, fn func(stream string) bool) error {
	start := pebbledb.Key(prefixVersion, []byte(prefix))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: pebbledb.PrefixEnd(start)})
	if err != nil {
		return fmt.Errorf("scan streams: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(string(it.Key()[len(prefixVersion):])) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("scan streams: %w", err)
	}
	return nil
}

// EachFileVersion calls fn, oldest first, with every file version of the
// log that has content (written, or moved there) and that content's hash,
// until fn returns an error. It reads every event.
func (s *Store) EachFileVersion(fn func(hash string, v domain.FileVersion) error) error {
	return s.walk(func(e domain.Event) error {
		c, ok, err := domain.AsFileChange(e)
		if err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		if !ok || c.Deleted {
			return nil
		}
		return fn(c.Hash, domain.FileVersion{Path: c.Path, Seq: e.Seq})
	})
}
