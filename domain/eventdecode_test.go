package domain

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sealedForms returns stored forms of real events, for seeds and tables.
func sealedForms(t testing.TB) [][]byte {
	t.Helper()
	at := time.Date(2026, 11, 30, 8, 0, 0, 123456789, time.UTC)
	drafts := []Draft{
		{StreamID: "file:src/a.go", Type: TypeFileWritten, Payload: FileWritten{Path: "src/a.go", Hash: strings.Repeat("ab", 32), Size: 200, Mode: 0o644}},
		{StreamID: "file:é/ü.txt", Type: TypeFileDeleted, Payload: FileDeleted{Path: "é/ü.txt"}},
		{StreamID: "gate:x", Type: TypeGateDecided, SchemaVersion: 2, Payload: fuzzPayload{Text: "ls > out && echo <b>", Input: json.RawMessage(`{"a":[1,2.5,"\"q\""],"b":null}`)}},
	}
	var out [][]byte
	prev := ""
	for i, d := range drafts {
		var set ChangeSet
		if i > 0 {
			set = SpanOf(1, 2) // the last two drafts are one change set
		}
		e, err := d.Seal(uint64(i+1), 1, at, Metadata{AgentID: "ag-1", SessionID: "s", CorrelationID: "c", CausationID: "k"}, prev, set)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
		out = append(out, raw)
	}
	return out
}

// FuzzDecodeFast: whatever decodeFast accepts, encoding/json decodes to the
// same event; and every event DecodeEvent returns matches encoding/json.
func FuzzDecodeFast(f *testing.F) {
	for _, raw := range sealedForms(f) {
		f.Add(raw)
	}
	f.Add([]byte(`{"seq":1,"seq":2}`))
	f.Add([]byte(`{"SEQ":1}`))
	f.Add([]byte(`{"change_set":{"first":2,"last":3},"seq":2}`))
	f.Add([]byte(`{"change_set":{},"seq":2}`))
	f.Add([]byte(`{"change_set":{"first":2,"first":3}}`))
	f.Add([]byte(`{"change_set":null}`))
	f.Add([]byte(` {"seq" : 01 , "payload" : [1,{"a":"}"}] } `))
	f.Add([]byte(`{"payload":"x\"y","hash":"\u00e9"}`))
	f.Add([]byte(`{"time":"2026-11-30T08:00:00Z","id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, ok := decodeFast(raw)
		var want Event
		jerr := json.Unmarshal(raw, &want)
		if ok {
			if jerr != nil {
				t.Fatalf("decodeFast accepted %q, encoding/json refuses it: %v", raw, jerr)
			}
			sameEvent(t, raw, fast, want)
		}
		got, err := DecodeEvent(raw)
		if (err == nil) != (jerr == nil) {
			t.Fatalf("DecodeEvent(%q) error %v, encoding/json %v", raw, err, jerr)
		}
		if err == nil {
			sameEvent(t, raw, got, want)
		}
	})
}

func sameEvent(t *testing.T, raw []byte, got, want Event) {
	t.Helper()
	got.stored = nil
	if string(got.Payload) != string(want.Payload) || (got.Payload == nil) != (want.Payload == nil) {
		t.Fatalf("%q: payload %q, encoding/json %q", raw, got.Payload, want.Payload)
	}
	got.Payload, want.Payload = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", raw, got, want)
	}
}

// TestDecodeFastTakesStoredForms: the writer's stored form takes the fast
// path (the reason it exists), and what falls outside it still decodes.
func TestDecodeFastTakesStoredForms(t *testing.T) {
	t.Parallel()
	forms := sealedForms(t)
	cases := []struct {
		name string
		raw  []byte
		fast bool
	}{
		{"file write", forms[0], true},
		{"non-ASCII path, in a change set", forms[1], true},
		{"escaped <, > and & in the payload", forms[2], true},
		{"escaped string in the envelope", []byte(`{"seq":1,"type":"a\u00e9"}`), false},
		{"key in another case", []byte(`{"Seq":1}`), false},
		{"repeated key", []byte(`{"seq":1,"seq":2}`), false},
		{"null", []byte(`{"agent_id":null}`), false},
		{"fraction", []byte(`{"seq":1.0}`), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fast, ok := decodeFast(c.raw)
			if ok != c.fast {
				t.Fatalf("fast path taken: %v, want %v", ok, c.fast)
			}
			var want Event
			jerr := json.Unmarshal(c.raw, &want)
			if ok {
				sameEvent(t, c.raw, fast, want)
			}
			got, err := DecodeEvent(c.raw)
			if (err == nil) != (jerr == nil) {
				t.Fatalf("DecodeEvent error %v, encoding/json %v", err, jerr)
			}
			if err == nil {
				sameEvent(t, c.raw, got, want)
				if got.ComputeHash() != want.ComputeHash() {
					t.Fatal("hashes differ")
				}
			}
		})
	}
}

// FuzzDecodeFileWrittenFast: whatever the fast path accepts as a
// file.written payload, encoding/json decodes to the same; and AsFileChange
// agrees with decoding the payload by encoding/json.
func FuzzDecodeFileWrittenFast(f *testing.F) {
	f.Add([]byte(`{"path":"src/a.go","hash":"ab","size":200,"mode":420}`))
	f.Add([]byte(`{"path":"é","hash":"","size":0,"mode":0}`))
	f.Add([]byte(`{"path":"a\u003cb","size":-1}`))
	f.Add([]byte(`{"mode":4294967296,"size":9223372036854775808}`))
	f.Add([]byte(` { "path" : "x" , "path" : "y" } `))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want FileWritten
		jerr := json.Unmarshal(raw, &want)
		if got, ok := decodeFileWrittenFast(raw); ok && (jerr != nil || got != want) {
			t.Fatalf("%q: fast %+v, encoding/json %+v (%v)", raw, got, want, jerr)
		}
		c, isFile, err := AsFileChange(Event{Type: TypeFileWritten, Payload: raw})
		if !isFile || (err == nil) != (jerr == nil) {
			t.Fatalf("%q: AsFileChange %v, encoding/json %v", raw, err, jerr)
		}
		if err == nil && c != (FileChange{Path: want.Path, Hash: want.Hash, Size: want.Size, Mode: want.Mode}) {
			t.Fatalf("%q: AsFileChange %+v, encoding/json %+v", raw, c, want)
		}
	})
}

// BenchmarkDecodeEvent decodes the stored forms every replica decodes for
// every event of the log.
func BenchmarkDecodeEvent(b *testing.B) {
	for i, raw := range sealedForms(b) {
		b.Run([]string{"file written", "file deleted", "gate decided"}[i], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeEvent(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
