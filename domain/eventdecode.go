package domain

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
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
	d := fastDecoder{b: raw}
	ok = d.object(func(key []byte) (bit int, ok bool) {
		switch string(key) {
		case "id":
			s, ok := d.str()
			return fieldID, ok && e.ID.UnmarshalText(s) == nil
		case "seq":
			e.Seq, ok = d.uint()
			return fieldSeq, ok
		case "stream_id":
			e.StreamID, ok = d.text()
			return fieldStreamID, ok
		case "stream_version":
			e.StreamVersion, ok = d.uint()
			return fieldStreamVersion, ok
		case "type":
			e.Type, ok = d.text()
			return fieldType, ok
		case "schema_version":
			v, ok := d.uint()
			e.SchemaVersion = int(v)
			return fieldSchemaVersion, ok && v <= 1<<31-1
		case "time":
			start := d.i
			_, ok := d.str()
			return fieldTime, ok && e.Time.UnmarshalJSON(raw[start:d.i]) == nil
		case "agent_id":
			e.AgentID, ok = d.text()
			return fieldAgentID, ok
		case "session_id":
			e.SessionID, ok = d.text()
			return fieldSessionID, ok
		case "correlation_id":
			e.CorrelationID, ok = d.text()
			return fieldCorrelationID, ok
		case "causation_id":
			e.CausationID, ok = d.text()
			return fieldCausationID, ok
		case "payload":
			start := d.i
			if !d.skipValue() || !json.Valid(raw[start:d.i]) {
				return fieldPayload, false
			}
			e.Payload = json.RawMessage(raw[start:d.i:d.i])
			return fieldPayload, true
		case "change_set":
			ok := d.members(func(key []byte) (int, bool) {
				var ok bool
				switch string(key) {
				case "first":
					e.ChangeSet.First, ok = d.uint()
					return 1, ok
				case "last":
					e.ChangeSet.Last, ok = d.uint()
					return 2, ok
				}
				return 0, false
			})
			return fieldChangeSet, ok
		case "prev_hash":
			e.PrevHash, ok = d.text()
			return fieldPrevHash, ok
		case "hash":
			e.Hash, ok = d.text()
			return fieldHash, ok
		}
		return 0, false
	})
	return e, ok
}

// decodeFileWrittenFast is decodeFast for the payload of a file.written
// event, which every replica decodes for every file write.
func decodeFileWrittenFast(raw []byte) (p FileWritten, ok bool) {
	d := fastDecoder{b: raw}
	ok = d.object(func(key []byte) (bit int, ok bool) {
		switch string(key) {
		case "path":
			s, ok := d.text()
			p.Path = Path(s)
			return 1, ok
		case "hash":
			p.Hash, ok = d.text()
			return 2, ok
		case "size":
			v, ok := d.uint()
			p.Size = int64(v)
			return 4, ok && v <= 1<<63-1
		case "mode":
			v, ok := d.uint()
			p.Mode = uint32(v)
			return 8, ok && v <= 1<<32-1
		}
		return 0, false
	})
	return p, ok
}

// object reads a JSON object that is the whole input (whitespace aside),
// calling field for each key with the decoder at its value; field reads
// the value and returns the key's bit (to refuse a key seen twice) and
// whether it could. Unknown keys are field's to refuse.
func (d *fastDecoder) object(field func(key []byte) (bit int, ok bool)) bool {
	d.ws()
	return d.members(field) && d.end()
}

// members reads a JSON object at the decoder's position (a value of an
// enclosing object, or the whole input), as object does, and stops after
// its closing brace.
func (d *fastDecoder) members(field func(key []byte) (bit int, ok bool)) bool {
	if !d.byte('{') {
		return false
	}
	d.ws()
	if d.byte('}') {
		return true
	}
	seen := 0
	for {
		d.ws()
		key, ok := d.str()
		if !ok {
			return false
		}
		d.ws()
		if !d.byte(':') {
			return false
		}
		d.ws()
		bit, ok := field(key)
		if !ok || bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		d.ws()
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

// fastDecoder reads raw from position i.
type fastDecoder struct {
	b []byte
	i int
}

func (d *fastDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte consumes c if it is next.
func (d *fastDecoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (d *fastDecoder) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// str reads a string without escapes or control characters whose bytes are
// valid UTF-8, and returns its contents (a subslice).
func (d *fastDecoder) str() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start, ascii := d.i, true
	for ; d.i < len(d.b); d.i++ {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// text is str as a Go string.
func (d *fastDecoder) text() (string, bool) {
	s, ok := d.str()
	return string(s), ok
}

// uint reads a JSON number that is a plain unsigned integer fitting 64 bits.
func (d *fastDecoder) uint() (uint64, bool) {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	digits := d.b[start:d.i]
	if len(digits) == 0 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	return v, err == nil
}

// skipValue moves past one JSON value without checking it (json.Valid
// does): strings, with their escapes, and nested brackets.
func (d *fastDecoder) skipValue() bool {
	depth := 0
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch c {
		case '"':
			d.i++
			for d.i < len(d.b) && d.b[d.i] != '"' {
				if d.b[d.i] == '\\' {
					d.i++
				}
				d.i++
			}
			if d.i >= len(d.b) {
				return false
			}
			d.i++
			if depth == 0 {
				return true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return true // a scalar ended by its container
			}
			depth--
			if depth == 0 {
				d.i++
				return true
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return true
			}
		}
		d.i++
	}
	return depth == 0
}
