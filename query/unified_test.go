package query

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// applyUnified applies a unified diff made by unifiedDiff to a.
func applyUnified(t *testing.T, a []string, patch string) []string {
	t.Helper()
	lines := strings.SplitAfter(patch, "\n")
	var out []string
	pos := 0 // next line of a to copy
	for i := 2; i < len(lines) && lines[i] != ""; i++ {
		l := lines[i]
		if strings.HasPrefix(l, "@@") {
			var as, bs string
			if _, err := fmt.Sscanf(l, "@@ -%s +%s @@", &as, &bs); err != nil {
				t.Fatalf("hunk header %q: %v", l, err)
			}
			var start, n int
			if _, err := fmt.Sscanf(as, "%d,%d", &start, &n); err != nil {
				fmt.Sscanf(as, "%d", &start)
				n = 1
			}
			if n > 0 {
				start-- // 1-based; an empty range names the line before
			}
			out = append(out, a[pos:start]...)
			pos = start
			continue
		}
		switch l[0] {
		case ' ':
			if a[pos] != l[1:] {
				t.Fatalf("context %q does not match line %d %q", l, pos, a[pos])
			}
			out = append(out, a[pos])
			pos++
		case '-':
			if a[pos] != l[1:] {
				t.Fatalf("removed %q does not match line %d %q", l, pos, a[pos])
			}
			pos++
		case '+':
			out = append(out, l[1:])
		}
	}
	return append(out, a[pos:]...)
}

func TestUnifiedDiffApplies(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	text := func(n int) []string {
		var out []string
		for range n {
			out = append(out, fmt.Sprintf("line %d\n", rng.IntN(12)))
		}
		return out
	}
	for i := range 300 {
		a, b := text(rng.IntN(40)), text(rng.IntN(40))
		if i%3 == 0 { // mostly shared content, as edits are
			b = append(append(append([]string{}, a[:len(a)/2]...), text(3)...), a[len(a)/2:]...)
		}
		p := unifiedDiff(strings.Join(a, ""), strings.Join(b, ""), "a/f", "b/f", 3)
		if strings.Join(a, "") == strings.Join(b, "") {
			if p != "" {
				t.Fatalf("equal contents give a patch:\n%s", p)
			}
			continue
		}
		if !strings.HasPrefix(p, "--- a/f\n+++ b/f\n@@ ") {
			t.Fatalf("patch header:\n%s", p)
		}
		if got := applyUnified(t, a, p); strings.Join(got, "") != strings.Join(b, "") {
			t.Fatalf("case %d: the patch does not give b\na=%q\nb=%q\npatch:\n%s", i, a, b, p)
		}
	}
	if p := unifiedDiff("", "x\n", "/dev/null", "b/f", 3); p != "--- /dev/null\n+++ b/f\n@@ -0,0 +1 @@\n+x\n" {
		t.Errorf("added file: %q", p)
	}
}
