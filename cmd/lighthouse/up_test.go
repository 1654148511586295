package main

import (
	"io"
	"net"
	"strings"
	"testing"
)

func TestCheckPorts(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	for _, tc := range []struct {
		name   string
		addr   string
		chosen bool
		want   string // substring of the error; "" for none
		moved  string // the address after the check
	}{
		{"free", "127.0.0.1:0", true, "", "127.0.0.1:0"},
		{"chosen and taken", taken, true, "reader's address " + taken + " is already in use", taken},
		{"default and taken moves to a free port", taken, false, "", "127.0.0.1:0"},
		{"empty skipped", "", false, "", ""},
		{"bad address", "nonsense", false, "cannot listen on nonsense", "nonsense"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr
			err := checkPorts(io.Discard, []portCheck{{"reader", "--reader-addr", &addr, tc.chosen}})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if addr != tc.moved {
				t.Fatalf("address %q after the check, want %q", addr, tc.moved)
			}
		})
	}
}
