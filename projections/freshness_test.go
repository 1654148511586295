package projections

import (
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// TestFreshnessStale checks the stale-write guard's view over the file views'
// last change of each file: a session's read goes stale when another
// session or agent changes the file after it, and only then.
func TestFreshnessStale(t *testing.T) {
	t.Parallel()
	type step struct {
		agent, session string
		d              domain.Draft // zero: the session reads the file
	}
	ended := func(s string) domain.Draft {
		return domain.Draft{StreamID: domain.SessionStreamID(s), Type: domain.TypeSessionEnded, Payload: domain.SessionEnded{SessionID: s}}
	}
	reg := domain.Draft{StreamID: "agent:bob", Type: domain.TypeAgentRegistered, Payload: domain.AgentRegistered{AgentID: "b1", Name: "bob", Role: domain.RoleBuilder}}
	read := domain.Draft{}
	tests := []struct {
		name    string
		steps   []step
		stale   bool
		agent   string
		seq     uint64 // the change the session has not seen
		seenSeq uint64
	}{
		{"changed by another session", []step{{"sys", "", reg}, {"a1", "s1", w("a.go", "1")}, {"a1", "s1", read}, {"b1", "s2", w("a.go", "2")}}, true, "bob", 3, 2},
		{"changed by an agent it does not know", []step{{"a1", "s1", w("a.go", "1")}, {"a1", "s1", read}, {"x9", "", w("a.go", "2")}}, true, "x9", 2, 1},
		{"its own write marks it seen", []step{{"sys", "", reg}, {"a1", "s1", read}, {"b1", "s2", w("a.go", "1")}, {"a1", "s1", w("a.go", "2")}}, false, "", 0, 0},
		{"changed by itself after another", []step{{"a1", "s1", w("a.go", "1")}, {"a1", "s1", read}, {"a1", "s1", w("a.go", "2")}}, false, "", 0, 0},
		{"read after the change", []step{{"b1", "s2", w("a.go", "1")}, {"a1", "s1", read}}, false, "", 0, 0},
		{"never read", []step{{"a1", "s1", w("b.go", "1")}, {"b1", "s2", w("a.go", "1")}}, false, "", 0, 0},
		{"deleted since", []step{{"a1", "s1", w("a.go", "1")}, {"a1", "s1", read}, {"b1", "s2", del("a.go")}}, false, "", 0, 0},
		{"session ended", []step{{"a1", "s1", w("a.go", "1")}, {"a1", "s1", read}, {"b1", "s2", w("a.go", "2")}, {"sys", "", ended("s1")}}, false, "", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := NewProvenance()
			f := NewFreshness(files)
			f.Live()
			var seq uint64
			for _, s := range tc.steps {
				if s.d.StreamID == "" {
					f.MarkSeen(s.session, "a.go")
					continue
				}
				seq++
				e, err := s.d.Seal(seq, 1, time.Now(), domain.Metadata{AgentID: s.agent, SessionID: s.session}, "", domain.ChangeSet{})
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range []interface{ Apply(domain.Event) error }{files, f} {
					if err := v.Apply(e); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, stale := f.Stale("s1", "a.go")
			want := StaleChange{Agent: tc.agent, Seq: tc.seq, SeenSeq: tc.seenSeq}
			if stale != tc.stale || got != want {
				t.Errorf("Stale = %+v, %v; want %+v, %v", got, stale, want, tc.stale)
			}
		})
	}
}
