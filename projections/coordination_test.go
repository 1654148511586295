package projections

import (
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

func leaseEvent(t *testing.T, seq uint64, typ string, payload any) domain.Event {
	t.Helper()
	d := domain.Draft{StreamID: "lease:x", Type: typ, SchemaVersion: 1, Payload: payload}
	e, err := d.Seal(seq, seq, time.Now(), domain.Metadata{}, "", domain.ChangeSet{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestLeasesIndex(t *testing.T) {
	t.Parallel()
	l := NewLeases()
	exp := time.Now().Add(time.Hour)
	for i, g := range []domain.LeaseGranted{
		{LeaseID: "cart", HolderID: "a", Holder: "alice", Paths: []string{"src/cart/**"}, Exclusive: true, ExpiresAt: exp},
		{LeaseID: "md", HolderID: "a", Holder: "alice", Paths: []string{"*.md"}, Exclusive: true, ExpiresAt: exp},
		{LeaseID: "deep", HolderID: "a", Holder: "alice", Paths: []string{"lib/x/y/z.go"}, Exclusive: true, ExpiresAt: exp},
		{LeaseID: "shared", HolderID: "a", Holder: "alice", Paths: []string{"docs/**"}, ExpiresAt: exp},
		{LeaseID: "gone", HolderID: "a", Holder: "alice", Paths: []string{"old/**"}, Exclusive: true, ExpiresAt: time.Now().Add(-time.Second)},
	} {
		if err := l.Apply(leaseEvent(t, uint64(i+1), domain.TypeLeaseGranted, g)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		rel, agent, want string
	}{
		{"src/cart/a.go", "b", "cart"},
		{"src/cart", "b", "cart"},
		{"src", "b", "cart"},
		{".", "b", "md"}, // the whole project: the first lease found
		{"src/*", "b", "cart"},
		{"src/cart/a.go", "a", ""}, // the holder
		{"src/carts/a.go", "b", ""},
		{"README.md", "b", "md"},
		{"docs/README.md", "b", ""}, // shared leases block nobody
		{"lib/x", "b", "deep"},
		{"lib/x/y/z.go", "b", "deep"},
		{"lib/x/y/w.go", "b", ""},
		{"old/a", "b", ""}, // past its expiry
	} {
		got, ok := l.HeldByOther(tc.rel, tc.agent)
		if ok != (tc.want != "") || ok && got.ID != tc.want {
			t.Errorf("HeldByOther(%q, %q) = %+v, %v; want %q", tc.rel, tc.agent, got, ok, tc.want)
		}
	}
	gen := l.Generation()
	if err := l.Apply(leaseEvent(t, 9, domain.TypeLeaseRenewed, domain.LeaseRenewed{LeaseID: "cart", ExpiresAt: exp.Add(time.Hour)})); err != nil {
		t.Fatal(err)
	}
	if l.Generation() != gen {
		t.Error("a renewal changed the generation")
	}
	if err := l.Apply(leaseEvent(t, 10, domain.TypeLeaseReleased, domain.LeaseEnded{LeaseID: "cart"})); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.HeldByOther("src/cart/a.go", "b"); ok || l.Generation() == gen {
		t.Error("a released lease still blocks, or the generation did not change")
	}
}
