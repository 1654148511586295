package cli

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// Paths turns the path arguments people type into project paths (slash
// separated, relative to the project root), the one way every command
// reads a path argument.
//
// Inside the project (Cwd within Root) a relative path is relative to the
// working directory, and an absolute path inside the project is taken
// relative to the root. Elsewhere a relative path is relative to the
// project root, as the log names files. A path that leaves the project
// (absolute, or through ..) is a UsageError naming the path and the root.
type Paths struct {
	// Root is the project root, absolute with symlinks resolved; "" when
	// unknown (absolute paths are then refused).
	Root string
	// Cwd is the working directory, absolute with symlinks resolved.
	Cwd string
}

// Paths returns the resolver for the project c works on and the working
// directory.
func (c *Connection) Paths(ctx context.Context) (Paths, error) {
	root, err := c.ProjectRoot(ctx)
	var nip *NotInProjectError
	if errors.As(err, &nip) {
		return Paths{}, err
	}
	// A writer that cannot tell its root (down, while the reader still
	// serves) leaves paths relative to the root, absolute ones refused.
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	cwd, err := config.ProjectDir(".")
	if err != nil {
		return Paths{}, fmt.Errorf("working directory: %w", err)
	}
	return Paths{Root: root, Cwd: cwd}, nil
}

// inside reports whether the working directory lies in the project.
func (p Paths) inside() bool {
	return p.Root != "" && p.Cwd != "" && config.Within(p.Cwd, p.Root)
}

// Resolve returns the project path arg names: "" for the project root
// itself, a trailing slash kept (a directory prefix). Glob characters pass
// through, so lease globs resolve like paths.
func (p Paths) Resolve(arg string) (string, error) {
	if arg == "" {
		return "", nil
	}
	dir := strings.HasSuffix(arg, "/")
	var abs string
	switch {
	case filepath.IsAbs(arg):
		if p.Root == "" {
			return "", Usagef("%s is an absolute path; give it relative to the project root", arg)
		}
		abs = realPath(filepath.Clean(arg))
	case p.inside():
		abs = filepath.Join(p.Cwd, arg)
	default:
		rel := path.Clean(filepath.ToSlash(arg))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			if p.Root == "" {
				return "", Usagef("%s is outside the project", arg)
			}
			return "", Usagef("%s is outside the project %s", arg, p.Root)
		}
		return withSlash(rel, dir), nil
	}
	root := p.Root
	if !config.Within(abs, root) {
		return "", Usagef("%s is outside the project %s", arg, root)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return "", Usagef("%s is outside the project %s", arg, root)
	}
	return withSlash(filepath.ToSlash(rel), dir), nil
}

// ResolveAll resolves every argument (see Resolve).
func (p Paths) ResolveAll(args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for _, a := range args {
		r, err := p.Resolve(a)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// withSlash maps the root to "" and keeps a directory's trailing slash.
func withSlash(rel string, dir bool) string {
	if rel == "." {
		return ""
	}
	if dir {
		return rel + "/"
	}
	return rel
}

// realPath resolves the symlinks of abs, or of its closest existing
// parent, so /tmp/x and /private/tmp/x name the same project file.
func realPath(abs string) string {
	rest := ""
	for d := abs; ; d = filepath.Dir(d) {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(r, rest)
		}
		if d == filepath.Dir(d) {
			return abs
		}
		rest = filepath.Join(filepath.Base(d), rest)
	}
}
