package domain

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on project paths.
const (
	MaxPathBytes      = 4096
	MaxComponentBytes = 255
)

// Path is a normalised, project-relative path with forward slashes. The zero
// value is not a valid path; build one with ParsePath.
type Path string

// ParsePath normalises raw and confines it to the project root. field names
// the input the path came from, for the error.
func ParsePath(field, raw string) (Path, error) {
	switch {
	case raw == "":
		return "", Invalid(field, "path_empty", "path is empty")
	case len(raw) > MaxPathBytes:
		return "", Invalid(field, "path_too_long", "path is %d bytes, the limit is %d", len(raw), MaxPathBytes)
	case !utf8.ValidString(raw):
		return "", Invalid(field, "path_invalid_utf8", "path is not valid UTF-8")
	case strings.ContainsRune(raw, 0):
		return "", Invalid(field, "path_nul_byte", "path contains a NUL byte")
	case strings.ContainsRune(raw, '\\'):
		return "", Invalid(field, "path_backslash", "path contains a backslash; use forward slashes")
	case strings.HasPrefix(raw, "/"):
		return "", Invalid(field, "path_absolute", "path %q is absolute; paths are relative to the project root", raw)
	}
	for _, r := range raw {
		if unicode.IsControl(r) {
			return "", Invalid(field, "path_control_char", "path contains a control character")
		}
	}
	clean := path.Clean(raw)
	if clean == "." {
		return "", Invalid(field, "path_empty", "path %q names the project root, not a file", raw)
	}
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", Invalid(field, "path_escapes_root", "path %q escapes the project root", raw)
	}
	for _, c := range strings.Split(clean, "/") {
		if len(c) > MaxComponentBytes {
			return "", Invalid(field, "path_too_long", "path component is %d bytes, the limit is %d", len(c), MaxComponentBytes)
		}
	}
	return Path(clean), nil
}

// String returns the path as text.
func (p Path) String() string { return string(p) }

// HasPrefix reports whether p is prefix itself or lies below the directory prefix.
func (p Path) HasPrefix(prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return true
	}
	s := string(p)
	return s == prefix || strings.HasPrefix(s, prefix+"/")
}
