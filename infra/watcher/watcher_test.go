package watcher

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lighthouse-ai/lighthouse/domain"
)

func u(v uint64) *uint64 { return &v }

func stateOf(files map[string]logFile) *logState {
	s := newLogState()
	for p, f := range files {
		s.files[p] = f
	}
	return s
}

func TestPlan(t *testing.T) {
	log := map[string]logFile{
		"a.go":    {Exists: true, Hash: "ha", Mode: 0o644, Version: 3},
		"b.go":    {Exists: true, Hash: "hb", Mode: 0o644, Version: 1},
		"gone.go": {Version: 2},
	}
	for _, tc := range []struct {
		name  string
		cands []string
		disk  map[string]diskFile
		want  []Op
	}{
		{"unchanged", []string{"a.go"}, map[string]diskFile{"a.go": {Hash: "ha", Mode: 0o644}}, nil},
		{"edited", []string{"a.go"}, map[string]diskFile{"a.go": {Hash: "ha2", Mode: 0o644, Size: 3}},
			[]Op{{Op: opWrite, Path: "a.go", Hash: "ha2", Size: 3, Mode: 0o644, Expected: u(3)}}},
		{"mode only", []string{"a.go"}, map[string]diskFile{"a.go": {Hash: "ha", Mode: 0o755}},
			[]Op{{Op: opWrite, Path: "a.go", Hash: "ha", Mode: 0o755, Expected: u(3)}}},
		{"created again after a delete", []string{"gone.go"}, map[string]diskFile{"gone.go": {Hash: "hg", Mode: 0o644}},
			[]Op{{Op: opWrite, Path: "gone.go", Hash: "hg", Mode: 0o644, Expected: u(2)}}},
		{"deleted", []string{"b.go"}, nil,
			[]Op{{Op: opDelete, Path: "b.go", Hash: "hb", Mode: 0o644, Expected: u(1)}}},
		{"deleted and never there", []string{"x.go"}, nil, nil},
		{"renamed", []string{"a.go", "c.go"}, map[string]diskFile{"c.go": {Hash: "ha", Mode: 0o644}},
			[]Op{{Op: opMove, Path: "a.go", To: "c.go", Hash: "ha", Mode: 0o644, Expected: u(3)}}},
		{"renamed and chmodded", []string{"a.go", "c.go"}, map[string]diskFile{"c.go": {Hash: "ha", Mode: 0o755}},
			[]Op{{Op: opMove, Path: "a.go", To: "c.go", Hash: "ha", Mode: 0o755, Expected: u(3)}, {Op: opWrite, Path: "c.go", Hash: "ha", Mode: 0o755}}},
		{"delete and an unrelated create", []string{"a.go", "c.go"}, map[string]diskFile{"c.go": {Hash: "hc", Mode: 0o644}},
			[]Op{{Op: opDelete, Path: "a.go", Hash: "ha", Mode: 0o644, Expected: u(3)}, {Op: opWrite, Path: "c.go", Hash: "hc", Mode: 0o644, Expected: u(0)}}},
		{"same content over an existing file is no move", []string{"a.go", "b.go"}, map[string]diskFile{"b.go": {Hash: "ha", Mode: 0o644}},
			[]Op{{Op: opDelete, Path: "a.go", Hash: "ha", Mode: 0o644, Expected: u(3)}, {Op: opWrite, Path: "b.go", Hash: "ha", Mode: 0o644, Expected: u(1)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := plan(tc.cands, tc.disk, stateOf(log))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("plan =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestLogStateApplyAndAssume(t *testing.T) {
	s := newLogState()
	evs := []struct {
		typ     string
		payload string
		corr    string
	}{
		{domain.TypeFileWritten, `{"path":"a","hash":"h1","size":1,"mode":420}`, BaselineMarker},
		{domain.TypeFileDeleted, `{"path":"a","moved_to":"b"}`, ""},
		{domain.TypeFileMoved, `{"from":"a","to":"b","hash":"h1","size":1,"mode":420}`, ""},
		{"gate.decided", `{}`, ""},
	}
	for i, e := range evs {
		if err := s.apply(domain.Event{Seq: uint64(i + 1), StreamVersion: 1 + uint64(i%2), Type: e.typ, Payload: []byte(e.payload), CorrelationID: e.corr}); err != nil {
			t.Fatal(err)
		}
	}
	if !s.baseline || s.cursor != 4 {
		t.Fatalf("baseline %v cursor %d", s.baseline, s.cursor)
	}
	if a, b := s.get("a"), s.get("b"); a.Exists || a.Version != 2 || !b.Exists || b.Hash != "h1" {
		t.Fatalf("a %+v b %+v", a, b)
	}
	s.assume([]Op{{Op: opWrite, Path: "c", Hash: "hc", Mode: 0o644}, {Op: opDelete, Path: "b"}})
	if !s.get("c").Exists || s.get("b").Exists || !s.logged("b").Exists || s.logged("c").Exists {
		t.Fatalf("overlay: c %+v b %+v", s.get("c"), s.get("b"))
	}
	if got := s.paths(); !reflect.DeepEqual(got, []string{"c"}) {
		t.Fatalf("paths = %v", got)
	}
}

func TestReplayPlanLeavesAgentsTheirChanges(t *testing.T) {
	entries := []Entry{
		{Ops: []Op{{Op: opWrite, Path: "a", Hash: "h1", Expected: u(1)}, {Op: opWrite, Path: "c", Hash: "hc"}}}, // the watcher saw the agent's edit first
		{Agent: true, Token: "t1", Ops: []Op{{Op: opWrite, Path: "a", Hash: "h1"}}},
		{Ops: []Op{{Op: opWrite, Path: "a", Hash: "h2"}}}, // a later edit by someone else
	}
	got := ReplayPlan(entries)
	want := [][]Op{{{Op: opWrite, Path: "c", Hash: "hc"}}, {{Op: opWrite, Path: "a", Hash: "h1"}}, {{Op: opWrite, Path: "a", Hash: "h2"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReplayPlan =\n%+v\nwant\n%+v", got, want)
	}
}

func TestSatisfied(t *testing.T) {
	s := stateOf(map[string]logFile{"a": {Exists: true, Hash: "h", Mode: 0o644}, "gone": {Version: 3}})
	for _, tc := range []struct {
		op   Op
		want bool
	}{
		{Op{Op: opWrite, Path: "a", Hash: "h", Mode: 0o644}, true},
		{Op{Op: opWrite, Path: "a", Hash: "h", Mode: 0o755}, false},
		{Op{Op: opWrite, Path: "a", Hash: "x"}, false},
		{Op{Op: opDelete, Path: "gone"}, true},
		{Op{Op: opDelete, Path: "a"}, false},
		{Op{Op: opMove, Path: "gone", To: "a", Hash: "h"}, true},
		{Op{Op: opMove, Path: "a", To: "b", Hash: "h"}, false},
	} {
		if got := satisfied(tc.op, s); got != tc.want {
			t.Errorf("satisfied(%+v) = %v", tc.op, got)
		}
	}
}

func TestIgnorer(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, ".lighthouse")
	files := map[string]string{
		".gitignore":        "*.log\nbuild/\n!keep.log\n",
		"sub/.gitignore":    "local.txt\n",
		".git/info/exclude": "secret\n",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ig, err := newIgnorer(root, []string{data})
	if err != nil {
		t.Fatal(err)
	}
	if err := ig.loadDir("sub"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path  string
		isDir bool
		want  bool
	}{
		{"main.go", false, false},
		{"x.log", false, true},
		{"keep.log", false, false},
		{"build", true, true},
		{"build/out.o", false, true},
		{"src/build/out.o", false, true},
		{"sub/local.txt", false, true},
		{"local.txt", false, false},
		{".git/config", false, true},
		{".git", true, true},
		{"wt/.git", false, true},         // a worktree's pointer file
		{"vendor/lib/.git", false, true}, // a submodule's
		{"nested/.git/HEAD", false, true},
		{"wt/.gitignore", false, false},
		{"docs/.github/x.yml", false, false},
		{".gitignore", false, false},
		{"secret", false, true},
		{".lighthouse/events/000001.log", false, true},
		{".lighthouse", true, true},
	} {
		if got := ig.ignored(tc.path, tc.isDir); got != tc.want {
			t.Errorf("ignored(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestSpoolKeepsOrderAndContent(t *testing.T) {
	sp, err := OpenSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hash, size, err := sp.PutContent(strings.NewReader("hello"))
	if err != nil || size != 5 || hash != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
		t.Fatalf("PutContent = %s %d %v", hash, size, err)
	}
	for _, id := range []string{"first", "second", "third"} {
		if err := sp.Append(Entry{CommandID: id, Ops: []Op{{Op: opWrite, Path: id, Hash: hash}}}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := sp.Entries()
	if err != nil || len(es) != 3 {
		t.Fatalf("entries %d %v", len(es), err)
	}
	for i, id := range []string{"first", "second", "third"} {
		if es[i].CommandID != id {
			t.Fatalf("entry %d is %s", i, es[i].CommandID)
		}
	}
	if err := sp.done(es[0]); err != nil {
		t.Fatal(err)
	}
	if err := sp.fail(es[1]); err != nil {
		t.Fatal(err)
	}
	if sp.Len() != 1 {
		t.Fatalf("len = %d after one done and one failed", sp.Len())
	}
	r, err := sp.OpenContent(hash)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	fi, err := os.Stat(filepath.Join(sp.Dir, es[2].name))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("entry file mode %v %v (it may hold a token)", fi.Mode(), err)
	}
}

func TestInScope(t *testing.T) {
	for _, tc := range []struct {
		p     string
		paths []string
		want  bool
	}{
		{"a/b.go", nil, true},
		{"a/b.go", []string{"a"}, true},
		{"a/b.go", []string{"a/"}, true},
		{"ab/c.go", []string{"a"}, false},
		{"a/b.go", []string{"a/b.go"}, true},
		{"main.go", []string{"lib", "main.go"}, true},
	} {
		if got := inScope(tc.p, tc.paths); got != tc.want {
			t.Errorf("inScope(%q, %v) = %v", tc.p, tc.paths, got)
		}
	}
}
