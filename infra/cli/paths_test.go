package cli

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPathsResolve(t *testing.T) {
	t.Parallel()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "internal", "cart")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Dir(root)
	tests := []struct {
		name      string
		p         Paths
		arg       string
		want      string
		wantError string // a part of the UsageError; "" for none
	}{
		{"relative to the working directory", Paths{root, sub}, "cart.go", "internal/cart/cart.go", ""},
		{"dot dot inside the project", Paths{root, sub}, "../money.go", "internal/money.go", ""},
		{"absolute inside the project", Paths{root, sub}, filepath.Join(sub, "cart.go"), "internal/cart/cart.go", ""},
		{"the root is empty", Paths{root, sub}, "../..", "", ""},
		{"directory keeps its slash", Paths{root, sub}, "nosuch/", "internal/cart/nosuch/", ""},
		{"glob relative to the working directory", Paths{root, sub}, "**", "internal/cart/**", ""},
		{"absolute outside", Paths{root, sub}, "/etc/passwd", "", "/etc/passwd is outside the project " + root},
		{"dot dot outside", Paths{root, sub}, "../../../blog/index.js", "", "../../../blog/index.js is outside the project " + root},
		{"at the root", Paths{root, root}, "main.go", "main.go", ""},
		{"outside the project: relative to the root", Paths{root, outside}, "internal/cart.go", "internal/cart.go", ""},
		{"outside the project: absolute inside is fine", Paths{root, outside}, filepath.Join(root, "a.go"), "a.go", ""},
		{"outside the project: escaping", Paths{root, outside}, "../x", "", "../x is outside the project " + root},
		{"root unknown: absolute refused", Paths{"", outside}, "/abs.txt", "", "/abs.txt is an absolute path"},
		{"root unknown: relative kept", Paths{"", outside}, "./a/b/../c.txt", "a/c.txt", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.p.Resolve(tt.arg)
			if tt.wantError != "" {
				var ue UsageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("Resolve(%q) = %q, %v; want a UsageError containing %q", tt.arg, got, err, tt.wantError)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", tt.arg, got, err, tt.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"internal/cart.go": "internal/cart.go",
		"":                 "''",
		"a b":              "'a b'",
		"it's":             `'it'\''s'`,
		"$HOME;rm":         "'$HOME;rm'",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
		if out, err := exec.Command("sh", "-c", "printf %s "+ShellQuote(in)).Output(); err != nil || string(out) != in {
			t.Errorf("sh -c printf %%s %s = %q, %v; want %q", ShellQuote(in), out, err, in)
		}
	}
}
