package projections

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// encodeRevision returns json.Marshal(r) byte for byte, written without
// reflection when every text is plain (valid UTF-8 that JSON writes as is)
// and the time is one JSON can hold: a replica encodes a revision for every
// file event it applies. revcodec_test.go checks the identity.
func encodeRevision(r Revision) ([]byte, error) {
	year := r.Time.Year()
	if !plainJSON(r.Path) || !plainJSON(r.Hash) || !plainJSON(r.AgentID) || !plainJSON(r.From) ||
		!plainJSON(r.MovedTo) || !plainJSON(r.Type) || year < 0 || year > 9999 {
		return json.Marshal(r)
	}
	b := make([]byte, 0, 192+len(r.Path)+len(r.Hash)+len(r.From)+len(r.MovedTo))
	b = append(b, `{"path":"`...)
	b = append(b, r.Path...)
	b = append(b, `","hash":"`...)
	b = append(b, r.Hash...)
	b = append(b, `","size":`...)
	b = strconv.AppendInt(b, r.Size, 10)
	b = append(b, `,"mode":`...)
	b = strconv.AppendUint(b, uint64(r.Mode), 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, r.Version, 10)
	b = append(b, `,"last_agent":"`...)
	b = append(b, r.AgentID...)
	b = append(b, `","last_seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"mtime":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if r.Deleted {
		b = append(b, `,"deleted":true`...)
	}
	if r.From != "" {
		b = append(b, `,"moved_from":"`...)
		b = append(b, r.From...)
		b = append(b, '"')
	}
	if r.MovedTo != "" {
		b = append(b, `,"moved_to":"`...)
		b = append(b, r.MovedTo...)
		b = append(b, '"')
	}
	b = append(b, `,"type":"`...)
	b = append(b, r.Type...)
	return append(b, `"}`...), nil
}

// plainJSON reports whether encoding/json writes s as is between quotes:
// valid UTF-8 with no character it escapes (quote, backslash, control
// characters, <, >, &, U+2028 and U+2029).
func plainJSON(s string) bool {
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
