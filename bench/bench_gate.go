package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
	"github.com/lighthouse-ai/lighthouse/infra/policyfile"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// The gate scenarios (issue 3): the decision in process, POST /v1/validate
// under concurrent agents, and policy reloads under load.

// benchProjectRoot is the project root of the in-process gate and of the
// bench's writer (--project-root), and the cwd of every call.
const benchProjectRoot = "/project"

// benchGateMix describes which validate calls hit the decision cache: each
// agent sends a new command every fourth call and repeats three others.
const benchGateMix = "1 in 4 calls new → cache miss"

// The gate scenarios' names, which the test looks for.
const (
	benchScGateMiss = "gate in-process: Decide, cache miss (distinct Bash pipelines and lists)"
	benchScGateHit  = "gate in-process: Decide, cache hit (same input repeated)"
	// The same misses in a gate that has run a while (see benchGateInProcess).
	benchScGateMissSettled = "gate in-process: Decide, cache miss, in a gate that has run a while (its decision cache started over, 2 collections since)"
	benchScCPUFloor        = "gate in-process: CPU floor, work as long as a cache miss that neither allocates nor waits (SHA-256), after each miss"
	benchScReloadPoll      = "gate: policy reload, file rewritten (writer polls every 1 s)"
	benchScReloadHUP       = "gate: policy reload, file rewritten + SIGHUP"
)

// benchScGateHTTP names a validate saturation run: agents in a closed loop,
// so its figure is throughput (its latency is agents ÷ throughput).
func benchScGateHTTP(agents int) string {
	return fmt.Sprintf("saturation: POST /v1/validate, %d agents in a closed loop (%s)", agents, benchGateMix)
}

func benchScReload(agents int) string {
	return fmt.Sprintf("gate: policy reload under load, %d agents validating", agents)
}

// benchNopLog is an EventLog that keeps nothing: Decide never appends.
type benchNopLog struct{}

func (benchNopLog) Append(context.Context, domain.AppendRequest) (domain.AppendResult, error) {
	return domain.AppendResult{}, nil
}

func (benchNopLog) LastEvent(string) (domain.Event, bool, error) { return domain.Event{}, false, nil }

// benchBashInput is a Bash tool_input as Claude Code sends it.
func benchBashInput(cmd string) json.RawMessage {
	raw, _ := json.Marshal(struct {
		Command     string `json:"command"`
		Description string `json:"description"`
		Timeout     int    `json:"timeout"`
	}{cmd, "Run the tests and show status", 120000})
	return raw
}

// benchMissCommand is the i-th of an endless supply of distinct, realistic
// (and allowed) Bash commands.
func benchMissCommand(g, i int) string {
	return fmt.Sprintf("go test ./pkg/%d/... -run TestCase%d && git status | grep -v foo%d", g, i, i)
}

// benchHitCommands are the commands an agent repeats.
var benchHitCommands = []string{
	"go test ./... && git status",
	"go build ./... && go vet ./...",
	"git diff --stat | tail -n 5",
}

// --- in process --------------------------------------------------------------

