package domain

import (
	"encoding/json"
	"reflect"
	"testing"
)

// toolInputSeeds are tool_inputs as agents send them, and their edges.
var toolInputSeeds = []string{
	`{"command":"go test ./... && git status","description":"Run the tests","timeout":120000}`,
	`{"command":"echo \"hi\" \u0026\u0026 printf 'a\\nb'\n","run_in_background":false}`,
	`{"file_path":"/p/a.go","content":"package a\n\tfunc é() {}\r\n\u00e9\u4e2d/\/\b\f"}`,
	`{"file_path":"/p/a.go","old_string":"x","new_string":"y","replace_all":true}`,
	` { "a" : null , "b" : -0 , "c" : 1.5e3 , "d" : 0.25 , "e" : -12 , "f" : 1E-2 } `,
	`{"a":1,"a":"twice"}`,
	`{}`,
	`null`,
	`[]`,
	`{"edits":[{"old_string":"a","new_string":"b"}],"file_path":"/p/x"}`,
	`{"a":{"b":1}}`,
	`{"a":"\ud83d\ude00"}`,
	`{"a":"\ud83d"}`,
	`{"a":"` + "\xff" + `"}`,
	`{"a":01}`,
	`{"a":1.}`,
	`{"a":.5}`,
	`{"a":+1}`,
	`{"a":1e}`,
	`{"a":1e400}`,
	`{"a":12345678901234567890}`,
	`{"a":tru}`,
	`{"a":"x\q"}`,
	`{"a":"x` + "\n" + `"}`,
	`{"a":"x"`,
	`{"a":"x"} x`,
	`{"a" "x"}`,
	`{"a":"x",}`,
	`{"\u0061":"key escaped","k\"q":1}`,
	`{"a":"\u00"}`,
	`{"a":"\u00zz"}`,
}

// TestDecodeToolInput: each seed decodes as encoding/json decodes it, and
// the usual ones take the fast read.
func TestDecodeToolInput(t *testing.T) {
	t.Parallel()
	for _, raw := range toolInputSeeds {
		sameAsJSON(t, []byte(raw))
	}
	for _, raw := range toolInputSeeds[:7] {
		var m map[string]any
		if !decodeFlatObject([]byte(raw), &m) {
			t.Errorf("decodeFlatObject(%s) went to encoding/json", raw)
		}
	}
}

// FuzzDecodeToolInput: whatever the fast read accepts, encoding/json
// decodes to the same map, and DecodeToolInput fails exactly when
// encoding/json does.
func FuzzDecodeToolInput(f *testing.F) {
	for _, raw := range toolInputSeeds {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fast map[string]any
		if decodeFlatObject(raw, &fast) {
			var want map[string]any
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("decodeFlatObject accepted %q, encoding/json refuses it: %v", raw, err)
			}
			if !reflect.DeepEqual(fast, want) {
				t.Fatalf("decodeFlatObject(%q) = %#v, encoding/json %#v", raw, fast, want)
			}
		}
		sameAsJSON(t, raw)
	})
}

func sameAsJSON(t *testing.T, raw []byte) {
	t.Helper()
	var want map[string]any
	jerr := json.Unmarshal(raw, &want)
	// Into nothing, and into a map that held another input.
	for _, into := range []map[string]any{nil, {"command": "ls", "a": 1.0}} {
		got, err := DecodeToolInput(raw, into)
		if (err == nil) != (jerr == nil) {
			t.Fatalf("DecodeToolInput(%q, %v) error %v, encoding/json %v", raw, into, err, jerr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeToolInput(%q, %v) = %#v, encoding/json %#v", raw, into, got, want)
		}
	}
}
