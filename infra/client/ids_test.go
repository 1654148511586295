package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
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
		ambiguous               bool
	}{
		{name: "the prefix lists print", id: "f59bd248", want: ids[0]},
		{name: "a shorter prefix", id: "f59b", want: ids[0]},
		{name: "a full id is taken as is", id: "00000000-0000-4000-8000-000000000009", want: "00000000-0000-4000-8000-000000000009"},
		{name: "ambiguous lists the matches", id: "cc311eb7", wantErr: ids[1] + ", " + ids[2], ambiguous: true},
		{name: "empty", id: "", wantErr: "empty lease id", ambiguous: true},
		{name: "no match says where to look", id: "abc", wantErr: "(see the lease list)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ResolveID("lease", tt.id, "the lease list", list)
			if tt.wantErr != "" {
				var ie *IDError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) || ie.Ambiguous != tt.ambiguous {
					t.Fatalf("ResolveID(%q) = %q, %v; want an IDError containing %q (ambiguous %v)", tt.id, got, err, tt.wantErr, tt.ambiguous)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ResolveID(%q) = %q, %v; want %q", tt.id, got, err, tt.want)
			}
		})
	}
	boom := errors.New("boom")
	if _, err := ResolveID("lease", "cc", "x", func() ([]string, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("a failing list: %v", err)
	}
}

// TestIDs: the field of every item under the key, the reader asked to have
// applied min_seq first; items without the field are skipped.
func TestIDs(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/tasks" || r.URL.Query().Get("status") != "open" || r.URL.Query().Get("min_seq") != "7" {
			http.Error(w, `{"code":"bad"}`, http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"tasks":[{"task_id":"a"},{"other":"x"},{"task_id":"b"}],"seq":7}`))
	}))
	defer srv.Close()
	got, err := New(srv.URL, "t").IDs(context.Background(), "/v1/tasks?status=open", "tasks", "task_id", 7)
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("IDs = %v, %v", got, err)
	}
	if _, err := New(srv.URL, "t").IDs(context.Background(), "/v1/tasks", "tasks", "task_id", 7); err == nil {
		t.Fatal("IDs of a refused request: no error")
	}
}