// benchGateInProcess times ValidateHandler.Decide, the gate's pure part
// (command analysis and policy evaluation; no audit append), for calls that
// miss and that hit the decision cache.
func (b *benchRun) benchGateInProcess(ctx context.Context) error {
	b.progress("gate in-process: Decide, %d cache misses and %d cache hits", b.p.GateMissCalls, b.p.GateHitCalls)
	h := command.NewValidateHandler(benchNopLog{}, command.NewPolicyHolder(command.Policies{Enforced: policy.Default()}),
		projections.NewLearned(), command.GateConfig{ProjectRoot: benchProjectRoot, Protected: []string{"/home/dev/.local/state/lighthouse"}, ReviewTimeout: time.Minute})
	agent := domain.Agent{ID: "a", Name: "bench", Role: domain.RoleBuilder}
	call := func(in json.RawMessage) command.ValidateCall {
		return command.ValidateCall{Agent: agent, Tool: "Bash", Input: in, Cwd: benchProjectRoot, Home: "/home/dev"}
	}
	const warm = 500
	n := b.p.GateMissCalls
	// Each command distinct, built beforehand so only Decide is timed.
	inputs := func(from, count int) []json.RawMessage {
		in := make([]json.RawMessage, count)
		for i := range in {
			in[i] = benchBashInput(benchMissCommand((from+i)%50, from+i))
		}
		return in
	}
	freshInputs := inputs(0, warm+n)
	warmed := make([]time.Duration, 0, warm)
	for _, in := range freshInputs[:warm] {
		c := call(in)
		t := time.Now()
		if _, _, err := h.Decide(c); err != nil {
			return err
		}
		warmed = append(warmed, time.Since(t))
	}
	floor := newBenchCPUFloor(benchSummarise(warmed).P50)
	if v, _, _ := h.Decide(call(freshInputs[0])); v.Decision != policy.Allow {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("gate in-process: %q is decided %s (%s), not allow", benchMissCommand(0, 0), v.Decision, v.Rule))
	}
	fresh, err := timeMisses(ctx, h, call, floor, freshInputs[warm:], "fresh gate")
	if err != nil {
		return err
	}
	// A gate that has run a while: the fresh gate's misses grew the heap,
	// and the decision cache's map, into memory the process had never
	// touched, and on this kind of VM a page fault costs more than the
	// 20 µs target (docs/bench-perf.txt item 36). Distinct misses, made as
	// they go (as a request's body is), until the decision cache has
	// started over (its map keeps the memory it grew to) and the collector
	// has run twice since the fresh gate's (the heap has grown to the size
	// it cycles in). The timed misses then fit in the cache before it
	// starts over again.
	settledInputs := inputs(warm+n, n)
	cycles := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	collections := func() uint64 { metrics.Read(cycles); return cycles[0].Value.Uint64() }
	gc0, seen, settling := collections(), warm+n, 0
	for i := warm + 2*n; ; i++ {
		if settling%256 == 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if seen+settling > command.MaxCachedDecisions && collections() >= gc0+2 {
				break
			}
			if settling >= 50*n {
				b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("gate in-process: %d misses did not settle the gate (%d collections, want 2): its figures are a gate still growing", settling, collections()-gc0))
				break
			}
		}
		if _, _, err := h.Decide(call(benchBashInput(benchMissCommand(i%50, i)))); err != nil {
			return err
		}
		settling++
	}
	settled, err := timeMisses(ctx, h, call, floor, settledInputs, "settled gate")
	if err != nil {
		return err
	}

	hc := call(benchBashInput(benchHitCommands[0]))
	if _, _, err := h.Decide(hc); err != nil {
		return err
	}
	hit := make([]time.Duration, 0, b.p.GateHitCalls)
	for i := range b.p.GateHitCalls {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		t := time.Now()
		_, cached, err := h.Decide(hc)
		d := time.Since(t)
		if err != nil {
			return err
		}
		if !cached {
			return fmt.Errorf("gate in-process: repeated call %d missed the cache", i)
		}
		hit = append(hit, d)
	}
	// What one time.Now/time.Since pair adds to every sample.
	const pairs = 100_000
	t0 := time.Now()
	var sink time.Duration
	for range pairs {
		t := time.Now()
		sink += time.Since(t)
	}
	timer := time.Since(t0) / pairs
	_ = sink

	sm, sh, sf := fresh.report(b, benchScGateMiss), benchSummarise(hit), benchSummarise(fresh.floors)
	b.gateMissP50 = us(sm.P50)
	settled.report(b, benchScGateMissSettled)
	b.rep.add(benchScGateMissSettled, "distinct misses before, made as they went", float64(settling), "calls")
	b.rep.add(benchScGateMissSettled, "CPU floor p99, after each miss", us(benchSummarise(settled.floors).P99), "µs")
	const scHit = benchScGateHit
	b.rep.add(scHit, "p50", us(sh.P50), "µs")
	b.rep.add(scHit, "p99", us(sh.P99), "µs")
	b.rep.add(scHit, "calls", float64(sh.N), "samples")
	b.rep.add(scHit, "timer overhead per sample (included)", us(timer), "µs")
	b.rep.addRatio(scHit, "miss p50 ÷ hit p50", us(sm.P50), us(sh.P50))
	b.rep.add(benchScCPUFloor, "p50", us(sf.P50), "µs")
	b.rep.add(benchScCPUFloor, "p99", us(sf.P99), "µs")
	b.rep.add(benchScCPUFloor, "SHA-256s of 4 KiB per sample", float64(floor.reps), "hashes")
	b.rep.addRatio(benchScCPUFloor, "cache miss p99 ÷ floor p99", us(sm.P99), us(sf.P99))
	return nil
}

