package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// payload loads a real Claude Code hook payload and applies changes to it.
func payload(t *testing.T, name string, change func(m map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "claude-code", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(m)
	}
	out, _ := json.Marshal(m)
	return out
}

func bashPayload(t *testing.T, command string) []byte {
	return payload(t, "pre-bash.json", func(m map[string]any) {
		m["tool_input"].(map[string]any)["command"] = command
		m["cwd"] = gateProject
	})
}

type hookResult struct {
	code           int
	stdout, stderr string
}

// hook runs the real `lighthouse hook` binary as Claude Code would.
func hook(t *testing.T, writerURL, token string, stdin []byte, args ...string) hookResult {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "lighthouse"), append([]string{"hook"}, args...)...)
	cmd.Env = append(os.Environ(), "LIGHTHOUSE_URL="+writerURL, "LIGHTHOUSE_TOKEN="+token)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return hookResult{code, out.String(), errb.String()}
}

func permission(t *testing.T, r hookResult) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("hook exited %d: %s", r.code, r.stderr)
	}
	if r.stdout == "" {
		return "none"
	}
	var out struct {
		HookSpecificOutput struct {
			HookEventName            string `json:"hookEventName"`
			PermissionDecision       string `json:"permissionDecision"`
			PermissionDecisionReason string `json:"permissionDecisionReason"`
		} `json:"hookSpecificOutput"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.HookSpecificOutput.HookEventName != "PreToolUse" {
		t.Fatalf("hook output %q: %v", r.stdout, err)
	}
	return out.HookSpecificOutput.PermissionDecision
}

// startGate runs a system whose gate confines paths to gateProject.
func startGate(t *testing.T, extra ...string) *env {
	return start(t, false, append([]string{"--project-root", gateProject}, extra...)...)
}

func TestHookDecisions(t *testing.T) {
	t.Parallel()
	e := startGate(t)
	builder, _ := e.addAgent("builder", "builder")
	reviewer, _ := e.addAgent("reviewer", "reviewer")
	url := e.sys.WriterURL
	cases := []struct {
		name, command, want string
		args                []string
	}{
		{"the shipped payload is allowed silently", "go test ./... && git status", "none", nil},
		{"rm -rf / is denied", "rm -rf /", "deny", nil},
		{"evasion through quoting and wrappers is denied", `timeout 5 nohup r''m --recursive --force /`, "deny", nil},
		{"a printed string is not a command", `echo "rm -rf /"`, "none", nil},
		{"a trap's action is a command", `trap "rm -rf /" EXIT`, "deny", nil},
		{"hash -p rebinding a name is not allowed", `hash -p /bin/rm ls; ls -rf .`, "deny", []string{"--wait", "1s"}},
		{"CDPATH steering cd is not allowed", `CDPATH=/ cd etc && rm -rf passwd`, "deny", []string{"--wait", "1s"}},
		{"code in a quoted array subscript is not allowed", `test -v 'a[$(rm -rf /)]'`, "deny", []string{"--wait", "1s"}},
		{"allow can be spelled out", "ls", "allow", []string{"--emit-allow"}},
		{"an undecided escalation is denied", "git push origin main", "deny", []string{"--wait", "1s"}},
		{"or handed to the human", "git push origin develop", "ask", []string{"--wait", "1s", "--undecided", "ask"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := hook(t, url, builder.Token, bashPayload(t, tc.command), append([]string{"pre"}, tc.args...)...)
			if got := permission(t, r); got != tc.want {
				t.Fatalf("%q → %s (%s), want %s", tc.command, got, r.stdout, tc.want)
			}
		})
	}
	// An escalation a reviewer approves while the hook waits.
	done := make(chan hookResult)
	go func() {
		done <- hook(t, url, builder.Token, bashPayload(t, "git push origin release/7"), "pre", "--wait", "20s")
	}()
	id := pendingReview(t, e, "git push origin release/7")
	if err := builder.PostJSON(context.Background(), "/v1/reviews/"+id+"/approve", map[string]string{"reason": "mine"}, nil); !isStatus(err, 403) {
		t.Fatalf("requester approves its own call: %v, want 403", err)
	}
	if err := reviewer.PostJSON(context.Background(), "/v1/reviews/"+id+"/approve", map[string]string{"reason": "looks fine"}, nil); err != nil {
		t.Fatal(err)
	}
	// An approved call is allowed explicitly, so Claude Code does not ask again.
	if got := permission(t, <-done); got != "allow" {
		t.Fatalf("approved escalation → %s, want an explicit allow", got)
	}
	// And one a reviewer denies.
	go func() {
		done <- hook(t, url, builder.Token, bashPayload(t, "git push origin staging"), "pre", "--wait", "20s")
	}()
	id = pendingReview(t, e, "git push origin staging")
	if err := reviewer.PostJSON(context.Background(), "/v1/reviews/"+id+"/deny", map[string]string{"reason": "not yet"}, nil); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if got := permission(t, r); got != "deny" || !strings.Contains(r.stdout, "not yet") {
		t.Fatalf("denied escalation → %s %s", got, r.stdout)
	}
	// Fail closed: no bridge, or no valid token.
	for name, r := range map[string]hookResult{
		"unreachable": hook(t, "http://127.0.0.1:1", builder.Token, bashPayload(t, "ls"), "pre"),
		"bad token":   hook(t, url, "nope", bashPayload(t, "ls"), "pre"),
		"garbage":     hook(t, url, builder.Token, []byte("{not json"), "pre"),
	} {
		if r.code != 2 || r.stderr == "" || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 with one line", name, r.code, r.stderr)
		}
	}
	// Every decision was audited, by the agent of the token.
	var evs struct {
		Events []domain.Event `json:"events"`
	}
	if _, err := e.reader.Do(context.Background(), "GET", fmt.Sprintf("/v1/events?type=gate.decided&limit=100&min_seq=%d", e.writerHead()), nil, nil, &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs.Events) != len(cases)+2 {
		t.Fatalf("%d gate.decided events, want %d", len(evs.Events), len(cases)+2)
	}
}

// pendingReview waits for the pending review of a command and returns its id.
func pendingReview(t *testing.T, e *env, command string) string {
	t.Helper()
	var id string
	eventually(t, "review of "+command, func() error {
		var out struct {
			Reviews []struct {
				ReviewID string          `json:"review_id"`
				Input    json.RawMessage `json:"input"`
			} `json:"reviews"`
		}
		if _, err := e.admin.Do(context.Background(), "GET", "/v1/reviews?status=pending", nil, nil, &out); err != nil {
			return err
		}
		for _, r := range out.Reviews {
			if strings.Contains(string(r.Input), command) {
				id = r.ReviewID
				return nil
			}
		}
		return fmt.Errorf("not pending yet")
	})
	return id
}

type decision struct {
	Decision  string `json:"decision"`
	Rule      string `json:"rule"`
	Reason    string `json:"reason"`
	Cached    bool   `json:"cached"`
	ReviewID  string `json:"review_id"`
	Revision  string `json:"policy_revision"`
	LearnedID string `json:"learned_id"`
}

func validate(t *testing.T, c *client.Client, body []byte) decision {
	t.Helper()
	var d decision
	if _, err := c.Do(context.Background(), "POST", "/v1/validate", nil, bytes.NewReader(body), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestReviewsLearnAndExpire(t *testing.T) {
	t.Parallel()
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(policyFile, []byte(`rules:
  - id: deploy
    reason: deploys need two reviewers
    decision: escalate
    approvals: 2
    command: {program: make, subcommand: deploy}
`), 0o644)
	e := startGate(t, "--policy", policyFile, "--review-timeout", "2s")
	ctx := context.Background()
	builder, _ := e.addAgent("builder", "builder")
	r1, _ := e.addAgent("r1", "reviewer")
	r2, _ := e.addAgent("r2", "reviewer")
	observer, _ := e.addAgent("obs", "observer")

	// Two distinct approvers are needed.
	d := validate(t, builder, bashPayload(t, "make deploy"))
	if d.Decision != "escalate" || d.Rule != "deploy" {
		t.Fatalf("make deploy → %+v", d)
	}
	approve := func(c *client.Client, forPattern bool) (status string, err error) {
		var out struct {
			Status string `json:"status"`
		}
		err = c.PostJSON(ctx, "/v1/reviews/"+d.ReviewID+"/approve", map[string]any{"reason": "ok", "for_pattern": forPattern}, &out)
		return out.Status, err
	}
	if _, err := approve(observer, false); !isStatus(err, 403) {
		t.Fatalf("observer approves: %v", err)
	}
	if s, err := approve(r1, false); err != nil || s != "pending" {
		t.Fatalf("first approval: %s %v", s, err)
	}
	// How far it is shows where reviewers look: review show and the
	// console's review page (both showed neither count nor approvers).
	if out, err := cli(t, e, "review", "show", d.ReviewID[:8]); err != nil || !strings.Contains(out, "1 of 2 so far (r1)") {
		t.Errorf("review show after one approval: %v\n%s", err, out)
	}
	if page := consolePage(t, e, e.sys.AdminToken, "/console/reviews/"+d.ReviewID); !strings.Contains(page, "1 of 2 so far (r1)") {
		t.Errorf("the console's review page after one approval:\n%s", page)
	}
	// A builder signed in is told it does not review, not that nothing waits.
	if page := consolePage(t, e, builder.Token, "/console/"); !strings.Contains(page, "does not review calls") || strings.Contains(page, "No call is waiting") {
		t.Errorf("the console's dashboard for a builder:\n%s", page)
	}
	if _, err := approve(r1, false); !isStatus(err, 422) {
		t.Fatalf("same reviewer twice: %v", err)
	}
	if s, err := approve(r2, true); err != nil || s != "approved" {
		t.Fatalf("second approval: %s %v", s, err)
	}
	// Approved "for this pattern": the same shape is now allowed without a human.
	d = validate(t, builder, bashPayload(t, "make deploy"))
	if d.Decision != "allow" || d.LearnedID == "" || d.ReviewID != "" {
		t.Fatalf("after learning: %+v", d)
	}
	// Counted under one series for all learned decisions, not one each.
	if resp, err := http.Get(e.sys.WriterURL + "/metrics"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `lighthouse_gate_decisions_total{decision="allow",rule="learned"} 1`) || strings.Contains(string(body), `rule="learned:`) {
			t.Errorf("the writer's gate metrics after a learned decision:\n%s", grepLines(string(body), "gate_decisions_total"))
		}
	}
	var learned struct {
		Learned []struct {
			LearnedID string `json:"learned_id"`
			Shape     string `json:"shape"`
		} `json:"learned"`
	}
	if _, err := e.admin.Do(ctx, "GET", "/v1/learned", nil, nil, &learned); err != nil || len(learned.Learned) != 1 {
		t.Fatalf("learned = %+v, %v", learned, err)
	}
	if _, err := r1.Do(ctx, "DELETE", "/v1/learned/"+learned.Learned[0].LearnedID, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if d = validate(t, builder, bashPayload(t, "make deploy")); d.Decision != "escalate" {
		t.Fatalf("after revoking: %+v", d)
	}
	// Nobody decides: the review expires and the call is denied.
	var rv struct {
		Status string `json:"status"`
	}
	if _, err := builder.Do(ctx, "GET", "/v1/reviews/"+d.ReviewID+"?wait=10s", nil, nil, &rv); err != nil || rv.Status != "expired" {
		t.Fatalf("undecided review: %+v %v, want expired", rv, err)
	}
	if _, err := approve(r1, false); !isStatus(err, 422) {
		t.Fatalf("approving an expired review: %v", err)
	}
}

