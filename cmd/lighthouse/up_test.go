package main

import (
	"net"
	"strings"
	"testing"
)

func TestCheckPortsNamesTakenAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	for _, tc := range []struct {
		name  string
		ports []portCheck
		want  string // substring of the error; "" for none
	}{
		{"free", []portCheck{{"writer", "--writer-addr", "127.0.0.1:0"}}, ""},
		{"taken", []portCheck{{"writer", "--writer-addr", "127.0.0.1:0"}, {"reader", "--reader-addr", taken}}, "reader's address " + taken + " is already in use"},
		{"empty skipped", []portCheck{{"bus", "--bus-addr", ""}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPorts(tc.ports)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
