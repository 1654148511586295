package cli

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func testFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("msg inbox", flag.ContinueOnError)
	fs.Duration("wait", 0, "wait up to this long")
	fs.String("agent", "", "only events by this agent")
	fs.Int("limit", 100, "at most this many")
	fs.String("m", "", "the reason")
	fs.Bool("json", false, "print JSON")
	fs.String("data", "", "data directory (default: the one `lighthouse up` uses)")
	return fs
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		min  int
		max  int
		want string
	}{
		{"duration without a unit", []string{"--wait", "5"}, 0, 0, `msg inbox: --wait takes a duration such as 5s, 2m or 1h30m, not "5"`},
		{"unknown flag with a suggestion", []string{"--agnet", "x"}, 0, 0, "msg inbox: unknown flag --agnet (did you mean --agent?)"},
		{"unknown flag single dash", []string{"-limt", "3"}, 0, 0, "unknown flag --limt (did you mean --limit?)"},
		{"unknown flag far from all", []string{"--zzzzzz"}, 0, 0, "msg inbox: unknown flag --zzzzzz"},
		{"a number", []string{"--limit", "many"}, 0, 0, `--limit takes a whole number, not "many"`},
		{"missing value of a one-letter flag", []string{"-m"}, 0, 0, "msg inbox: -m needs a value"},
		{"missing argument", nil, 1, 1, "msg inbox: want exactly 1 argument, got none"},
		{"too many", []string{"a", "b", "c"}, 1, 2, "msg inbox: want at most 2 arguments, got 3: a b c"},
		{"too few of many", nil, 1, -1, "msg inbox: want at least 1 argument, got none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(testFlags(), tt.args, tt.min, tt.max)
			var ue UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want a UsageError containing %q", tt.args, err, tt.want)
			}
			if strings.Contains(err.Error(), "parse error") {
				t.Fatalf("Parse(%q) = %v: the flag package's words leaked", tt.args, err)
			}
		})
	}
	if _, err := Parse(testFlags(), []string{"--wait", "5s", "x"}, 1, 1); err != nil {
		t.Fatalf("good arguments: %v", err)
	}
}

func TestPrintFlags(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	PrintFlags(&b, testFlags())
	out := b.String()
	for _, want := range []string{
		"  --wait DURATION ", "  --agent STRING ", "  --limit N ", "at most this many (default 100)", "  -m STRING ", "  --json ",
		"data directory (default: the one `lighthouse up` uses)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("PrintFlags lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"-data lighthouse up", "\n  -wait", "\n  -json"} {
		if strings.Contains(out, bad) {
			t.Errorf("PrintFlags has %q:\n%s", bad, out)
		}
	}
}
