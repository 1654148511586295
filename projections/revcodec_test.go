package projections

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzEncodeRevision: encodeRevision writes exactly what json.Marshal
// writes, plain texts or not.
func FuzzEncodeRevision(f *testing.F) {
	f.Add("src/a.go", "ab12", int64(200), uint32(0o644), uint64(3), "ag-1", uint64(9), int64(1764489600123456789), false, "", "", "file.written")
	f.Add("é/<b>&\u2028", "", int64(-1), uint32(0), uint64(0), "", uint64(0), int64(0), true, "old\"x", "new\\y", "file.deleted")
	f.Add("a\x00\xff", "h", int64(1), uint32(1), uint64(1), "\t", uint64(1), int64(-62135596800000000), false, "f", "", "file.moved")
	// Non-ASCII first, then a character JSON escapes, every other text plain.
	f.Add("é\"a", "ab", int64(0), uint32(0), uint64(0), "ag", uint64(0), int64(0), false, "", "", "file.written")
	f.Fuzz(func(t *testing.T, path, hash string, size int64, mode uint32, version uint64, agent string, seq uint64, nanos int64, deleted bool, from, to, typ string) {
		for _, at := range []time.Time{time.Unix(0, nanos).UTC(), time.Unix(nanos, 0).UTC(), time.Unix(0, nanos).In(time.FixedZone("x", 3600))} {
			r := Revision{FileInfo: FileInfo{Path: path, Hash: hash, Size: size, Mode: mode, Version: version, AgentID: agent, Seq: seq, Time: at},
				Deleted: deleted, From: from, MovedTo: to, Type: typ}
			want, werr := json.Marshal(r)
			got, err := encodeRevision(r)
			if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("encodeRevision:\n%s (%v)\njson.Marshal:\n%s (%v)", got, err, want, werr)
			}
		}
	})
}
