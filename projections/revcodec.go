package projections

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// The fields of a stored revision, as bits, to refuse a key seen twice.
const (
	revPath = 1 << iota
	revHash
	revSize
	revMode
	revVersion
	revAgent
	revSeq
	revTime
	revDeleted
	revFrom
	revMovedTo
	revType
)

// decodeRevision decodes what encodeRevision writes. Listing a tree decodes
// a revision per file, and encoding/json was half of that work; anything
// outside the plain subset (see domain.PlainDecoder) is decoded by
// encoding/json instead, so both give the same revision
// (FuzzDecodeRevision checks it).
func decodeRevision(raw []byte) (Revision, error) {
	var r Revision
	d := domain.NewPlainDecoder(raw)
	ok := d.Object(func(key []byte) (bit int, ok bool) {
		switch string(key) {
		case "path":
			r.Path, ok = d.Text()
			return revPath, ok
		case "hash":
			r.Hash, ok = d.Text()
			return revHash, ok
		case "size":
			v, ok := d.Uint()
			r.Size = int64(v)
			return revSize, ok && v <= 1<<63-1
		case "mode":
			v, ok := d.Uint()
			r.Mode = uint32(v)
			return revMode, ok && v <= 1<<32-1
		case "version":
			r.Version, ok = d.Uint()
			return revVersion, ok
		case "last_agent":
			r.AgentID, ok = d.Text()
			return revAgent, ok
		case "last_seq":
			r.Seq, ok = d.Uint()
			return revSeq, ok
		case "mtime":
			r.Time, ok = d.Time()
			return revTime, ok
		case "deleted":
			r.Deleted, ok = d.Bool()
			return revDeleted, ok
		case "moved_from":
			r.From, ok = d.Text()
			return revFrom, ok
		case "moved_to":
			r.MovedTo, ok = d.Text()
			return revMovedTo, ok
		case "type":
			r.Type, ok = d.Text()
			return revType, ok
		}
		return 0, false
	})
	if ok {
		return r, nil
	}
	r = Revision{}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("decode revision: %w", err)
	}
	return r, nil
}

// revisionSeq returns the last_seq of a revision that encodeRevision wrote,
// without decoding the rest: a past tree checks it for every path. In JSON
// text a quote inside a string is always escaped, so `,"last_seq":` occurs
// only as the key itself. ok=false when it is not there as plain digits.
func revisionSeq(raw []byte) (seq uint64, ok bool) {
	const key = `,"last_seq":`
	i := bytes.Index(raw, []byte(key))
	if i < 0 {
		return 0, false
	}
	d := domain.NewPlainDecoder(raw[i+len(key):])
	return d.Uint()
}