// benchMisses is one timed run of distinct cache misses.
type benchMisses struct {
	miss, floors []time.Duration // each miss, and the CPU floor sample after it
	allocated    uint64          // bytes allocated during the run
	collections  uint32          // Go collection cycles that ended during the run
	faults       int64           // minor page faults of the whole bench process
}

// benchMissTarget is issue 15's p99 for a cache miss: at most 1 % of the
// misses may take longer.
const benchMissTarget = 20 * time.Microsecond

// timeMisses times Decide on each input, which must all miss the decision
// cache, each followed by a CPU floor sample, so both meet the same noise.
// run names the run in its errors.
func timeMisses(ctx context.Context, h *command.ValidateHandler, call func(json.RawMessage) command.ValidateCall, floor *benchCPUFloor, inputs []json.RawMessage, run string) (benchMisses, error) {
	m := benchMisses{miss: make([]time.Duration, 0, len(inputs)), floors: make([]time.Duration, 0, len(inputs))}
	// What the misses cost beyond their own work: collection cycles, and
	// page faults on memory the heap grows into (on this kind of VM every
	// miss that faulted took over 20 µs).
	var ms0, ms1 runtime.MemStats
	var ru0, ru1 syscall.Rusage
	runtime.ReadMemStats(&ms0)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for i, in := range inputs {
		if i%1024 == 0 && ctx.Err() != nil {
			return m, ctx.Err()
		}
		c := call(in)
		t := time.Now()
		_, cached, err := h.Decide(c)
		d := time.Since(t)
		if err != nil {
			return m, err
		}
		if cached {
			return m, fmt.Errorf("gate in-process, %s: distinct call %d was answered from the cache", run, i)
		}
		m.miss = append(m.miss, d)
		m.floors = append(m.floors, floor.sample())
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	runtime.ReadMemStats(&ms1)
	m.allocated, m.collections, m.faults = ms1.TotalAlloc-ms0.TotalAlloc, ms1.NumGC-ms0.NumGC, ru1.Minflt-ru0.Minflt
	return m, nil
}

// report adds the run's figures under scenario and returns its summary.
func (m benchMisses) report(b *benchRun, scenario string) benchLatencies {
	s := benchSummarise(m.miss)
	b.rep.add(scenario, "p50", us(s.P50), "µs")
	b.rep.add(scenario, "p99", us(s.P99), "µs")
	b.rep.add(scenario, "calls", float64(s.N), "samples")
	b.rep.add(scenario, "allocated per miss", float64(m.allocated)/float64(max(s.N, 1)), "bytes")
	b.rep.add(scenario, "collections during the misses", float64(m.collections), "cycles")
	b.rep.add(scenario, "minor page faults during the misses (bench process)", float64(m.faults), "faults")
	// The share over the target, and the most of it the machine's stalls
	// alone would explain.
	b.rep.add(scenario, fmt.Sprintf("misses over %v", benchMissTarget), benchShareOver(m.miss, benchMissTarget), "%")
	b.rep.add(scenario, "misses expected to meet a machine stall (baseline stalls/s × mean miss)", benchStallShare(b.stallRate, benchMean(m.miss)), "%")
	return s
}

// benchCPUFloor is work that takes about as long as a given sample and
// neither allocates nor waits on anything (SHA-256 of 4 KiB, repeated): the
// tail that the machine alone (other processes, the hypervisor, interrupts)
// puts on a task that long, the floor under any in-process p99.
type benchCPUFloor struct {
	reps  int // hashes per sample
	block [4096]byte
}

// newBenchCPUFloor calibrates the work to take about d.
func newBenchCPUFloor(d time.Duration) *benchCPUFloor {
	f := &benchCPUFloor{reps: 64}
	cal := make([]time.Duration, 9) // the cost of one hash, median of 9 runs of 64
	for i := range cal {
		cal[i] = f.sample() / 64
	}
	one := max(benchSummarise(cal).P50, 1)
	f.reps = max(1, int((d+one/2)/one))
	return f
}

// sample times one run of the work.
func (f *benchCPUFloor) sample() time.Duration {
	t := time.Now()
	for range f.reps {
		sha256.Sum256(f.block[:])
	}
	return time.Since(t)
}

// --- agents ------------------------------------------------------------------

// benchGateAgent is a registered builder and its token.
type benchGateAgent struct {
	ID, Name, Token string
}

// gateAgents makes sure at least n builder agents are registered (through
// POST /v1/agents with the admin token) and returns the first n.
func (b *benchRun) gateAgents(ctx context.Context, n int) ([]benchGateAgent, error) {
	have := len(b.agents)
	if have >= n {
		return b.agents[:n], nil
	}
	b.progress("gate: registering %d builder agents", n-have)
	add := make([]benchGateAgent, n-have)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(add) || ctx.Err() != nil {
					return
				}
				name := fmt.Sprintf("bench-gate-%04d", have+i)
				body, _ := json.Marshal(map[string]string{"name": name, "role": string(domain.RoleBuilder)})
				var res struct {
					Agent domain.Agent `json:"agent"`
					Token string       `json:"token"`
				}
				if _, err := b.call(ctx, b.http, http.MethodPost, b.sys.WriterURL+"/v1/agents", body, &res); err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					next.Store(int64(len(add)))
					return
				}
				add[i] = benchGateAgent{ID: res.Agent.ID, Name: name, Token: res.Token}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("register agents: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.agents = append(b.agents, add...)
	return b.agents[:n], nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// --- validate load -----------------------------------------------------------

// benchValidateAnswer is the part of the validate answer the bench reads.
type benchValidateAnswer struct {
	Decision       string `json:"decision"`
	PolicyRevision string `json:"policy_revision"`
	Cached         bool   `json:"cached"`
}

// benchValidateBody is a PreToolUse payload as Claude Code's hook sends it
// (testdata/claude-code/pre-bash.json), around a prepared tool_input.
func benchValidateBody(session string, input json.RawMessage, toolUseID string) []byte {
	var buf bytes.Buffer
	buf.Grow(len(input) + 400)
	buf.WriteString(`{"session_id":"`)
	buf.WriteString(session)
	buf.WriteString(`","transcript_path":"/home/dev/.claude/projects/-project/`)
	buf.WriteString(session)
	buf.WriteString(`.jsonl","cwd":"` + benchProjectRoot + `","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":`)
	buf.Write(input)
	buf.WriteString(`,"tool_use_id":"`)
	buf.WriteString(toolUseID)
	buf.WriteString(`"}`)
	return buf.Bytes()
}

// validate POSTs one PreToolUse body as the agent; anything but a 200 with
// a decision is an error.
func (b *benchRun) validate(ctx context.Context, cl *http.Client, token string, body []byte) (benchValidateAnswer, error) {
	var a benchValidateAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.sys.WriterURL+"/v1/validate", bytes.NewReader(body))
	if err != nil {
		return a, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.Do(req)
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return a, fmt.Errorf("POST /v1/validate: %d %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	err = json.NewDecoder(resp.Body).Decode(&a)
	_, _ = io.Copy(io.Discard, resp.Body)
	if err != nil {
		return a, fmt.Errorf("POST /v1/validate: decode answer: %w", err)
	}
	if a.Decision == "" {
		return a, fmt.Errorf("POST /v1/validate: answer without a decision")
	}
	return a, nil
}

// benchGateLoad is one run of agents validating back to back, each over
// its own kept-alive connection, until Stop is closed.
type benchGateLoad struct {
	Agents   []benchGateAgent
	OnAnswer func(a benchValidateAnswer, at time.Time) // optional; called concurrently
	Ready    chan struct{}                             // closed when the timed part starts
	Stop     chan struct{}

	Start, End time.Time
	lats       [][]time.Duration
	failed     atomic.Int64
	cached     atomic.Int64
	notAllow   atomic.Int64
	firstErr   atomic.Value
	firstOther atomic.Value
}

func newBenchGateLoad(agents []benchGateAgent) *benchGateLoad {
	return &benchGateLoad{Agents: agents, Ready: make(chan struct{}), Stop: make(chan struct{})}
}

// run blocks until Stop is closed (or ctx ends) and every worker is done.
// Each worker first sends one untimed call (a repeated command, which
// opens its connection), then cycles: a new command, then the three
// repeated ones.
func (l *benchGateLoad) run(ctx context.Context, b *benchRun) {
	c := len(l.Agents)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = c + 16
	tr.MaxIdleConnsPerHost = c + 16
	cl := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	defer tr.CloseIdleConnections()
	l.lats = make([][]time.Duration, c)
	var wg, ready sync.WaitGroup
	startCh := make(chan struct{})
	ready.Add(c)
	wg.Add(c)
	for g, ag := range l.Agents {
		go func() {
			defer wg.Done()
			session := fmt.Sprintf("5b1c2d7e-0a3f-4c55-9e1d-%012d", g)
			hits := make([]json.RawMessage, len(benchHitCommands))
			for k, cmd := range benchHitCommands {
				hits[k] = benchBashInput(cmd)
			}
			seq := 0
			body := func() []byte {
				seq++
				var in json.RawMessage
				if k := seq % 4; k == 0 {
					in = benchBashInput(benchMissCommand(g, seq))
				} else {
					in = hits[k-1]
				}
				return benchValidateBody(session, in, "toolu_bench_"+strconv.Itoa(g)+"_"+strconv.Itoa(seq))
			}
			if _, err := b.validate(ctx, cl, ag.Token, body()); err != nil {
				l.fail(err)
			}
			ready.Done()
			<-startCh
			lat := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				select {
				case <-l.Stop:
					l.lats[g] = lat
					return
				default:
				}
				req := body()
				t := time.Now()
				a, err := b.validate(ctx, cl, ag.Token, req)
				d := time.Since(t)
				if err != nil {
					l.fail(err)
					_ = benchSleep(ctx, 10*time.Millisecond) // do not spin on a broken server
					continue
				}
				at := t.Add(d)
				lat = append(lat, d)
				if a.Cached {
					l.cached.Add(1)
				}
				if a.Decision != string(policy.Allow) {
					l.notAllow.Add(1)
					l.firstOther.CompareAndSwap(nil, a.Decision)
				}
				if l.OnAnswer != nil {
					l.OnAnswer(a, at)
				}
			}
			l.lats[g] = lat
		}()
	}
	ready.Wait()
	l.Start = time.Now()
	close(startCh)
	close(l.Ready)
	wg.Wait()
	l.End = time.Now()
}

func (l *benchGateLoad) fail(err error) {
	l.failed.Add(1)
	l.firstErr.CompareAndSwap(nil, err.Error())
}

// summary is the latencies of every successful timed call.
func (l *benchGateLoad) summary() benchLatencies {
	var all []time.Duration
	for _, x := range l.lats {
		all = append(all, x...)
	}
	return benchSummarise(all)
}

// warn records failures and unexpected decisions as warnings.
func (l *benchGateLoad) warn(b *benchRun, sc string) {
	if n := l.failed.Load(); n > 0 {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("%s: %d requests failed, first: %v", sc, n, l.firstErr.Load()))
	}
	if n := l.notAllow.Load(); n > 0 {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("%s: %d decisions were not allow (first: %v)", sc, n, l.firstOther.Load()))
	}
}

