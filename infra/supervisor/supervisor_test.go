package supervisor

import (
	"net"
	"testing"
)

func TestFreeAddrsAreDistinctAndFree(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 3, 64} {
		addrs, err := FreeAddrs(n)
		if err != nil {
			t.Fatal(err)
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
			// Each port is released on return, so it can be bound now.
			l, err := net.Listen("tcp", a)
			if err != nil {
				t.Fatalf("FreeAddrs(%d): %s is not free after return: %v", n, a, err)
			}
			l.Close()
		}
	}
}
