package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzPayload has a decoded string and a raw JSON part, like the gate's
// audit events (a tool input is kept as raw JSON).
type fuzzPayload struct {
	Text  string          `json:"text"`
	Input json.RawMessage `json:"input,omitempty"`
}

// FuzzEventCodec checks that an event that can be sealed survives its
// encoding: the stored form decodes to the same hash and re-encodes to the
// same bytes, and a refusal is a ValidationError, never a broken chain.
func FuzzEventCodec(f *testing.F) {
	f.Add("s1", "c1", "x1", "file:a.txt", "plain", []byte(`{"command":"ls"}`), int64(0))
	f.Add("\xff", "", "", "file:p.txt", "", []byte(nil), int64(1))
	f.Add(strings.Repeat("é", 70)[:127], "", "", "gate:a", "x", []byte(`{}`), int64(2))
	f.Add("", "\xed\xa0\x80", "", "gate:a", "<&>\u2028", []byte(`{"a":"\xff"}`), int64(3))
	f.Add("ok", "", "a\x00b", "review:1", "\x00\x1f", []byte(`{"a":"<b>\u2029"}`), int64(-1))
	f.Add("", "", "", "s", "e\u0301", []byte(` { "a" : [1, 2.50, 1e3] } `), int64(1<<62))
	f.Fuzz(func(t *testing.T, session, corr, cause, stream, text string, input []byte, nanos int64) {
		p := fuzzPayload{Text: text}
		if json.Valid(input) {
			p.Input = input
		}
		d := Draft{StreamID: stream, Type: TypeGateDecided, SchemaVersion: 1, Payload: p}
		meta := Metadata{AgentID: "agent", SessionID: session, CorrelationID: corr, CausationID: cause}
		at := time.Unix(0, nanos)
		var set ChangeSet
		if nanos%2 == 0 {
			set = SpanOf(5, 3) // event 7 in the change set 6-8
		}
		e, err := d.Seal(7, 3, at, meta, "prev", set)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("seal refused with %v, want a ValidationError", err)
			}
			return
		}
		raw, err := e.Encode()
		if err != nil {
			t.Fatalf("sealed event does not encode: %v", err)
		}
		back, err := DecodeEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := back.Verify("prev"); err != nil {
			t.Fatalf("stored event breaks the chain: %v", err)
		}
		again, err := back.Encode()
		if err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
		if !bytes.Equal(raw, again) {
			t.Fatalf("re-encoding changes the stored form:\n%s\n%s", raw, again)
		}
	})
}

func TestEncodeRefusesWhatDoesNotRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		tamper func(e *Event)
	}{
		{"invalid session", func(e *Event) { e.SessionID = "\xff" }},
		{"cut character", func(e *Event) { e.CorrelationID = strings.Repeat("é", 70)[:127] }},
		{"invalid stream", func(e *Event) { e.StreamID = "file:\xc3" }},
		{"payload not compact", func(e *Event) { e.Payload = json.RawMessage(`{"a": 1}`) }},
	}
	for _, c := range cases {
		e := Event{Seq: 1, StreamID: "s", Type: "t", Time: at, AgentID: "a", Payload: json.RawMessage(`{}`)}
		c.tamper(&e)
		e.Hash = e.ComputeHash() // sealed over the raw fields, as before the fix
		if _, err := e.Encode(); !errors.Is(err, ErrNotEncodable) {
			t.Errorf("%s: Encode = %v, want ErrNotEncodable", c.name, err)
		}
	}
}

func TestSealRefusesInvalidText(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		field string
		meta  Metadata
		d     Draft
	}{
		{"session_id", Metadata{AgentID: "a", SessionID: "\xff"}, Draft{StreamID: "s", Type: "t"}},
		{"correlation_id", Metadata{AgentID: "a", CorrelationID: "a\xc3"}, Draft{StreamID: "s", Type: "t"}},
		{"causation_id", Metadata{AgentID: "a", CausationID: "\xed\xa0\x80"}, Draft{StreamID: "s", Type: "t"}},
		{"stream_id", Metadata{AgentID: "a"}, Draft{StreamID: "file:\xff", Type: "t"}},
		{"payload", Metadata{AgentID: "a"}, Draft{StreamID: "s", Type: "t", Payload: fuzzPayload{Input: json.RawMessage("{\"a\":\"\xff\"}")}}},
	}
	for _, c := range cases {
		_, err := c.d.Seal(1, 1, at, c.meta, "", ChangeSet{})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%s: Seal = %v, want a ValidationError naming it", c.field, err)
		}
	}
}