func TestPolicyCacheReloadAndShadow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	shadowFile := filepath.Join(dir, "shadow.yaml")
	os.WriteFile(policyFile, []byte("rules: []\n"), 0o644)
	os.WriteFile(shadowFile, []byte("rules:\n  - id: no-go-vet\n    decision: block\n    command: {program: go}\n"), 0o644)
	e := startGate(t, "--policy", policyFile, "--shadow-policy", shadowFile)
	builder, _ := e.addAgent("builder", "builder")
	// go vet runs no project file, so its verdict does not depend on who
	// last changed the files and is cached (make's is not: see provenance).
	first := validate(t, builder, bashPayload(t, "go vet ./..."))
	second := validate(t, builder, bashPayload(t, "go vet ./..."))
	if first.Decision != "allow" || first.Cached || !second.Cached {
		t.Fatalf("first %+v, second %+v: want allow, then cached", first, second)
	}
	// The shadow policy's opinion is recorded, not enforced.
	var evs struct {
		Events []domain.Event `json:"events"`
	}
	if _, err := e.reader.Do(context.Background(), "GET", fmt.Sprintf("/v1/events?type=gate.decided&min_seq=%d", e.writerHead()), nil, nil, &evs); err != nil || len(evs.Events) != 2 {
		t.Fatalf("audit events: %d, %v", len(evs.Events), err)
	}
	var audit domain.GateDecided
	evs.Events[0].DecodePayload(&audit)
	if audit.Decision != "allow" || audit.ShadowDecision != "block" || audit.ShadowRule != "no-go-vet" {
		t.Fatalf("audit = %+v", audit)
	}
	// A broken file is rejected with its line; the policy in force stays.
	os.WriteFile(policyFile, []byte("rules:\n  - id: x\n    decision: maybe\n"), 0o644)
	var st struct {
		Revision  string `json:"revision"`
		LastError string `json:"last_error"`
	}
	eventually(t, "broken policy reported", func() error {
		if _, err := e.admin.Do(context.Background(), "GET", "/v1/policy", nil, nil, &st); err != nil {
			return err
		}
		if !strings.Contains(st.LastError, "policy.yaml:3") {
			return fmt.Errorf("last_error %q", st.LastError)
		}
		return nil
	})
	if st.Revision != first.Revision {
		t.Fatalf("revision changed to %s after a broken file", st.Revision)
	}
	if d := validate(t, builder, bashPayload(t, "go vet ./...")); d.Decision != "allow" || !d.Cached {
		t.Fatalf("after a broken reload: %+v", d)
	}
	// A good change swaps the policy and empties the cache.
	os.WriteFile(policyFile, []byte("rules:\n  - id: go-escalates\n    decision: escalate\n    command: {program: go}\n"), 0o644)
	eventually(t, "new policy in force", func() error {
		d := validate(t, builder, bashPayload(t, "go vet ./..."))
		if d.Decision != "escalate" || d.Cached || d.Revision == first.Revision {
			return fmt.Errorf("decision %+v", d)
		}
		return nil
	})
}

