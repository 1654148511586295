package domain

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{strings.Repeat("é", 70), 128, strings.Repeat("é", 64)},
		{strings.Repeat("é", 70), 127, strings.Repeat("é", 63)},
		{"a" + strings.Repeat("€", 3), 3, "a"},
		{"a" + strings.Repeat("€", 3), 4, "a€"},
		{strings.Repeat("e\u0301", 70), 128, strings.Repeat("e\u0301", 42) + "e"},
		{"😀😀", 5, "😀"},
		{"abc", 0, ""},
	}
	for _, c := range cases {
		got := TruncateText(c.in, c.max)
		if got != c.want {
			t.Errorf("TruncateText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
		if !utf8.ValidString(got) || len(got) > c.max {
			t.Errorf("TruncateText(%q, %d) = %q: invalid or too long", c.in, c.max, got)
		}
	}
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in string
		ok bool
	}{{"", true}, {"plain", true}, {"é€😀", true}, {"\xff", false}, {"a\xc3", false}, {"\xed\xa0\x80", false}} {
		err := CheckText("X-Session-Id", c.in)
		var ve *ValidationError
		if c.ok != (err == nil) || (!c.ok && (!errors.As(err, &ve) || ve.Field != "X-Session-Id" || ve.Code != "invalid_utf8")) {
			t.Errorf("CheckText(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}
