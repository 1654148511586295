package main

import (
	"errors"
	"strings"
	"testing"
)

// TestResolveID: the CLI's resolver is client.ResolveID (tested there), with
// an ambiguous or empty id a usage error and the list command quoted.
func TestResolveID(t *testing.T) {
	t.Parallel()
	list := func() ([]string, error) {
		return []string{"cc311eb7-0000-4000-8000-000000000002", "cc311eb7-1111-4000-8000-000000000003"}, nil
	}
	for _, tt := range []struct {
		id, wantErr string
		usage       bool
	}{
		{"cc311eb7", "is ambiguous", true},
		{"", "empty lease id", true},
		{"abc", "see `lighthouse lease list`", false},
	} {
		_, err := resolveID("lease", tt.id, "lighthouse lease list", list)
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.As(err, &ue) != tt.usage {
			t.Errorf("resolveID(%q) = %v; want an error containing %q (usage %v)", tt.id, err, tt.wantErr, tt.usage)
		}
	}
	if got, err := resolveID("lease", "cc311eb7-1", "x", list); err != nil || got != "cc311eb7-1111-4000-8000-000000000003" {
		t.Errorf("resolveID(cc311eb7-1) = %q, %v", got, err)
	}
}
