package projections

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzRevisionCodec: every revision decodes to itself (its time in UTC),
// and revisionSeq reads its seq.
func FuzzRevisionCodec(f *testing.F) {
	hash := strings.Repeat("0123456789abcdef", 4)
	f.Add("src/a.go", hash, int64(200), uint32(0o644), uint64(3), "ag-1", uint64(9), int64(1764489600123456789), false, "", "", "file.written")
	f.Add("é/<b>&\u2028", "", int64(-1), uint32(0), uint64(0), "", uint64(0), int64(0), true, "old\"x", "new\\y", "file.deleted")
	f.Add("a\x00\xff", strings.ToUpper(hash), int64(1), uint32(1), uint64(1), "\t", uint64(1<<63), int64(-62135596800000000), false, "f", "", "file.moved")
	f.Add("b", hash[:63]+"g", int64(-1<<63), uint32(1<<32-1), uint64(1<<64-1), "", uint64(0), int64(-1), false, "", "t", "file.touched")
	f.Fuzz(func(t *testing.T, path, hash string, size int64, mode uint32, version uint64, agent string, seq uint64, nanos int64, deleted bool, from, to, typ string) {
		for _, at := range []time.Time{time.Unix(0, nanos).UTC(), time.Unix(nanos, 0).UTC(), time.Unix(0, nanos).In(time.FixedZone("x", 3600)), {}} {
			r := Revision{FileInfo: FileInfo{Path: path, Hash: hash, Size: size, Mode: mode, Version: version, AgentID: agent, Seq: seq, Time: at},
				Deleted: deleted, From: from, MovedTo: to, Type: typ}
			raw := appendRevision(nil, r)
			got, err := decodeRevision(path, raw)
			want := r
			want.Time = at.UTC()
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeRevision(appendRevision(nil, %+v)) = %+v, %v", r, got, err)
			}
			if s, ok := revisionSeq(raw); !ok || s != seq {
				t.Fatalf("revisionSeq = %d, %t; want %d", s, ok, seq)
			}
		}
	})
}

// FuzzDecodeRevision: any bytes either fail to decode with errRevision or
// decode to a revision that encodes back to a revision equal to it.
func FuzzDecodeRevision(f *testing.F) {
	good := appendRevision(nil, Revision{FileInfo: FileInfo{Hash: strings.Repeat("ab", 32), Size: 3, Seq: 7, AgentID: "ag",
		Time: time.Date(2026, 11, 30, 10, 0, 0, 5, time.UTC)}, Type: "file.written"})
	for _, s := range [][]byte{good, good[:len(good)-1], append(good, 0), {}, []byte(`{"path":"a"}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decodeRevision("p", raw)
		if err != nil {
			if !errors.Is(err, errRevision) {
				t.Fatalf("decodeRevision(%q): %v, not errRevision", raw, err)
			}
			return
		}
		again, err := decodeRevision("p", appendRevision(nil, r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("decodeRevision(%q) = %+v, which round-trips to %+v, %v", raw, r, again, err)
		}
		if s, ok := revisionSeq(raw); !ok || s != r.Seq {
			t.Fatalf("revisionSeq(%q) = %d, %t; decodeRevision says %d", raw, s, ok, r.Seq)
		}
	})
}

// TestDamagedRevisions: each way a stored revision can be damaged is an
// error naming the path, never a revision made up of what is left.
func TestDamagedRevisions(t *testing.T) {
	t.Parallel()
	good := appendRevision(nil, Revision{FileInfo: FileInfo{Hash: strings.Repeat("ab", 32), Size: 3, Mode: 0o644, Seq: 7, AgentID: "ag",
		Time: time.Date(2026, 11, 30, 10, 0, 0, 5, time.UTC)}, From: "old", Type: "file.moved"})
	// The type's index, then the binary hash and three texts: "ag", "old", "".
	typeAt := len(good) - 1 - 32 - 3 - 4 - 1
	if good[typeAt] != 3 {
		t.Fatalf("the type index is not at %d in %x", typeAt, good)
	}
	with := func(i int, b byte) []byte {
		out := append([]byte(nil), good...)
		out[i] = b
		return out
	}
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"JSON (layout 2)", []byte(`{"path":"a","hash":"h","last_seq":3,"type":"file.written"}`)},
		{"another format", with(0, 2)},
		{"an unknown flag", with(1, 0x80)},
		{"truncated", good[:len(good)-1]},
		{"truncated in the hash", good[:20]},
		{"a byte left over", append(append([]byte(nil), good...), 0)},
		{"an unknown type index", with(typeAt, 9)},
		{"a text longer than what is left", with(len(good)-1, 5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := decodeRevision("src/a.go", tc.raw)
			if !errors.Is(err, errRevision) || !strings.Contains(err.Error(), "src/a.go") {
				t.Fatalf("decodeRevision(%q) = %+v, %v; want errRevision naming the path", tc.raw, r, err)
			}
		})
	}
}

// TestRevisionSize: a file write's revision, what the index holds a
// million of, stays small: the path is the key's and the hash is binary.
func TestRevisionSize(t *testing.T) {
	t.Parallel()
	r := Revision{FileInfo: FileInfo{Path: "src/pkg042/file00042.go", Hash: strings.Repeat("9f", 32), Size: 4096, Mode: 0o644,
		Version: 120, AgentID: "builder-1", Seq: 987654, Time: time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)}, Type: "file.written"}
	if n := len(appendRevision(nil, r)); n > 64 {
		t.Fatalf("a file write's revision takes %d bytes, want at most 64", n)
	}
}
