// Package bench is Lighthouse's benchmark suite (`lighthouse bench`): it
// starts real writer and reader processes and measures appends, the gate,
// history, shadowing and the FUSE mount.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/cli"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// benchOptions are the flags of `lighthouse bench`.
type benchOptions struct {
	JSON  bool
	Quick bool
	Bin   string
	Out   string
	Dir   string
	Keep  bool
	Only  string
}

// benchParams size the scenarios.
type benchParams struct {
	Baseline      time.Duration `json:"-"`
	Append        time.Duration `json:"-"`
	BaselineS     float64       `json:"baseline_seconds"`
	AppendS       float64       `json:"append_seconds_per_level"`
	Levels        []int         `json:"append_concurrency"`
	FileBytes     int           `json:"append_file_bytes"`
	LagSamples    int           `json:"lag_samples"`
	CatchUpEvents int           `json:"catchup_events"`
	OpsPerChange  int           `json:"catchup_ops_per_change_set"`
	LoadWorkers   int           `json:"catchup_load_workers"`

	GateMissCalls  int           `json:"gate_inprocess_miss_calls"`
	GateHitCalls   int           `json:"gate_inprocess_hit_calls"`
	GateLevels     []int         `json:"gate_concurrency"`
	Gate           time.Duration `json:"-"`
	GateS          float64       `json:"gate_seconds_per_level"`
	ReloadAgents   int           `json:"reload_agents"`
	FileReloads    int           `json:"reloads_by_file_poll"`
	HUPReloads     int           `json:"reloads_by_sighup"`
	FUSEFiles      int           `json:"fuse_files"`
	FUSEFileBytes  int           `json:"fuse_file_bytes"`
	WarmPasses     int           `json:"fuse_warm_passes"`
	FUSELagSamples int           `json:"fuse_lag_samples"`

	HistoryEvents     int           `json:"history_events"`
	HistoryFiles      int           `json:"history_files"`
	HistoryHotRevs    int           `json:"history_hot_revisions"`
	HistoryWorkers    int           `json:"history_load_workers"`
	HistoryFilePoints int           `json:"history_file_points"`
	HistoryTreePoints int           `json:"history_tree_points"`
	HistoryDiffSpan   int           `json:"history_diff_span_events"`
	HistoryBuild      time.Duration `json:"-"`
	HistoryBuildS     float64       `json:"history_build_budget_seconds"`

	OpenLoop        time.Duration `json:"-"`
	OpenLoopS       float64       `json:"open_loop_seconds_per_rate"`
	OpenLoopRates   []int         `json:"open_loop_validate_rates"`
	OpenLoopPutRate int           `json:"open_loop_put_rate"`
	OpenLoopAgents  int           `json:"open_loop_agents"`
}

func benchParamsFor(quick bool) benchParams {
	p := benchParams{
		Baseline:      2 * time.Second,
		Append:        10 * time.Second,
		Levels:        []int{1, 64, 1000},
		FileBytes:     200,
		LagSamples:    200,
		CatchUpEvents: 100_000,
		OpsPerChange:  500,
		LoadWorkers:   2,

		GateMissCalls:  20_000,
		GateHitCalls:   200_000,
		GateLevels:     []int{64, 1000},
		Gate:           10 * time.Second,
		ReloadAgents:   64,
		FileReloads:    5,
		HUPReloads:     10,
		FUSEFiles:      10_000,
		FUSEFileBytes:  10 << 10,
		WarmPasses:     3,
		FUSELagSamples: 100,

		HistoryEvents:     1_000_000,
		HistoryFiles:      10_000,
		HistoryHotRevs:    1_000,
		HistoryWorkers:    4,
		HistoryFilePoints: 500,
		HistoryTreePoints: 60, // its p50 over 20 moved by a third between runs
		HistoryDiffSpan:   100_000,
		HistoryBuild:      6 * time.Minute,

		OpenLoop:        10 * time.Second,
		OpenLoopRates:   []int{1000, 4000},
		OpenLoopPutRate: 1000,
		OpenLoopAgents:  1000,
	}
	if quick {
		p.Baseline = 300 * time.Millisecond
		p.Append = 1500 * time.Millisecond
		p.LagSamples = 30
		p.CatchUpEvents = 5_000
		p.OpsPerChange = 250
		p.GateMissCalls = 3_000
		p.GateHitCalls = 30_000
		p.GateLevels = []int{64, 200}
		p.Gate = 1500 * time.Millisecond
		p.FileReloads = 2
		p.HUPReloads = 3
		p.FUSEFiles = 1_000
		p.FUSELagSamples = 20
		p.HistoryEvents = 50_000
		p.HistoryFiles = 1_000
		p.HistoryHotRevs = 100
		p.HistoryFilePoints = 100
		p.HistoryTreePoints = 5
		p.HistoryDiffSpan = 10_000
		p.HistoryBuild = time.Minute
		p.OpenLoop = 1500 * time.Millisecond
		p.OpenLoopAgents = 200
	}
	p.BaselineS, p.AppendS, p.GateS = p.Baseline.Seconds(), p.Append.Seconds(), p.Gate.Seconds()
	p.HistoryBuildS = p.HistoryBuild.Seconds()
	p.OpenLoopS = p.OpenLoop.Seconds()
	return p
}

