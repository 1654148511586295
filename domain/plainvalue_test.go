package domain

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// plainValue reports whether the whole input is one JSON value as
// PlainDecoder.value reads it.
func plainValue(in []byte) bool {
	d := PlainDecoder{b: in}
	d.ws()
	return d.value(0) && d.end()
}

func TestPlainValueMatchesJSONValid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `-12E+4`, `true`, `false`, `null`,
		`{"a":[1,2.5,"\"q\""],"b":null}`, ` { "a" : { "b" : [ true , false , [ ] ] } } `,
		`"\u00e9\n\t\/\\\b\f\r"`, `"\uD800"`, "\"\xff\xfe\"", `"é"`,
		// Refused by both.
		``, ` `, `{`, `}`, `[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{a:1}`, `{1:1}`,
		`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `tru`, `nul`, `True`,
		`"a`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\nb\"", "\"\x00\"", `'a'`, `[1 2]`, `{"a":1 "b":2}`,
		`1 2`, `[]]`, `{}}`,
		strings.Repeat("[", maxValueDepth+1) + strings.Repeat("]", maxValueDepth+1),
	} {
		got, want := plainValue([]byte(in)), json.Valid([]byte(in))
		deep := bytes.Count([]byte(in), []byte("[")) > maxValueDepth
		if got != want && !(deep && !got) {
			t.Errorf("value(%q) = %v, json.Valid = %v", in, got, want)
		}
	}
}

// FuzzPlainValue: value accepts nothing json.Valid refuses, and refuses
// nothing json.Valid accepts unless it nests deeper than maxValueDepth.
func FuzzPlainValue(f *testing.F) {
	for _, raw := range sealedForms(f) {
		f.Add(raw)
	}
	for _, s := range []string{`{"a":[1,2.5,"\"q\""],"b":null}`, `"\u00e9"`, `-1.5e+3`, `[[[]]]`, `{"":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, want := plainValue(in), json.Valid(in)
		if got && !want {
			t.Fatalf("value accepts %q, which json.Valid refuses", in)
		}
		if want && !got && bytes.Count(in, []byte("["))+bytes.Count(in, []byte("{")) <= maxValueDepth {
			t.Fatalf("value refuses %q, which json.Valid accepts", in)
		}
	})
}
