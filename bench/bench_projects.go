package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/procstat"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// The projects scenario (issue 16): projects per machine, measured. It
// runs N whole systems at once, each what `lighthouse up --project DIR`
// starts (writer with its embedded broker, reader, fuser where FUSE works,
// watcher on its own project tree, each project its own data directory),
// every project under the same light load, open loop: its agents' tool
// calls (POST /v1/validate) at a fixed rate and an edit of a file on disk
// (shadowed by its watcher) every few seconds. N doubles (1, 2, 4, …) while
// the machine stays within the limit (benchProjVerdict); the largest N
// within it is the projects per machine on this machine.

// benchProjParams size the projects scenario.
type benchProjParams struct {
	Steps         []int         // N, in order
	Window        time.Duration // load at each N
	Agents        int           // agents per project
	ValidateEvery time.Duration // each agent's tool calls, one per this
	EditEvery     time.Duration // each project's disk edits, one per this
	TreeFiles     int           // files in each project's tree
	Budget        time.Duration // no next N once the scenario would pass this
	MemShare      float64       // share of MemAvailable (at the start) the projects may hold
	P99Factor     float64       // validate p99 at N may be this many times its N=1 value …
	P99Floor      time.Duration // … or this, whichever is larger
	Parallel      int           // projects started at once
}

func benchProjParamsFor(quick bool) benchProjParams {
	p := benchProjParams{Steps: []int{1, 2, 4, 8, 16, 32, 64}, Window: 15 * time.Second, Agents: 4, ValidateEvery: 2 * time.Second,
		EditEvery: 3 * time.Second, TreeFiles: 200, Budget: 3 * time.Minute, MemShare: 0.5, P99Factor: 10, P99Floor: 50 * time.Millisecond, Parallel: 2}
	if quick {
		p.Steps, p.Window, p.Agents, p.ValidateEvery, p.EditEvery, p.TreeFiles, p.Budget = []int{1, 2}, 2*time.Second, 2, time.Second, time.Second, 20, time.Minute
	}
	return p
}

// validateRate is each project's tool calls per second.
func (p benchProjParams) validateRate() float64 {
	return float64(p.Agents) / p.ValidateEvery.Seconds()
}

// benchScProj names the measurement at n projects, and benchScProjSum the
// summary.
func benchScProj(p benchProjParams, n int) string {
	return fmt.Sprintf("projects per machine: %d at once, each %.1f validates/s (open loop) + a disk edit every %s", n, p.validateRate(), p.EditEvery)
}

const benchScProjSum = "projects per machine (summary)"

// benchProjStep is what one N measured.
type benchProjStep struct {
	N         int
	Validate  benchLatencies
	Failed    int     // validates that failed
	Unseen    int     // disk edits not in the project's reader in time
	Dead      int     // processes that exited
	RSS       float64 // MiB, every process of every project
	MemBudget float64 // MiB
}

// benchProjVerdict says whether a step is within the limit, given the N=1
// step, and if not, why: every validate answered, every edit shadowed,
// every process alive, validate p99 within P99Factor × the N=1 p99 (or
// P99Floor, whichever is larger: a sub-millisecond p99 times 10 is noise),
// all the projects' memory within the budget.
func benchProjVerdict(p benchProjParams, first, s benchProjStep) (ok bool, why string) {
	limit := max(time.Duration(p.P99Factor*float64(first.Validate.P99)), p.P99Floor)
	switch {
	case s.Dead > 0:
		return false, fmt.Sprintf("%d processes exited", s.Dead)
	case s.Failed > 0:
		return false, fmt.Sprintf("%d validates failed", s.Failed)
	case s.Unseen > 0:
		return false, fmt.Sprintf("%d disk edits did not reach their reader", s.Unseen)
	case s.Validate.N == 0:
		return false, "no validate answered"
	case s.Validate.P99 > limit:
		return false, fmt.Sprintf("validate p99 %.1f ms > %.1f ms (%.0f× the N=1 p99, at least %s)", ms(s.Validate.P99), ms(limit), p.P99Factor, p.P99Floor)
	case s.MemBudget > 0 && s.RSS > s.MemBudget:
		return false, fmt.Sprintf("RSS %.0f MiB > the %.0f MiB budget", s.RSS, s.MemBudget)
	}
	return true, ""
}

// benchProject is one running project.
type benchProject struct {
	tree   string
	sys    *supervisor.System
	log    *os.File // its processes' output, apart from the other projects'.
	agents []benchGateAgent
	writer []*client.Client // as each agent
	edits  int              // disk edits made so far
	last   []byte           // the last edit's content
}

