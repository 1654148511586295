package policy

import (
	"path"
	"slices"
	"strings"
)

// literalOptions are option values kept verbatim in shapes because they
// change what a command does (curl -X POST versus -X GET).
var literalOptions = map[string]bool{
	"curl X": true, "wget method": true, "python m": true, "python3 m": true,
	"sudo u": true, "kubectl n": true, "docker H": true, "env u": true,
}

// Shape returns the generalised "shape" of a call, for learned approvals:
// calls a human would approve alike share a shape. For Bash, each command
// contributes its program, subcommand (git push), sorted canonical flags and
// its operands generalised: <path> for paths inside the project, <arg> for
// other words, <url:scheme://host> for URLs and <var> for expansions; paths
// outside the project stay literal. A program the gate has no description
// of keeps its plain words (lighthouse agent remove): it cannot tell which
// of them are subcommands. Redirection targets are shaped the same way, and
// the names of the environment variables the call sets, exports or unsets
// end the shape ("(sets $CLAUDECODE)"): a call that changes what a program
// reads from its environment is not the call that was approved. For file
// tools the shape is the tool and a glob of the file's
// directory and extension (Edit src/api/*.go). ok is false when the call
// cannot be shaped safely: a program name or script not statically known,
// a command that does not parse, or any other builtin finding such as a PATH
// change.
func Shape(c Call) (string, bool) {
	var a analysis
	a.run(c)
	if len(a.findings) > 0 {
		// Every builtin finding (dynamic names, parse errors, PATH changes,
		// ...) is about something a shape would not show.
		return "", false
	}
	var b strings.Builder
	b.WriteString(c.Tool)
	switch {
	case a.isBash:
		if len(a.commands) == 0 {
			return "", false
		}
		b.WriteByte(':')
		for i := range a.commands {
			if i > 0 {
				b.WriteString(" ;")
			}
			b.WriteByte(' ')
			a.shapeCommand(&b, &a.commands[i])
		}
		var redirs []string
		for i := range a.paths {
			if p := &a.paths[i]; p.redirect {
				op := ">"
				if p.access == accessRead {
					op = "<"
				}
				redirs = append(redirs, op+shapePathArg(p))
			}
		}
		slices.Sort(redirs)
		for _, r := range slices.Compact(redirs) {
			b.WriteByte(' ')
			b.WriteString(r)
		}
		if len(a.envNames) > 0 {
			names := slices.Clone(a.envNames)
			slices.Sort(names)
			b.WriteString(" (sets")
			for _, n := range slices.Compact(names) {
				b.WriteString(" $")
				b.WriteString(n)
			}
			b.WriteByte(')')
		}
	case len(a.paths) > 0:
		b.WriteByte(' ')
		b.WriteString(shapeFile(&a.paths[0]))
	default:
		if u, ok := c.Input["url"].(string); ok {
			b.WriteByte(' ')
			b.WriteString(shapeURL(u, false))
		} else if strings.HasPrefix(c.Tool, "mcp__") || len(c.Input) > 0 {
			keys := make([]string, 0, len(c.Input))
			for k := range c.Input {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			b.WriteString(" {" + strings.Join(keys, ",") + "}")
		}
	}
	return b.String(), true
}

func (a *analysis) shapeCommand(b *strings.Builder, c *command) {
	if c.trusted {
		b.WriteString(c.program)
	} else {
		p := a.res.resolve(c.invoked, false, a.cwd(), a.cwd() != "", accessRead)
		if p.inside {
			b.WriteString("./" + p.rel)
		} else {
			b.WriteString(p.display())
		}
	}
	if c.subcommand != "" {
		b.WriteByte(' ')
		b.WriteString(c.subcommand)
	}
	var flags []string
	spec := programs[c.program]
	for _, f := range c.flags {
		dash := "-"
		if len(f) > 1 && (spec == nil || !spec.singleDashLong) {
			dash = "--"
		}
		n := 0
		for _, o := range c.options {
			if o.name != f {
				continue
			}
			n++
			v := o.value
			if o.dynamic {
				v = "<var>"
			} else if !literalOptions[c.program+" "+f] && !interpreters[c.program] && !remotePrograms[c.program] {
				// An interpreter's options name the code it runs (python
				// -c CODE, node -r MODULE), and a remote program's where and
				// how it connects, as whom and what it sends (rsync -e PROG,
				// scp -P PORT -i KEY, --password-file, --files-from): both
				// are kept verbatim.
				v = a.shapeArg(c, arg{text: o.value, tilde: o.tilde})
			}
			flags = append(flags, dash+f+"="+v)
		}
		if n == 0 {
			flags = append(flags, dash+f)
		}
	}
	slices.Sort(flags)
	for _, f := range slices.Compact(flags) {
		b.WriteByte(' ')
		b.WriteString(f)
	}
	if c.wrapper && c.program != "" && len(c.args) == 0 {
		return
	}
	xs := c.args
	if len(xs) > 0 && !xs[0].dynamic && runsScript(c) {
		// The script an interpreter or shell runs is the code approved:
		// running build.py is not running any other file.
		b.WriteByte(' ')
		b.WriteString(xs[0].text)
		xs = xs[1:]
	}
	args := make([]string, 0, len(xs))
	for _, x := range xs {
		args = append(args, a.shapeArg(c, x))
	}
	if (spec != nil || c.wrapper) && !remotePrograms[c.program] {
		// A described program's operands are generalised, so their order
		// and count say nothing; the words of a program the gate does not
		// describe keep both (lighthouse agent list is not list agent),
		// and so do a remote copy's (which way it copies) and ssh's.
		slices.Sort(args)
		args = slices.Compact(args)
	}
	for _, s := range args {
		b.WriteByte(' ')
		b.WriteString(s)
	}
	// What the arguments make the command do, as the rules see it: a push
	// naming a feature branch and one naming none (the current branch,
	// perhaps main) differ only there.
	if len(c.effects) > 0 {
		effects := slices.Clone(c.effects)
		slices.Sort(effects)
		b.WriteString(" [" + strings.Join(slices.Compact(effects), " ") + "]")
	}
}

// remotePrograms reach other machines: a shape keeps the host of each
// remote operand and the operands' order (scp a host:b copies out, scp
// host:b a in), and ssh's and sftp's operands verbatim.
var remotePrograms = map[string]bool{"scp": true, "rsync": true, "ssh": true, "sftp": true}

// runsScript reports a shell or interpreter whose first operand is the
// script it runs: no inline code (sh -c, python -c, node -e) and no module
// (python -m) given instead.
func runsScript(c *command) bool {
	switch {
	case shells[c.program]:
		return !c.hasFlag("c") && !c.hasFlag("s")
	case interpreters[c.program]:
		spec := programs[c.program]
		for _, o := range c.options {
			if spec.stopAfter[o.name] {
				return false
			}
		}
		return true
	}
	return false
}

// shapeArg generalises one operand of c.
func (a *analysis) shapeArg(c *command, x arg) string {
	switch {
	case x.dynamic:
		return "<var>"
	case c.program == "ssh" || c.program == "sftp":
		// The host, and the command run there, which is code.
		return x.text
	case strings.Contains(x.text, "://"):
		// rsync://user@host/module keeps its user and host
		return shapeURL(x.text, remotePrograms[c.program])
	case remotePrograms[c.program] && isRemote(x.text):
		// [user@]host:path: the host is where the copy goes or comes from
		// (an IPv6 host in brackets whole).
		host, _, _ := strings.Cut(x.text, ":")
		if at := strings.LastIndexByte(host, '@'); strings.HasPrefix(host[at+1:], "[") {
			if end := strings.IndexByte(x.text, ']'); end > 0 {
				host = x.text[:end+1]
			}
		}
		return "<remote:" + strings.ToLower(host) + ">"
	case c.program == "git" && !isPathOperand(c, x.text) && !x.tilde && !strings.HasPrefix(x.text, "/") &&
		!strings.HasPrefix(x.text, ".") && !strings.Contains(x.text, ".."):
		// git operands are refs (feature/cart), not paths. A push keeps the
		// default and release branches literal, so approving a feature push
		// never approves a push to main.
		if c.subcommand == "push" {
			_, dst, ok := strings.Cut(strings.TrimPrefix(x.text, "+"), ":")
			if !ok {
				dst = strings.TrimPrefix(x.text, "+")
			}
			if protectedBranch(dst) {
				return x.text
			}
		}
		return "<arg>"
	case isPathOperand(c, x.text) || x.tilde || strings.HasPrefix(x.text, "/") || strings.HasPrefix(x.text, ".") || strings.Contains(x.text, "/"):
		p := a.res.resolve(x.text, x.tilde, a.cwd(), a.cwd() != "", accessRead)
		return shapePathArg(&p)
	case programs[c.program] == nil && !c.wrapper && isSubcommandWord(x.text):
		return x.text
	}
	return "<arg>"
}

// isSubcommandWord reports a word a program the gate does not describe
// might take as a subcommand: lower-case letters, digits and dashes,
// starting with a letter.
func isSubcommandWord(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// isPathOperand reports whether text is one of the files c reads or writes.
func isPathOperand(c *command, text string) bool {
	for i := range c.paths {
		if p := &c.paths[i]; !p.redirect && p.raw == text {
			return true
		}
	}
	return false
}

func shapePathArg(p *pathRef) string {
	switch {
	case p.dynamic:
		return "<var>"
	case p.inside:
		return "<path>"
	}
	return p.display()
}

// shapeURL keeps a URL's scheme and host, and its user when keepUser (the
// account a remote copy logs in as).
func shapeURL(u string, keepUser bool) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "<url>"
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	user := ""
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if keepUser {
			user = rest[:i+1] // user names are case-sensitive, host names not
		}
		rest = rest[i+1:]
	}
	return "<url:" + strings.ToLower(scheme) + "://" + user + strings.ToLower(rest) + ">"
}

// shapeFile generalises a file path to its directory and extension.
func shapeFile(p *pathRef) string {
	if p.dynamic {
		return "<var>"
	}
	var dir, base string
	switch {
	case p.inside:
		dir, base = path.Split(p.rel)
	case p.abs != "":
		dir, base = path.Split(p.abs)
	default:
		dir, base = path.Split(p.tilde)
	}
	ext := path.Ext(base)
	switch {
	case strings.HasPrefix(base, ".") && ext == base:
		// dotfiles (.env, .gitignore) keep their name
	case ext == "":
		base = "*"
	default:
		base = "*" + ext
	}
	return dir + base
}
