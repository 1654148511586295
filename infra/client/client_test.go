package client

import "testing"

// TestErrorRefused: a 4xx is a refusal of the request itself, except a
// timeout and a rate limit, which sending it again may change.
func TestErrorRefused(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]bool{400: true, 401: true, 403: true, 404: true, 409: true,
		408: false, 429: false, 500: false, 503: false, 200: false} {
		if got := (&Error{Status: status}).Refused(); got != want {
			t.Errorf("status %d: Refused() = %t, want %t", status, got, want)
		}
	}
}
