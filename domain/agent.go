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
