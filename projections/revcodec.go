package projections

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// encodeRevision returns json.Marshal(r) byte for byte, written without
// reflection when every text is plain (valid UTF-8 that JSON writes as is)
// and the time is one JSON can hold: a replica encodes a revision for every
// file event it applies. revcodec_test.go checks the identity.
func encodeRevision(r Revision) ([]byte, error) {
	year := r.Time.Year()
	if !domain.PlainJSON(r.Path) || !domain.PlainJSON(r.Hash) || !domain.PlainJSON(r.AgentID) || !domain.PlainJSON(r.From) ||
		!domain.PlainJSON(r.MovedTo) || !domain.PlainJSON(r.Type) || year < 0 || year > 9999 {
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
