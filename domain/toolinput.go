package domain

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeToolInput decodes a tool call's tool_input as json.Unmarshal does
// into a map[string]any, with the same map (nil for null) or a failure
// where it fails (and then no map). A non-nil m is cleared and filled, so
// that its room serves again: the map returned is then m, unless raw is
// null or fails (m may then hold some members; clear it before reuse).
// The usual tool_input, an object of strings, numbers and booleans (a Bash
// command, a file path and its content), is read without reflection: on a
// gate's cache miss encoding/json was a third of the time and half of the
// bytes allocated. Anything else (nested values, a lone
// surrogate, invalid UTF-8, bad syntax) goes to encoding/json, so the fast
// read is never a different answer (FuzzDecodeToolInput checks it).
func DecodeToolInput(raw []byte, m map[string]any) (map[string]any, error) {
	clear(m)
	if decodeFlatObject(raw, &m) {
		return m, nil
	}
	clear(m)
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeFlatObject reads a JSON object whose members are scalars into *m
// (made if nil). A key seen twice keeps its last value, as encoding/json
// does. When it returns false, *m may hold some of the members.
func decodeFlatObject(raw []byte, m *map[string]any) bool {
	d := PlainDecoder{b: raw}
	d.ws()
	var key string
	ok := d.members(func() (ok bool) {
		key, ok = d.key()
		return ok
	}, func() bool {
		v, ok := d.scalar()
		if ok {
			if *m == nil {
				*m = make(map[string]any, 4)
			}
			(*m)[key] = v
		}
		return ok
	})
	if ok && *m == nil {
		*m = map[string]any{}
	}
	return ok && d.end()
}

// key reads an object's key, without allocating for the keys Claude
// Code's tools send.
func (d *PlainDecoder) key() (string, bool) {
	start := d.i
	k, ok := d.str()
	if !ok {
		d.i = start
		return d.escapedStr()
	}
	switch string(k) {
	case "command":
		return "command", true
	case "description":
		return "description", true
	case "timeout":
		return "timeout", true
	case "run_in_background":
		return "run_in_background", true
	case "file_path":
		return "file_path", true
	case "content":
		return "content", true
	case "old_string":
		return "old_string", true
	case "new_string":
		return "new_string", true
	case "replace_all":
		return "replace_all", true
	case "path":
		return "path", true
	case "pattern":
		return "pattern", true
	case "url":
		return "url", true
	case "prompt":
		return "prompt", true
	}
	return string(k), true
}

// scalar reads a string, number, true, false or null as encoding/json
// decodes it into an interface (numbers as float64).
func (d *PlainDecoder) scalar() (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		s, ok := d.escapedStr()
		return s, ok
	case c == '-' || c >= '0' && c <= '9':
		return d.float()
	case d.literal("true"):
		return true, true
	case d.literal("false"):
		return false, true
	case d.literal("null"):
		return nil, true
	}
	return nil, false
}

// literal consumes word if it is next.
func (d *PlainDecoder) literal(word string) bool {
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

// float reads a JSON number (RFC 8259 grammar) that fits a float64.
func (d *PlainDecoder) float() (float64, bool) {
	start := d.i
	if !d.number() {
		return 0, false
	}
	num := d.b[start:d.i]
	neg := 0
	if num[0] == '-' {
		neg = 1
	}
	// A short integer is exact in a float64: no string for ParseFloat.
	if n := len(num); n <= 15 && !bytes.ContainsAny(num, ".eE") {
		var v int64
		for _, c := range num[neg:] {
			v = v*10 + int64(c-'0')
		}
		f := float64(v)
		if neg == 1 {
			f = -f
		}
		return f, true
	}
	f, err := strconv.ParseFloat(string(num), 64)
	return f, err == nil
}

// digits consumes a run of decimal digits and returns its length.
func (d *PlainDecoder) digits() int {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i - start
}

// escapedStr reads a JSON string of valid UTF-8, its escapes decoded. A
// \u escape of a surrogate is refused: encoding/json's handling of a
// lone one (U+FFFD) is left to it.
func (d *PlainDecoder) escapedStr() (string, bool) {
	start := d.i
	raw, ok := d.str()
	if ok {
		return string(raw), true
	}
	d.i = start
	if !d.byte('"') {
		return "", false
	}
	// The decoded string is no longer than its quoted form; the builder's
	// bytes become the string without a copy.
	end := d.i
	for end < len(d.b) && d.b[end] != '"' {
		if d.b[end] == '\\' {
			end++
		}
		end++
	}
	var out strings.Builder
	out.Grow(min(end, len(d.b)) - d.i)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return out.String(), utf8.ValidString(out.String())
		case c < 0x20:
			return "", false
		case c != '\\':
			out.WriteByte(c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return "", false
		}
		esc := d.b[d.i+1]
		d.i += 2
		switch esc {
		case '"', '\\', '/':
			out.WriteByte(esc)
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r, ok := d.hex4()
			if !ok || utf16.IsSurrogate(r) {
				return "", false
			}
			out.WriteRune(r)
		default:
			return "", false
		}
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape as a UTF-16 code unit.
func (d *PlainDecoder) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, h := range d.b[d.i : d.i+4] {
		switch {
		case h >= '0' && h <= '9':
			r = r<<4 | rune(h-'0')
		case h >= 'a' && h <= 'f':
			r = r<<4 | rune(h-'a'+10)
		case h >= 'A' && h <= 'F':
			r = r<<4 | rune(h-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}
