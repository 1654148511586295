package domain

import "testing"

func TestLeaseGlobs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b    string
		overlap bool
	}{
		{"src/cart/**", "src/cart/cart.go", true},
		{"src/cart/**", "src", true}, // a directory above leased paths
		{"src/cart/**", "src/carts/x.go", false},
		{"src/*.go", "src/a.go", true},
		{"src/*.go", "src/a.txt", false},
		{"src/*.go", "src/sub/a.go", false},
		{"**", "anything/at/all", true},
		{"docs/a.md", "docs/a.md", true},
		{"docs/a.md", "docs/b.md", false},
		{"src/**/*.go", "src/x/y/z.go", true},
		{"src/a*", "src/*b", true}, // two wildcards are assumed to overlap
		{"src/cart/x.go", "src/cart/**", true},
	} {
		if got := GlobsOverlap(tc.a, tc.b); got != tc.overlap {
			t.Errorf("GlobsOverlap(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.overlap)
		}
		if got := GlobsOverlap(tc.b, tc.a); got != tc.overlap {
			t.Errorf("GlobsOverlap(%q, %q) = %v, want %v (symmetric)", tc.b, tc.a, got, tc.overlap)
		}
	}
	for _, tc := range []struct {
		glob, path string
		match      bool
	}{
		{"src/cart/**", "src/cart/a/b.go", true},
		{"src/cart", "src/cart/a.go", true}, // a lease on a directory covers what lies below
		{"src/**/*.go", "src/a.go", true},
		{"src/**/*.go", "src/a.txt", false},
		{"*.md", "README.md", true},
		{"*.md", "docs/README.md", false},
	} {
		if got := GlobMatch(tc.glob, tc.path); got != tc.match {
			t.Errorf("GlobMatch(%q, %q) = %v, want %v", tc.glob, tc.path, got, tc.match)
		}
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"src/cart/**", "src/cart/**", true},
		{"./src//cart/", "src/cart", true},
		{".", "**", true},
		{"../x", "", false},
		{"/abs/x", "", false},
		{"a\\b", "", false},
		{"src/[", "", false},
		{"", "", false},
	} {
		got, err := CheckLeaseGlob("paths[0]", tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CheckLeaseGlob(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
