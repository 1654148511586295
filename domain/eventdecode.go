package domain

import (
	"encoding/json"
)

// The fields of an event's stored form, as bits, to refuse a key seen twice.
const (
	fieldID = 1 << iota
	fieldSeq
	fieldStreamID
	fieldStreamVersion
	fieldType
	fieldSchemaVersion
	fieldTime
	fieldAgentID
	fieldSessionID
	fieldCorrelationID
	fieldCausationID
	fieldPayload
	fieldPrevHash
	fieldHash
	fieldChangeSet
)

// decodeFast decodes the common shape of an event's stored form (what
// json.Marshal writes for an Event) without reflection: replicas decode
// every event of the log, and encoding/json was half of their CPU. It
// handles only unescaped, valid UTF-8 strings, plain unsigned integers, the
// exact field names, each at most once, and no null. ok=false means the input
// is outside that subset and the caller must decode it with encoding/json;
// for every input it accepts, the result is what encoding/json gives
// (FuzzDecodeFast checks it). The payload is a subslice of raw, not a copy.
func decodeFast(raw []byte) (e Event, ok bool) {
	d := PlainDecoder{b: raw}
	ok = d.Object(func(key []byte) (bit int, ok bool) {
		switch string(key) {
		case "id":
			s, ok := d.str()
			return fieldID, ok && e.ID.UnmarshalText(s) == nil
		case "seq":
			e.Seq, ok = d.Uint()
			return fieldSeq, ok
		case "stream_id":
			e.StreamID, ok = d.Text()
			return fieldStreamID, ok
		case "stream_version":
			e.StreamVersion, ok = d.Uint()
			return fieldStreamVersion, ok
		case "type":
			e.Type, ok = d.Text()
			return fieldType, ok
		case "schema_version":
			v, ok := d.Uint()
			e.SchemaVersion = int(v)
			return fieldSchemaVersion, ok && v <= 1<<31-1
		case "time":
			e.Time, ok = d.Time()
			return fieldTime, ok
		case "agent_id":
			e.AgentID, ok = d.Text()
			return fieldAgentID, ok
		case "session_id":
			e.SessionID, ok = d.Text()
			return fieldSessionID, ok
		case "correlation_id":
			e.CorrelationID, ok = d.Text()
			return fieldCorrelationID, ok
		case "causation_id":
			e.CausationID, ok = d.Text()
			return fieldCausationID, ok
		case "payload":
			start := d.i
			if !d.value(0) {
				return fieldPayload, false
			}
			e.Payload = json.RawMessage(raw[start:d.i:d.i])
			return fieldPayload, true
		case "change_set":
			ok := d.Members(func(key []byte) (int, bool) {
				var ok bool
				switch string(key) {
				case "first":
					e.ChangeSet.First, ok = d.Uint()
					return 1, ok
				case "last":
					e.ChangeSet.Last, ok = d.Uint()
					return 2, ok
				}
				return 0, false
			})
			return fieldChangeSet, ok
		case "prev_hash":
			e.PrevHash, ok = d.Text()
			return fieldPrevHash, ok
		case "hash":
			e.Hash, ok = d.Text()
			return fieldHash, ok
		}
		return 0, false
	})
	return e, ok
}

// decodeFileWrittenFast is decodeFast for the payload of a file.written
// event, which every replica decodes for every file write.
func decodeFileWrittenFast(raw []byte) (p FileWritten, ok bool) {
	d := PlainDecoder{b: raw}
	ok = d.Object(func(key []byte) (bit int, ok bool) {
		switch string(key) {
		case "path":
			s, ok := d.Text()
			p.Path = Path(s)
			return 1, ok
		case "hash":
			p.Hash, ok = d.Text()
			return 2, ok
		case "size":
			v, ok := d.Uint()
			p.Size = int64(v)
			return 4, ok && v <= 1<<63-1
		case "mode":
			v, ok := d.Uint()
			p.Mode = uint32(v)
			return 8, ok && v <= 1<<32-1
		}
		return 0, false
	})
	return p, ok
}
