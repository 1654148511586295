package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
)

// Role is what an agent is allowed to do.
type Role string

// The roles an agent can have.
const (
	RoleAdmin    Role = "admin"
	RoleBuilder  Role = "builder"
	RoleReviewer Role = "reviewer"
	RoleExpert   Role = "expert"
	RoleObserver Role = "observer"
)

// ParseRole validates a role name.
func ParseRole(field, s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleBuilder, RoleReviewer, RoleExpert, RoleObserver:
		return r, nil
	}
	return "", Invalid(field, "role_unknown", "unknown role %q (want admin, builder, reviewer, expert or observer)", s)
}

// Agent is an authenticated identity.
type Agent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Capabilities name what the agent is expert in (security, …); messages
	// and tasks can be addressed to a capability.
	Capabilities []string `json:"capabilities,omitempty"`
}

// HasCapability reports whether the agent declares capability c.
func (a Agent) HasCapability(c string) bool {
	for _, x := range a.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

var capabilityRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// MaxCapabilities bounds the capabilities of one agent.
const MaxCapabilities = 32

// ParseCapabilities validates capability names (lower-case letters, digits,
// '.', '_' or '-', at most 64 bytes each) and drops duplicates.
func ParseCapabilities(field string, caps []string) ([]string, error) {
	if len(caps) > MaxCapabilities {
		return nil, Invalid(field, "too_many_capabilities", "an agent has at most %d capabilities", MaxCapabilities)
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range caps {
		if !capabilityRE.MatchString(c) {
			return nil, Invalid(field, "capability_invalid", "capability %q must be 1-64 lower-case letters, digits, '.', '_' or '-'", c)
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// Can reports whether the agent holds one of roles. Admins can do anything.
func (a Agent) Can(roles ...Role) bool {
	if a.Role == RoleAdmin {
		return true
	}
	for _, r := range roles {
		if a.Role == r {
			return true
		}
	}
	return false
}

var agentNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// ValidateAgentName checks an agent's name: 1 to 64 letters, digits, '.', '_' or '-'.
func ValidateAgentName(field, name string) error {
	if !agentNameRE.MatchString(name) {
		return Invalid(field, "name_invalid", "agent name %q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// HashToken returns the hex SHA-256 of a bearer token. Only hashes are ever
// stored or published, never tokens.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
