package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestHashChain(t *testing.T) {
	t.Parallel()
	meta := Metadata{AgentID: "a1", SessionID: "s1"}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	d := Draft{StreamID: "file:x", Type: TypeFileWritten, SchemaVersion: 1, Payload: FileWritten{Path: "x", Hash: "h", Size: 1}}
	e1, err := d.Seal(1, 1, at, meta, "", ChangeSet{})
	if err != nil {
		t.Fatal(err)
	}
	e2, err := d.Seal(2, 2, at, meta, e1.Hash, ChangeSet{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e1.Verify(""); err != nil {
		t.Fatal(err)
	}
	if err := e2.Verify(e1.Hash); err != nil {
		t.Fatal(err)
	}
	tampered := []func(e *Event){
		func(e *Event) { e.Payload = []byte(`{"path":"y"}`) },
		func(e *Event) { e.AgentID = "a2" },
		func(e *Event) { e.Seq = 3 },
		func(e *Event) { e.Time = e.Time.Add(time.Nanosecond) },
		func(e *Event) { e.PrevHash = "" },
	}
	for i, tamper := range tampered {
		e := e2
		tamper(&e)
		if err := e.Verify(e1.Hash); err == nil {
			t.Errorf("tamper %d not detected", i)
		}
	}
}

// referenceHash is the chain hash as first written: every field written in
// turn to a streaming SHA-256, each string length-prefixed. Event.sum builds
// one buffer instead and must agree with it on every event.
func referenceHash(e Event) string {
	h := sha256.New()
	num := func(v uint64) { h.Write(binary.BigEndian.AppendUint64(nil, v)) }
	str := func(s string) { num(uint64(len(s))); h.Write([]byte(s)) }
	str(e.PrevHash)
	str(e.ID.String())
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
	str(string(e.Payload))
	if e.ChangeSet != (ChangeSet{}) {
		str("change_set")
		num(e.ChangeSet.First)
		num(e.ChangeSet.Last)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hashedEvent is an event with every hashed field set; payload is its
// payload's length.
func hashedEvent(payload int, set ChangeSet) Event {
	return Event{ID: uuid.MustParse("0b7c6f1e-2a43-4b8e-9d3c-5f1a2b3c4d5e"), Seq: 42, StreamID: "file:a.txt", StreamVersion: 3,
		Type: "file.written", SchemaVersion: 1, Time: time.Unix(1767225600, 123456789).UTC(), AgentID: "ag-1", SessionID: "s-1",
		CorrelationID: "c-1", CausationID: "k-1", Payload: []byte(`"` + strings.Repeat("p", max(payload-2, 0)) + `"`),
		ChangeSet: set, PrevHash: strings.Repeat("ab", 32)}
}

// TestHashMatchesTheStreamingForm: the one-buffer hash is the streaming
// one, with and without a change set, with empty fields, and for inputs on
// the stack, around its edge and far past it.
func TestHashMatchesTheStreamingForm(t *testing.T) {
	t.Parallel()
	cases := map[string]Event{
		"empty":                     {},
		"small":                     hashedEvent(20, ChangeSet{}),
		"change set":                hashedEvent(20, ChangeSet{First: 41, Last: 43}),
		"large payload, change set": hashedEvent(100_000, ChangeSet{First: 1, Last: 42}),
	}
	for p := hashInputStack - 400; p <= hashInputStack+10; p++ {
		cases[fmt.Sprintf("payload of %d bytes", p)] = hashedEvent(p, ChangeSet{First: 41, Last: 43})
	}
	for name, e := range cases {
		if got, want := e.ComputeHash(), referenceHash(e); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
		e.Hash = referenceHash(e)
		if err := e.Verify(e.PrevHash); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestVerifyAllocatesNothing: a replica verifies every event it receives,
// so checking an ordinary event's hash allocates nothing.
func TestVerifyAllocatesNothing(t *testing.T) {
	e := hashedEvent(300, ChangeSet{First: 41, Last: 43})
	e.Hash = e.ComputeHash()
	if n := testing.AllocsPerRun(100, func() {
		if err := e.Verify(e.PrevHash); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Verify allocated %v times", n)
	}
}

// FuzzComputeHash checks the one-buffer hash against the streaming form.
func FuzzComputeHash(f *testing.F) {
	f.Add("ab", "file:a", "file.written", "ag", "", "", "", []byte(`{}`), uint64(1), uint64(0), uint64(0), int64(0))
	f.Add("", "", "", "", "s", "c", "k", bytes.Repeat([]byte("x"), 2000), uint64(7), uint64(5), uint64(9), int64(-1))
	f.Fuzz(func(t *testing.T, prev, stream, typ, agent, session, corr, cause string, payload []byte, seq, first, last uint64, nanos int64) {
		e := Event{ID: uuid.NewSHA1(uuid.Nil, payload), Seq: seq, StreamID: stream, StreamVersion: seq / 2, Type: typ,
			SchemaVersion: int(seq % 3), Time: time.Unix(0, nanos), AgentID: agent, SessionID: session, CorrelationID: corr,
			CausationID: cause, Payload: payload, ChangeSet: ChangeSet{First: first, Last: last}, PrevHash: prev}
		if got, want := e.ComputeHash(), referenceHash(e); got != want {
			t.Fatalf("%s, want %s", got, want)
		}
	})
}
