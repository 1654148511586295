package command

import (
	"errors"
	"slices"
	"testing"

	"github.com/lighthouse-ai/lighthouse/domain"
)

func TestResolveRecipients(t *testing.T) {
	t.Parallel()
	agents := []domain.Agent{
		{ID: "1", Name: "alice", Role: domain.RoleReviewer},
		{ID: "2", Name: "bob", Role: domain.RoleBuilder},
		{ID: "3", Name: "sec-1", Role: domain.RoleExpert, Capabilities: []string{"security"}},
		{ID: "4", Name: "carol", Role: domain.RoleBuilder, Capabilities: []string{"security", "perf"}},
		{ID: "5", Name: domain.AgentService, Role: domain.RoleAdmin},
	}
	from := agents[1] // bob
	for _, c := range []struct {
		name    string
		to      []string
		want    []string
		errCode string
	}{
		{"by name", []string{"alice"}, []string{"alice"}, ""},
		{"role leaves out the sender", []string{"role:builder"}, []string{"carol"}, ""},
		{"capability", []string{"capability:security"}, []string{"sec-1", "carol"}, ""},
		{"duplicates once", []string{"carol", "capability:perf", "role:builder"}, []string{"carol"}, ""},
		{"sender by name", []string{"bob"}, []string{"bob"}, ""},
		{"unknown name", []string{"nobody"}, nil, "recipient_unknown"},
		{"unknown kind", []string{"team:x"}, nil, "recipient_invalid"},
		{"capability nobody has", []string{"capability:cobol"}, nil, "no_recipients"},
		{"service identity is no admin recipient", []string{"role:admin"}, nil, "no_recipients"},
	} {
		got, err := Resolve(agents, from, c.to)
		var names []string
		for _, r := range got {
			names = append(names, r.Name)
		}
		var ve *domain.ValidationError
		switch {
		case c.errCode == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.errCode != "" && (!errors.As(err, &ve) || ve.Code != c.errCode):
			t.Errorf("%s: err %v, want code %s", c.name, err, c.errCode)
		case !slices.Equal(names, c.want):
			t.Errorf("%s: %v, want %v", c.name, names, c.want)
		}
	}
}
