package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxEventsPage is the most events one GET /v1/events answer holds; a
// request for more is refused (400, limit_invalid).
const MaxEventsPage = 10000

// Event is one entry of the log: a fact with its envelope. Seq is the global,
// gap-free position starting at 1; Hash chains every event to the one before.
type Event struct {
	ID            uuid.UUID       `json:"id"`
	Seq           uint64          `json:"seq"`
	StreamID      string          `json:"stream_id"`
	StreamVersion uint64          `json:"stream_version"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	Time          time.Time       `json:"time"`
	AgentID       string          `json:"agent_id"`
	SessionID     string          `json:"session_id,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	CausationID   string          `json:"causation_id,omitempty"`
	Payload       json.RawMessage `json:"payload"`
	// ChangeSet is set on every event of an atomic append of more than one
	// event (a change set): the range of sequences the append holds. Zero
	// (absent from the JSON and from the hash) for a lone event, and for
	// every event of logs written before it existed.
	ChangeSet ChangeSet `json:"change_set,omitzero"`
	PrevHash  string    `json:"prev_hash"`
	Hash      string    `json:"hash"`

	// stored is the encoding DecodeEvent read the event from, kept so a
	// replica stores exactly the bytes it received (and checked against
	// the chain) instead of encoding the event again. Nil for an event
	// built in memory or decoded by plain json.Unmarshal.
	stored []byte
}

// ChangeSet is the range of global sequences of one atomic append, both ends
// included. A point in history never falls inside one (see ChangeSetEdge).
type ChangeSet struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// SpanOf returns the change set of an append of n events after head: the
// zero ChangeSet when n < 2, since a lone event needs no marker.
func SpanOf(head uint64, n int) ChangeSet {
	if n < 2 {
		return ChangeSet{}
	}
	return ChangeSet{First: head + 1, Last: head + uint64(n)}
}

// Metadata is what every event of one command shares: who, in which session,
// and how it relates to other commands.
type Metadata struct {
	AgentID       string
	SessionID     string
	CorrelationID string
	CausationID   string
}

// Draft is an event decided by an aggregate but not yet placed in the log.
type Draft struct {
	StreamID      string
	Type          string
	SchemaVersion int
	Payload       any
}

// Seal places a draft in the log: it fills the envelope and links the hash
// chain to prev; set is the change set the event belongs to (SpanOf). Every text of the envelope and the payload must be valid
// UTF-8 (a *ValidationError otherwise): JSON would replace invalid bytes, and
// the stored event would no longer match its hash.
func (d Draft) Seal(seq, streamVersion uint64, at time.Time, meta Metadata, prevHash string, set ChangeSet) (Event, error) {
	payload, err := json.Marshal(d.Payload)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s payload: %w", d.Type, err)
	}
	if !utf8.Valid(payload) {
		return Event{}, Invalid("payload", "invalid_utf8", "the %s payload is not valid UTF-8", d.Type)
	}
	for _, f := range []struct{ field, value string }{
		{"stream_id", d.StreamID}, {"type", d.Type}, {"agent_id", meta.AgentID}, {"session_id", meta.SessionID},
		{"correlation_id", meta.CorrelationID}, {"causation_id", meta.CausationID}, {"prev_hash", prevHash},
	} {
		if err := CheckText(f.field, f.value); err != nil {
			return Event{}, err
		}
	}
	e := Event{
		ID:            uuid.New(),
		Seq:           seq,
		StreamID:      d.StreamID,
		StreamVersion: streamVersion,
		Type:          d.Type,
		SchemaVersion: d.SchemaVersion,
		Time:          at.UTC(),
		AgentID:       meta.AgentID,
		SessionID:     meta.SessionID,
		CorrelationID: meta.CorrelationID,
		CausationID:   meta.CausationID,
		Payload:       payload,
		ChangeSet:     set,
		PrevHash:      prevHash,
	}
	if err := e.checkChangeSet(); err != nil {
		return Event{}, err
	}
	e.Hash = e.ComputeHash()
	return e, nil
}

// ComputeHash returns the chain hash of e: SHA-256 over its previous hash and
// every field but Hash, each length-prefixed so no two events share an input.
func (e Event) ComputeHash() string {
	sum := e.sum()
	return hex.EncodeToString(sum[:])
}

// hashInputStack is how much of the hash input sum keeps on its stack; a
// longer input (a large payload) takes one allocation of its exact size.
const hashInputStack = 1024

