package projections

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
)

// A stored revision (the value of cur/<path>, rev/<path>\x00<^seq>, a file
// change in fc/ and a keyframe's file in kt/) is binary, not JSON: a
// replica writes three per file event and a past tree reads one per path,
// and the indexes must stay small enough for the block cache (layout 3
// made a revision about a third of its JSON size). The
// path is the key's, so it is not stored again. Format 1:
//
//	byte     format (revFormat)
//	byte     flags (revDeleted, revBinaryHash)
//	uvarint  seq, the event's global sequence: first, so revisionSeq reads
//	         nothing else
//	uvarint  version (the file stream's)
//	varint   size
//	uvarint  mode
//	varint   mtime, Unix seconds
//	uvarint  mtime, nanoseconds within the second
//	byte     type: an index into revTypes, or 0 and a text
//	hash     32 bytes with revBinaryHash (a 64-digit lowercase hex hash),
//	         else a text
//	text     agent, moved from, moved to
//
// A text is a uvarint length and that many bytes. Times are decoded in UTC.
const revFormat = 1

// Revision flags.
const (
	revDeleted = 1 << iota
	revBinaryHash
	revFlags = revDeleted | revBinaryHash
)

// revTypes are the event types a revision names by index; index 0 means
// the type follows as a text.
var revTypes = [...]string{1: domain.TypeFileWritten, 2: domain.TypeFileDeleted, 3: domain.TypeFileMoved}

// errRevision is the cause of every revision that does not decode.
var errRevision = errors.New("damaged revision")

// appendRevision appends r, all but its path, in format 1 to b.
func appendRevision(b []byte, r Revision) []byte {
	var flags byte
	if r.Deleted {
		flags |= revDeleted
	}
	hash, binHash := blobstore.ParseHash(r.Hash)
	if binHash {
		flags |= revBinaryHash
	}
	b = append(b, revFormat, flags)
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendUvarint(b, r.Version)
	b = binary.AppendVarint(b, r.Size)
	b = binary.AppendUvarint(b, uint64(r.Mode))
	b = binary.AppendVarint(b, r.Time.Unix())
	b = binary.AppendUvarint(b, uint64(r.Time.Nanosecond()))
	typ := byte(0)
	for i, t := range revTypes {
		if i > 0 && t == r.Type {
			typ = byte(i)
		}
	}
	b = append(b, typ)
	if typ == 0 {
		b = appendText(b, r.Type)
	}
	if binHash {
		b = append(b, hash[:]...)
	} else {
		b = appendText(b, r.Hash)
	}
	b = appendText(b, r.AgentID)
	b = appendText(b, r.From)
	return appendText(b, r.MovedTo)
}

// decodeRevision decodes the revision of path that appendRevision wrote.
// Anything else is an error wrapping errRevision: truncated, with bytes
// left over, or of another format.
func decodeRevision(path string, raw []byte) (Revision, error) {
	d := revDecoder{b: raw}
	if d.byte() != revFormat {
		return Revision{}, fmt.Errorf("revision of %q: %w: not format %d", path, errRevision, revFormat)
	}
	flags := d.byte()
	r := Revision{FileInfo: FileInfo{Path: path}, Deleted: flags&revDeleted != 0}
	r.Seq = d.uvarint()
	r.Version = d.uvarint()
	r.Size = d.varint()
	mode := d.uvarint()
	r.Mode = uint32(mode)
	sec, nsec := d.varint(), d.uvarint()
	r.Time = time.Unix(sec, int64(nsec)).UTC()
	if typ := d.byte(); typ == 0 {
		r.Type = d.text()
	} else if int(typ) < len(revTypes) {
		r.Type = revTypes[typ]
	} else {
		d.bad = true
	}
	if flags&revBinaryHash != 0 {
		r.Hash = hex.EncodeToString(d.next(32))
	} else {
		r.Hash = d.text()
	}
	r.AgentID = d.text()
	r.From = d.text()
	r.MovedTo = d.text()
	if d.bad || len(d.b) != 0 || flags&^revFlags != 0 || mode > 1<<32-1 || nsec >= 1e9 {
		return Revision{}, fmt.Errorf("revision of %q: %w", path, errRevision)
	}
	return r, nil
}

// revisionSeq returns the seq of a revision that appendRevision wrote,
// without decoding the rest: a past tree checks it for every path.
// ok=false when raw is not such a revision.
func revisionSeq(raw []byte) (seq uint64, ok bool) {
	if len(raw) < 3 || raw[0] != revFormat {
		return 0, false
	}
	seq, n := binary.Uvarint(raw[2:])
	return seq, n > 0
}

func appendText(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// revDecoder reads a revision's fields in order. The first short or
// malformed field sets bad, and every read after it returns zero values.
type revDecoder struct {
	b   []byte
	bad bool
}

func (d *revDecoder) next(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *revDecoder) byte() byte {
	if b := d.next(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *revDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if !d.skip(n) {
		return 0
	}
	return v
}

func (d *revDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if !d.skip(n) {
		return 0
	}
	return v
}

// skip moves past a varint of n bytes, as binary.Uvarint and Varint
// report it (n <= 0: short or too long).
func (d *revDecoder) skip(n int) bool {
	if d.bad || n <= 0 {
		d.bad = true
		return false
	}
	d.b = d.b[n:]
	return true
}

func (d *revDecoder) text() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	return string(d.next(int(n)))
}
