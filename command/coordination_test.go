package command

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// memLog seals every draft in order and keeps nothing else.
type memLog struct {
	mu  sync.Mutex
	seq uint64
}

func (l *memLog) Append(_ context.Context, req domain.AppendRequest) (domain.AppendResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var res domain.AppendResult
	for _, d := range req.Drafts {
		l.seq++
		e, err := d.Seal(l.seq, 1, time.Now(), req.Meta, "", domain.ChangeSet{})
		if err != nil {
			return res, err
		}
		res.Events = append(res.Events, e)
	}
	res.FirstSeq, res.LastSeq = l.seq-uint64(len(req.Drafts))+1, l.seq
	return res, nil
}

func (l *memLog) LastEvent(string) (domain.Event, bool, error) { return domain.Event{}, false, nil }

// coordFixture is a coordination handler over a memory log and a gate using it.
func coordFixture(t *testing.T) (*Coordination, *ValidateHandler, *ObservedLog) {
	t.Helper()
	files := projections.NewProvenance()
	leases, sessions, fresh := projections.NewLeases(), projections.NewSessions(), projections.NewFreshness(files)
	fresh.Live()
	log := NewObservedLog(&memLog{}, files, leases, sessions, fresh)
	c := NewCoordination(log, leases, sessions, fresh)
	h := NewValidateHandler(log, NewPolicyHolder(Policies{Enforced: policy.Default()}), projections.NewLearned(),
		GateConfig{ProjectRoot: "/p", ReviewTimeout: time.Minute, Coordination: c})
	for _, a := range []domain.Agent{alice, bob} {
		if _, err := log.Append(context.Background(), domain.AppendRequest{Drafts: []domain.Draft{{StreamID: domain.AgentStreamID(a.Name),
			Type: domain.TypeAgentRegistered, SchemaVersion: 1, Payload: domain.AgentRegistered{AgentID: a.ID, Name: a.Name, Role: a.Role}}}}); err != nil {
			t.Fatal(err)
		}
	}
	return c, h, log
}

var (
	alice = domain.Agent{ID: "id-alice", Name: "alice", Role: domain.RoleBuilder}
	bob   = domain.Agent{ID: "id-bob", Name: "bob", Role: domain.RoleBuilder}
)

func TestLeaseGrantConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		agent     domain.Agent
		paths     []string
		exclusive bool
		conflict  []string // the held paths named, nil for a grant
	}{
		{"exclusive over the lease", bob, []string{"src/**"}, true, []string{"src/cart/**"}},
		{"shared over the exclusive lease", bob, []string{"src/cart/a.go"}, false, []string{"src/cart/**"}},
		{"exclusive over a shared lease", bob, []string{"docs/x.md"}, true, []string{"docs/**"}},
		{"shared with shared", bob, []string{"docs/**"}, false, nil},
		{"disjoint exclusive", bob, []string{"src/billing/**"}, true, nil},
		{"the holder again", alice, []string{"src/**"}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _, _ := coordFixture(t)
			if _, _, err := c.Grant(ctx, GrantLease{Agent: alice, Paths: []string{"src/cart/**"}, Exclusive: true, Reason: "cart"}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Grant(ctx, GrantLease{Agent: alice, Paths: []string{"docs/**"}}); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.Grant(ctx, GrantLease{Agent: tc.agent, Paths: tc.paths, Exclusive: tc.exclusive})
			var le *domain.LeaseConflictError
			switch {
			case tc.conflict == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.conflict != nil && (!errors.As(err, &le) || le.Holder != "alice" || strings.Join(le.Paths, ",") != strings.Join(tc.conflict, ",")):
				t.Fatalf("err %v, want a conflict with alice on %v", err, tc.conflict)
			}
		})
	}
}

func TestLeaseBadInput(t *testing.T) {
	t.Parallel()
	c, _, _ := coordFixture(t)
	for _, tc := range []struct {
		name string
		cmd  GrantLease
	}{
		{"no paths", GrantLease{Agent: alice}},
		{"escaping path", GrantLease{Agent: alice, Paths: []string{"../x"}}},
		{"ttl too short", GrantLease{Agent: alice, Paths: []string{"x"}, TTL: time.Millisecond}},
		{"observer", GrantLease{Agent: domain.Agent{ID: "o", Name: "o", Role: domain.RoleObserver}, Paths: []string{"x"}}},
	} {
		if _, _, err := c.Grant(context.Background(), tc.cmd); err == nil {
			t.Errorf("%s: granted", tc.name)
		}
	}
}