// benchGateHTTP runs the validate load at each configured concurrency.
func (b *benchRun) benchGateHTTP(ctx context.Context) error {
	agents, err := b.gateAgents(ctx, slices.Max(b.p.GateLevels))
	if err != nil {
		return err
	}
	for _, c := range b.p.GateLevels {
		if err := b.settle(ctx, 3*time.Minute); err != nil {
			return err
		}
		b.progress("gate: POST /v1/validate, %d agents, %s", c, b.p.Gate)
		l := newBenchGateLoad(agents[:c])
		go func() {
			select {
			case <-l.Ready:
				_ = benchSleep(ctx, b.p.Gate)
			case <-ctx.Done():
			}
			close(l.Stop)
		}()
		l.run(ctx, b)
		if err := ctx.Err(); err != nil {
			return err
		}
		s := l.summary()
		if s.N == 0 {
			return fmt.Errorf("no validate call succeeded with %d agents: %v", c, l.firstErr.Load())
		}
		sc := benchScGateHTTP(c)
		rate := perSecond(s.N, l.End.Sub(l.Start))
		if c == 64 {
			b.gate64P99 = ms(s.P99)
		}
		b.rep.add(sc, "decisions/s", rate, "ops/s")
		b.rep.add(sc, "p50", ms(s.P50), "ms")
		b.rep.add(sc, "p99", ms(s.P99), "ms")
		b.rep.add(sc, "p99.9", ms(s.P999), "ms")
		b.rep.add(sc, "requests", float64(s.N), "requests")
		b.rep.add(sc, "failed requests", float64(l.failed.Load()), "errors")
		b.rep.add(sc, "answered from the decision cache", 100*float64(l.cached.Load())/float64(s.N), "%")
		b.rep.addRatio(sc, "p50 ÷ in-process miss p50", us(s.P50), b.gateMissP50)
		b.rep.addRatio(sc, "p50 ÷ GET /healthz p50", us(s.P50), b.loopP50)
		l.warn(b, sc)
	}
	return nil
}

