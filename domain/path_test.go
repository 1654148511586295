package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want, code string
	}{
		{"a.txt", "a.txt", ""},
		{"src/./main.go", "src/main.go", ""},
		{"a/b/../c", "a/c", ""},
		{"a//b/", "a/b", ""},
		{"", "", "path_empty"},
		{".", "", "path_empty"},
		{"a/..", "", "path_empty"},
		{"..", "", "path_escapes_root"},
		{"../x", "", "path_escapes_root"},
		{"a/../../x", "", "path_escapes_root"},
		{"/etc/passwd", "", "path_absolute"},
		{"a\x00b", "", "path_nul_byte"},
		{"a\nb", "", "path_control_char"},
		{`..\x`, "", "path_backslash"},
		{"\xff", "", "path_invalid_utf8"},
		{strings.Repeat("a", 256), "", "path_too_long"},
		{strings.Repeat("a/", 2049), "", "path_too_long"},
	}
	for _, tc := range cases {
		got, err := ParsePath("path", tc.in)
		if tc.code == "" {
			if err != nil || string(got) != tc.want {
				t.Errorf("ParsePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Code != tc.code || ve.Field != "path" {
			t.Errorf("ParsePath(%q) error = %v; want code %s", tc.in, err, tc.code)
		}
	}
}

func TestPathHasPrefix(t *testing.T) {
	t.Parallel()
	cases := []struct {
		p, prefix string
		want      bool
	}{
		{"src/a.go", "src", true},
		{"src/a.go", "src/", true},
		{"src", "src", true},
		{"srcx/a.go", "src", false},
		{"a.go", "", true},
	}
	for _, tc := range cases {
		if got := Path(tc.p).HasPrefix(tc.prefix); got != tc.want {
			t.Errorf("%q.HasPrefix(%q) = %v", tc.p, tc.prefix, got)
		}
	}
}
