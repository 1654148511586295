package domain

import (
	"testing"
	"time"
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
