// Package claudecode reads what Claude Code sends its command hooks.
//
// Claude Code writes one JSON object per hook run on stdin. Its size has no
// bound: a PostToolUse event of an Edit carries the whole original file, a
// PreToolUse event of a Write the whole new content. ReadPayload streams the
// object and keeps it whole except for long strings, which it replaces with
// a short marker, so a hook's memory stays bounded whatever it is sent.
package claudecode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of ReadPayload.
const (
	// MaxString is the longest string value kept; a longer one is replaced
	// by a marker and listed in Payload.Elided.
	MaxString = 256 << 10
	// MaxKept bounds the compacted object (what is kept), in bytes.
	MaxKept = 6 << 20
	// maxKey bounds an object key, in bytes.
	maxKey = 4 << 10
	// maxDepth bounds nesting.
	maxDepth = 256
)

// Payload is one hook event. Raw is the event as compact JSON with every
// string longer than MaxString replaced; the named fields are read from it.
type Payload struct {
	Raw           []byte          `json:"-"`
	Elided        []string        `json:"-"` // JSON paths of replaced strings, e.g. "tool_input.content"
	SessionID     string          `json:"session_id"`
	Cwd           string          `json:"cwd"`
	HookEventName string          `json:"hook_event_name"`
	ToolName      string          `json:"tool_name"`
	ToolUseID     string          `json:"tool_use_id"`
	ToolInput     json.RawMessage `json:"tool_input"`
}

// ErrSyntax is wrapped by every error about malformed input.
var ErrSyntax = errors.New("the hook event on stdin is not a valid JSON object")

// ReadPayload reads one JSON object from r, streaming: the memory it takes
// is bounded by MaxKept whatever the size of the event. Trailing white
// space is allowed, anything else after the object is an error.
func ReadPayload(r io.Reader) (Payload, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 64<<10)}
	d.skipSpace()
	if c, err := d.peek(); err != nil {
		if errors.Is(err, io.EOF) {
			return Payload{}, fmt.Errorf("%w: stdin is empty", ErrSyntax)
		}
		return Payload{}, d.fail(err)
	} else if c != '{' {
		return Payload{}, d.errorf("want a JSON object, found %q", c)
	}
	if err := d.value(nil, 0); err != nil {
		return Payload{}, err
	}
	d.skipSpace()
	if _, err := d.peek(); err == nil {
		return Payload{}, d.errorf("data after the JSON object")
	} else if !errors.Is(err, io.EOF) {
		return Payload{}, d.fail(err)
	}
	p := Payload{Raw: d.out.Bytes(), Elided: d.elided}
	if err := json.Unmarshal(p.Raw, &p); err != nil {
		return Payload{}, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return p, nil
}

// InputString returns the string field key of tool_input, "" when it is
// absent or not a string.
func (p Payload) InputString(key string) string {
	var in map[string]json.RawMessage
	if json.Unmarshal(p.ToolInput, &in) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(in[key], &s) != nil {
		return ""
	}
	return s
}

// decoder copies one JSON value from r to out, checking its syntax.
type decoder struct {
	r      *bufio.Reader
	out    bytes.Buffer
	off    int64 // bytes consumed, for error messages
	elided []string
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrSyntax, d.off, fmt.Sprintf(format, args...))
}

// fail turns a read error into the error ReadPayload returns.
func (d *decoder) fail(err error) error {
	if errors.Is(err, io.EOF) {
		return d.errorf("unexpected end of input")
	}
	return fmt.Errorf("read the hook event on stdin: %w", err)
}

func (d *decoder) peek() (byte, error) {
	b, err := d.r.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) next() (byte, error) {
	c, err := d.r.ReadByte()
	if err != nil {
		return 0, d.fail(err)
	}
	d.off++
	return c, nil
}

func (d *decoder) skipSpace() {
	for {
		c, err := d.peek()
		if err != nil || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return
		}
		d.r.ReadByte()
		d.off++
	}
}

func (d *decoder) emit(b ...byte) error {
	if d.out.Len()+len(b) > MaxKept {
		return fmt.Errorf("%w: over %d bytes remain after long strings are left out", ErrSyntax, MaxKept)
	}
	d.out.Write(b)
	return nil
}

func (d *decoder) expect(c byte) error {
	d.skipSpace()
	got, err := d.next()
	if err != nil {
		return err
	}
	if got != c {
		return d.errorf("want %q, found %q", c, got)
	}
	return d.emit(c)
}

// value copies one value; path names it for Payload.Elided.
func (d *decoder) value(path []string, depth int) error {
	if depth > maxDepth {
		return d.errorf("nested deeper than %d", maxDepth)
	}
	d.skipSpace()
	c, err := d.peek()
	if err != nil {
		return d.fail(err)
	}
	switch {
	case c == '{':
		return d.object(path, depth)
	case c == '[':
		return d.array(path, depth)
	case c == '"':
		return d.str(path, MaxString)
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	}
	return d.errorf("unexpected %q", c)
}

