package policy

import (
	"path"
	"strings"
)

// ruleProtected is the builtin check that keeps agents away from
// Lighthouse's own data: its store, its tokens and its mount.
const ruleProtected = "builtin.protected-path"

// checkProtected blocks every read, write or execution of a path at or
// below one of the call's protected paths (Call.Protected), whatever the
// tool. No rule file can allow it: an agent that reads the admin token can
// approve its own escalations.
func (a *analysis) checkProtected() {
	if len(a.call.Protected) == 0 {
		return
	}
	for i := range a.paths {
		p := &a.paths[i]
		if p.abs != "" {
			a.protectedHit(p.abs, p.display())
		}
	}
	for i := range a.commands {
		c := &a.commands[i]
		if c.dynamic || !strings.Contains(c.invoked, "/") {
			continue
		}
		p := a.res.resolve(c.invoked, false, a.cwd(), a.cwd() != "", accessRead)
		if p.abs != "" {
			a.protectedHit(p.abs, c.text)
		}
	}
}

// protectedHit records a finding when abs lies in a protected path.
func (a *analysis) protectedHit(abs, subject string) {
	for _, dir := range a.call.Protected {
		if !path.IsAbs(dir) {
			continue
		}
		if within(abs, path.Clean(dir)) {
			a.find(ruleProtected, Block, "Lighthouse's own data (tokens, event store, mount) at "+path.Clean(dir)+" is off limits to agents", truncate(subject))
			return
		}
	}
}