// TestGateLeasesStaleWritesRenewals checks the gate end to end in process:
// leases block other agents' writes (also after a cached allow), the
// stale-write guard denies writes over unseen changes, and every call
// renews the caller's due leases.
func TestGateLeasesStaleWritesRenewals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, h, log := coordFixture(t)
	call := func(a domain.Agent, session, tool string, input map[string]any) GateDecision {
		t.Helper()
		in, _ := json.Marshal(input)
		d, err := h.Handle(ctx, ValidateCall{Agent: a, SessionID: session, Tool: tool, Input: in, Cwd: "/p", Home: "/home/dev"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	write := map[string]any{"file_path": "/p/src/a.go", "content": "x"}
	if d := call(bob, "sb", "Write", write); d.Decision != "allow" {
		t.Fatalf("bob's write before the lease: %+v", d)
	}
	l, _, err := c.Grant(ctx, GrantLease{Agent: alice, Paths: []string{"src/**"}, Exclusive: true, TTL: 10 * time.Second, Reason: "moving things"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		agent domain.Agent
		tool  string
		input map[string]any
		want  string
	}{
		{bob, "Write", write, "block"}, // the cached allow no longer holds
		{bob, "Bash", map[string]any{"command": "sed -i s/a/b/ src/a.go"}, "block"},
		{bob, "Bash", map[string]any{"command": "grep -r foo src"}, "allow"},
		{alice, "Write", write, "allow"},
	} {
		d := call(tc.agent, "s-"+tc.agent.Name, tc.tool, tc.input)
		if d.Decision != tc.want || tc.want == "block" && !strings.Contains(d.Reason, "leased by alice") {
			t.Errorf("%s %s %v: %s (%s), want %s", tc.agent.Name, tc.tool, tc.input, d.Decision, d.Reason, tc.want)
		}
	}

	// Renewals: due once a tenth of the ttl has passed since the last one.
	c.now = func() time.Time { return time.Now().Add(2 * time.Second) }
	if len(c.Renewals(bob.ID)) != 0 || len(c.Renewals(alice.ID)) != 1 {
		t.Fatal("renewals: want one for alice's lease, none for bob")
	}
	call(alice, "s-alice", "Bash", map[string]any{"command": "ls"})
	if v, _ := c.Leases.Get(l.LeaseID); !v.ExpiresAt.After(l.ExpiresAt) {
		t.Fatalf("alice's call did not renew her lease: %v, was %v", v.ExpiresAt, l.ExpiresAt)
	}
	c.now = time.Now
	if _, err := c.Release(ctx, bob, l.LeaseID, ""); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("bob released alice's lease: %v", err)
	}
	if _, err := c.Release(ctx, alice, l.LeaseID, "done"); err != nil {
		t.Fatal(err)
	}

	// The stale-write guard.
	fileEvent := func(a domain.Agent, session, path string) {
		t.Helper()
		if _, err := log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: a.ID, SessionID: session}, Drafts: []domain.Draft{{
			StreamID: "file:" + path, Type: domain.TypeFileWritten, SchemaVersion: 1, Payload: domain.FileWritten{Path: domain.Path(path), Hash: "h"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	fileEvent(alice, "", "src/a.go") // imported
	seen, err := c.MarkSeen(alice, "s-alice", "src/a.go")
	if err != nil || seen == 0 {
		t.Fatalf("mark seen: %d %v", seen, err)
	}
	if d := call(alice, "s-alice", "Write", write); d.Decision != "allow" {
		t.Fatalf("alice's write of what she saw: %+v", d)
	}
	fileEvent(bob, "s-bob", "src/a.go")
	d := call(alice, "s-alice", "Edit", map[string]any{"file_path": "src/a.go", "old_string": "a", "new_string": "b"})
	if d.Decision != "block" || d.Rule != ruleStaleWrite || !strings.Contains(d.Reason, "changed by bob at seq ") || !strings.Contains(d.Reason, "since you last read it at seq ") {
		t.Fatalf("alice's stale edit: %+v", d)
	}
	if d := call(alice, "s-other", "Write", write); d.Decision != "allow" {
		t.Fatalf("a session that never saw the file: %+v", d)
	}
	if d := call(bob, "s-bob", "Write", write); d.Decision != "allow" {
		t.Fatalf("bob's write over his own change: %+v", d)
	}
	if _, err := c.MarkSeen(alice, "s-alice", "src/a.go"); err != nil {
		t.Fatal(err)
	}
	if d := call(alice, "s-alice", "Write", write); d.Decision != "allow" {
		t.Fatalf("alice's write after reading again: %+v", d)
	}
}

func TestSessionEndReleasesLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _, _ := coordFixture(t)
	s, err := c.StartSession(ctx, StartSession{Agent: alice, SessionID: "s1", Cwd: "/p", Source: "startup"})
	if err != nil || !strings.Contains(s.Context, `agent "alice" (role builder)`) {
		t.Fatalf("start: %v\n%s", err, s.Context)
	}
	mine, _, err := c.Grant(ctx, GrantLease{Agent: alice, Paths: []string{"a/**"}, Exclusive: true})
	if err != nil || mine.SessionID != "s1" {
		t.Fatalf("grant: %+v %v, want it tied to session s1", mine, err)
	}
	other, _, err := c.Grant(ctx, GrantLease{Agent: alice, SessionID: "s2", Paths: []string{"b/**"}, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.StartSession(ctx, StartSession{Agent: bob, SessionID: "s3"})
	if err != nil || !strings.Contains(sb.Context, "alice (builder), session s1") || !strings.Contains(sb.Context, "alice holds a/** (exclusive)") {
		t.Fatalf("bob's context: %v\n%s", err, sb.Context)
	}
	if _, _, err := c.EndSession(ctx, bob, "s1", "x"); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("bob ended alice's session: %v", err)
	}
	if _, err := c.MarkSeen(bob, "s1", "a/x"); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("bob marked alice's session: %v", err)
	}
	_, released, err := c.EndSession(ctx, alice, "s1", "exit")
	if err != nil || len(released) != 1 || released[0] != mine.LeaseID {
		t.Fatalf("end: released %v, %v; want only %s", released, err, mine.LeaseID)
	}
	if _, ok := c.Leases.Get(other.LeaseID); !ok {
		t.Fatal("the lease of another session was released")
	}
	if got := c.Sessions.List(""); len(got) != 1 || got[0].SessionID != "s3" {
		t.Fatalf("active sessions: %+v", got)
	}
}
