package policy

import (
	"fmt"
	"path"
	"strings"
)

// access says how a path is touched.
type access uint8

const (
	accessRead  access = 1 << iota // the path is read
	accessWrite                    // the path is created, changed or deleted
	accessAny   = accessRead | accessWrite
)

func (a access) String() string {
	switch a {
	case accessRead:
		return "read"
	case accessWrite:
		return "write"
	}
	return "any"
}

// pathRef is one path a call touches, resolved against the working directory.
type pathRef struct {
	raw       string // as written (source text when dynamic)
	abs       string // cleaned absolute path; "" when unknown
	rel       string // project-relative path ("." for the root) when inside
	tilde     string // "~" or "~/..." when under the home directory
	inside    bool   // inside the project root
	dynamic   bool   // not statically known
	access    access
	redirect  bool // target of a shell redirection
	recursive bool // everything below the path is touched too (tar, zip -r, cp -r)
}

func (p *pathRef) display() string {
	switch {
	case p.dynamic:
		return p.raw
	case p.abs != "":
		return p.abs
	case p.tilde != "":
		return p.tilde
	}
	return p.raw
}

// resolver turns path text into pathRefs for one call.
type resolver struct {
	root string // cleaned absolute project root, "" when unknown
	home string // cleaned absolute home, "" when unknown
}

func newResolver(c *Call) resolver {
	var r resolver
	if path.IsAbs(c.ProjectRoot) {
		r.root = path.Clean(c.ProjectRoot)
	}
	if path.IsAbs(c.Home) {
		r.home = path.Clean(c.Home)
	}
	return r
}

// ToolPath resolves the path argument of a file tool (file_path,
// notebook_path, path) exactly as the gate does: "~" and "~/..." against
// home, a relative path against cwd, then cleaned. It returns "" when the
// path cannot be named: "~user/...", or a ~ or relative path whose home or
// cwd is not absolute. Hooks use it too, so they and the gate always agree
// on which file a call touches.
func ToolPath(text, cwd, home string) string {
	var r resolver
	if path.IsAbs(home) {
		r.home = path.Clean(home)
	}
	if path.IsAbs(cwd) {
		cwd = path.Clean(cwd)
	}
	return r.resolve(text, strings.HasPrefix(text, "~"), cwd, path.IsAbs(cwd), accessAny).abs
}

// within reports whether p is dir or lies below it.
func within(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || (strings.HasPrefix(p, dir) && len(p) > len(dir) && p[len(dir)] == '/')
}

// resolve resolves text. tilde says the text starts with an unquoted ~ (or
// $HOME, already rewritten to ~). cwd is the directory relative paths are
// resolved against; cwdKnown false makes relative paths dynamic.
func (r *resolver) resolve(text string, tilde bool, cwd string, cwdKnown bool, acc access) pathRef {
	p := pathRef{raw: text, access: acc}
	switch {
	case tilde:
		rest := text[1:]
		user := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			user, rest = rest[:i], rest[i:]
		} else {
			rest = ""
		}
		if user != "" {
			// ~otheruser: somewhere outside the project we cannot name.
			p.tilde = "~" + user + rest
			return p
		}
		if r.home != "" {
			p.abs = path.Join(r.home, rest)
			break
		}
		// Unknown home: resolve against a stand-in to keep the ~ form.
		switch clean := path.Clean("/~/" + rest); {
		case clean == "/~":
			p.tilde = "~"
		case strings.HasPrefix(clean, "/~/"):
			p.tilde = clean[1:]
		}
		return p
	case path.IsAbs(text):
		p.abs = path.Clean(text)
	default:
		if !cwdKnown || cwd == "" {
			p.dynamic = true
			return p
		}
		p.abs = path.Join(cwd, text)
	}
	r.classify(&p)
	return p
}

