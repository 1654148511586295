package supervisor

import (
	"net"
	"os"
	"testing"
)

// TestFreeAddrsAreDistinctAndFree: the addresses are distinct, and every
// listener that picked them is closed on return. (Not whether each port
// can be bound again: any other process may take it meanwhile, as make
// test's other packages do, which is the race FreeAddrs documents.) Not
// parallel, so that no other test of the package opens descriptors while
// this one counts them.
func TestFreeAddrsAreDistinctAndFree(t *testing.T) {
	// The runtime's network poller keeps descriptors of its own from the
	// first listener on: start it before counting.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	for _, n := range []int{0, 1, 3, 64} {
		before := openFDs(t)
		addrs, err := FreeAddrs(n)
		if err != nil {
			t.Fatal(err)
		}
		if after := openFDs(t); after != before {
			t.Fatalf("FreeAddrs(%d) left %d descriptors open", n, after-before)
		}
		if len(addrs) != n {
			t.Fatalf("FreeAddrs(%d) gave %d addresses", n, len(addrs))
		}
		seen := map[string]bool{}
		for _, a := range addrs {
			if seen[a] {
				t.Fatalf("FreeAddrs(%d) gave %s twice: %v", n, a, addrs)
			}
			seen[a] = true
			if _, _, err := net.SplitHostPort(a); err != nil {
				t.Fatalf("FreeAddrs(%d): %q: %v", n, a, err)
			}
		}
	}
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}