func (pr *benchProject) procs() []*supervisor.Process {
	var out []*supervisor.Process
	for _, p := range []*supervisor.Process{pr.sys.Writer, pr.sys.Reader, pr.sys.Fuser, pr.sys.Watcher} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// benchMemAvailable is /proc/meminfo's MemAvailable, in MiB.
func benchMemAvailable() (float64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return benchStatusMiB(f, "MemAvailable")
}

// startProject starts project k: a tree of TreeFiles files, then the
// system on it, then its agents.
func (b *benchRun) startProject(ctx context.Context, p benchProjParams, root string, k int) (*benchProject, error) {
	dir := filepath.Join(root, fmt.Sprintf("p%03d", k))
	pr := &benchProject{tree: filepath.Join(dir, "tree")}
	for i := range p.TreeFiles {
		path := filepath.Join(pr.tree, "src", fmt.Sprintf("pkg%02d", i/20), fmt.Sprintf("f%03d.go", i))
		if i%20 == 0 {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(path, benchContent(2048, fmt.Sprintf("// project %d file %d\n", k, i)), 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(pr.tree, "edits"), 0o755); err != nil {
		return nil, err
	}
	mount := ""
	if b.fuseSkip == "" {
		mount = filepath.Join(dir, "mnt")
	}
	log, err := os.Create(filepath.Join(dir, "processes.log"))
	if err != nil {
		return nil, fmt.Errorf("project %d: %w", k, err)
	}
	pr.log = log
	sys, err := supervisor.StartSystem(ctx, supervisor.Config{Data: filepath.Join(dir, "data"), Project: pr.tree, Mount: mount,
		BinDir: b.opts.Bin, Output: log})
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("project %d: %w", k, err)
	}
	pr.sys = sys
	admin := client.New(sys.WriterURL, sys.AdminToken)
	for a := range p.Agents {
		var res struct {
			Agent domain.Agent `json:"agent"`
			Token string       `json:"token"`
		}
		name := fmt.Sprintf("agent-%d", a)
		if err := admin.PostJSON(ctx, "/v1/agents", map[string]string{"name": name, "role": string(domain.RoleBuilder)}, &res); err != nil {
			sys.Stop()
			log.Close()
			return nil, fmt.Errorf("project %d: register %s: %w", k, name, err)
		}
		pr.agents = append(pr.agents, benchGateAgent{ID: res.Agent.ID, Name: name, Token: res.Token})
	}
	return pr, nil
}

// benchProjValidateBody is a PreToolUse payload for a Bash call in root.
func benchProjValidateBody(root, session, cmd, toolUseID string) []byte {
	body, _ := json.Marshal(map[string]any{"session_id": session, "transcript_path": "/home/dev/.claude/projects/p/" + session + ".jsonl",
		"cwd": root, "permission_mode": "default", "hook_event_name": "PreToolUse", "tool_name": "Bash",
		"tool_input": benchBashInput(cmd), "tool_use_id": toolUseID})
	return body
}

// benchProjects runs the projects scenario.
func (b *benchRun) benchProjects(ctx context.Context) error {
	p := benchProjParamsFor(b.opts.Quick)
	root := filepath.Join(b.dir, "projects")
	var projects []*benchProject
	defer func() {
		var wg sync.WaitGroup
		for _, pr := range projects {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := pr.sys.Stop(); err != nil {
					b.progress("projects: stopping %s: %v", pr.tree, err)
				}
				pr.log.Close()
			}()
		}
		wg.Wait()
		if !b.opts.Keep {
			os.RemoveAll(root)
		}
	}()
	avail, err := benchMemAvailable()
	if err != nil {
		return fmt.Errorf("memory available: %w", err)
	}
	budget := avail * p.MemShare
	start := time.Now()
	hc, tr := benchOpenLoopHTTP()
	defer tr.CloseIdleConnections()

	var (
		first, best benchProjStep
		bestN       int
		stopped     string
		startEach   time.Duration // mean time to start one project, so far
	)
	for si, n := range p.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if si > 0 {
			add := n - len(projects)
			perProject := best.RSS / float64(len(projects))
			if need := perProject * float64(n); need > budget {
				stopped = fmt.Sprintf("memory: %d projects would hold ~%.0f MiB, over the budget of %.0f MiB (%.0f%% of MemAvailable at the start)", n, need, budget, 100*p.MemShare)
				break
			}
			eta := time.Since(start) + startEach*time.Duration(add)/time.Duration(p.Parallel) + p.Window + 10*time.Second
			if eta > p.Budget {
				stopped = fmt.Sprintf("time: %d projects would take the scenario to ~%.0f s, over its %s budget", n, eta.Seconds(), p.Budget)
				break
			}
		}
		b.progress("projects: starting %d more (%d at once), each writer + reader + fuser + watcher", n-len(projects), n)
		t := time.Now()
		added, err := b.startProjects(ctx, p, root, len(projects), n, hc)
		projects = append(projects, added...)
		if err != nil {
			return err
		}
		took := time.Since(t)
		startEach = took * time.Duration(p.Parallel) / time.Duration(max(len(added), 1))
		for _, pr := range added {
			if pr.sys.MountDir() != "" && pr.sys.Fuser == nil {
				b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("projects: %s runs without its fuser: %v", pr.tree, pr.sys.FuserError))
			}
		}
		s, err := b.projStep(ctx, p, projects, budget, hc)
		if err != nil {
			return fmt.Errorf("%d projects: %w", n, err)
		}
		if si == 0 {
			first = s
		}
		ok, why := benchProjVerdict(p, first, s)
		sc := benchScProj(p, n)
		b.rep.add(sc, fmt.Sprintf("start of the %d added projects, %d at a time (each until its reader and watcher are ready)", len(added), p.Parallel), took.Seconds(), "s")
		within := 0.0
		if ok {
			within = 1
		}
		b.rep.add(sc, "within the limit", within, "yes=1")
		if !ok {
			stopped = fmt.Sprintf("limit at %d projects: %s", n, why)
			break
		}
		best, bestN = s, n
	}
	if stopped == "" {
		stopped = fmt.Sprintf("cap: the largest N the scenario tries is %d", p.Steps[len(p.Steps)-1])
	}
	b.progress("projects: %d within the limit; stopped by %s", bestN, stopped)
	b.rep.add(benchScProjSum, "projects per machine (largest N within the limit)", float64(bestN), "projects")
	b.rep.add(benchScProjSum, "stopped by "+stopped, float64(bestN), "projects")
	b.rep.add(benchScProjSum, fmt.Sprintf("memory budget (%.0f%% of MemAvailable at the start)", 100*p.MemShare), budget, "MiB")
	if bestN > 0 {
		per := best.RSS / float64(bestN)
		b.rep.add(benchScProjSum, fmt.Sprintf("RSS per project at %d", bestN), per, "MiB")
		b.rep.add(benchScProjSum, "projects the budget holds at that RSS (memory alone, computed)", budget/per, "projects")
		b.rep.addRatio(benchScProjSum, fmt.Sprintf("validate p99 at %d ÷ at 1", bestN), us(best.Validate.P99), us(first.Validate.P99))
	}
	return nil
}

