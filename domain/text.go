package domain

import (
	"unicode/utf8"
)

// MaxMetaBytes bounds each id of an event's metadata (session, correlation,
// causation) and of a command id.
const MaxMetaBytes = 128

// CheckText refuses text that is not valid UTF-8: every text from outside
// ends up in an event, and an event must encode to exactly what is hashed.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "invalid_utf8", "%s is not valid UTF-8", field)
	}
	return nil
}

// TruncateText cuts s to at most max bytes on a character boundary, so the
// result of valid UTF-8 is valid UTF-8.
func TruncateText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	cut := max
	// Back up over continuation bytes to the start of the cut character.
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
