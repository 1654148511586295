package domain

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Event types of leases: an agent's claim on project paths, which the gate
// enforces against every other agent's writes.
const (
	TypeLeaseGranted  = "lease.granted"
	TypeLeaseRenewed  = "lease.renewed"
	TypeLeaseReleased = "lease.released"
	TypeLeaseExpired  = "lease.expired"
)

// Lease limits.
const (
	MaxLeasePaths = 64
	MaxLeaseTTL   = 24 * time.Hour
	MinLeaseTTL   = time.Second
	// DefaultLeaseTTL is the ttl of a lease that names none.
	DefaultLeaseTTL = 10 * time.Minute
)

// LeaseStreamID is the stream of one lease.
func LeaseStreamID(id string) string { return "lease:" + id }

// LeaseGranted records a new lease on paths (globs relative to the project
// root) for HolderID until ExpiresAt unless renewed.
type LeaseGranted struct {
	LeaseID   string        `json:"lease_id"`
	HolderID  string        `json:"holder_id"`
	Holder    string        `json:"holder"` // the holder's name
	SessionID string        `json:"session_id,omitempty"`
	Paths     []string      `json:"paths"`
	Exclusive bool          `json:"exclusive"`
	TTL       time.Duration `json:"ttl_ns"`
	Reason    string        `json:"reason,omitempty"`
	ExpiresAt time.Time     `json:"expires_at"`
}

// LeaseRenewed moves a lease's expiry.
type LeaseRenewed struct {
	LeaseID   string    `json:"lease_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LeaseEnded releases a lease (lease.released, with who and why) or records
// that it expired (lease.expired).
type LeaseEnded struct {
	LeaseID string `json:"lease_id"`
	By      string `json:"by,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// LeaseConflictError refuses an exclusive lease that overlaps another
// agent's active lease.
type LeaseConflictError struct {
	LeaseID string
	Holder  string
	Paths   []string // the overlapping paths of the held lease
}

func (e *LeaseConflictError) Error() string {
	return fmt.Sprintf("%s holds lease %s on %s", e.Holder, e.LeaseID, strings.Join(e.Paths, ", "))
}

// CheckLeaseGlob validates a lease path: a slash-separated glob relative to
// the project root (* ? [...] within a component, ** for any depth) that
// stays inside the root. It returns the cleaned glob; its errors name field
// (paths[2]).
func CheckLeaseGlob(field, g string) (string, error) {
	if g == "" || len(g) > 1024 || strings.ContainsAny(g, "\x00\\") || path.IsAbs(g) {
		return "", Invalid(field, "path_invalid", "lease path %q must be a relative slash-separated glob", g)
	}
	c := path.Clean(g)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", Invalid(field, "path_escapes_root", "lease path %q leaves the project root", g)
	}
	for _, seg := range strings.Split(c, "/") {
		if seg == "**" {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return "", Invalid(field, "path_invalid", "lease path %q: bad pattern %q", g, seg)
		}
	}
	if c == "." {
		c = "**"
	}
	return c, nil
}

// GlobMatch reports whether the project-relative path p matches the lease
// glob g: each component matches path.Match, ** matches any number of
// components. A glob also covers everything below a directory it names.
func GlobMatch(g, p string) bool {
	return matchSegs(strings.Split(g, "/"), strings.Split(p, "/"), true)
}

// GlobsOverlap reports whether some path can match both globs (a lease on
// src/** and one on src/cart/x.go overlap). Two wildcards in the same
// component are assumed to overlap.
func GlobsOverlap(a, b string) bool {
	return overlapSegs(strings.Split(a, "/"), strings.Split(b, "/"))
}

func matchSegs(g, p []string, below bool) bool {
	for len(g) > 0 {
		if g[0] == "**" {
			for i := 0; i <= len(p); i++ {
				if matchSegs(g[1:], p[i:], below) {
					return true
				}
			}
			return false
		}
		if len(p) == 0 {
			return false
		}
		if ok, _ := path.Match(g[0], p[0]); !ok {
			return false
		}
		g, p = g[1:], p[1:]
	}
	return len(p) == 0 || below
}

func overlapSegs(a, b []string) bool {
	for len(a) > 0 && len(b) > 0 {
		if a[0] == "**" || b[0] == "**" {
			return true
		}
		if !segsOverlap(a[0], b[0]) {
			return false
		}
		a, b = a[1:], b[1:]
	}
	// One is a prefix of the other: a lease covers what lies below it.
	return true
}

func segsOverlap(x, y string) bool {
	wx, wy := strings.ContainsAny(x, "*?["), strings.ContainsAny(y, "*?[")
	switch {
	case !wx && !wy:
		return x == y
	case !wx:
		ok, _ := path.Match(y, x)
		return ok
	case !wy:
		ok, _ := path.Match(x, y)
		return ok
	}
	return true
}