// sum is the chain hash of e in binary. It hashes one buffer holding every
// field, so hashing an event allocates nothing unless its input is longer
// than hashInputStack.
func (e Event) sum() [sha256.Size]byte {
	fields := []string{e.PrevHash, e.StreamID, e.Type, e.AgentID, e.SessionID, e.CorrelationID, e.CausationID}
	// Thirteen lengths and numbers, the ID and the payload besides the
	// fields; a change set adds its marker, its length and two numbers.
	n := 13*8 + uuidLen + len(e.Payload)
	for _, f := range fields {
		n += len(f)
	}
	if e.ChangeSet != (ChangeSet{}) {
		n += 3*8 + len("change_set")
	}
	var stack [hashInputStack]byte
	b := stack[:0]
	if n > len(stack) {
		b = make([]byte, 0, n)
	}
	str := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(v uint64) { b = binary.BigEndian.AppendUint64(b, v) }
	str(e.PrevHash)
	b = binary.BigEndian.AppendUint64(b, uuidLen)
	b = appendUUID(b, e.ID)
	num(e.Seq)
	str(e.StreamID)
	num(e.StreamVersion)
	str(e.Type)
	num(uint64(e.SchemaVersion))
	num(uint64(e.Time.UnixNano()))
	str(e.AgentID)
	str(e.SessionID)
	str(e.CorrelationID)
	str(e.CausationID)
	b = binary.BigEndian.AppendUint64(b, uint64(len(e.Payload)))
	b = append(b, e.Payload...)
	// Only events that carry a change set hash it, after everything else:
	// events sealed before the marker existed keep their hash, and the
	// length prefixes above keep the two forms from ever sharing an input.
	if e.ChangeSet != (ChangeSet{}) {
		str("change_set")
		num(e.ChangeSet.First)
		num(e.ChangeSet.Last)
	}
	return sha256.Sum256(b)
}

// uuidLen is the length of a UUID's text form (appendUUID).
const uuidLen = 36

// checkChangeSet checks that a change set, when e has one, holds at least
// two events, e among them.
func (e Event) checkChangeSet() error {
	cs := e.ChangeSet
	if cs != (ChangeSet{}) && (cs.First >= cs.Last || e.Seq < cs.First || e.Seq > cs.Last) {
		return fmt.Errorf("event %d: change set %d-%d does not hold it", e.Seq, cs.First, cs.Last)
	}
	return nil
}

// Verify checks that e is intact and follows prevHash in the chain.
func (e Event) Verify(prevHash string) error {
	if e.PrevHash != prevHash {
		return fmt.Errorf("event %d: prev_hash %.12s does not match the chain's %.12s", e.Seq, e.PrevHash, prevHash)
	}
	if err := e.checkChangeSet(); err != nil {
		return err
	}
	// Compared in hex without building a string: a replica verifies every
	// event it receives.
	sum := e.sum()
	var got [2 * sha256.Size]byte
	hex.Encode(got[:], sum[:])
	if string(got[:]) != e.Hash {
		return fmt.Errorf("event %d: content hash %.12s does not match recorded %.12s", e.Seq, string(got[:]), e.Hash)
	}
	return nil
}

// ErrNotEncodable means an event would not survive its own encoding: what
// is stored would not match what was hashed.
var ErrNotEncodable = errors.New("event does not survive its encoding")

// Encode returns the stored form of e (JSON), after checking that it decodes
// to an event with the same hash: what is hashed is exactly what is stored
// and what replicas receive. It fails with ErrNotEncodable otherwise.
func (e Event) Encode() ([]byte, error) {
	raw, err := encodeEvent(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %d: %w", e.Seq, err)
	}
	back, err := DecodeEvent(raw)
	if err != nil {
		return nil, fmt.Errorf("event %d: %w: %w", e.Seq, ErrNotEncodable, err)
	}
	if back.Hash != e.Hash || back.ComputeHash() != e.Hash {
		return nil, fmt.Errorf("event %d: %w: decoded hash %.12s, sealed %.12s", e.Seq, ErrNotEncodable, back.ComputeHash(), e.Hash)
	}
	return raw, nil
}

// DecodeEvent decodes an event's stored form. The event keeps raw (see
// Stored), so the caller must not modify raw afterwards.
func DecodeEvent(raw []byte) (Event, error) {
	if e, ok := decodeFast(raw); ok {
		e.stored = raw
		return e, nil
	}
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	e.stored = raw
	return e, nil
}

// Stored returns the stored form of e: the bytes DecodeEvent decoded it
// from when it was decoded (no encoding is paid again), else its JSON
// encoding. Callers must not modify the returned bytes.
func (e Event) Stored() ([]byte, error) {
	if e.stored != nil {
		return e.stored, nil
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %d: %w", e.Seq, err)
	}
	return raw, nil
}

// DecodePayload unmarshals the event's payload into v.
func (e Event) DecodePayload(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("decode %s payload of event %d: %w", e.Type, e.Seq, err)
	}
	return nil
}