// TestGateProvenance runs project files whose last change an agent or a
// person made: the writer's file events decide.
func TestGateProvenance(t *testing.T) {
	t.Parallel()
	e := startGate(t)
	builder, _ := e.addAgent("builder-9", "builder")
	e.put(e.admin, "scripts/ci.sh", "#!/bin/sh\ngo test ./...\n")
	if d := validate(t, builder, bashPayload(t, "./scripts/ci.sh")); d.Decision != "allow" || d.Rule != "run-unchanged-project-file" {
		t.Errorf("a person's script: %+v", d)
	}
	seq := e.put(builder, "Makefile", "all:\n\trm -rf ~\n")
	d := validate(t, builder, bashPayload(t, "make"))
	if d.Decision != "escalate" || d.Rule != "builtin.runs-changed-file" ||
		!strings.Contains(d.Reason, "Makefile") || !strings.Contains(d.Reason, "builder-9") || !strings.Contains(d.Reason, fmt.Sprintf("seq %d", seq)) {
		t.Errorf("an agent's Makefile: %+v", d)
	}
	e.put(e.admin, "Makefile", "all:\n\ttrue\n")
	if d := validate(t, builder, bashPayload(t, "make")); d.Decision != "allow" || d.Cached {
		t.Errorf("after a person's change: %+v", d)
	}
}

