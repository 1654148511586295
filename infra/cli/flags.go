package cli

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// FlagName is how a flag is written on the command line and in help: -m
// for a one-letter name, --name otherwise, as the README writes them.
func FlagName(name string) string {
	if len([]rune(name)) == 1 {
		return "-" + name
	}
	return "--" + name
}

// PrintFlags prints fs's flags, one a line, sorted by name, as
// "  --name TYPE   usage (default D)". Unlike flag.PrintDefaults it takes
// no argument name from backquotes in the usage text.
func PrintFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		name := FlagName(f.Name)
		if t := flagType(f); t != "" {
			name += " " + t
		}
		usage := f.Usage
		if d := f.DefValue; d != "" && d != "0" && d != "false" && d != "0s" && !strings.Contains(usage, "default") {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	_ = tw.Flush()
}

// flagType names the kind of value a flag takes: "" for a boolean.
func flagType(f *flag.Flag) string {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return ""
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			return "DURATION"
		case int, int64, uint, uint64:
			return "N"
		case float64:
			return "NUMBER"
		case string:
			return "STRING"
		}
	}
	// A custom value: its type's name, as a placeholder.
	t := reflect.TypeOf(f.Value)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	n := strings.TrimSuffix(strings.TrimSuffix(t.Name(), "Value"), "Flag")
	if n == "" {
		return "VALUE"
	}
	return strings.ToUpper(n)
}

// flagError rewrites an error of fs.Parse in the words the CLI uses:
// --name, what a value should look like, the closest known flag.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		out := fmt.Sprintf("%s: unknown flag %s", fs.Name(), FlagName(name))
		if s := closestFlag(fs, name); s != "" {
			out += fmt.Sprintf(" (did you mean %s?)", FlagName(s))
		}
		return Usagef("%s", out)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		f := fs.Lookup(name)
		what := "a value"
		if f != nil {
			what = valueDescription(f)
		}
		return Usagef("%s: %s needs %s", fs.Name(), FlagName(name), what)
	}
	// invalid value "5" for flag -wait: parse error
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if i := strings.Index(rest, " for flag -"); i >= 0 {
			val := rest[:i]
			name, reason, _ := strings.Cut(rest[i+len(" for flag -"):], ": ")
			if f := fs.Lookup(name); f != nil {
				out := fmt.Sprintf("%s: %s takes %s, not %s", fs.Name(), FlagName(name), valueDescription(f), val)
				if reason != "" && reason != "parse error" {
					out += " (" + reason + ")"
				}
				return Usagef("%s", out)
			}
		}
	}
	return Usagef("%s: %v", fs.Name(), err)
}

// valueDescription says what value a flag takes, for an error message.
func valueDescription(f *flag.Flag) string {
	switch flagType(f) {
	case "DURATION":
		return "a duration such as 5s, 2m or 1h30m"
	case "N":
		return "a whole number"
	case "NUMBER":
		return "a number"
	case "":
		return "true or false"
	}
	return "a value"
}

// closestFlag returns the flag of fs whose name is closest to name, or ""
// when none is close.
func closestFlag(fs *flag.FlagSet, name string) string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	fs.VisitAll(func(f *flag.Flag) {
		d := editDistance(name, f.Name)
		if d <= max(1, len(f.Name)/3) || (len(name) > 1 && strings.HasPrefix(f.Name, name)) {
			cs = append(cs, cand{f.Name, d})
		}
	})
	if len(cs) == 0 {
		return ""
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].d < cs[j].d || (cs[i].d == cs[j].d && cs[i].name < cs[j].name) })
	return cs[0].name
}

// editDistance is the Levenshtein distance of a and b, a transposition of
// two neighbours counting one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// countError says how many positional arguments were wanted and got.
func countError(fs *flag.FlagSet, pos []string, minArgs, maxArgs int) error {
	var want string
	switch {
	case minArgs == maxArgs:
		want = fmt.Sprintf("exactly %s", Plural(minArgs, "argument"))
	case maxArgs < 0:
		want = fmt.Sprintf("at least %s", Plural(minArgs, "argument"))
	case len(pos) < minArgs:
		want = fmt.Sprintf("at least %s", Plural(minArgs, "argument"))
	default:
		want = fmt.Sprintf("at most %s", Plural(maxArgs, "argument"))
	}
	got := "none"
	if len(pos) > 0 {
		got = fmt.Sprintf("%d: %s", len(pos), strings.Join(pos, " "))
	}
	return Usagef("%s: want %s, got %s", fs.Name(), want, got)
}

// Plural returns n and what, with an s unless n is 1 ("1 file", "2 files").
func Plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
