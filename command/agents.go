package command

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/lighthouse-ai/lighthouse/aggregates"
	"github.com/lighthouse-ai/lighthouse/domain"
)

// RegisterAgent creates an agent with a fresh bearer token.
type RegisterAgent struct {
	Meta domain.Metadata
	Name string
	Role domain.Role
	// Capabilities the agent declares.
	Capabilities []string
	// Token is the agent's bearer token; empty means generate one.
	Token string
}

// RegisteredAgent is the new agent and its token, shown once and never stored.
type RegisteredAgent struct {
	Agent  domain.Agent
	Token  string
	Result domain.AppendResult
}

// RegisterAgentHandler handles RegisterAgent. Its log must be an
// ObservedLog feeding the agent directory, so new tokens work at once.
type RegisterAgentHandler struct {
	log EventLog
}

// NewRegisterAgentHandler returns a handler appending to log.
func NewRegisterAgentHandler(log EventLog) RegisterAgentHandler {
	return RegisterAgentHandler{log: log}
}

// Handle registers the agent. A taken name is a *domain.RuleError
// "agent_exists", the name of a removed agent one "agent_name_retired".
func (h RegisterAgentHandler) Handle(ctx context.Context, cmd RegisterAgent) (RegisteredAgent, error) {
	token := cmd.Token
	if token == "" {
		var err error
		if token, err = NewToken(); err != nil {
			return RegisteredAgent{}, err
		}
	}
	id := uuid.NewString()
	d, err := aggregates.Register(id, cmd.Name, cmd.Role, cmd.Capabilities, domain.HashToken(token))
	if err != nil {
		return RegisteredAgent{}, err
	}
	res, err := h.log.Append(ctx, domain.AppendRequest{
		Meta:   cmd.Meta,
		Expect: []domain.Expectation{{StreamID: d.StreamID, Version: 0}},
		Drafts: []domain.Draft{d},
	})
	var conflict *domain.ConflictError
	if errors.As(err, &conflict) {
		if last, ok, lerr := h.log.LastEvent(d.StreamID); lerr == nil && ok && last.Type == domain.TypeAgentRemoved {
			return RegisteredAgent{}, &domain.RuleError{Code: "agent_name_retired", Message: fmt.Sprintf(
				"the name %q belonged to an agent that was removed; names are never given out again (the log attributes past events by them), so pick another", cmd.Name)}
		}
		return RegisteredAgent{}, &domain.RuleError{Code: "agent_exists", Message: fmt.Sprintf("an agent named %q exists", cmd.Name)}
	}
	if err != nil {
		return RegisteredAgent{}, err
	}
	return RegisteredAgent{Agent: domain.Agent{ID: id, Name: cmd.Name, Role: cmd.Role, Capabilities: d.Payload.(domain.AgentRegistered).Capabilities}, Token: token, Result: res}, nil
}

// NewToken returns a random bearer token with 256 bits of entropy.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return "lh_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// AgentDirectory finds active agents, and the hash of their token in
// force, by name.
type AgentDirectory interface {
	ByName(name string) (domain.Agent, bool)
	TokenHash(name string) (string, bool)
}

// StreamVersions tells a stream's current version.
type StreamVersions interface {
	StreamVersion(stream string) (uint64, error)
}

// ChangeAgent rotates, removes or sets the capabilities of an agent.
type ChangeAgent struct {
	Meta   domain.Metadata
	Name   string
	Remove bool // false rotates the token (unless SetCapabilities)
	// SetCapabilities replaces the agent's capabilities with Capabilities
	// (none when empty), keeping its token.
	SetCapabilities bool
	Capabilities    []string
}

// ChangedAgent is the agent after the change and, for a rotation, its new
// token, shown once and never stored.
type ChangedAgent struct {
	Agent  domain.Agent
	Token  string
	Result domain.AppendResult
}

// ChangeAgentHandler handles ChangeAgent. Like RegisterAgentHandler, its
// log must feed the agent directory, so an old token stops working at once.
type ChangeAgentHandler struct {
	log      EventLog
	agents   AgentDirectory
	versions StreamVersions
}

// NewChangeAgentHandler returns a handler appending to log.
func NewChangeAgentHandler(log EventLog, agents AgentDirectory, versions StreamVersions) ChangeAgentHandler {
	return ChangeAgentHandler{log: log, agents: agents, versions: versions}
}

// Handle rotates, removes or sets the capabilities of the agent. An unknown (or removed) agent is
// domain.ErrNotFound; a concurrent change of the same agent is a
// *domain.ConflictError.
func (h ChangeAgentHandler) Handle(ctx context.Context, cmd ChangeAgent) (ChangedAgent, error) {
	// The version first: the log moves it only after its views have the
	// events, so the agent read next is at least that new, and a change
	// committed in between makes this append conflict instead of being
	// overwritten with what was read before it.
	stream := domain.AgentStreamID(cmd.Name)
	version, err := h.versions.StreamVersion(stream)
	if err != nil {
		return ChangedAgent{}, err
	}
	agent, ok := h.agents.ByName(cmd.Name)
	if !ok {
		return ChangedAgent{}, fmt.Errorf("agent %q: %w", cmd.Name, domain.ErrNotFound)
	}
	var d domain.Draft
	var token string
	switch {
	case cmd.SetCapabilities:
		hash, _ := h.agents.TokenHash(cmd.Name)
		if d, err = aggregates.SetCapabilities(agent, hash, cmd.Capabilities); err != nil {
			return ChangedAgent{}, err
		}
		agent.Capabilities = d.Payload.(domain.AgentCapabilitiesSet).Capabilities
	case cmd.Remove:
		if d, err = aggregates.Remove(agent); err != nil {
			return ChangedAgent{}, err
		}
	default:
		if token, err = NewToken(); err != nil {
			return ChangedAgent{}, err
		}
		d = aggregates.Rotate(agent, domain.HashToken(token))
	}
	res, err := h.log.Append(ctx, domain.AppendRequest{Meta: cmd.Meta,
		Expect: []domain.Expectation{{StreamID: stream, Version: version}}, Drafts: []domain.Draft{d}})
	if err != nil {
		return ChangedAgent{}, err
	}
	return ChangedAgent{Agent: agent, Token: token, Result: res}, nil
}
