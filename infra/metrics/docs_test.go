package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// registered returns the names of every Lighthouse metric the constructors
// register.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	reg := NewRegistry("test")
	NewHTTP(reg).Observe("GET", "/", 200, 0)
	NewGate(reg).Observe("allow", "r", 0)
	NewStore(reg)
	NewRelay(reg)
	NewFollower(reg)
	NewFUSE(reg)
	NewCoordination(reg, func() int { return 0 }, func() int { return 0 }, func() int { return 0 })
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), Namespace+"_") {
			names[f.GetName()] = true
		}
	}
	return names
}

var metricName = regexp.MustCompile(`lighthouse_[a-z_]+`)

// TestDocsAndDashboard: the README documents exactly the metrics the code
// registers, and the Grafana dashboard only queries metrics that exist.
func TestDocsAndDashboard(t *testing.T) {
	names := registered(t)
	for _, tt := range []struct {
		file    string
		section string // only text after this marker, up to the next heading
		all     bool   // every registered metric must appear
	}{
		{"../../README.md", "<!-- metrics:table", true},
		{"../../deploy/grafana-dashboard.json", "", false},
	} {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			text := string(raw)
			if tt.section != "" {
				i := strings.Index(text, tt.section)
				if i < 0 {
					t.Fatalf("%s has no %q section", tt.file, tt.section)
				}
				text = text[i:]
				if j := strings.Index(text, "\n## "); j >= 0 {
					text = text[:j]
				}
			}
			seen := map[string]bool{}
			for _, m := range metricName.FindAllString(text, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(m, suffix); ok && names[b] {
						base = b
					}
				}
				if !names[base] {
					t.Errorf("%s mentions %s, which no constructor registers", tt.file, m)
				}
				seen[base] = true
			}
			if tt.all {
				for n := range names {
					if !seen[n] {
						t.Errorf("%s does not document %s", tt.file, n)
					}
				}
			}
		})
	}
}