// classify fills rel, inside and tilde from abs.
func (r *resolver) classify(p *pathRef) {
	if r.root != "" && within(p.abs, r.root) {
		p.inside = true
		if p.abs == r.root {
			p.rel = "."
		} else if r.root == "/" {
			p.rel = p.abs[1:]
		} else {
			p.rel = p.abs[len(r.root)+1:]
		}
	}
	p.tilde = r.tildeOf(p.abs)
}

// tildeOf returns the ~ form of abs when it lies in the home directory.
func (r *resolver) tildeOf(abs string) string {
	if r.home != "" {
		if r.home != "/" && within(abs, r.home) {
			return "~" + abs[len(r.home):]
		}
		return ""
	}
	// Heuristic home directories when the call does not name one.
	if within(abs, "/root") {
		return "~" + abs[len("/root"):]
	}
	for _, base := range [...]string{"/home/", "/Users/"} {
		if strings.HasPrefix(abs, base) {
			rest := abs[len(base):]
			if rest == "" {
				return ""
			}
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				return "~" + rest[i:]
			}
			return "~"
		}
	}
	return ""
}

// harmlessPath reports paths that are never worth checking: the null device,
// standard streams and file descriptors.
func harmlessPath(abs string) bool {
	switch abs {
	case "/dev/null", "/dev/zero", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/random", "/dev/urandom", "/dev/full":
		return true
	}
	return strings.HasPrefix(abs, "/dev/fd/")
}

// globBase says what part of a path a glob is matched against.
type globBase uint8

const (
	globRel   globBase = iota // project-relative path
	globAbs                   // absolute path
	globTilde                 // path under the home directory
	globRoot                  // "." : the project root itself
)

// globSeg is one segment of a glob.
type globSeg struct {
	pat  string
	lit  bool // no pattern characters: compare as a string
	star bool // "**"
}

// glob is a compiled path pattern: segments separated by '/', each a
// path.Match pattern, or "**" for any number of segments.
type glob struct {
	raw      string
	base     globBase
	segs     []globSeg
	anyDepth bool   // relative pattern starting with **: also tried on absolute paths
	need     string // for anyDepth: a literal every matching path contains (fast rejection)
}

