package domain

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrNotFound means the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnauthenticated means no valid credentials were presented.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden means the caller is known but its role does not allow the action.
	ErrForbidden = errors.New("forbidden")
	// ErrCorruptContent means stored content no longer matches its hash.
	ErrCorruptContent = errors.New("stored content does not match its hash")
)

// ValidationError reports bad input, naming the field at fault.
type ValidationError struct {
	Field   string // the input field, for example "path" or "expected_version"
	Code    string // a stable machine-readable code, for example "path_escapes_root"
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// Invalid returns a ValidationError for field.
func Invalid(field, code, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ConflictError reports a failed optimistic-concurrency check on a stream.
type ConflictError struct {
	StreamID string
	Expected uint64
	Current  uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("stream %s is at version %d, expected %d", e.StreamID, e.Current, e.Expected)
}

// RuleError reports a command that is well-formed but breaks a domain rule,
// such as deleting a file that does not exist.
type RuleError struct {
	Code    string
	Message string
}

func (e *RuleError) Error() string { return e.Message }
