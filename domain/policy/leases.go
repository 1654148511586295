package policy

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// ruleLease is the builtin check that keeps an agent from writing under
// another agent's exclusive lease.
const ruleLease = "builtin.lease"

// Lease is an exclusive lease another agent holds on a path a call writes.
type Lease struct {
	ID        string
	Holder    string // the holder's name
	Glob      string // the leased path that matched
	Reason    string
	ExpiresAt time.Time
}

// Leases tells the policy which project paths other agents hold under an
// exclusive lease. Implementations must be safe for concurrent use and fast:
// they are asked on the decision path, once per path a call writes.
type Leases interface {
	// HeldByOther returns an active exclusive lease of an agent other than
	// agentID covering the project path rel (slash-separated; it may be a
	// glob, and a directory is covered when a lease lies below it).
	HeldByOther(rel, agentID string) (Lease, bool)
}

// checkLeases reports every path the call writes inside the project that
// another agent holds under an exclusive lease. Reads are never checked.
func (a *analysis) checkLeases(d Decision, add func(Match)) {
	if a.call.Leases == nil {
		return
	}
	for i := range a.paths {
		p := &a.paths[i]
		if p.access&accessWrite == 0 || p.dynamic || !p.inside {
			continue
		}
		rel := p.rel
		if dir, base := path.Split(rel); base == foundMarker {
			// what find yields below a start point: anything under it
			rel = strings.TrimSuffix(dir, "/")
			if rel == "" {
				rel = "."
			}
		}
		l, ok := a.call.Leases.HeldByOther(rel, a.call.AgentID)
		if !ok {
			continue
		}
		// The verdict names the lease's expiry, which renewals move: it is
		// not cached. A verdict no lease stood in the way of is cached
		// until the leases change (see the gate's cache key).
		a.consulted = true
		reason := fmt.Sprintf("%s is leased by %s until %s", p.rel, l.Holder, l.ExpiresAt.UTC().Format(time.RFC3339))
		if l.Reason != "" {
			reason += " (" + l.Reason + ")"
		}
		reason += "; lease " + l.ID + " on " + l.Glob
		add(Match{Rule: ruleLease, Decision: d, Reason: reason, Subject: p.display()})
		return
	}
}
