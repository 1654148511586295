package policy

import "testing"

func TestResolve(t *testing.T) {
	t.Parallel()
	withHome := resolver{root: "/home/dev/proj", home: "/home/dev"}
	noHome := resolver{root: "/work/p"}
	tests := []struct {
		name   string
		r      resolver
		text   string
		tilde  bool
		cwd    string
		abs    string
		rel    string
		tform  string
		inside bool
		dyn    bool
	}{
		{"relative", withHome, "a/b", false, "/home/dev/proj", "/home/dev/proj/a/b", "a/b", "~/proj/a/b", true, false},
		{"root itself", withHome, ".", false, "/home/dev/proj", "/home/dev/proj", ".", "~/proj", true, false},
		{"parent", withHome, "..", false, "/home/dev/proj", "/home/dev", "", "~", false, false},
		{"prefix trap", withHome, "/home/dev/project2/x", false, "/", "/home/dev/project2/x", "", "~/project2/x", false, false},
		{"tilde", withHome, "~/.ssh/id_rsa", true, "/", "/home/dev/.ssh/id_rsa", "", "~/.ssh/id_rsa", false, false},
		{"tilde unknown home", noHome, "~/.ssh", true, "/work/p", "", "", "~/.ssh", false, false},
		{"tilde escapes unknown home", noHome, "~/../x", true, "/work/p", "", "", "", false, false},
		{"other user", noHome, "~bob/x", true, "/work/p", "", "", "~bob/x", false, false},
		{"heuristic home", noHome, "/home/alice/.aws/credentials", false, "/", "/home/alice/.aws/credentials", "", "~/.aws/credentials", false, false},
		{"root home", noHome, "/root/.ssh", false, "/", "/root/.ssh", "", "~/.ssh", false, false},
		{"unknown cwd", noHome, "x", false, "", "", "", "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.r.resolve(tc.text, tc.tilde, tc.cwd, tc.cwd != "", accessRead)
			if p.abs != tc.abs || p.rel != tc.rel || p.tilde != tc.tform || p.inside != tc.inside || p.dynamic != tc.dyn {
				t.Errorf("resolve(%q) = abs %q rel %q tilde %q inside %v dynamic %v; want %q %q %q %v %v",
					tc.text, p.abs, p.rel, p.tilde, p.inside, p.dynamic, tc.abs, tc.rel, tc.tform, tc.inside, tc.dyn)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	r := resolver{root: "/home/dev/proj", home: "/home/dev"}
	tests := []struct {
		pattern string
		path    string
		want    bool
	}{
		{".git/**", ".git", true},
		{".git/**", ".git/hooks/pre-commit", true},
		{".git/**", ".gitignore", false},
		{".git/**", "sub/.git/config", false},
		{"**/.git/**", "sub/.git/config", true},
		{"**/.env*", ".env", true},
		{"**/.env*", "a/b/.env.local", true},
		{"**/.env*", "/tmp/other/.env", true},
		{"**/.env*", "env", false},
		{"~/.ssh/**", "/home/dev/.ssh/id_rsa", true},
		{"~/.ssh/**", "/home/dev/proj/.ssh/x", false},
		{"~", "/home/dev", true},
		{"/etc/**", "/etc", true},
		{"/etc/**", "/etc/nginx/nginx.conf", true},
		{"/etc/**", "/etcetera", false},
		{"/", "/", true},
		{"/", "/x", false},
		{".", ".", true},
		{".", "a", false},
		{"*.go", "main.go", true},
		{"*.go", "cmd/main.go", false},
		{"**/*.go", "cmd/main.go", true},
		{"cmd/**/*.go", "cmd/a/b/c.go", true},
		{"cmd/**/*.go", "cmd/c.go", true},
		{"src/[a-c]*", "src/b1", true},
		{"src/[a-c]*", "src/d1", false},
		{"/tmp/**", "/tmp", true},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			g, err := compileGlob(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			p := r.resolve(tc.path, false, "/home/dev/proj", true, accessRead)
			if got := g.match(&p); got != tc.want {
				t.Errorf("glob %q match %q (abs %q rel %q tilde %q) = %v, want %v", tc.pattern, tc.path, p.abs, p.rel, p.tilde, got, tc.want)
			}
		})
	}
}

func TestWildcard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"mcp__*", "mcp__github__create", true},
		{"mcp__*", "Bash", false},
		{"mkfs.*", "mkfs.ext4", true},
		{"mkfs.*", "mkfs", false},
		{"http://localhost*", "http://localhost:8080/x", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*@*", "golang.org/x/tools@latest", true},
		{"*", "", true},
		{"+*", "+main", true},
		{"+*", "main", false},
	}
	for _, tc := range tests {
		if got := newWildcard(tc.pat).match(tc.s); got != tc.want {
			t.Errorf("wildcard %q match %q = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}
