package domain

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// encodeEvent returns json.Marshal(e) byte for byte, written without
// reflection when every text is plain (see PlainJSON), the time is UTC in
// years JSON can hold and the payload is valid, compact JSON that
// encoding/json copies as is: the writer encodes every event it appends.
// Anything else goes to json.Marshal. eventencode_test.go checks the
// identity.
func encodeEvent(e Event) ([]byte, error) {
	year := e.Time.Year()
	if !PlainJSON(e.StreamID) || !PlainJSON(e.Type) || !PlainJSON(e.AgentID) || !PlainJSON(e.SessionID) ||
		!PlainJSON(e.CorrelationID) || !PlainJSON(e.CausationID) || !PlainJSON(e.PrevHash) || !PlainJSON(e.Hash) ||
		e.Time.Location() != time.UTC || year < 0 || year > 9999 || !copiedAsIs(e.Payload) {
		return json.Marshal(e)
	}
	b := make([]byte, 0, 320+len(e.StreamID)+len(e.Payload)+len(e.AgentID)+len(e.SessionID)+len(e.CorrelationID)+len(e.CausationID))
	b = append(b, `{"id":"`...)
	b = appendUUID(b, e.ID)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"stream_id":"`...)
	b = append(b, e.StreamID...)
	b = append(b, `","stream_version":`...)
	b = strconv.AppendUint(b, e.StreamVersion, 10)
	b = append(b, `,"type":"`...)
	b = append(b, e.Type...)
	b = append(b, `","schema_version":`...)
	b = strconv.AppendInt(b, int64(e.SchemaVersion), 10)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","agent_id":"`...)
	b = append(b, e.AgentID...)
	b = append(b, '"')
	for _, f := range [...]struct{ key, val string }{{`,"session_id":"`, e.SessionID}, {`,"correlation_id":"`, e.CorrelationID}, {`,"causation_id":"`, e.CausationID}} {
		if f.val != "" {
			b = append(b, f.key...)
			b = append(b, f.val...)
			b = append(b, '"')
		}
	}
	b = append(b, `,"payload":`...)
	b = append(b, e.Payload...)
	if e.ChangeSet != (ChangeSet{}) {
		b = append(b, `,"change_set":{"first":`...)
		b = strconv.AppendUint(b, e.ChangeSet.First, 10)
		b = append(b, `,"last":`...)
		b = strconv.AppendUint(b, e.ChangeSet.Last, 10)
		b = append(b, '}')
	}
	b = append(b, `,"prev_hash":"`...)
	b = append(b, e.PrevHash...)
	b = append(b, `","hash":"`...)
	b = append(b, e.Hash...)
	return append(b, `"}`...), nil
}

// appendUUID appends id in its text form, xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func appendUUID(b []byte, id [16]byte) []byte {
	var s [36]byte
	hex.Encode(s[0:8], id[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], id[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], id[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], id[8:10])
	s[23] = '-'
	hex.Encode(s[24:], id[10:])
	return append(b, s[:]...)
}

// copiedAsIs reports whether json.Marshal writes the raw JSON p unchanged:
// it is valid, has no space outside strings (encoding/json compacts it)
// and none of <, >, & or U+2028/U+2029 (which it escapes).
func copiedAsIs(p json.RawMessage) bool {
	if len(p) == 0 {
		return false
	}
	inString := false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && i+2 < len(p) && p[i+1] == 0x80 && p[i+2]&^1 == 0xA8:
			return false
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return json.Valid(p)
}

// PlainJSON reports whether encoding/json writes s as is between quotes:
// valid UTF-8 with no character it escapes (quote, backslash, control
// characters, <, >, &, U+2028 and U+2029).
func PlainJSON(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii || (utf8.ValidString(s) && !strings.ContainsAny(s, "\u2028\u2029"))
}