func TestPostHookShadowsEdits(t *testing.T) {
	t.Parallel()
	e := startGate(t)
	builder, _ := e.addAgent("builder", "builder")
	project := t.TempDir()
	file := filepath.Join(project, "internal", "cart", "cart.go")
	os.MkdirAll(filepath.Dir(file), 0o755)
	os.WriteFile(file, []byte("package cart // edited on disk\n"), 0o644)
	in := payload(t, "post-write.json", func(m map[string]any) {
		m["cwd"] = project
		m["tool_input"].(map[string]any)["file_path"] = file
	})
	for i := 0; i < 2; i++ { // a retried hook appends nothing new
		if r := hook(t, e.sys.WriterURL, builder.Token, in, "post", "--root", project); r.code != 0 {
			t.Fatalf("hook post exit %d: %s", r.code, r.stderr)
		}
	}
	head := e.writerHead()
	got, err := e.readFile("internal/cart/cart.go", head)
	if err != nil || got != "package cart // edited on disk\n" {
		t.Fatalf("shadowed file = %q, %v", got, err)
	}
	var hist struct {
		Revisions []json.RawMessage `json:"revisions"`
	}
	if _, err := e.reader.Do(context.Background(), "GET", "/v1/files/internal/cart/cart.go/history", nil, nil, &hist); err != nil || len(hist.Revisions) != 1 {
		t.Fatalf("history = %d revisions, %v; want 1 (retry is idempotent)", len(hist.Revisions), err)
	}
	outside := payload(t, "post-write.json", func(m map[string]any) {
		m["tool_input"].(map[string]any)["file_path"] = "/etc/passwd"
	})
	if r := hook(t, e.sys.WriterURL, builder.Token, outside, "post", "--root", project); r.code == 0 {
		t.Fatal("hook post shadowed a file outside the project")
	}
	if h := e.writerHead(); h != head {
		t.Fatalf("refused path appended events: %d → %d", head, h)
	}
}

func TestPolicyCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := filepath.Join(dir, "cases.yaml")
	os.WriteFile(cases, []byte(`- name: force push
  call: {tool: Bash, input: {command: git push -f origin main}, project_root: /p}
  want: block
- name: tests
  call: {tool: Bash, input: {command: go test ./...}, project_root: /p}
  want: allow
`), 0o644)
	out, err := exec.Command(filepath.Join(binDir, "lighthouse"), "policy", "test", cases).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "2 passed, 0 failed") {
		t.Fatalf("policy test: %v\n%s", err, out)
	}
	os.WriteFile(cases, []byte("- name: wrong\n  call: {tool: Bash, input: {command: ls}}\n  want: block\n"), 0o644)
	if out, err := exec.Command(filepath.Join(binDir, "lighthouse"), "policy", "test", cases).CombinedOutput(); err == nil || !strings.Contains(string(out), "0 passed, 1 failed") {
		t.Fatalf("failing case: %v\n%s", err, out)
	}
	out, err = exec.Command(filepath.Join(binDir, "lighthouse"), "policy", "explain", "--root", dir, "--bash", "sudo rm -rf /").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "decision: block") || !strings.Contains(string(out), "privilege-escalation") {
		t.Fatalf("policy explain: %v\n%s", err, out)
	}
}

