package projections

import (
	"bytes"
	"encoding/json"
	"reflect"
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
			if err == nil {
				checkDecodeRevision(t, got)
				if seq, ok := revisionSeq(got); !ok || seq != r.Seq {
					t.Fatalf("revisionSeq(%s) = %d, %t; want %d", got, seq, ok, r.Seq)
				}
			}
		}
	})
}

// FuzzDecodeRevision: decodeRevision gives what json.Unmarshal gives, an
// error where it gives one, whichever path decodes the input.
func FuzzDecodeRevision(f *testing.F) {
	for _, s := range []string{
		`{"path":"a.go","hash":"h","size":1,"mode":420,"version":2,"last_agent":"ag","last_seq":9,"mtime":"2026-11-30T10:00:00.5Z","type":"file.written"}`,
		`{"path":"a.go","hash":"","size":0,"mode":0,"version":0,"last_agent":"","last_seq":0,"mtime":"0001-01-01T00:00:00Z","deleted":true,"moved_from":"b","moved_to":"c","type":"file.moved"}`,
		`{"path":"a","path":"b"}`,
		`{"PATH":"a","deleted":false,"size":-1}`,
		`{"path":"\u00e9","mode":4294967296,"deleted":null}`,
		`{"mtime":"2026-11-30T10:00:00+01:00","unknown":[1,{"x":2}]} `,
		`{"deleted":tru}`,
		`{"size":1e3}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkDecodeRevision(t, raw) })
}

func checkDecodeRevision(t *testing.T, raw []byte) {
	t.Helper()
	var want Revision
	werr := json.Unmarshal(raw, &want)
	got, err := decodeRevision(raw)
	if (err == nil) != (werr == nil) || werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRevision(%q) = %+v, %v; json.Unmarshal: %+v, %v", raw, got, err, want, werr)
	}
}
