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
	d.ws()
	if !d.byte('{') {
		return e, false
	}
	seen := 0
	d.ws()
	if d.byte('}') {
		return e, d.end()
	}
	for {
		d.ws()
		key, ok := d.str()
		if !ok {
			return e, false
		}
		d.ws()
		if !d.byte(':') {
			return e, false
		}
		d.ws()
		var bit int
		switch string(key) {
		case "id":
			bit = fieldID
			s, ok := d.str()
			if !ok || e.ID.UnmarshalText(s) != nil {
				return e, false
			}
		case "seq":
			bit = fieldSeq
			if e.Seq, ok = d.uint(); !ok {
				return e, false
			}
		case "stream_id":
			bit = fieldStreamID
			if e.StreamID, ok = d.text(); !ok {
				return e, false
			}
		case "stream_version":
			bit = fieldStreamVersion
			if e.StreamVersion, ok = d.uint(); !ok {
				return e, false
			}
		case "type":
			bit = fieldType
			if e.Type, ok = d.text(); !ok {
				return e, false
			}
		case "schema_version":
			bit = fieldSchemaVersion
			v, ok := d.uint()
			if !ok || v > 1<<31-1 {
				return e, false
			}
			e.SchemaVersion = int(v)
		case "time":
			bit = fieldTime
			start := d.i
			if _, ok := d.str(); !ok || e.Time.UnmarshalJSON(raw[start:d.i]) != nil {
				return e, false
			}
		case "agent_id":
			bit = fieldAgentID
			if e.AgentID, ok = d.text(); !ok {
				return e, false
			}
		case "session_id":
			bit = fieldSessionID
			if e.SessionID, ok = d.text(); !ok {
				return e, false
			}
		case "correlation_id":
			bit = fieldCorrelationID
			if e.CorrelationID, ok = d.text(); !ok {
				return e, false
			}
		case "causation_id":
			bit = fieldCausationID
			if e.CausationID, ok = d.text(); !ok {
				return e, false
			}
		case "payload":
			bit = fieldPayload
			start := d.i
			if !d.skipValue() || !json.Valid(raw[start:d.i]) {
				return e, false
			}
			e.Payload = json.RawMessage(raw[start:d.i:d.i])
		case "prev_hash":
			bit = fieldPrevHash
			if e.PrevHash, ok = d.text(); !ok {
				return e, false
			}
		case "hash":
			bit = fieldHash
			if e.Hash, ok = d.text(); !ok {
				return e, false
			}
		default:
			return e, false
		}
		if seen&bit != 0 {
			return e, false
		}
		seen |= bit
		d.ws()
		if d.byte('}') {
			return e, d.end()
		}
		if !d.byte(',') {
			return e, false
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