// startProjects starts projects from..to-1, Parallel at a time.
func (b *benchRun) startProjects(ctx context.Context, p benchProjParams, root string, from, to int, hc *http.Client) ([]*benchProject, error) {
	out := make([]*benchProject, to-from)
	errs := make([]error, to-from)
	slots := make(chan struct{}, p.Parallel)
	var wg sync.WaitGroup
	for k := from; k < to; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			pr, err := b.startProject(ctx, p, root, k)
			if err == nil {
				for _, a := range pr.agents {
					c := client.New(pr.sys.WriterURL, a.Token)
					c.HTTP = hc
					pr.writer = append(pr.writer, c)
				}
			}
			out[k-from], errs[k-from] = pr, err
		}()
	}
	wg.Wait()
	var started []*benchProject
	for _, pr := range out {
		if pr != nil {
			started = append(started, pr)
		}
	}
	return started, errors.Join(errs...)
}

// projStep loads every project for Window and measures.
func (b *benchRun) projStep(ctx context.Context, p benchProjParams, projects []*benchProject, budget float64, hc *http.Client) (benchProjStep, error) {
	n := len(projects)
	s := benchProjStep{N: n, MemBudget: budget}
	var pids []int
	for _, pr := range projects {
		for _, proc := range pr.procs() {
			pids = append(pids, proc.Pid())
		}
	}
	cpuBefore := make([]time.Duration, len(pids))
	for i, pid := range pids {
		if st, err := procstat.Read(pid); err == nil {
			cpuBefore[i] = st.CPU
		}
	}
	cpuFrom := time.Now()
	b.progress("projects: %d at once for %s: %.1f validates/s and an edit every %s each", n, p.Window, p.validateRate(), p.EditEvery)
	hits := make([][]byte, len(benchHitCommands))
	for k, cmd := range benchHitCommands {
		hits[k] = benchBashInput(cmd)
	}
	// Call i goes to project i mod n, from its agent (i div n) mod Agents:
	// each project gets validateRate calls a second, evenly spaced; one in
	// four is a new command (a decision-cache miss).
	rate := p.validateRate() * float64(n)
	validate := benchOpenLoop{Rate: rate, Calls: int(rate * p.Window.Seconds()), MaxInFlight: benchOpenMaxInFlight,
		Send: func(ctx context.Context, i int) error {
			pr := projects[i%n]
			seq := i / n
			a := seq % len(pr.agents)
			cmd := benchHitCommands[seq%len(benchHitCommands)]
			if seq%4 == 0 {
				cmd = benchMissCommand(a, seq)
			}
			body := benchProjValidateBody(pr.tree, fmt.Sprintf("5b1c2d7e-0a3f-4c55-9e1d-%012d", a), cmd, fmt.Sprintf("toolu_proj_%d_%d", i%n, seq))
			var ans benchValidateAnswer
			if _, err := pr.writer[a].Do(ctx, http.MethodPost, "/v1/validate", http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body), &ans); err != nil {
				return err
			}
			if ans.Decision == "" {
				return errors.New("POST /v1/validate: answer without a decision")
			}
			return nil
		}}
	editRate := float64(n) / p.EditEvery.Seconds()
	var mu sync.Mutex
	edit := benchOpenLoop{Rate: editRate, Calls: int(editRate * p.Window.Seconds()), Send: func(_ context.Context, i int) error {
		pr := projects[i%n]
		mu.Lock()
		defer mu.Unlock()
		pr.edits++
		pr.last = benchContent(512, fmt.Sprintf("edit %d of %s\n", pr.edits, pr.tree))
		return os.WriteFile(filepath.Join(pr.tree, "edits", "notes.txt"), pr.last, 0o644)
	}}
	var wg sync.WaitGroup
	var edits benchOpenLoopResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		edits = edit.run(ctx)
	}()
	res := validate.run(ctx)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return s, err
	}
	if edits.Failed > 0 {
		return s, fmt.Errorf("disk edits: %w", edits.FirstErr)
	}
	// Measure the processes before the edit check below adds reads.
	var used time.Duration
	for i, pid := range pids {
		if st, err := procstat.Read(pid); err == nil && st.CPU >= cpuBefore[i] {
			used += st.CPU - cpuBefore[i]
		}
	}
	cpu := used.Seconds() / time.Since(cpuFrom).Seconds() * 100
	roles := map[string][]float64{}
	for _, pr := range projects {
		for _, proc := range pr.procs() {
			select {
			case <-proc.Done():
				s.Dead++
				b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("projects: the %s of %s exited: %v", proc.Name, pr.tree, proc.Err()))
				tail := benchLogTail(pr.log.Name(), 10)
				b.progress("projects: the %s of %s exited (%v); its project's output ends:\n  %s", proc.Name, pr.tree, proc.Err(), strings.Join(tail, "\n  "))
				continue
			default:
			}
			rss, err := benchProcMiB(proc.Pid(), "VmRSS")
			if err != nil {
				b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("projects: RSS of %s: %v", proc.Name, err))
				continue
			}
			s.RSS += rss
			roles[proc.Name] = append(roles[proc.Name], rss)
		}
	}
	// Each project's last edit must reach its reader (the watcher batches
	// for up to 250 ms; 10 s is generous on a loaded machine).
	var unseen sync.WaitGroup
	var unseenN int
	for _, pr := range projects {
		if pr.last == nil {
			continue
		}
		unseen.Add(1)
		go func() {
			defer unseen.Done()
			if err := benchPollReader(ctx, hc, pr.sys.ReaderURL+"/v1/files/edits/notes.txt", pr.sys.AdminToken, pr.last, 10*time.Second); err != nil {
				mu.Lock()
				unseenN++
				mu.Unlock()
			}
		}()
	}
	unseen.Wait()
	s.Unseen, s.Failed = unseenN, res.Failed
	s.Validate = benchSummarise(res.ok())

	sc := benchScProj(p, n)
	b.rep.add(sc, "total RSS of all processes", s.RSS, "MiB")
	b.rep.add(sc, "RSS per project", s.RSS/float64(n), "MiB")
	for _, role := range []string{"writer", "reader", "fuser", "watcher"} {
		if v := roles[role]; len(v) > 0 {
			sum := 0.0
			for _, x := range v {
				sum += x
			}
			b.rep.add(sc, fmt.Sprintf("%s RSS, mean of %d", role, len(v)), sum/float64(len(v)), "MiB")
		}
	}
	b.rep.add(sc, "CPU of all their processes", cpu, "% of a core")
	b.rep.add(sc, "validate p50", ms(s.Validate.P50), "ms")
	b.rep.add(sc, "validate p99", ms(s.Validate.P99), "ms")
	b.rep.add(sc, "validate p99.9", ms(s.Validate.P999), "ms")
	b.rep.add(sc, "validates answered", float64(s.Validate.N), "requests")
	b.rep.add(sc, "failed validates", float64(s.Failed), "errors")
	b.rep.add(sc, "disk edits", float64(len(edits.Lat)), "edits")
	b.rep.add(sc, "projects whose last edit did not reach the reader in 10 s", float64(s.Unseen), "projects")
	b.rep.add(sc, "processes that exited", float64(s.Dead), "processes")
	if res.Failed > 0 {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("%s: %d validates failed, first: %v", sc, res.Failed, res.FirstErr))
	}
	return s, nil
}