// TestLearnedPatternsKeepTheirMeaning: approving a call "for this pattern"
// allows the calls a reviewer would approve alike, and no call that does
// something else: a feature push's pattern does not cover a push naming no
// branch (the current one, perhaps main) or deleting one, and an
// interpreter's inline code or script is the code approved, not any other.
func TestLearnedPatternsKeepTheirMeaning(t *testing.T) {
	t.Parallel()
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(policyFile, []byte(`rules:
  - id: push-review
    reason: every push is reviewed
    decision: escalate
    command: {program: git, subcommand: push}
  - id: python-review
    reason: python runs are reviewed
    decision: escalate
    command: {program: python3}
`), 0o644)
	e := startGate(t, "--policy", policyFile)
	ctx := context.Background()
	builder, _ := e.addAgent("builder", "builder")
	reviewer, _ := e.addAgent("rita", "reviewer")

	// policy explain without --policy explains the policy the writer runs
	// (walkthrough: it explained the built-in one and said allow).
	cmd := exec.Command(filepath.Join(binDir, "lighthouse"), "policy", "explain", "--bash", "git push origin feature-z")
	cmd.Env = append(os.Environ(), "LIGHTHOUSE_URL="+e.sys.WriterURL, "LIGHTHOUSE_TOKEN="+e.sys.AdminToken)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "decision: escalate") || !strings.Contains(string(out), "push-review") ||
		!strings.Contains(string(out), "policy:   "+policyFile) {
		t.Fatalf("policy explain of the policy in force: %v\n%s", err, out)
	}

	learn := func(command string) {
		t.Helper()
		d := validate(t, builder, bashPayload(t, command))
		if d.Decision != "escalate" {
			t.Fatalf("%s → %+v, want an escalation to learn from", command, d)
		}
		if err := reviewer.PostJSON(ctx, "/v1/reviews/"+d.ReviewID+"/approve", map[string]any{"reason": "ok", "for_pattern": true}, nil); err != nil {
			t.Fatalf("approve %s: %v", command, err)
		}
	}
	learn("git push origin feature-y")
	learn(`python3 -c "print(sum([1,2]))"`)
	learn("python3 scripts/build.py --fast")
	for _, c := range []struct {
		command string
		allowed bool
	}{
		{"git push origin feature-z", true},
		{"git push origin", false},
		{"git push upstream", false},
		{"git push origin :feature-y", false},
		{"git push origin HEAD", false},
		{`python3 -c "print(sum([1,2]))"`, true},
		{`python3 -c "import shutil; shutil.rmtree(chr(46)+chr(46))"`, false},
		{"python3 scripts/build.py --slow", true},
		{"python3 scripts/other.py --fast", false},
	} {
		d := validate(t, builder, bashPayload(t, c.command))
		if got := d.Decision == "allow"; got != c.allowed {
			t.Errorf("%s → %s (rule %s, learned %q), want allowed %v", c.command, d.Decision, d.Rule, d.LearnedID, c.allowed)
		}
	}
}

