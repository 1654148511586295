package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// routedPolicy escalates writes of key files to the security experts
// instead of the reviewers.
const routedPolicy = `rules:
  - id: keys-to-security
    reason: key material needs a security expert
    decision: escalate
    route: capability:security
    tool: [Write, Edit]
    paths: ["**/*.pem"]
`

// taskSystem is one guarded project with a Claude Code agent (claude, the
// requester) and two experts, run as a user runs them.
type taskSystem struct {
	ta                 *twoAgents
	tokSec, tokPerf    string
	admin              string
	writerURL, readURL string
}

func setupTaskSystem(t *testing.T) *taskSystem {
	t.Helper()
	bin := filepath.Join(binDir, "lighthouse")
	project := filepath.Join(t.TempDir(), "shop")
	writeProjectFile(t, project, "go.mod", "module shop\n")
	writeProjectFile(t, project, "src/auth/login.go", "package auth\n")
	policy := filepath.Join(t.TempDir(), "lighthouse.policy")
	if err := os.WriteFile(policy, []byte(routedPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	g := upProject(t, bin, project, "--policy", policy)
	g.run(project, 0, "init", "claude", "--dir", project)
	token := func(out string) string {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return strings.TrimSpace(lines[len(lines)-1])
	}
	s := &taskSystem{
		tokSec:  token(g.run(project, 0, "agent", "add", "sec-1", "--role", "expert", "--capability", "security")),
		tokPerf: token(g.run(project, 0, "agent", "add", "perf-1", "--role", "expert", "--capability", "performance")),
	}
	ta := &twoAgents{g: g, bin: bin, sessA: "sess-a", home: t.TempDir(), tokenFileA: filepath.Join(g.data, "agents", "claude.token")}
	raw, err := os.ReadFile(ta.tokenFileA)
	if err != nil {
		t.Fatal(err)
	}
	ta.tokenA = strings.TrimSpace(string(raw))
	ta.pre, ta.post = settingsCommands(t, g.project)
	ta.envA = []string{"PATH=/usr/bin:/bin", "HOME=" + ta.home, "LIGHTHOUSE_HOOK_WAIT=60s"}
	s.ta = ta
	rawAdmin, err := os.ReadFile(filepath.Join(g.data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	s.admin = strings.TrimSpace(string(rawAdmin))
	s.writerURL = config.AddrURL(filepath.Join(g.data, "writer.addr"))
	s.readURL = config.AddrURL(filepath.Join(g.data, "reader", "reader.addr"))
	if s.writerURL == "" || s.readURL == "" {
		t.Fatalf("no writer or reader address in %s", g.data)
	}
	return s
}

// as runs the CLI as the agent holding token; wantOK says whether it must
// succeed. It returns stdout and stderr.
func (s *taskSystem) as(t *testing.T, token string, wantOK bool, args ...string) string {
	t.Helper()
	out, err := s.ta.lighthouse(token, args...)
	if (err == nil) != wantOK {
		t.Fatalf("lighthouse %s: err %v, want ok=%v\n%s", strings.Join(args, " "), err, wantOK, out)
	}
	if err != nil {
		return err.Error()
	}
	return out
}

// api sends one request and decodes the JSON error body, if any.
func (s *taskSystem) api(t *testing.T, method, url, token, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code  string `json:"code"`
			Field string `json:"field"`
		} `json:"error"`
	}
	json.Unmarshal(raw, &e)
	return resp.StatusCode, e.Error.Field, string(raw)
}

// writerHead is the writer's last sequence.
func (s *taskSystem) writerHead(t *testing.T) uint64 {
	t.Helper()
	code, _, body := s.api(t, http.MethodGet, s.writerURL+"/v1/status", s.admin, "")
	var st struct {
		Head uint64 `json:"head"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("writer status: %d %v %s", code, err, body)
	}
	return st.Head
}

type shownTask struct {
	TaskID  string `json:"task_id"`
	Status  string `json:"status"`
	Claimer string `json:"claimer"`
	Result  string `json:"result"`
	Reason  string `json:"reason"`
}

func decodeTask(t *testing.T, out string) shownTask {
	t.Helper()
	var v shownTask
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("task JSON %q: %v", out, err)
	}
	return v
}

// createTask creates a task as claude with the CLI and returns its id and
// the agents it was offered to.
func (s *taskSystem) createTask(t *testing.T, capability, title string, extra ...string) (string, []string) {
	t.Helper()
	out := s.as(t, s.ta.tokenA, true, append([]string{"task", "create", "--capability", capability, "--title", title, "--json"}, extra...)...)
	var ans struct {
		ID      string   `json:"id"`
		Offered []string `json:"offered"`
	}
	if err := json.Unmarshal([]byte(out), &ans); err != nil || ans.ID == "" {
		t.Fatalf("task create: %v %q", err, out)
	}
	return ans.ID, ans.Offered
}

// TestTasksRoutedByCapability drives tasks through the real binaries: a
// task is offered to the capable expert (inbox and, for a Claude Code
// agent, the hook's additionalContext, once), claimed and completed while
// the requester waits in `task show --wait`; a claim without the
// capability and a second claim are refused; capabilities changed later
// route new tasks; a deadline expires the task as an event; bad input is a
// 4xx naming the field.
func TestTasksRoutedByCapability(t *testing.T) {
	t.Parallel()
	s := setupTaskSystem(t)
	claude := s.ta.tokenA

	// 1. Created, claimed and completed while the requester waits.
	id, offered := s.createTask(t, "security", "audit the login", "--paths", "src/auth/login.go", "--deadline", "10m", "-m", "look for injection")
	if strings.Join(offered, ",") != "sec-1" {
		t.Fatalf("offered to %v, want sec-1", offered)
	}
	if out := s.as(t, s.tokSec, true, "msg", "inbox", "--unread", "--wait", "10s"); !strings.Contains(out, "Task: audit the login") || !strings.Contains(out, id) {
		t.Fatalf("sec-1's inbox lacks the task:\n%s", out)
	}
	if out := s.as(t, s.tokPerf, true, "msg", "inbox"); strings.Contains(out, id) {
		t.Fatalf("perf-1 was offered a security task:\n%s", out)
	}
	waited := make(chan string, 1)
	go func() {
		out, err := s.ta.lighthouse(claude, "task", "show", id, "--wait", "60s", "--json")
		if err != nil {
			out = "error: " + err.Error()
		}
		waited <- out
	}()
	if out := s.as(t, s.tokPerf, false, "task", "claim", id); !strings.Contains(out, "403") || !strings.Contains(out, "security") {
		t.Fatalf("perf-1's claim: %s, want 403 naming the capability", out)
	}
	// the 8 characters task list prints name the task
	if v := decodeTask(t, s.as(t, s.tokSec, true, "task", "claim", id[:8], "--json")); v.Status != "claimed" || v.Claimer != "sec-1" {
		t.Fatalf("after the claim: %+v", v)
	}
	// perf-1 gains the capability later: it may claim now, but the task is held.
	s.ta.g.run(s.ta.g.project, 0, "agent", "capabilities", "perf-1", "performance,security")
	if out := s.as(t, s.tokPerf, false, "task", "claim", id); !strings.Contains(out, "409") || !strings.Contains(out, "task_claimed") {
		t.Fatalf("second claim: %s, want 409 task_claimed", out)
	}
	if out := s.as(t, s.tokPerf, false, "task", "complete", id, "-m", "mine"); !strings.Contains(out, "403") {
		t.Fatalf("complete by a non-claimer: %s, want 403", out)
	}
	select {
	case out := <-waited:
		t.Fatalf("the requester stopped waiting before the task was done: %s", out)
	default:
	}
	s.as(t, s.tokSec, true, "task", "complete", id, "-m", "no injection found")
	select {
	case out := <-waited:
		if v := decodeTask(t, out); v.Status != "completed" || v.Result != "no injection found" || v.Claimer != "sec-1" {
			t.Fatalf("the requester saw %+v", v)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the requester's task show --wait did not return after the task was completed")
	}
	if out := s.as(t, s.tokSec, false, "task", "release", id); !strings.Contains(out, "409") || !strings.Contains(out, "task_closed") {
		t.Fatalf("release of a completed task: %s, want 409 task_closed", out)
	}
	if out := s.as(t, claude, true, "task", "list", "--capability", "security", "--status", "completed"); !strings.Contains(out, id[:8]+" ") {
		t.Fatalf("task list lacks the completed task:\n%s", out)
	}

	// 2. Capabilities changed later route new tasks.
	id2, offered := s.createTask(t, "security", "rotate the keys")
	if strings.Join(offered, ",") != "perf-1,sec-1" {
		t.Fatalf("after perf-1 gained security, offered to %v", offered)
	}
	if out := s.as(t, s.tokPerf, true, "msg", "inbox", "--wait", "10s"); !strings.Contains(out, id2) {
		t.Fatalf("perf-1's inbox lacks the new task:\n%s", out)
	}
	s.ta.g.run(s.ta.g.project, 0, "agent", "capabilities", "perf-1", "performance")
	if code, _, body := s.api(t, http.MethodGet, s.readURL+"/v1/agents?min_seq="+fmt.Sprint(s.writerHead(t)), claude, ""); code != 200 || strings.Contains(body, `"performance","security"`) {
		t.Fatalf("the reader's agents after the change: %d %s", code, body)
	}
	id3, offered := s.createTask(t, "security", "check the headers")
	if strings.Join(offered, ",") != "sec-1" {
		t.Fatalf("after perf-1 lost security, offered to %v", offered)
	}
	if out := s.as(t, s.tokPerf, false, "task", "claim", id3); !strings.Contains(out, "403") {
		t.Fatalf("claim after losing the capability: %s", out)
	}
	s.as(t, s.tokSec, true, "task", "claim", id2)
	if v := decodeTask(t, s.as(t, s.tokSec, true, "task", "fail", id2, "-m", "needs the staging keys", "--json")); v.Status != "failed" || v.Reason != "needs the staging keys" {
		t.Fatalf("failed task: %+v", v)
	}

	// 3. A deadline that passes expires the task, as an event.
	id4, _ := s.createTask(t, "security", "quick look", "--deadline", "2s")
	if v := decodeTask(t, s.as(t, claude, true, "task", "show", id4, "--wait", "30s", "--json")); v.Status != "expired" {
		t.Fatalf("after its deadline: %+v", v)
	}
	if out := s.ta.g.run(s.ta.g.project, 0, "log", "--type", "task.expired", "--json"); !strings.Contains(out, id4) {
		t.Fatalf("no task.expired event for %s:\n%s", id4, out)
	}
	if out := s.as(t, s.tokSec, false, "task", "claim", id4); !strings.Contains(out, "task_closed") {
		t.Fatalf("claim of an expired task: %s", out)
	}

	// 4. A Claude Code agent with the capability gets the offer through
	// its hook, once.
	s.ta.g.run(s.ta.g.project, 0, "agent", "capabilities", "claude", "performance")
	prompt := settingsHook(t, s.ta.g.project, "UserPromptSubmit")
	promptClaude := func() string {
		_, text := additionalContext(t, claudeHook(t, prompt, s.ta.envA, map[string]any{"session_id": s.ta.sessA, "hook_event_name": "UserPromptSubmit", "cwd": s.ta.g.project, "prompt": "go on"}))
		return text
	}
	promptClaude() // drain anything earlier
	out := s.as(t, s.tokSec, true, "task", "create", "--capability", "performance", "--title", "profile checkout")
	id5 := strings.TrimSpace(out)
	if text := promptClaude(); !strings.Contains(text, "Task: profile checkout") || !strings.Contains(text, id5) {
		t.Fatalf("the hook did not add the offer: %q", text)
	}
	if text := promptClaude(); strings.Contains(text, id5) {
		t.Fatalf("the offer was delivered twice: %q", text)
	}

	// 5. Bad input: a 4xx naming the field; the lighthouse_tasks_open gauge
	// counts the unfinished tasks (id3, id5).
	for _, c := range []struct {
		method, url, body, field string
		token                    string
	}{
		{"POST", s.writerURL + "/v1/tasks", `{"title":"x"}`, "capability", claude},
		{"POST", s.writerURL + "/v1/tasks", `{"capability":"Sec Urity","title":"x"}`, "capability", claude},
		{"POST", s.writerURL + "/v1/tasks", `{"capability":"nobody-has-it","title":"x"}`, "capability", claude},
		{"POST", s.writerURL + "/v1/tasks", `{"capability":"security"}`, "title", claude},
		{"POST", s.writerURL + "/v1/tasks", `{"capability":"security","title":"x","deadline":"soon"}`, "deadline", claude},
		{"POST", s.writerURL + "/v1/tasks", `{"capability":"security","title":"x","paths":["../etc/passwd"]}`, "paths[0]", claude},
		{"POST", s.writerURL + "/v1/tasks", `{"capability":"security","title":"x","priority":1}`, "priority", claude},
		{"POST", s.writerURL + "/v1/tasks/" + id3 + "/fail", `{"reason":""}`, "reason", s.tokSec},
		{"GET", s.readURL + "/v1/tasks/" + id3 + "?wait=forever", "", "wait", claude},
		{"GET", s.readURL + "/v1/tasks?status=done", "", "status", claude},
		{"PUT", s.writerURL + "/v1/agents/perf-1/capabilities", `{"capabilities":["Not Valid"]}`, "capabilities", s.admin},
		{"PUT", s.writerURL + "/v1/agents/perf-1/capabilities", `{}`, "capabilities", s.admin},
	} {
		if c.field == "reason" {
			s.as(t, s.tokSec, true, "task", "claim", id3)
		}
		code, field, body := s.api(t, c.method, c.url, c.token, c.body)
		if code/100 != 4 || field != c.field {
			t.Errorf("%s %s %s: %d field %q, want 4xx naming %q: %s", c.method, c.url, c.body, code, field, c.field, body)
		}
	}
	if code, _, _ := s.api(t, "GET", s.readURL+"/v1/tasks/nope", claude, ""); code != 404 {
		t.Errorf("unknown task: %d, want 404", code)
	}
	if code, _, _ := s.api(t, "PUT", s.writerURL+"/v1/agents/perf-1/capabilities", claude, `{"capabilities":["security"]}`); code != 403 {
		t.Errorf("a builder set capabilities: %d, want 403", code)
	}
	eventually(t, "lighthouse_tasks_open", func() error {
		code, _, body := s.api(t, "GET", s.writerURL+"/metrics", "", "")
		if m := regexp.MustCompile(`(?m)^lighthouse_tasks_open (\S+)$`).FindStringSubmatch(body); code != 200 || m == nil || m[1] != "2" {
			return fmt.Errorf("metrics %d: %v", code, m)
		}
		return nil
	})
}

// TestEscalationRoutedToCapability: a policy rule routes an escalation to
// the security experts; the review shows in their inbox, an expert without
// the capability may not decide it, the security expert approves it with
// the CLI, and the agent's waiting hook gets the decision, audited like a
// reviewer's.
func TestEscalationRoutedToCapability(t *testing.T) {
	t.Parallel()
	s := setupTaskSystem(t)
	pending := claudeHookAsync(t, s.ta.pre, s.ta.envA, map[string]any{"session_id": s.ta.sessA, "hook_event_name": "PreToolUse", "cwd": s.ta.g.project,
		"tool_name": "Write", "tool_input": map[string]any{"file_path": filepath.Join(s.ta.g.project, "certs", "server.pem"), "content": "-----BEGIN KEY-----\n"},
		"tool_use_id": "toolu_pem"})
	var reviewID string
	eventually(t, "the review in sec-1's inbox", func() error {
		out, err := s.ta.lighthouse(s.tokSec, "msg", "inbox", "--json")
		m := regexp.MustCompile(`Review ([0-9a-f-]{36})`).FindStringSubmatch(out)
		if err != nil || m == nil {
			return fmt.Errorf("inbox: %v %s", err, out)
		}
		reviewID = m[1]
		return nil
	})
	if out := s.as(t, s.tokPerf, true, "msg", "inbox"); strings.Contains(out, reviewID) {
		t.Fatalf("perf-1 was told of a security review:\n%s", out)
	}
	if out := s.as(t, s.tokPerf, false, "review", "approve", reviewID); !strings.Contains(out, "403") {
		t.Fatalf("perf-1 approved a review routed to security: %s", out)
	}
	select {
	case r := <-pending:
		t.Fatalf("the hook returned before the decision: %+v", r)
	default:
	}
	s.as(t, s.tokSec, true, "review", "approve", reviewID, "-m", "test key, fine")
	select {
	case r := <-pending:
		if reason := r.denied(t); reason != "" {
			t.Fatalf("the approved call was denied: %s", reason)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting hook did not get the decision")
	}
	code, _, out := s.api(t, http.MethodGet, s.writerURL+"/v1/reviews/"+reviewID, s.admin, "")
	var rv struct {
		Status    string   `json:"status"`
		Route     string   `json:"route"`
		DecidedBy []string `json:"decided_by_names"`
	}
	if err := json.Unmarshal([]byte(out), &rv); code != 200 || err != nil {
		t.Fatalf("GET /v1/reviews/%s: %d %v\n%s", reviewID, code, err, out)
	}
	if rv.Status != "approved" || rv.Route != "capability:security" || strings.Join(rv.DecidedBy, ",") != "sec-1" {
		t.Fatalf("review after the expert's decision: %+v", rv)
	}
	if out := s.ta.g.run(s.ta.g.project, 0, "log", "--type", "review.approved", "--agent", "sec-1", "--json"); !strings.Contains(out, reviewID) {
		t.Fatalf("no review.approved event by sec-1:\n%s", out)
	}

	// Undecided, the hook's denial names who could have decided.
	quick := []string{"PATH=/usr/bin:/bin", "HOME=" + s.ta.home, "LIGHTHOUSE_HOOK_WAIT=1s"}
	reason := claudeHook(t, s.ta.pre, quick, map[string]any{"session_id": s.ta.sessA, "hook_event_name": "PreToolUse", "cwd": s.ta.g.project,
		"tool_name": "Write", "tool_input": map[string]any{"file_path": filepath.Join(s.ta.g.project, "certs", "other.pem"), "content": "x"},
		"tool_use_id": "toolu_pem2"}).denied(t)
	if !strings.Contains(reason, "capability security") || !strings.Contains(reason, "sec-1") || strings.Contains(reason, "perf-1") {
		t.Fatalf("undecided routed review: %q", reason)
	}
}

// TestTaskDeadlineSurvivesWriterKill: a task's deadline passes while the
// writer is down (SIGKILL); the restarted writer schedules the open
// tasks' deadlines from its log and closes the task with a task.expired
// event, which the reader's long-poll reports.
func TestTaskDeadlineSurvivesWriterKill(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	var sec struct {
		Token string `json:"token"`
	}
	if err := e.admin.PostJSON(ctx, "/v1/agents", map[string]any{"name": "sec-1", "role": "expert", "capabilities": []string{"security"}}, &sec); err != nil {
		t.Fatal(err)
	}
	var task struct {
		ID       string    `json:"id"`
		Deadline time.Time `json:"deadline"`
	}
	if err := e.admin.PostJSON(ctx, "/v1/tasks", map[string]any{"capability": "security", "title": "before the crash", "deadline": "3s"}, &task); err != nil {
		t.Fatal(err)
	}
	e.sys.Writer.Kill()
	time.Sleep(time.Until(task.Deadline) + 500*time.Millisecond)
	if err := e.sys.StartWriter(ctx); err != nil {
		t.Fatal(err)
	}
	var v shownTask
	eventually(t, "the task expired after the restart", func() error {
		head := e.writerHead()
		if _, err := e.reader.Do(ctx, http.MethodGet, fmt.Sprintf("/v1/tasks/%s?min_seq=%d&wait=5s", task.ID, head), nil, nil, &v); err != nil {
			return err
		}
		if v.Status != "expired" {
			return fmt.Errorf("status %s", v.Status)
		}
		return nil
	})
	evs, _, err := e.admin.Events(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var expired int
	for _, ev := range evs {
		if ev.Type == "task.expired" && ev.StreamID == "task:"+task.ID && ev.AgentID == "system" {
			expired++
		}
	}
	if expired != 1 {
		t.Fatalf("%d task.expired events for %s, want 1", expired, task.ID)
	}
}
