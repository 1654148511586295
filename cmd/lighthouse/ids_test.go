package main

import (
	"errors"
	"strings"
	"testing"
)

func TestResolveID(t *testing.T) {
	t.Parallel()
	ids := []string{
		"f59bd248-0000-4000-8000-000000000001",
		"cc311eb7-0000-4000-8000-000000000002",
		"cc311eb7-1111-4000-8000-000000000003",
	}
	list := func() ([]string, error) { return ids, nil }
	tests := []struct {
		name, id, want, wantErr string
		usage                   bool
	}{
		{name: "the prefix list prints", id: "f59bd248", want: ids[0]},
		{name: "a shorter prefix", id: "f59b", want: ids[0]},
		{name: "a full id is taken as is", id: "00000000-0000-4000-8000-000000000009", want: "00000000-0000-4000-8000-000000000009"},
		{name: "ambiguous lists the matches", id: "cc311eb7", wantErr: ids[1] + ", " + ids[2], usage: true},
		{name: "no match names the list command", id: "abc", wantErr: "see `lighthouse lease list`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := resolveID("lease", tt.id, "lighthouse lease list", list)
			if tt.wantErr != "" {
				var ue usageError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.As(err, &ue) != tt.usage {
					t.Fatalf("resolveID(%q) = %q, %v; want an error containing %q (usage %v)", tt.id, got, err, tt.wantErr, tt.usage)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("resolveID(%q) = %q, %v; want %q", tt.id, got, err, tt.want)
			}
		})
	}
	boom := errors.New("boom")
	if _, err := resolveID("lease", "cc", "x", func() ([]string, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("a failing list: %v", err)
	}
}