// TestPolicyFileInTheProject: a policy file kept in the project is off
// limits to the agents' tools, like the data directory (a walkthrough's
// agent rewrote it to no rules, and the writer reloaded it within a
// second), and a file emptied by a person (an editor truncating before it
// writes) is refused, keeping the policy in force; `status` says so.
func TestPolicyFileInTheProject(t *testing.T) {
	t.Parallel()
	project := filepath.Join(t.TempDir(), "shop")
	writeProjectFile(t, project, "go.mod", "module shop\n")
	policyFile := writeProjectFile(t, project, "lighthouse.policy", "version: 1\nrules:\n  - id: no-wget\n    decision: block\n    command: {program: wget}\n")
	shadowFile := writeProjectFile(t, t.TempDir(), "shadow.policy", "version: 1\nrules:\n  - id: no-curl\n    decision: block\n    command: {program: curl}\n")
	// up passes the writer's policy flags on (--shadow-policy and
	// --review-timeout were the writer's alone).
	g := upProject(t, quotedBin, project, "--policy", policyFile, "--shadow-policy", shadowFile, "--review-timeout", "2s")
	wantIn(t, "up with a policy file in the project", g.out.String(), "warning: the policy file "+policyFile+" is inside the project", "keep it outside the project")
	g.run(project, 0, "init", "claude")
	pre, _ := settingsCommands(t, project)
	agentEnv := []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LIGHTHOUSE_HOOK_WAIT=30"}
	var st struct {
		Policy struct {
			ShadowRevision string `json:"shadow_revision"`
		} `json:"policy"`
	}
	g.jsonOf(project, nil, &st, "status", "--json")
	if st.Policy.ShadowRevision == "" {
		t.Errorf("status --json: no shadow policy revision under up --shadow-policy")
	}
	// The hook waits 30 s; with the writer's default of 10 minutes it
	// would give up first, with another answer than the review's expiry.
	if got := claudeHook(t, pre, agentEnv, map[string]any{"session_id": "s1", "hook_event_name": "PreToolUse", "cwd": g.project,
		"tool_name": "Bash", "tool_input": map[string]any{"command": "npx cowsay hi"}, "tool_use_id": "toolu_npx"}).denied(t); !strings.Contains(got, "review expired") {
		t.Errorf("an escalation under up --review-timeout 2s: %q", got)
	}
	call := func(tool string, input map[string]any) string {
		return claudeHook(t, pre, agentEnv, map[string]any{"session_id": "s1", "hook_event_name": "PreToolUse", "cwd": g.project,
			"tool_name": tool, "tool_input": input, "tool_use_id": "toolu_" + tool}).denied(t)
	}
	for _, c := range []struct {
		tool  string
		input map[string]any
		want  string
	}{
		{"Write", map[string]any{"file_path": filepath.Join(g.project, "lighthouse.policy"), "content": "version: 1\nrules: []\n"}, "off limits"},
		{"Bash", map[string]any{"command": "printf 'version: 1\\n' > lighthouse.policy"}, "off limits"},
		{"Bash", map[string]any{"command": "wget https://example.org/f"}, "no-wget"},
	} {
		if got := call(c.tool, c.input); !strings.Contains(got, c.want) {
			t.Errorf("%s %v: %q; want a denial naming %q", c.tool, c.input, got, c.want)
		}
	}
	// The policy commands, run in the project, work on the file the
	// writer enforces (they used the built-in policy and said nothing).
	wantIn(t, "policy check", g.run(project, 0, "policy", "check"), "policy ok: "+policyFile+" (from the writer at ")
	cases := writeProjectFile(t, t.TempDir(), "cases.yaml", "- name: wget\n  call:\n    tool: Bash\n    input: {command: \"wget https://example.org/f\"}\n    project_root: /home/dev/shop\n  want: block\n  rule: no-wget\n")
	wantIn(t, "policy test", g.run(project, 0, "policy", "test", cases), "1 passed, 0 failed")
	wantIn(t, "policy explain", g.run(project, 0, "policy", "explain", "--bash", "wget https://example.org/f"), "rule:     no-wget", "policy:   "+policyFile)
	if err := os.WriteFile(policyFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "status shows the empty file refused", func() error {
		if out := g.run(project, 0, "status"); !strings.Contains(out, "policy error") || !strings.Contains(out, "holds no policy") {
			return fmt.Errorf("status:\n%s", out)
		}
		return nil
	})
	if got := call("Bash", map[string]any{"command": "wget https://example.org/f"}); !strings.Contains(got, "no-wget") {
		t.Errorf("wget after the file was emptied: %q; want the old policy's denial", got)
	}
}

// consolePage signs in to the console with token and returns the page at
// path.
func consolePage(t *testing.T, e *env, token, path string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(e.sys.ReaderURL+"/console/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(e.sys.ReaderURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