// benchMachine describes where the bench ran.
type benchMachine struct {
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Hostname   string `json:"hostname"`
	DataFS     string `json:"data_fs"`
	DataDir    string `json:"data_dir"`
}

// benchFigure is one measured value.
type benchFigure struct {
	Scenario string  `json:"scenario"`
	Figure   string  `json:"figure"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
}

// benchReport is everything `lighthouse bench` prints.
type benchReport struct {
	Machine   benchMachine  `json:"machine"`
	Quick     bool          `json:"quick"`
	Only      string        `json:"only,omitempty"` // --only: the steps run besides the baselines
	Params    benchParams   `json:"params"`
	WriterArg []string      `json:"writer_args"`
	ReaderArg []string      `json:"reader_args"`
	Started   time.Time     `json:"started"`
	Seconds   float64       `json:"seconds"`
	Figures   []benchFigure `json:"figures"`
	// FUSE is "ran" or "skipped: why".
	FUSE     string   `json:"fuse"`
	Warnings []string `json:"warnings,omitempty"`
}

func (r *benchReport) add(scenario, figure string, value float64, unit string) {
	r.Figures = append(r.Figures, benchFigure{Scenario: scenario, Figure: figure, Value: value, Unit: unit})
}

// addRatio records a ÷ base (×). A base of zero is one this run did not
// measure (its scenario was left out with --only): the figure is left out
// too, rather than printed as 0.00 ×.
func (r *benchReport) addRatio(scenario, figure string, a, base float64) {
	if base > 0 {
		r.add(scenario, figure, a/base, "×")
	}
}

// ErrUsage marks bad command-line input to Run.
var ErrUsage = errors.New("usage")

// Run is `lighthouse bench [flags]`: it runs every scenario against real
// writer and reader processes and prints a table (or JSON) of figures.
func Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o benchOptions
	fs.BoolVar(&o.JSON, "json", false, "print the results as JSON on stdout (the table then goes to stderr)")
	fs.BoolVar(&o.Quick, "quick", false, "shrink every scenario (a smoke test of well under a minute)")
	fs.StringVar(&o.Bin, "bin", "", "directory holding the writer and reader binaries (default: beside this executable, then PATH)")
	fs.StringVar(&o.Out, "out", "", "also write the JSON results to this file")
	fs.StringVar(&o.Dir, "dir", "", "where to make the temporary data directory (default: the system temp dir); its disk is what is measured")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary data directory and process logs")
	fs.StringVar(&o.Only, "only", "", "for development: run only the scenarios whose name contains one of these comma-separated words (the baselines always run; figures relative to skipped scenarios are 0)")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			cli.PrintFlags(os.Stdout, fs)
			return err
		}
		return fmt.Errorf("%w: bench: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: bench takes no arguments (%s)", ErrUsage, strings.Join(fs.Args(), " "))
	}
	_, err := benchRunAll(ctx, o, os.Stdout, os.Stderr)
	return err
}

// benchWriterArgs and benchReaderArgs switch the per-agent rate limits off,
// so they do not cap what is measured. The writer also gets a policy file
// (for the reload scenario) and a fixed project root.
var (
	benchWriterArgs = []string{"--rate", "0"}
	benchReaderArgs = []string{"--rate", "0"}
)

// benchRunAll starts a fresh system in a temporary directory, runs every
// scenario, prints the results and cleans up.
func benchRunAll(ctx context.Context, o benchOptions, stdout, stderr io.Writer) (*benchReport, error) {
	start := time.Now()
	p := benchParamsFor(o.Quick)
	dir, err := os.MkdirTemp(o.Dir, "lighthouse-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: temp dir: %w", err)
	}
	dir, _ = filepath.Abs(dir)
	logPath := filepath.Join(dir, "processes.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: %w", err)
	}
	failed := true
	defer func() {
		logFile.Close()
		if lines := benchLogTail(logPath, 40); failed && len(lines) > 0 {
			fmt.Fprintf(stderr, "bench: last %d lines of the processes' output:\n", len(lines))
			for _, l := range lines {
				fmt.Fprintln(stderr, "  "+l)
			}
		}
		if o.Keep {
			fmt.Fprintf(stderr, "bench: kept %s\n", dir)
			return
		}
		t := time.Now()
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(stderr, "bench: remove %s: %v\n", dir, err)
		}
		if d := time.Since(t); d > time.Second {
			fmt.Fprintf(stderr, "bench: removed %s in %.1f s\n", dir, d.Seconds())
		}
	}()

	policyPath := filepath.Join(dir, "policy.yaml")
	if err := benchWritePolicy(policyPath, "bench-x"); err != nil {
		return nil, fmt.Errorf("bench: policy file: %w", err)
	}
	writerArgs := append(slices.Clone(benchWriterArgs), "--policy", policyPath, "--project-root", benchProjectRoot)

	host, _ := os.Hostname()
	rep := &benchReport{
		Machine: benchMachine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
			OS: runtime.GOOS, Arch: runtime.GOARCH, Hostname: host, DataFS: benchFSType(dir), DataDir: dir},
		Quick: o.Quick, Only: o.Only, Params: p, WriterArg: writerArgs, ReaderArg: benchReaderArgs, Started: start.UTC(),
	}
	progress := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	progress("%d cores, %s, data on %s at %s", rep.Machine.Cores, rep.Machine.GoVersion, rep.Machine.DataFS, dir)
	if rep.Machine.DataFS == "tmpfs" {
		rep.Warnings = append(rep.Warnings, "the data directory is on tmpfs: fsync costs nothing there, use --dir on a real disk")
	}

	b := &benchRun{opts: o, p: p, dir: dir, rep: rep, progress: progress, logOut: logFile, policyPath: policyPath,
		http: &http.Client{Timeout: 30 * time.Second}}
	mount := ""
	if err := benchFUSECheck(); err != nil {
		b.fuseSkip = err.Error()
	} else {
		mount = filepath.Join(dir, "mnt")
	}
	if mount != "" {
		progress("starting writer, reader and fuser (bin %q)", o.Bin)
	} else {
		progress("starting writer and reader (bin %q); FUSE scenarios skipped: %s", o.Bin, b.fuseSkip)
	}
	b.sys, err = supervisor.StartSystem(ctx, supervisor.Config{
		Data: filepath.Join(dir, "data"), BinDir: o.Bin, Output: logFile, Mount: mount,
		WriterArgs: writerArgs, ReaderArgs: benchReaderArgs,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: start system: %w", err)
	}
	if mount != "" {
		b.fuseSkip = parkFuser(b.sys)
	}
	runErr := b.scenarios(ctx)
	progress("stopping writer and reader")
	if err := b.sys.Stop(); err != nil {
		rep.Warnings = append(rep.Warnings, "stopping the system: "+err.Error())
	}
	if runErr != nil {
		return nil, fmt.Errorf("bench: %w", runErr)
	}
	rep.Seconds = time.Since(start).Seconds()

	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bench: encode: %w", err)
	}
	js = append(js, '\n')
	if o.Out != "" {
		if err := os.WriteFile(o.Out, js, 0o644); err != nil {
			return nil, fmt.Errorf("bench: write %s: %w", o.Out, err)
		}
	}
	if o.JSON {
		benchPrintTable(stderr, rep)
		if _, err := stdout.Write(js); err != nil {
			return nil, err
		}
	} else {
		benchPrintTable(stdout, rep)
	}
	failed = false
	return rep, nil
}

// benchRun is the state the scenarios share.
type benchRun struct {
	opts     benchOptions
	p        benchParams
	dir      string
	rep      *benchReport
	sys      *supervisor.System
	http     *http.Client
	progress func(format string, args ...any)
	logOut   io.Writer

	fsyncP50, fsyncOps float64 // baseline: fdatasync of 1 KiB, µs and ops/s
	loopP50, loopOps   float64 // baseline: GET /healthz, µs and ops/s
	stallRate          float64 // baseline: stalls a busy goroutine meets, per second
	catchReaderRSS     float64 // MiB
	bulkRate           float64 // catch-up: writer bulk append, events/s
	lagP50             float64 // write → reader-visible lag, ms
	gateMissP50        float64 // in-process Decide on a cache miss, µs
	gate64P99          float64 // POST /v1/validate p99 with 64 agents, ms

	policyPath string           // the writer's --policy file
	agents     []benchGateAgent // registered for the gate scenarios
	fuseSkip   string           // why the FUSE scenarios cannot run, if they cannot
}

// scenarios runs them in an order that keeps each one's log as stated:
// the catch-up reader replays (nearly) exactly the catch-up events.
func (b *benchRun) scenarios(ctx context.Context) error {
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"baseline: fdatasync", b.benchFsync},
		{"baseline: loopback HTTP", b.benchLoopback},
		{"baseline: stalls", b.benchStalls},
		{"gate in-process", b.benchGateInProcess},
		{"gate in-process: leases", b.benchCoordination},
		{"annotations in-process", b.benchAnnotations},
		{"catch-up", b.benchCatchUp},
		{"appends", b.benchAppends},
		{"lag", b.benchLag},
		{"open loop", b.benchOpen},
		{"gate: validate", b.benchGateHTTP},
		{"gate: policy reload", b.benchGateReload},
		// Message delivery latency (bench_messages.go).
		{"messages", b.benchMessages},
		{"FUSE", b.benchFUSE},
		{"peak RSS", b.benchRSS},
		// On systems of their own (bench_scale.go): fan-out, NATS cluster.
		{"scale", b.benchScale},
		// N whole projects at once, each on systems of its own (bench_projects.go).
		{"projects", b.benchProjects},
		// On a writer, reader and watcher of its own.
		{"shadow", b.benchShadow},
		// Last: on a writer and reader of its own, started and stopped here.
		{"time travel", b.benchHistory},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !strings.HasPrefix(s.name, "baseline") && !b.selected(s.name) {
			continue
		}
		if err := b.alive(); err != nil {
			return fmt.Errorf("before %s: %w", s.name, err)
		}
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return b.alive()
}

// parkFuser stops the fuser sys started, whose start showed that FUSE
// works: it is started again for the scenarios that use it, and until
// then it would share the CPUs with the others. It returns why those
// scenarios cannot run, or "".
func parkFuser(sys *supervisor.System) string {
	if sys.Fuser == nil {
		return fmt.Sprintf("the fuser did not start: %v", sys.FuserError)
	}
	if err := sys.Fuser.Stop(15 * time.Second); err != nil {
		return "stopping the fuser after the start-up check: " + err.Error()
	}
	return ""
}

// selected says whether --only (if given) asks for the step.
func (b *benchRun) selected(name string) bool {
	if b.opts.Only == "" {
		return true
	}
	for _, w := range strings.Split(b.opts.Only, ",") {
		if w = strings.TrimSpace(w); w != "" && strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// alive fails when the writer or reader has exited.
func (b *benchRun) alive() error {
	for _, p := range []*supervisor.Process{b.sys.Writer, b.sys.Reader} {
		select {
		case <-p.Done():
			return fmt.Errorf("the %s exited: %v", p.Name, p.Err())
		default:
		}
	}
	return nil
}

// benchPrintTable prints the header and the figures.
func benchPrintTable(w io.Writer, r *benchReport) {
	m := r.Machine
	mode := "full"
	if r.Quick {
		mode = "quick"
	}
	if r.Only != "" {
		mode += ", only " + strconv.Quote(r.Only)
	}
	fmt.Fprintf(w, "lighthouse bench (%s) — %d cores (GOMAXPROCS %d), %s %s/%s, data on %s, %.0f s\n",
		mode, m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, m.DataFS, r.Seconds)
	fmt.Fprintf(w, "writer %s, reader %s\n\n", strings.Join(r.WriterArg, " "), strings.Join(r.ReaderArg, " "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tFIGURE\tVALUE\tUNIT")
	for _, f := range r.Figures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Scenario, f.Figure, benchFormat(f.Value, f.Unit), f.Unit)
	}
	tw.Flush()
	for _, s := range r.Warnings {
		fmt.Fprintln(w, "warning:", s)
	}
}

func benchFormat(v float64, unit string) string {
	switch unit {
	case "ops/s", "events/s", "events", "requests", "samples", "errors", "files", "1 = yes", "revisions", "answers", "lines", "files/s":
		return strconv.FormatFloat(v, 'f', 0, 64)
	case "ms", "µs", "s":
		if v >= 100 {
			return strconv.FormatFloat(v, 'f', 1, 64)
		}
		return strconv.FormatFloat(v, 'f', 3, 64)
	case "×":
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// benchLogTail returns the last n lines of a processes' log, to explain a
// failure; none if it cannot be read.
func benchLogTail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// errBenchTimeout marks a wait that took too long.
var errBenchTimeout = errors.New("timed out")
