package domain

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
)

// FuzzEncodeEvent checks that encodeEvent is json.Marshal byte for byte,
// errors included, whichever path it takes.
func FuzzEncodeEvent(f *testing.F) {
	f.Add("file:a.txt", "file.written", "agent", "s1", "", "", []byte(`{"path":"a.txt","hash":"ab","size":3,"mode":420}`), int64(1700000000123456789), uint64(0), "", "h")
	f.Add("gate:a", "gate.decided", "a", "", "c", "x", []byte(`{"reason":"no rule covers \"ls\"","input":{"command":"ls -la"}}`), int64(0), uint64(4), "p", "h")
	f.Add("s", "t", "é", "\xff", "<", "\u2028", []byte(` {"a" : 1} `), int64(-1), uint64(1), "", "")
	f.Add("s", "t", "a", "", "", "", []byte(`{"a":"<b>&"}`), int64(1<<62), uint64(0), "", "")
	f.Add("s", "t", "a", "", "", "", []byte(`{"a":"x\u2029"}`), int64(253402300800000000), uint64(0), "", "")
	f.Add("s", "t", "a", "", "", "", []byte(`{"a":"x\"y\\"}`), int64(5), uint64(0), "", "")
	f.Add("s", "t", "a", "", "", "", []byte(`{"a":1`), int64(5), uint64(0), "", "")
	f.Add("s", "t", "a", "", "", "", []byte(nil), int64(5), uint64(0), "", "")
	f.Add("s", "t", "a", "", "", "", []byte(`"\xff\xfe"`), int64(5), uint64(0), "", "")
	f.Fuzz(func(t *testing.T, stream, typ, agent, session, corr, cause string, payload []byte, nanos int64, first uint64, prev, hash string) {
		for _, loc := range []*time.Location{time.UTC, time.FixedZone("x", 3600)} {
			e := Event{ID: uuid.NewSHA1(uuid.NameSpaceURL, payload), Seq: uint64(nanos), StreamID: stream, StreamVersion: first * 3,
				Type: typ, SchemaVersion: int(nanos % 7), Time: time.Unix(0, nanos).In(loc), AgentID: agent, SessionID: session,
				CorrelationID: corr, CausationID: cause, Payload: payload, PrevHash: prev, Hash: hash}
			if first > 0 {
				e.ChangeSet = ChangeSet{First: first, Last: first + 2}
			}
			want, werr := json.Marshal(e)
			got, gerr := encodeEvent(e)
			if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("encodeEvent\n got  %s (%v)\n want %s (%v)", got, gerr, want, werr)
			}
		}
	})
}

// TestCopiedAsIs checks which payloads the fast path writes itself: the
// writer's own (json.Marshal's compact output) must be among them.
func TestCopiedAsIs(t *testing.T) {
	t.Parallel()
	own, err := json.Marshal(map[string]any{"reason": "no rule covers `ls -la`", "input": map[string]any{"command": "a && b | c"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		raw  string
		want bool
	}{
		{string(own), true},
		{`{"path":"a b.txt","size":3}`, true},
		{`{"a":"x\"}y\\"}`, true},
		{`"é"`, true},
		{`{"a": 1}`, false},
		{` {}`, false},
		{`{"a":"<"}`, false},
		{"{\"a\":\"\u2028\"}", false},
		{`{"a":1`, false},
		{``, false},
	}
	for _, tc := range tests {
		if got := copiedAsIs(json.RawMessage(tc.raw)); got != tc.want {
			t.Errorf("copiedAsIs(%q) = %v, want %v", tc.raw, got, tc.want)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	e, err := Draft{StreamID: "gate:agent-1", Type: TypeGateDecided, SchemaVersion: 1,
		Payload: map[string]any{"reason": "the Go toolchain", "input": map[string]any{"command": "go test ./..."}}}.
		Seal(42, 7, time.Now(), Metadata{AgentID: "agent-1", SessionID: "s-1"}, "prev", ChangeSet{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
