package procstat

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	const tail = " S 1 2 3 0 -1 4194560 1021 0 0 0 1234 566 0 0 20 0 9 0 5000 900000 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	for _, c := range []struct {
		name, stat string
		want       Stat
		err        string
	}{
		{"reader", "4242 (reader)" + tail, Stat{Parent: 1, CPU: 18 * time.Second}, ""},
		{"a name with spaces and parentheses", "4242 (a) b (c))" + tail, Stat{Parent: 1, CPU: 18 * time.Second}, ""},
		{"no name", "4242 reader" + tail, Stat{}, "no command name"},
		{"cut short", "4242 (reader) S 1 2 3 0 -1 4194560 1021 0 0 0 1234", Stat{}, "fields after the command name"},
		{"not a number", "4242 (reader) S 1 2 3 0 -1 4194560 1021 0 0 0 12x4 566 0", Stat{}, "invalid syntax"},
		{"no parent", "4242 (reader) S x 2 3 0 -1 4194560 1021 0 0 0 1234 566 0", Stat{}, "parent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(c.stat))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("= %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

// TestReadThisProcess: the real /proc line of this test gives its parent.
func TestReadThisProcess(t *testing.T) {
	t.Parallel()
	st, err := Read(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if st.Parent != os.Getppid() {
		t.Fatalf("Read: parent %d, want %d", st.Parent, os.Getppid())
	}
}
