package domain

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Object reads a JSON object that is the whole input (whitespace aside),
// calling field for each key with the decoder at its value; field reads
// the value and returns the key's bit (to refuse a key seen twice) and
// whether it could. Unknown keys are field's to refuse.
func (d *PlainDecoder) Object(field func(key []byte) (bit int, ok bool)) bool {
	d.ws()
	return d.Members(field) && d.end()
}

// Members reads a JSON object at the decoder's position (a value of an
// enclosing object, or the whole input), as Object does, and stops after
// its closing brace.
func (d *PlainDecoder) Members(field func(key []byte) (bit int, ok bool)) bool {
	seen := 0
	var key []byte
	return d.members(func() (ok bool) {
		key, ok = d.str()
		return ok
	}, func() bool {
		bit, ok := field(key)
		if !ok || bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// members reads a JSON object at the decoder's position and stops after
// its closing brace. For each member, key reads its key and value its
// value, each called with the decoder at it.
func (d *PlainDecoder) members(key, value func() bool) bool {
	if !d.byte('{') {
		return false
	}
	d.ws()
	if d.byte('}') {
		return true
	}
	for {
		d.ws()
		if !key() {
			return false
		}
		d.ws()
		if !d.byte(':') {
			return false
		}
		d.ws()
		if !value() {
			return false
		}
		d.ws()
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

// PlainDecoder reads the plain subset of JSON that this package's encoders
// and PlainJSON texts produce, without reflection: unescaped valid UTF-8
// strings, plain unsigned integers, true and false, objects of known keys
// (and, for DecodeToolInput, escaped strings, any number, null and objects
// of any keys whose members are scalars).
// Each method reports false for anything outside that subset, and the
// caller then decodes the whole input with encoding/json, so a fast decode
// is never a different answer, only a faster one.
type PlainDecoder struct {
	b []byte
	i int
}

func (d *PlainDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte consumes c if it is next.
func (d *PlainDecoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (d *PlainDecoder) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// str reads a string without escapes or control characters whose bytes are
// valid UTF-8, and returns its contents (a subslice).
func (d *PlainDecoder) str() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start, ascii := d.i, true
	for ; d.i < len(d.b); d.i++ {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// Text is str as a Go string.
func (d *PlainDecoder) Text() (string, bool) {
	s, ok := d.str()
	return string(s), ok
}

// Uint reads a JSON number that is a plain unsigned integer fitting 64 bits.
func (d *PlainDecoder) Uint() (uint64, bool) {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	digits := d.b[start:d.i]
	if len(digits) == 0 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	return v, err == nil
}

// maxValueDepth bounds the nesting value follows. Deeper values are left
// to encoding/json (whose own bound is 10,000): a payload of ours nests a
// few levels.
const maxValueDepth = 64

// value moves past one JSON value nested depth levels deep, checking it as
// json.Valid does (RFC 8259: strings without control characters and with
// valid escapes, numbers, true, false, null, objects and arrays), and
// reports whether it was one. It accepts nothing json.Valid refuses; it
// refuses values nested deeper than maxValueDepth, which the caller leaves
// to encoding/json.
func (d *PlainDecoder) value(depth int) bool {
	if d.i >= len(d.b) || depth > maxValueDepth {
		return false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.validStr()
	case c == '{':
		return d.members(d.validStr, func() bool { return d.value(depth + 1) })
	case c == '[':
		d.i++
		d.ws()
		if d.byte(']') {
			return true
		}
		for {
			d.ws()
			if !d.value(depth + 1) {
				return false
			}
			d.ws()
			if d.byte(']') {
				return true
			}
			if !d.byte(',') {
				return false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return d.literal("true") || d.literal("false") || d.literal("null")
}

// validStr moves past a JSON string as json.Valid checks it: no control
// characters, escapes of the eight letters or of four hex digits. Like
// json.Valid, it does not check the bytes are UTF-8.
func (d *PlainDecoder) validStr() bool {
	if !d.byte('"') {
		return false
	}
	for d.i < len(d.b) {
		c := d.b[d.i]
		d.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c != '\\':
			continue
		}
		if d.i >= len(d.b) {
			return false
		}
		esc := d.b[d.i]
		d.i++
		switch esc {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if _, ok := d.hex4(); !ok {
				return false
			}
		default:
			return false
		}
	}
	return false
}

// number moves past a JSON number (RFC 8259 grammar).
func (d *PlainDecoder) number() bool {
	d.byte('-')
	switch {
	case d.byte('0'):
	case d.digits() == 0:
		return false
	}
	if d.byte('.') && d.digits() == 0 {
		return false
	}
	if d.byte('e') || d.byte('E') {
		if !d.byte('+') {
			d.byte('-')
		}
		if d.digits() == 0 {
			return false
		}
	}
	return true
}

// Time reads a string holding an RFC 3339 time, as time.Time's
// UnmarshalJSON does.
func (d *PlainDecoder) Time() (time.Time, bool) {
	start := d.i
	if _, ok := d.str(); !ok {
		return time.Time{}, false
	}
	var t time.Time
	return t, t.UnmarshalJSON(d.b[start:d.i]) == nil
}
