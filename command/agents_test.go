package command_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/eventstore"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// racingDirectory is the agents view with a hook run once, right after a
// ByName: the moment a concurrent request's append commits.
type racingDirectory struct {
	*projections.Agents
	after func()
}

func (d *racingDirectory) ByName(name string) (domain.Agent, bool) {
	a, ok := d.Agents.ByName(name)
	if f := d.after; f != nil {
		d.after = nil
		f()
	}
	return a, ok
}

// TestChangeAgentDoesNotUndoAConcurrentChange: a change of an agent that
// commits while another change of it is being decided is kept: the later
// one conflicts rather than writing back what it read before.
func TestChangeAgentDoesNotUndoAConcurrentChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	meta := domain.Metadata{AgentID: "system"}
	for _, tc := range []struct {
		name   string
		change command.ChangeAgent // decided while capabilities are set to [new]
	}{
		{"a token rotation", command.ChangeAgent{Meta: meta, Name: "bob"}},
		{"a capability change", command.ChangeAgent{Meta: meta, Name: "bob", SetCapabilities: true, Capabilities: []string{"other"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, err := eventstore.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			agents := projections.NewAgents()
			store.Observe(agents)
			if _, err := command.NewRegisterAgentHandler(store).Handle(ctx, command.RegisterAgent{Meta: meta, Name: "bob", Role: domain.RoleBuilder, Capabilities: []string{"old"}}); err != nil {
				t.Fatal(err)
			}
			dir := &racingDirectory{Agents: agents, after: func() {
				if _, err := command.NewChangeAgentHandler(store, agents, store).Handle(ctx, command.ChangeAgent{Meta: meta, Name: "bob", SetCapabilities: true, Capabilities: []string{"new"}}); err != nil {
					t.Fatal(err)
				}
			}}
			_, err = command.NewChangeAgentHandler(store, dir, store).Handle(ctx, tc.change)
			var conflict *domain.ConflictError
			if !errors.As(err, &conflict) {
				a, _ := agents.ByName("bob")
				t.Errorf("the change decided over a concurrent one: %v; bob's capabilities are %v, want a conflict", err, fmt.Sprint(a.Capabilities))
			}
		})
	}
}