func (d *decoder) object(path []string, depth int) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	d.skipSpace()
	if c, err := d.peek(); err != nil {
		return d.fail(err)
	} else if c == '}' {
		return d.expect('}')
	}
	for {
		d.skipSpace()
		if c, err := d.peek(); err != nil {
			return d.fail(err)
		} else if c != '"' {
			return d.errorf("want an object key, found %q", c)
		}
		start := d.out.Len()
		if err := d.str(nil, maxKey); err != nil {
			return err
		}
		var key string
		if err := json.Unmarshal(d.out.Bytes()[start:], &key); err != nil {
			return d.errorf("bad object key: %v", err)
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		if err := d.value(append(path, key), depth+1); err != nil {
			return err
		}
		if done, err := d.separator('}'); done || err != nil {
			return err
		}
	}
}

// separator copies the ',' after a member or element, or the closing
// bracket, and reports whether it was the closing bracket.
func (d *decoder) separator(closing byte) (done bool, err error) {
	d.skipSpace()
	c, err := d.next()
	if err != nil {
		return false, err
	}
	if err := d.emit(c); err != nil {
		return false, err
	}
	switch c {
	case ',':
		return false, nil
	case closing:
		return true, nil
	}
	return false, d.errorf("want ',' or %q, found %q", closing, c)
}

func (d *decoder) array(path []string, depth int) error {
	if err := d.expect('['); err != nil {
		return err
	}
	d.skipSpace()
	if c, err := d.peek(); err != nil {
		return d.fail(err)
	} else if c == ']' {
		return d.expect(']')
	}
	for i := 0; ; i++ {
		if err := d.value(append(path, "["+strconv.Itoa(i)+"]"), depth+1); err != nil {
			return err
		}
		if done, err := d.separator(']'); done || err != nil {
			return err
		}
	}
}

// str copies a string of at most limit raw bytes; a longer one is read to
// its end, replaced by a marker, and its path recorded. A key (nil path)
// over the limit is an error.
func (d *decoder) str(path []string, limit int) error {
	if _, err := d.next(); err != nil { // the opening quote
		return err
	}
	start := d.out.Len()
	if err := d.emit('"'); err != nil {
		return err
	}
	n := 0 // raw bytes between the quotes
	kept := true
	var utf [utf8.UTFMax]byte
	for {
		c, err := d.next()
		if err != nil {
			return err
		}
		switch {
		case c == '"':
			if kept {
				return d.emit('"')
			}
			d.out.Truncate(start)
			d.elided = append(d.elided, strings.Join(path, "."))
			return d.emit([]byte(strconv.Quote(fmt.Sprintf("[lighthouse: %d bytes left out]", n)))...)
		case c < 0x20:
			return d.errorf("control character %#x in a string", c)
		case c == '\\':
			e, err := d.next()
			if err != nil {
				return err
			}
			seq := []byte{'\\', e}
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					h, err := d.next()
					if err != nil {
						return err
					}
					if !isHex(h) {
						return d.errorf("bad \\u escape")
					}
					seq = append(seq, h)
				}
			default:
				return d.errorf("bad escape \\%c", e)
			}
			n += len(seq)
			if kept {
				if err := d.emit(seq...); err != nil {
					return err
				}
			}
		case c < utf8.RuneSelf:
			n++
			if kept {
				if err := d.emit(c); err != nil {
					return err
				}
			}
		default:
			// A multi-byte character: copied whole, so a string is never
			// cut inside one; an invalid byte is refused, not replaced.
			utf[0] = c
			size := utf8Len(c)
			if size == 0 {
				return d.errorf("invalid UTF-8 in a string")
			}
			for i := 1; i < size; i++ {
				if utf[i], err = d.next(); err != nil {
					return err
				}
			}
			if !utf8.FullRune(utf[:size]) || !utf8.Valid(utf[:size]) {
				return d.errorf("invalid UTF-8 in a string")
			}
			n += size
			if kept {
				if err := d.emit(utf[:size]...); err != nil {
					return err
				}
			}
		}
		if kept && n > limit {
			if path == nil {
				return d.errorf("object key over %d bytes", limit)
			}
			kept = false
		}
	}
}

func utf8Len(c byte) int {
	switch {
	case c&0xE0 == 0xC0:
		return 2
	case c&0xF0 == 0xE0:
		return 3
	case c&0xF8 == 0xF0:
		return 4
	}
	return 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (d *decoder) number() error {
	var b []byte
	for {
		c, err := d.peek()
		if err != nil || !(c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c >= '0' && c <= '9') {
			break
		}
		d.next()
		b = append(b, c)
		if len(b) > 64 {
			return d.errorf("number too long")
		}
	}
	if !json.Valid(b) {
		return d.errorf("bad number %q", b)
	}
	return d.emit(b...)
}

func (d *decoder) literal(word string) error {
	for i := 0; i < len(word); i++ {
		c, err := d.next()
		if err != nil {
			return err
		}
		if c != word[i] {
			return d.errorf("bad literal, want %s", word)
		}
	}
	return d.emit([]byte(word)...)
}
