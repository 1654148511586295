package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

func TestResolveRecipients(t *testing.T) {
	t.Parallel()
	agents := []domain.Agent{
		{ID: "1", Name: "alice", Role: domain.RoleReviewer},
		{ID: "2", Name: "bob", Role: domain.RoleBuilder},
		{ID: "3", Name: "sec-1", Role: domain.RoleExpert, Capabilities: []string{"security"}},
		{ID: "4", Name: "carol", Role: domain.RoleBuilder, Capabilities: []string{"security", "perf"}},
		{ID: "5", Name: domain.AgentService, Role: domain.RoleAdmin},
		{ID: "6", Name: domain.AgentWatcher, Role: domain.RoleBuilder, Capabilities: []string{"security"}},
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
		{"the watcher is no builder recipient", []string{"role:builder", "capability:security"}, []string{"carol", "sec-1"}, ""},
		{"the watcher by name", []string{domain.AgentWatcher}, []string{domain.AgentWatcher}, ""},
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

type agentList []domain.Agent

func (l agentList) List() []domain.Agent { return l }

// TestDeliverOnceAndBounded: concurrent deliveries show each message once,
// each within the byte budget, pointing to the rest while some remain.
func TestDeliverOnceAndBounded(t *testing.T) {
	t.Parallel()
	alice := domain.Agent{ID: "a", Name: "alice", Role: domain.RoleBuilder}
	bob := domain.Agent{ID: "b", Name: "bob", Role: domain.RoleBuilder}
	view := projections.NewMessages()
	m := NewMessaging(NewObservedLog(&memLog{}, view), agentList{alice, bob}, view)
	ctx := context.Background()
	var ids []string
	for i := range 12 {
		s, err := m.Send(ctx, SendMessage{From: bob, To: []string{"alice"}, Subject: fmt.Sprint("m", i), Body: strings.Repeat("x", 900)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				d, err := m.Deliver(ctx, domain.Metadata{AgentID: alice.ID}, alice, 3000)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Context == "" {
					return
				}
				if len(d.Context) > 3000 {
					t.Errorf("delivery of %d bytes", len(d.Context))
				}
				if d.Remaining > 0 != strings.Contains(d.Context, "more unread") {
					t.Errorf("remaining %d but pointer %v", d.Remaining, strings.Contains(d.Context, "more unread"))
				}
				mu.Lock()
				for _, id := range d.Delivered {
					seen[id]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("message %s delivered %d times", id, seen[id])
		}
	}
	if d, _ := m.Deliver(ctx, domain.Metadata{}, bob, 0); d.Context != "" {
		t.Errorf("bob got a delivery: %s", d.Context)
	}
	// One message larger than the bound is cut, with its pointer, and the
	// rest are counted: the whole still fits (a walkthrough saw 4,114
	// bytes of a 4 KiB bound).
	for _, max := range []int{1024, 4096} {
		for range 3 {
			if _, err := m.Send(ctx, SendMessage{From: bob, To: []string{"alice"}, Subject: "big", Body: strings.Repeat("y", 10000)}); err != nil {
				t.Fatal(err)
			}
		}
		d, err := m.Deliver(ctx, domain.Metadata{AgentID: alice.ID}, alice, max)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Context) > max || !strings.Contains(d.Context, "truncated; `lighthouse msg thread") || d.Remaining != 2 || !strings.Contains(d.Context, "2 more unread") {
			t.Errorf("a delivery of at most %d bytes: %d bytes, %d remaining:\n%s", max, len(d.Context), d.Remaining, d.Context)
		}
		for d.Remaining > 0 { // empty the inbox for the next bound
			if d, err = m.Deliver(ctx, domain.Metadata{AgentID: alice.ID}, alice, max); err != nil {
				t.Fatal(err)
			}
		}
	}
}
