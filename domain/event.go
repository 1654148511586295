package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"time"

	"github.com/google/uuid"
)

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
	PrevHash      string          `json:"prev_hash"`
	Hash          string          `json:"hash"`
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
// chain to prev.
func (d Draft) Seal(seq, streamVersion uint64, at time.Time, meta Metadata, prevHash string) (Event, error) {
	payload, err := json.Marshal(d.Payload)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s payload: %w", d.Type, err)
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
		PrevHash:      prevHash,
	}
	e.Hash = e.ComputeHash()
	return e, nil
}

// ComputeHash returns the chain hash of e: SHA-256 over its previous hash and
// every field but Hash, each length-prefixed so no two events share an input.
func (e Event) ComputeHash() string {
	h := sha256.New()
	str := func(s string) {
		writeUint(h, uint64(len(s)))
		h.Write([]byte(s))
	}
	str(e.PrevHash)
	str(e.ID.String())
	writeUint(h, e.Seq)
	str(e.StreamID)
	writeUint(h, e.StreamVersion)
	str(e.Type)
	writeUint(h, uint64(e.SchemaVersion))
	writeUint(h, uint64(e.Time.UnixNano()))
	str(e.AgentID)
	str(e.SessionID)
	str(e.CorrelationID)
	str(e.CausationID)
	str(string(e.Payload))
	return hex.EncodeToString(h.Sum(nil))
}

func writeUint(h hash.Hash, v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	h.Write(b[:])
}

// Verify checks that e is intact and follows prevHash in the chain.
func (e Event) Verify(prevHash string) error {
	if e.PrevHash != prevHash {
		return fmt.Errorf("event %d: prev_hash %.12s does not match the chain's %.12s", e.Seq, e.PrevHash, prevHash)
	}
	if got := e.ComputeHash(); got != e.Hash {
		return fmt.Errorf("event %d: content hash %.12s does not match recorded %.12s", e.Seq, got, e.Hash)
	}
	return nil
}

// DecodePayload unmarshals the event's payload into v.
func (e Event) DecodePayload(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("decode %s payload of event %d: %w", e.Type, e.Seq, err)
	}
	return nil
}
