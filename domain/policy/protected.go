package policy

import (
	"path"
	"strings"
)

// ruleProtected is the builtin check that keeps agents away from
// Lighthouse's own files: its store, its tokens, its mount and the policy
// files the writer loads.
const ruleProtected = "builtin.protected-path"

// checkProtected blocks every read, write or execution of a path at or
// below one of the call's protected paths (Call.Protected), whatever the
// tool. No rule file can allow it: an agent that reads the admin token can
// approve its own escalations. It reports through add, ranked after the
// rules, so a rule that blocks the same call gives its more telling reason.
func (a *analysis) checkProtected(add func(Match)) {
	if len(a.call.Protected) == 0 {
		return
	}
	for i := range a.paths {
		p := &a.paths[i]
		if p.abs != "" {
			a.protectedHit(p.abs, p.display(), p.access&accessWrite != 0, add)
		}
	}
	for i := range a.commands {
		c := &a.commands[i]
		if c.dynamic || !strings.Contains(c.invoked, "/") {
			continue
		}
		p := a.res.resolve(c.invoked, false, a.cwd(), a.cwd() != "", accessRead)
		if p.abs != "" {
			a.protectedHit(p.abs, c.text, false, add)
		}
	}
}

// protectedHit records a finding when abs (maybe a glob) reaches into a
// protected path, or names a directory above one outside the project: a
// recursive read or copy of ~/.local or of / would take the tokens along.
// Directories above a protected path inside the project stay readable (ls,
// grep -r .), but not writable: moving or removing one (mv conf conf2, rm
// -rf conf) takes the protected path with it. That is why the data
// directory and policy files belong outside.
func (a *analysis) protectedHit(abs, subject string, write bool, add func(Match)) {
	for _, dir := range a.call.Protected {
		if !path.IsAbs(dir) {
			continue
		}
		dir = path.Clean(dir)
		into, above := reaches(abs, dir)
		if into || above && (write || a.res.root == "" || !within(abs, a.res.root)) {
			add(Match{Rule: ruleProtected, Decision: Block, Reason: "Lighthouse's own files (tokens, event store, mount, policy) at " + dir + " are off limits to agents", Subject: truncate(subject)})
			return
		}
	}
}

// reaches reports whether the path pattern p (a path, or a glob with *, ?
// or [...] in its components) can name dir or something below it (into),
// or a directory above dir (above).
func reaches(p, dir string) (into, above bool) {
	if !strings.ContainsAny(p, "*?[") {
		return within(p, dir), within(dir, p) && p != dir
	}
	pc, dc := splitPath(p), splitPath(dir)
	for i, c := range pc {
		if c == "**" {
			return true, false
		}
		if i >= len(dc) {
			return true, false
		}
		if ok, err := path.Match(c, dc[i]); err != nil || !ok {
			return false, false
		}
	}
	return len(pc) == len(dc), len(pc) < len(dc)
}

func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}
