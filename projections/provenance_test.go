package projections

import (
	"reflect"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
)

func TestProvenance(t *testing.T) {
	t.Parallel()
	p := NewProvenance()
	seq := uint64(0)
	apply := func(agentID string, d domain.Draft) {
		t.Helper()
		seq++
		e, err := d.Seal(seq, 1, time.Now(), domain.Metadata{AgentID: agentID}, "", domain.ChangeSet{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	reg := func(id, name string, role domain.Role) domain.Draft {
		return domain.Draft{StreamID: "agent:" + name, Type: domain.TypeAgentRegistered, Payload: domain.AgentRegistered{AgentID: id, Name: name, Role: role}}
	}
	move := func(from, to string) []domain.Draft {
		return []domain.Draft{
			{StreamID: "file:" + from, Type: domain.TypeFileDeleted, Payload: domain.FileDeleted{Path: domain.Path(from), MovedTo: domain.Path(to)}},
			{StreamID: "file:" + to, Type: domain.TypeFileMoved, Payload: domain.FileMoved{From: domain.Path(from), To: domain.Path(to), Hash: "h"}},
		}
	}
	apply("sys", reg("a1", "builder-2", domain.RoleBuilder))
	apply("sys", reg("h1", "alice", domain.RoleAdmin))
	apply("h1", w("Makefile", "x"))          // 3: human
	apply("a1", w("scripts/run.sh", "x"))    // 4: agent
	apply("a1", w("internal/gen/g.go", "x")) // 5: agent
	apply("h1", w("internal/api/a.go", "x")) // 6: human
	apply("a1", w("old.sh", "x"))            // 7
	apply("a1", del("old.sh"))               // 8
	apply("h1", w("scripts/ci.sh", "x"))     // 9
	for _, d := range move("scripts/ci.sh", "scripts/ci2.sh") {
		apply("a1", d) // 10, 11: an agent moved a human's script
	}
	apply("ghost", w("x.sh", "x")) // 12: an unknown writer counts as an agent
	apply("sys", reg("w1", domain.AgentWatcher, domain.RoleBuilder))
	apply("w1", w("build.sh", "x")) // 14: the baseline import or a person's editor

	tests := []struct {
		path string
		ok   bool
		want policy.Change
	}{
		{"Makefile", true, policy.Change{Path: "Makefile", Kind: policy.ChangedByHuman, Agent: "alice", Seq: 3}},
		{"build.sh", true, policy.Change{Path: "build.sh", Kind: policy.ChangedByHuman, Agent: domain.AgentWatcher, Seq: 14}},
		{"scripts/run.sh", true, policy.Change{Path: "scripts/run.sh", Kind: policy.ChangedByAgent, Agent: "builder-2", Seq: 4}},
		{"old.sh", false, policy.Change{}},
		{"scripts/ci.sh", false, policy.Change{}},
		{"scripts/ci2.sh", true, policy.Change{Path: "scripts/ci2.sh", Kind: policy.ChangedByAgent, Agent: "builder-2", Seq: 11}},
		{"x.sh", true, policy.Change{Path: "x.sh", Kind: policy.ChangedByAgent, Agent: "ghost", Seq: 12}},
		{"never.sh", false, policy.Change{}},
	}
	for _, tc := range tests {
		got, ok := p.LastChange(tc.path)
		if ok != tc.ok || got != tc.want {
			t.Errorf("LastChange(%s) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
	under := []struct {
		dir, suffix string
		ok          bool
		seq         uint64
	}{
		{".", ".go", true, 5},
		{"internal", ".go", true, 5},
		{"internal/api", ".go", false, 0},
		{".", ".sh", true, 12},
		{"scripts", ".sh", true, 11},
		{"intern", ".go", false, 0},
	}
	for _, tc := range under {
		got, ok := p.LastAgentChangeUnder(tc.dir, tc.suffix)
		if ok != tc.ok || got.Seq != tc.seq {
			t.Errorf("LastAgentChangeUnder(%s, %s) = %+v, %v; want seq %d, %v", tc.dir, tc.suffix, got, ok, tc.seq, tc.ok)
		}
	}
}

// TestFileViewsNeedOnlyEachFilesNewestEvent checks what the writer's start
// relies on (eventstore.Store.ReplayLatest): Provenance (which is also
// Freshness's last change of each file) fed only the newest event of each
// file stream answers exactly as when fed the whole history.
func TestFileViewsNeedOnlyEachFilesNewestEvent(t *testing.T) {
	t.Parallel()
	type step struct {
		agent, session string
		d              domain.Draft
	}
	steps := []step{
		{"sys", "", domain.Draft{StreamID: "agent:b", Type: domain.TypeAgentRegistered, Payload: domain.AgentRegistered{AgentID: "a1", Name: "b", Role: domain.RoleBuilder}}},
		{"a1", "s1", w("a.go", "1")},
		{"a1", "s2", w("a.go", "2")},
		{"h1", "", w("a.go", "3")},
		{"a1", "s1", w("b.go", "1")},
		{"a1", "s1", del("b.go")},
		{"a1", "s2", w("c.go", "1")},
		{"a1", "s2", domain.Draft{StreamID: "file:c.go", Type: domain.TypeFileDeleted, Payload: domain.FileDeleted{Path: "c.go", MovedTo: "d.go"}}},
		{"a1", "s2", domain.Draft{StreamID: "file:d.go", Type: domain.TypeFileMoved, Payload: domain.FileMoved{From: "c.go", To: "d.go", Hash: "1"}}},
		{"a1", "s1", w("d.go", "2")},
		{"a1", "s2", w("e.go", "1")},
	}
	var events []domain.Event
	newest := map[string]int{}
	for i, s := range steps {
		e, err := s.d.Seal(uint64(i+1), 1, time.Now(), domain.Metadata{AgentID: s.agent, SessionID: s.session}, "", domain.ChangeSet{})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
		newest[e.StreamID] = i
	}
	wp, lp := NewProvenance(), NewProvenance()
	for i, e := range events {
		if err := wp.Apply(e); err != nil {
			t.Fatal(err)
		}
		if newest[e.StreamID] != i {
			continue
		}
		if err := lp.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(wp.last, lp.last) || !reflect.DeepEqual(wp.agents, lp.agents) {
		t.Errorf("provenance from newest events %v, from the whole history %v", lp.last, wp.last)
	}
	bySession := 0
	for _, fc := range wp.last {
		if fc.sessionID.Value() != "" {
			bySession++
		}
	}
	if len(wp.last) != 3 || bySession != 2 {
		t.Errorf("the history should leave a.go, d.go and e.go (2 by a session): %v", wp.last)
	}
}