// --- policy reload under load ------------------------------------------------

// benchPolicyYAML is a valid project policy whose only rule has the given id.
func benchPolicyYAML(id string) []byte {
	return fmt.Appendf(nil, "rules:\n  - id: %s\n    decision: allow\n    command: {program: %s}\n", id, id)
}

// benchStagePolicy writes the policy with rule id beside path, for a
// rename over it (so the writer never reads a half-written file), and
// returns the staged file and its revision.
func benchStagePolicy(path, id string) (staged, revision string, err error) {
	staged = path + ".next"
	if err := os.WriteFile(staged, benchPolicyYAML(id), 0o644); err != nil {
		return "", "", err
	}
	p, err := policyfile.Parse(staged)
	if err != nil {
		return "", "", err
	}
	return staged, p.Revision(), nil
}

// benchWritePolicy replaces the policy file atomically.
func benchWritePolicy(path, id string) error {
	staged, _, err := benchStagePolicy(path, id)
	if err != nil {
		return err
	}
	return os.Rename(staged, path)
}

// benchRevisionWatch records when a validate answer first carried the
// revision waited for.
type benchRevisionWatch struct {
	mu     sync.Mutex
	target string
	seen   time.Time
}

func (w *benchRevisionWatch) expect(rev string) {
	w.mu.Lock()
	w.target, w.seen = rev, time.Time{}
	w.mu.Unlock()
}