func compileGlob(s string) (glob, error) {
	g := glob{raw: s}
	if s == "" {
		return g, fmt.Errorf("empty path pattern")
	}
	var rest string
	switch {
	case s == "." || s == "./":
		g.base = globRoot
		return g, nil
	case strings.HasPrefix(s, "/"):
		g.base, rest = globAbs, s[1:]
	case s == "~" || strings.HasPrefix(s, "~/"):
		g.base, rest = globTilde, strings.TrimPrefix(s[1:], "/")
	case strings.HasPrefix(s, "~"):
		return g, fmt.Errorf("path pattern %q: only ~/ (the agent's own home) is supported", s)
	default:
		g.base, rest = globRel, strings.TrimPrefix(s, "./")
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest != "" {
		for _, seg := range strings.Split(rest, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return g, fmt.Errorf("path pattern %q: empty, . or .. segment", s)
			}
			if seg != "**" {
				if _, err := path.Match(seg, "x"); err != nil {
					return g, fmt.Errorf("path pattern %q: %w", s, err)
				}
			}
			if seg == "**" && len(g.segs) > 0 && g.segs[len(g.segs)-1].star {
				continue
			}
			g.segs = append(g.segs, globSeg{pat: seg, star: seg == "**", lit: !strings.ContainsAny(seg, `*?[\`)})
		}
	}
	g.anyDepth = g.base == globRel && len(g.segs) > 0 && g.segs[0].star
	for _, seg := range g.segs {
		lit := seg.pat
		if !seg.lit {
			if i := strings.IndexAny(lit, `*?[\`); i >= 0 {
				lit = lit[:i]
			}
		}
		if !seg.star && len(lit) > len(g.need) {
			g.need = lit
		}
	}
	return g, nil
}

// match reports whether the glob matches p. Dynamic paths never match.
func (g *glob) match(p *pathRef) bool {
	if p.dynamic {
		return false
	}
	if g.anyDepth && g.need != "" && !strings.Contains(p.abs, g.need) && !strings.Contains(p.tilde, g.need) {
		return false
	}
	switch g.base {
	case globRoot:
		return p.inside && p.rel == "."
	case globAbs:
		return p.abs != "" && matchSegs(g.segs, p.abs[1:])
	case globTilde:
		return p.tilde != "" && (p.tilde == "~" && matchSegs(g.segs, "") ||
			strings.HasPrefix(p.tilde, "~/") && matchSegs(g.segs, p.tilde[2:]))
	}
	if p.inside {
		rel := p.rel
		if rel == "." {
			rel = ""
		}
		if matchSegs(g.segs, rel) {
			return true
		}
	}
	if g.anyDepth {
		if p.abs != "" {
			return matchSegs(g.segs, p.abs[1:])
		}
		if strings.HasPrefix(p.tilde, "~/") {
			return matchSegs(g.segs, p.tilde[2:])
		}
	}
	return false
}

// matchBelow reports whether the glob matches some path below p. Only
// absolute and ~/ globs are tried: a project-relative glob (**/.env) would
// match below every directory.
func (g *glob) matchBelow(p *pathRef) bool {
	if p.dynamic {
		return false
	}
	switch g.base {
	case globAbs:
		return p.abs != "" && matchSegsBelow(g.segs, p.abs[1:])
	case globTilde:
		switch {
		case p.tilde == "~":
			return matchSegsBelow(g.segs, "")
		case strings.HasPrefix(p.tilde, "~/"):
			return matchSegsBelow(g.segs, p.tilde[2:])
		}
	}
	return false
}

// matches reports whether the segment pattern g matches one path segment.
func (g globSeg) matches(seg string) bool {
	if g.lit {
		return g.pat == seg
	}
	ok, _ := path.Match(g.pat, seg)
	return ok
}

// matchSegsBelow reports whether pattern segments match some path strictly
// below p ("" is the root).
func matchSegsBelow(pat []globSeg, p string) bool {
	for len(pat) > 0 {
		if pat[0].star || p == "" {
			return true
		}
		seg, rest, _ := strings.Cut(p, "/")
		if !pat[0].matches(seg) {
			return false
		}
		pat, p = pat[1:], rest
	}
	return false
}

// matchSegs matches pattern segments against a '/'-separated path without
// a leading slash ("" is the root, with no segments).
func matchSegs(pat []globSeg, p string) bool {
	for len(pat) > 0 {
		if pat[0].star {
			pat = pat[1:]
			if len(pat) == 0 {
				return true
			}
			for {
				if matchSegs(pat, p) {
					return true
				}
				i := strings.IndexByte(p, '/')
				if i < 0 {
					return false
				}
				p = p[i+1:]
			}
		}
		if p == "" {
			return false
		}
		seg, rest, _ := strings.Cut(p, "/")
		if !pat[0].matches(seg) {
			return false
		}
		pat, p = pat[1:], rest
	}
	return p == ""
}

// wildcard is a compiled string pattern where * matches any run of
// characters (including '/') and ? any single byte.
type wildcard struct {
	s    string
	wild bool
}

func newWildcard(s string) wildcard {
	return wildcard{s: s, wild: strings.ContainsAny(s, "*?")}
}

func (w wildcard) match(s string) bool {
	if !w.wild {
		return w.s == s
	}
	return wildMatch(w.s, s)
}

// wildMatch is an iterative glob matcher for * and ?.
func wildMatch(pat, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pat) && (pat[pi] == '?' || pat[pi] == s[si]):
			pi++
			si++
		case pi < len(pat) && pat[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}

func matchAnyWild(ws []wildcard, s string) bool {
	for _, w := range ws {
		if w.match(s) {
			return true
		}
	}
	return false
}
