package domain

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParsePath checks the path normaliser: an accepted path is clean,
// confined, valid UTF-8 within the limits and a fixed point; a refused one
// is a ValidationError naming the field.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"a.txt", "src/./main.go", "a//b/", "../x", "a/../../x", "/etc/passwd", "a\x00b", "\xff",
		"é/é", "a\\b", ".", "..", "a/..", strings.Repeat("a/", 2049), strings.Repeat("b", 256), "\u200b/\u00a0", "a/\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := ParsePath("ops[0].path", raw)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "ops[0].path" || ve.Code == "" {
				t.Fatalf("ParsePath(%q) = %v, want a ValidationError naming the field", raw, err)
			}
			return
		}
		s := string(p)
		switch {
		case !utf8.ValidString(s), s == "", len(s) > MaxPathBytes, strings.HasPrefix(s, "/"),
			s == "..", strings.HasPrefix(s, "../"), strings.Contains(s, "//"), strings.HasSuffix(s, "/"):
			t.Fatalf("ParsePath(%q) = %q: not clean and confined", raw, s)
		}
		for _, c := range strings.Split(s, "/") {
			if c == "." || c == ".." || c == "" || len(c) > MaxComponentBytes {
				t.Fatalf("ParsePath(%q) = %q: component %q", raw, s, c)
			}
		}
		if again, err := ParsePath("path", s); err != nil || again != p {
			t.Fatalf("ParsePath is not a fixed point on %q: %q, %v", s, again, err)
		}
	})
}
