package claudecode

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr bool
		tool    string
		elided  []string
	}{
		{name: "pre bash", in: `{"session_id":"s","cwd":"/p","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"ls -l"}}`, tool: "Bash"},
		{name: "spaces and escapes", in: " \n{ \"tool_name\" : \"Wr\\u0069te\", \"tool_input\": {\"content\": \"a\\nb\\\"c\"} , \"n\": [1, -2.5e3, true, false, null] }\n", tool: "Write"},
		{name: "multi-byte text", in: `{"tool_name":"Édit","x":"日本語 é"}`, tool: "Édit"},
		{name: "empty", in: "", wantErr: true},
		{name: "not an object", in: `["x"]`, wantErr: true},
		{name: "truncated", in: `{"tool_name":"Bash"`, wantErr: true},
		{name: "trailing data", in: `{"tool_name":"Bash"} {}`, wantErr: true},
		{name: "invalid utf-8", in: "{\"tool_name\":\"\xff\"}", wantErr: true},
		{name: "cut multi-byte", in: "{\"tool_name\":\"\xc3\"}", wantErr: true},
		{name: "control byte", in: "{\"tool_name\":\"a\x01\"}", wantErr: true},
		{name: "bad escape", in: `{"tool_name":"\x"}`, wantErr: true},
		{name: "bad number", in: `{"n":01}`, wantErr: true},
		{name: "bad literal", in: `{"n":nul}`, wantErr: true},
		{name: "missing comma", in: `{"a":1 "b":2}`, wantErr: true},
		{name: "long content elided", in: `{"tool_name":"Write","tool_input":{"file_path":"/p/x","content":"` + strings.Repeat("a", MaxString+1) + `"}}`, tool: "Write", elided: []string{"tool_input.content"}},
		{name: "long string in an array", in: `{"tool_name":"MultiEdit","tool_input":{"edits":[{"new_string":"` + strings.Repeat("é", MaxString) + `"}]}}`, tool: "MultiEdit", elided: []string{"tool_input.edits.[0].new_string"}},
		{name: "string at the limit kept", in: `{"tool_name":"Write","c":"` + strings.Repeat("a", MaxString) + `"}`, tool: "Write"},
		{name: "long key", in: `{"` + strings.Repeat("k", maxKey+1) + `":1}`, wantErr: true},
		{name: "too deep", in: `{"a":` + strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2) + `}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := ReadPayload(strings.NewReader(tt.in))
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrSyntax) {
					t.Fatalf("err = %v, want a syntax error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.ToolName != tt.tool {
				t.Errorf("tool %q, want %q", p.ToolName, tt.tool)
			}
			if strings.Join(p.Elided, ",") != strings.Join(tt.elided, ",") {
				t.Errorf("elided %v, want %v", p.Elided, tt.elided)
			}
			if !json.Valid(p.Raw) {
				t.Errorf("raw is not valid JSON: %.200s", p.Raw)
			}
			if len(tt.elided) == 0 {
				var want bytes.Buffer
				if err := json.Compact(&want, []byte(tt.in)); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p.Raw, want.Bytes()) {
					t.Errorf("raw %.200s, want %.200s", p.Raw, want.Bytes())
				}
			}
		})
	}
}

// TestReadPayloadStreams reads a 300 MiB event without holding it.
func TestReadPayloadStreams(t *testing.T) {
	t.Parallel()
	const size = 300 << 20
	r := io.MultiReader(
		strings.NewReader(`{"hook_event_name":"PostToolUse","tool_name":"Edit","tool_use_id":"t1","tool_input":{"file_path":"/p/big.txt"},"tool_response":{"originalFile":"`),
		io.LimitReader(repeatReader('x'), size),
		strings.NewReader(`"}}`))
	p, err := ReadPayload(r)
	if err != nil {
		t.Fatal(err)
	}
	if p.InputString("file_path") != "/p/big.txt" || p.ToolUseID != "t1" {
		t.Fatalf("payload %+v", p)
	}
	if len(p.Raw) > 1<<20 {
		t.Fatalf("kept %d bytes", len(p.Raw))
	}
	if len(p.Elided) != 1 || p.Elided[0] != "tool_response.originalFile" {
		t.Fatalf("elided %v", p.Elided)
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// FuzzReadPayload checks the streaming decoder against encoding/json: what
// it accepts is valid JSON and, with nothing left out, the same object
// compacted; valid UTF-8 JSON objects are accepted.
func FuzzReadPayload(f *testing.F) {
	for _, s := range []string{
		`{"tool_name":"Bash","tool_input":{"command":"ls"}}`,
		`{"a":[1,2,{"b":null}],"c":"\u00e9\n","d":-1.5e-3,"e":true}`,
		"{\"x\":\"\xff\"}", `{"a":}`, `{}`, ` {} `, `{"a":"b"}x`, `[]`, `{"a":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ReadPayload(bytes.NewReader(in))
		if err != nil {
			trimmed := bytes.TrimSpace(in)
			if json.Valid(in) && utf8.Valid(in) && len(trimmed) > 0 && trimmed[0] == '{' && len(in) < MaxString && !tooDeep(in) {
				var probe Payload
				// Fields of the wrong type are a fair refusal.
				if json.Unmarshal(in, &probe) == nil {
					t.Fatalf("refused valid JSON %q: %v", in, err)
				}
			}
			return
		}
		if !json.Valid(p.Raw) {
			t.Fatalf("kept invalid JSON %q from %q", p.Raw, in)
		}
		if len(p.Elided) == 0 {
			var want bytes.Buffer
			if err := json.Compact(&want, in); err != nil {
				t.Fatalf("accepted %q, which encoding/json refuses: %v", in, err)
			}
			if !bytes.Equal(want.Bytes(), p.Raw) {
				t.Fatalf("kept %q, want %q", p.Raw, want.Bytes())
			}
		}
	})
}

func tooDeep(in []byte) bool {
	depth, inStr, esc := 0, false, false
	for _, c := range in {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '{' || c == '['):
			depth++
			if depth > maxDepth {
				return true
			}
		case !inStr && (c == '}' || c == ']'):
			depth--
		}
	}
	return false
}