func (w *benchRevisionWatch) answer(a benchValidateAnswer, at time.Time) {
	w.mu.Lock()
	if a.PolicyRevision == w.target && (w.seen.IsZero() || at.Before(w.seen)) {
		w.seen = at
	}
	w.mu.Unlock()
}

func (w *benchRevisionWatch) seenAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}

// policyRevision is the revision GET /v1/policy shows.
func (b *benchRun) policyRevision(ctx context.Context) (string, error) {
	var st struct {
		Revision  string `json:"revision"`
		LastError string `json:"last_error"`
	}
	_, err := b.call(ctx, b.http, http.MethodGet, b.sys.WriterURL+"/v1/policy", nil, &st)
	if err == nil && st.LastError != "" {
		err = fmt.Errorf("the writer rejected the policy: %s", st.LastError)
	}
	return st.Revision, err
}

// benchGateReload rewrites the writer's policy file while agents validate
// continuously: first leaving it to the writer's 1 s poll, then with a
// SIGHUP right after each write. It times each reload until GET /v1/policy
// and until a validate answer show the new revision, and counts the
// requests that failed over the whole window.
func (b *benchRun) benchGateReload(ctx context.Context) error {
	if err := b.settle(ctx, 3*time.Minute); err != nil {
		return err
	}
	agents, err := b.gateAgents(ctx, b.p.ReloadAgents)
	if err != nil {
		return err
	}
	b.progress("gate: policy reload under load, %d agents: %d reloads by file poll, %d by SIGHUP", len(agents), b.p.FileReloads, b.p.HUPReloads)
	watch := &benchRevisionWatch{}
	l := newBenchGateLoad(agents)
	l.OnAnswer = watch.answer
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx, b)
	}()
	stopLoad := func() {
		select {
		case <-l.Stop:
		default:
			close(l.Stop)
		}
		<-done
	}
	defer stopLoad()
	select {
	case <-l.Ready:
	case <-ctx.Done():
		return ctx.Err()
	}

	// reload writes a new policy (and signals the writer when hup), then
	// waits until GET /v1/policy, and a validate answer, show it.
	reloads := 0
	reload := func(hup bool) (toStatus, toAnswer time.Duration, err error) {
		reloads++
		id := fmt.Sprintf("bench-reload-%d", reloads)
		staged, rev, err := benchStagePolicy(b.policyPath, id)
		if err != nil {
			return 0, 0, err
		}
		watch.expect(rev)
		if err := os.Rename(staged, b.policyPath); err != nil {
			return 0, 0, err
		}
		written := time.Now()
		if hup {
			if err := syscall.Kill(b.sys.Writer.Pid(), syscall.SIGHUP); err != nil {
				return 0, 0, fmt.Errorf("SIGHUP the writer: %w", err)
			}
		}
		deadline := written.Add(10 * time.Second)
		for toStatus == 0 || toAnswer == 0 {
			if toStatus == 0 {
				got, err := b.policyRevision(ctx)
				if err != nil {
					return 0, 0, err
				}
				if got == rev {
					toStatus = time.Since(written)
				}
			}
			if toAnswer == 0 {
				if at := watch.seenAt(); !at.IsZero() {
					toAnswer = max(at.Sub(written), 0)
				}
			}
			if time.Now().After(deadline) {
				return 0, 0, fmt.Errorf("policy %s (revision %s) not in force %s after the write: %w", id, rev, deadline.Sub(written), errBenchTimeout)
			}
			if err := benchSleep(ctx, 5*time.Millisecond); err != nil {
				return 0, 0, err
			}
		}
		return toStatus, toAnswer, nil
	}

	var pollStatus, pollAnswer, hupStatus, hupAnswer []time.Duration
	for range b.p.FileReloads {
		// A random pause, so the writes fall anywhere in the writer's poll period.
		if err := benchSleep(ctx, 100*time.Millisecond+rand.N(time.Second)); err != nil {
			return err
		}
		s, a, err := reload(false)
		if err != nil {
			return err
		}
		pollStatus, pollAnswer = append(pollStatus, s), append(pollAnswer, a)
	}
	for range b.p.HUPReloads {
		if err := benchSleep(ctx, 100*time.Millisecond+rand.N(200*time.Millisecond)); err != nil {
			return err
		}
		s, a, err := reload(true)
		if err != nil {
			return err
		}
		hupStatus, hupAnswer = append(hupStatus, s), append(hupAnswer, a)
	}
	if err := benchSleep(ctx, 100*time.Millisecond); err != nil {
		return err
	}
	stopLoad()
	if err := ctx.Err(); err != nil {
		return err
	}

	lat := l.summary()
	sc := benchScReload(len(agents))
	b.rep.add(sc, "failed requests during the window", float64(l.failed.Load()), "errors")
	b.rep.add(sc, "requests during the window", float64(lat.N), "requests")
	b.rep.add(sc, "validate p50 during the window", ms(lat.P50), "ms")
	b.rep.add(sc, "validate p99 during the window", ms(lat.P99), "ms")
	if b.gate64P99 > 0 && len(agents) == 64 {
		b.rep.addRatio(sc, "p99 ÷ steady 64-agent p99", ms(lat.P99), b.gate64P99)
	}
	l.warn(b, sc)
	for _, m := range []struct {
		sc, what       string
		status, answer []time.Duration
	}{
		{benchScReloadPoll, "write", pollStatus, pollAnswer},
		{benchScReloadHUP, "SIGHUP", hupStatus, hupAnswer},
	} {
		n := len(m.status)
		s, a := benchSummarise(m.status), benchSummarise(m.answer)
		b.rep.add(m.sc, m.what+" → GET /v1/policy shows it, median", ms(s.P50), "ms")
		b.rep.add(m.sc, m.what+" → GET /v1/policy shows it, max", ms(s.Max), "ms")
		b.rep.add(m.sc, m.what+" → a validate answer carries it, median", ms(a.P50), "ms")
		b.rep.add(m.sc, m.what+" → a validate answer carries it, max", ms(a.Max), "ms")
		b.rep.add(m.sc, "reloads", float64(n), "samples")
	}
	return nil
}
