package main

import "testing"

func TestRedactBusURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://tok@127.0.0.1:4222", "nats://***@127.0.0.1:4222"},
		{"nats://u:p@a:1,nats://u:p@b:2,nats://c:3", "nats://***@a:1,nats://***@b:2,nats://c:3"},
		{"", ""},
	} {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
