package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBenchPercentile(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	sum := benchSummarise(s)
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"p50", sum.P50, 50 * time.Millisecond},
		{"p99", sum.P99, 99 * time.Millisecond},
		{"p99.9", sum.P999, 100 * time.Millisecond},
		{"max", sum.Max, 100 * time.Millisecond},
		{"p100", benchPercentile(s, 100), 100 * time.Millisecond},
		{"p1", benchPercentile(s, 1), 1 * time.Millisecond},
		{"one sample", benchPercentile([]time.Duration{7}, 99.9), 7},
		{"none", benchPercentile(nil, 50), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if sum.N != 100 {
		t.Errorf("N = %d, want 100", sum.N)
	}
}

// TestBenchAddRatio: a ratio against a baseline the run did not measure
// is left out, not reported as 0 ×.
func TestBenchAddRatio(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		a, base float64
		want    []benchFigure
	}{
		{"measured", 3, 2, []benchFigure{{Scenario: "s", Figure: "f", Value: 1.5, Unit: "×"}}},
		{"zero numerator", 0, 2, []benchFigure{{Scenario: "s", Figure: "f", Value: 0, Unit: "×"}}},
		{"baseline not run", 3, 0, nil},
	} {
		var r benchReport
		r.addRatio("s", "f", c.a, c.base)
		if !slices.Equal(r.Figures, c.want) {
			t.Errorf("%s: figures %+v, want %+v", c.name, r.Figures, c.want)
		}
	}
}

// TestBenchQuick runs `lighthouse bench --quick --json` end to end against
// real writer and reader binaries. It checks the report's structure and
// sanity only, never timings.
func TestBenchQuick(t *testing.T) {
	bin := os.Getenv("LIGHTHOUSE_BIN")
	if bin == "" {
		t.Skip("LIGHTHOUSE_BIN is not set (run `make test`, or point it at a directory with the writer and reader binaries)")
	}
	for _, name := range []string{"writer", "reader"} {
		if fi, err := os.Stat(filepath.Join(bin, name)); err != nil || fi.IsDir() {
			t.Skipf("no %s binary in LIGHTHOUSE_BIN=%s", name, bin)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	_, err := benchRunAll(ctx, benchOptions{JSON: true, Quick: true, Bin: bin, Out: out, Dir: t.TempDir()}, &stdout, &stderr)
	t.Logf("bench output:\n%s", stderr.String())
	if err != nil {
		t.Fatalf("bench: %v", err)
	}

	var rep benchReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	file, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("--out file: %v", err)
	}
	if !bytes.Equal(file, stdout.Bytes()) {
		t.Errorf("--out file differs from the JSON on stdout")
	}
	if !strings.Contains(stderr.String(), "SCENARIO") {
		t.Errorf("with --json the table should go to stderr")
	}
	if !rep.Quick || rep.Machine.Cores <= 0 || rep.Machine.GoVersion == "" || rep.Seconds <= 0 {
		t.Errorf("bad header: quick %v, machine %+v, seconds %v", rep.Quick, rep.Machine, rep.Seconds)
	}

	got := map[string]benchFigure{}
	for _, f := range rep.Figures {
		key := f.Scenario + " / " + f.Figure
		if _, dup := got[key]; dup {
			t.Errorf("figure %q reported twice", key)
		}
		got[key] = f
		if f.Figure == "errors" {
			t.Errorf("%s: %v requests failed (warnings: %v)", f.Scenario, f.Value, rep.Warnings)
		}
		if f.Unit == "errors" && f.Value > 0 {
			t.Logf("note: %s / %s = %v (warnings: %v)", f.Scenario, f.Figure, f.Value, rep.Warnings)
		}
	}
	var want []string
	for _, sc := range []string{"baseline: 1 KiB append+fdatasync, 1 goroutine", "baseline: GET /healthz, 1 goroutine"} {
		want = append(want, sc+" / p50", sc+" / p99", sc+" / ops/s")
	}
	for _, sc := range []string{benchScAppends(1), benchScAppends(64), benchScAppends(1000)} {
		for _, f := range []string{"appends/s", "p50", "p99", "p99.9", "requests", "p50 ÷ fdatasync p50", "appends/s ÷ fdatasync ops/s"} {
			want = append(want, sc+" / "+f)
		}
	}
	for _, f := range []string{"p50", "p99", "max", "samples", "p50 ÷ GET /healthz p50"} {
		want = append(want, "write → reader-visible lag / "+f)
	}
	for _, f := range []string{"writer bulk append rate (deduplicated content)", "events replayed", "time to /readyz 200",
		"time to applied ≥ head", "catch-up rate", "catch-up rate ÷ writer bulk append",
		"catch-up reader CPU (user + system)", "catch-up reader CPU per event"} {
		want = append(want, "reader catch-up / "+f)
	}
	for _, f := range []string{"writer", "reader", "catch-up reader"} {
		want = append(want, "peak RSS (VmHWM) / "+f)
	}

	// The gate (issue 3).
	for _, sc := range []string{benchScGateMiss, benchScGateHit} {
		want = append(want, sc+" / p50", sc+" / p99", sc+" / calls")
	}
	want = append(want, benchScGateHit+" / timer overhead per sample (included)", benchScGateHit+" / miss p50 ÷ hit p50")
	for _, f := range []string{"p50", "p99", "calls", "allocated per miss", "distinct misses before, made as they went", "CPU floor p99, after each miss"} {
		want = append(want, benchScGateMissSettled+" / "+f)
	}
	for _, f := range []string{"p50", "p99", "SHA-256s of 4 KiB per sample", "cache miss p99 ÷ floor p99"} {
		want = append(want, benchScCPUFloor+" / "+f)
	}
	// Leases and the stale-write guard (issue 13).
	loaded := fmt.Sprintf("leases and guard on, %d leases", benchLeases)
	for _, v := range []string{"no coordination (before)", "leases and guard on, 0 leases", loaded} {
		want = append(want, benchScCoord(v)+" / p50", benchScCoord(v)+" / p99", benchScCoord(v)+" / calls")
	}
	want = append(want, benchScCoord(loaded)+" / p50 ÷ p50 with no coordination")
	// Annotations (issue 14).
	others := "to unannotated files, 100 other files annotated"
	for _, v := range []string{"no annotations anywhere (before)", others,
		fmt.Sprintf("to a %d-line file with 10 annotations, a line inserted at its top or removed again", benchNoteLines)} {
		want = append(want, benchScNotes(v)+" / p50", benchScNotes(v)+" / p99", benchScNotes(v)+" / applies")
	}
	want = append(want, benchScNotes(others)+" / p50 ÷ p50 before")
	// Figures that may legitimately be 0.
	var zeroOK []string
	// The machine's stalls (none on a quiet machine) and what the cache
	// misses met of them and of the heap.
	want = append(want, benchScStalls+" / iteration p50", benchScStalls+" / iterations")
	for _, f := range []string{fmt.Sprintf("stalls/s (an iteration over its p50 by more than %v)", benchStallOver), "stall p50 (beyond the iteration's p50)", "stall p99", "time lost to stalls"} {
		zeroOK = append(zeroOK, benchScStalls+" / "+f)
	}
	for _, sc := range []string{benchScGateMiss, benchScGateMissSettled} {
		for _, f := range []string{"collections during the misses", "minor page faults during the misses (bench process)",
			fmt.Sprintf("misses over %v", benchMissTarget), "misses expected to meet a machine stall (baseline stalls/s × mean miss)"} {
			zeroOK = append(zeroOK, sc+" / "+f)
		}
	}
	// Open loop (issue 15).
	openRates := append(slices.Clone(rep.Params.OpenLoopRates), rep.Params.OpenLoopPutRate)
	for k, rate := range openRates {
		scs := []string{benchScOpen(benchOpenHealthz, rate), benchScOpen(benchOpenValidate, rate)}
		if k == len(openRates)-1 {
			scs = []string{benchScOpen(benchOpenPut, rate)}
		}
		for _, sc := range scs {
			for _, f := range []string{"p50", "p99", "p99.9", "max", "calls answered", "answered/s"} {
				want = append(want, sc+" / "+f)
			}
			zeroOK = append(zeroOK, sc+" / failed calls", sc+" / dispatcher late by, at worst")
			if sc != benchScOpen(benchOpenHealthz, rate) {
				want = append(want, sc+" / p50 ÷ GET /healthz p50 (same rate)", sc+" / p99 ÷ GET /healthz p99 (same rate)")
			}
		}
	}
	for _, c := range rep.Params.GateLevels {
		sc := benchScGateHTTP(c)
		for _, f := range []string{"decisions/s", "p50", "p99", "p99.9", "requests", "p50 ÷ in-process miss p50", "p50 ÷ GET /healthz p50"} {
			want = append(want, sc+" / "+f)
		}
		zeroOK = append(zeroOK, sc+" / failed requests", sc+" / answered from the decision cache")
	}
	if len(rep.Params.GateLevels) != 2 {
		t.Errorf("gate levels %v, want two", rep.Params.GateLevels)
	}
	reload := benchScReload(rep.Params.ReloadAgents)
	want = append(want, reload+" / requests during the window", reload+" / validate p50 during the window",
		reload+" / validate p99 during the window", reload+" / p99 ÷ steady 64-agent p99")
	zeroOK = append(zeroOK, reload+" / failed requests during the window")
	for _, m := range []struct{ sc, what string }{{benchScReloadPoll, "write"}, {benchScReloadHUP, "SIGHUP"}} {
		for _, f := range []string{" → GET /v1/policy shows it, median", " → GET /v1/policy shows it, max",
			" → a validate answer carries it, median", " → a validate answer carries it, max"} {
			want = append(want, m.sc+" / "+m.what+f)
		}
		want = append(want, m.sc+" / reloads")
	}

	// FUSE (issue 4): only where it can run.
	switch {
	case rep.FUSE == "ran":
		for _, f := range []string{"files", "size", "written through POST /v1/changes (500 ops per change set)",
			"write rate through POST /v1/changes", "fuser start → ready (caught up on the log)",
			"fuser start → last file readable in the mount", "log events the fuser caught up on",
			"fuser CPU (user + system)", "fuser CPU per event"} {
			want = append(want, benchScFUSETree+" / "+f)
		}
		zeroOK = append(zeroOK, benchScFUSETree+" / page cache dropped before each cold pass")
		for _, sc := range []string{benchScStat, benchScFind, benchScCat, benchScGrep} {
			for _, f := range []string{"disk, cold", "mount, cold", "mount ÷ disk, cold", "disk, warm (median)", "mount, warm (median)", "mount ÷ disk, warm"} {
				want = append(want, sc+" / "+f)
			}
		}
		for _, sc := range []string{benchScLagNew, benchScLagOver} {
			for _, f := range []string{"p50", "p99", "max", "samples", "p50 ÷ reader-visible lag p50"} {
				want = append(want, sc+" / "+f)
			}
		}
		want = append(want, "peak RSS (VmHWM) / fuser", "peak RSS (VmHWM) / time-travel fuser")
		for _, f := range []string{"log events the fuser caught up on", "fuser start → ready (caught up on the log)", "catch-up rate", "files in current/",
			"fuser CPU (user + system)", "fuser CPU per event"} {
			want = append(want, benchScTTFuser+" / "+f)
		}
		if n := got[benchScTTFuser+" / files in current/"].Value; n != float64(rep.Params.HistoryFiles+1) {
			t.Errorf("time-travel fuser: %v files in current/, want %d", n, rep.Params.HistoryFiles+1)
		}
		if n := got[benchScFUSETree+" / files"].Value; n != float64(rep.Params.FUSEFiles) {
			t.Errorf("FUSE tree files = %v, want %d", n, rep.Params.FUSEFiles)
		}
		for _, sc := range []string{benchScLagNew, benchScLagOver} {
			if n := got[sc+" / samples"].Value; n != float64(rep.Params.FUSELagSamples) {
				t.Errorf("%s samples = %v, want %d", sc, n, rep.Params.FUSELagSamples)
			}
		}
	case os.Geteuid() != 0:
		t.Logf("FUSE scenarios not checked (not root): %s", rep.FUSE)
	case strings.HasPrefix(rep.FUSE, "skipped: "):
		t.Logf("FUSE scenarios not checked: %s", rep.FUSE)
	default:
		t.Errorf("report's fuse = %q, want \"ran\" or \"skipped: why\"", rep.FUSE)
	}
	// Time travel (issue 5).
	tp := rep.Params
	for _, f := range []string{benchTTEventsFigure(tp), "files at head", benchHistHot + " revisions", "content appended (every write distinct)",
		"build time", "build rate", "build rate, content", "build rate, first tenth of the change sets", "build rate, last tenth of the change sets",
		"last append → reader applied head", "build rate ÷ catch-up scenario's bulk append rate", "writer data on disk",
		"reader data on disk (after the scenarios)"} {
		want = append(want, benchScTTLog+" / "+f)
	}
	zeroOK = append(zeroOK, benchScTTLog+" / "+benchTTCutFigure(tp), benchScTTLog+" / reader behind when the last append returned")
	for _, f := range []string{"revisions of the file", "points", "p50, first read of the point", "p99, first read of the point",
		"p50, read again", "p99, read again", "head (no at) p50", "head (no at) p99", "first read p50 ÷ head p50",
		"read again p50 ÷ head p50", "head p50 ÷ GET /healthz p50"} {
		want = append(want, benchScTTFile+" / "+f)
	}
	for _, f := range []string{"files", "answer size", "points", "p50", "p99", "head (no at) p50", "head (no at) p99", "p50 ÷ head p50"} {
		want = append(want, benchScTTTree+" / "+f)
	}
	for _, f := range []string{"events between the points", "changes", "patches=false, median of 3",
		"patches=true, first (contents fetched from the writer)", "patches=true, again (median of 2)", "answer size, patches=true",
		"patches=false ÷ (2 × tree-at-point p50)", "patches=true again ÷ patches=false"} {
		want = append(want, benchScTTDiff+" / "+f)
	}
	for _, f := range []string{"files searched", "size", "matches, GET /v1/search", "matches, grep -r -n",
		"search, cold (first: contents fetched from the writer)", "grep, cold", "search ÷ grep, cold",
		fmt.Sprintf("search, warm (median of %d)", tp.WarmPasses), fmt.Sprintf("grep, warm (median of %d)", tp.WarmPasses),
		"search ÷ grep, warm"} {
		want = append(want, benchScTTSearch+" / "+f)
	}
	zeroOK = append(zeroOK, benchScTTSearch+" / page cache dropped before each cold pass")
	want = append(want, "peak RSS (VmHWM) / time-travel writer", "peak RSS (VmHWM) / time-travel reader")
	for _, sc := range []string{benchScTTFile, benchScTTTree, benchScTTDiff} {
		zeroOK = append(zeroOK, sc+" / wrong answers")
		if n := got[sc+" / wrong answers"].Value; n != 0 {
			t.Errorf("%s: %v wrong answers (warnings: %v)", sc, n, rep.Warnings)
		}
	}
	for _, c := range []struct {
		key  string
		want float64
	}{
		{benchScTTLog + " / " + benchTTCutFigure(tp), 0},
		{benchScTTLog + " / files at head", float64(tp.HistoryFiles + 1)},
		{benchScTTLog + " / " + benchHistHot + " revisions", float64(tp.HistoryHotRevs)},
		{benchScTTFile + " / revisions of the file", float64(tp.HistoryHotRevs)},
		{benchScTTFile + " / points", float64(tp.HistoryFilePoints)},
		{benchScTTTree + " / files", float64(tp.HistoryFiles + 1)},
		{benchScTTTree + " / points", float64(tp.HistoryTreePoints)},
		{benchScTTDiff + " / events between the points", float64(tp.HistoryDiffSpan)},
		{benchScTTSearch + " / files searched", float64(tp.HistoryFiles + 1)},
		{benchScTTSearch + " / matches, GET /v1/search", float64(benchHistPlan{Files: tp.HistoryFiles}.markedCount())},
		{benchScTTSearch + " / matches, grep -r -n", float64(benchHistPlan{Files: tp.HistoryFiles}.markedCount())},
	} {
		if f, ok := got[c.key]; ok && f.Value != c.want {
			t.Errorf("%s = %v, want %v", c.key, f.Value, c.want)
		}
	}
	if n := got[benchScTTLog+" / "+benchTTEventsFigure(tp)].Value; n < float64(tp.HistoryEvents) {
		t.Errorf("time-travel log: %v events, want at least %d", n, tp.HistoryEvents)
	}
	if n := got[benchScTTDiff+" / changes"].Value; n > float64(tp.HistoryFiles+1) {
		t.Errorf("time-travel diff: %v changes, more than the %d files", n, tp.HistoryFiles+1)
	}

	for _, w := range rep.Warnings {
		if strings.Contains(w, " counted ") {
			t.Errorf("warning: %s", w)
		}
	}

	// Message delivery latency (issue 14): every message sent is delivered.
	mp := benchMsgParamsFor(true)
	for _, rate := range mp.Rates {
		sc := benchScMsg(rate)
		for _, f := range []string{"delivery p50", "delivery p99", "delivery p99.9", "delivery max", "messages sent", "messages delivered",
			"recipients (long-polling, each marking what it gets read)", "send (POST /v1/messages answered) p50", "send (POST /v1/messages answered) p99",
			"GET /healthz p50 (baseline, same rate)", "GET /healthz p99 (baseline, same rate)", "delivery p50 ÷ GET /healthz p50", "delivery p99 ÷ GET /healthz p99"} {
			want = append(want, sc+" / "+f)
		}
		lost := fmt.Sprintf("sent but not in the inbox %s after the last send", mp.Deadline)
		zeroOK = append(zeroOK, sc+" / failed sends", sc+" / "+lost, sc+" / dispatcher late by, at worst", sc+" / read marks answered 404 at first (writer behind its reader)")
		if sent, got := got[sc+" / messages sent"].Value, got[sc+" / messages delivered"].Value; sent != mp.Run.Seconds()*float64(rate) || got != sent {
			t.Errorf("%s: %v messages sent, %v delivered; want %v both", sc, sent, got, mp.Run.Seconds()*float64(rate))
		}
	}
	// Projects per machine (issue 16): every N tried is reported; every
	// project's processes stay up, answer and shadow their edits.
	pp := benchProjParamsFor(true)
	for _, n := range pp.Steps {
		sc := benchScProj(pp, n)
		for _, f := range []string{"total RSS of all processes", "RSS per project", fmt.Sprintf("writer RSS, mean of %d", n),
			fmt.Sprintf("reader RSS, mean of %d", n), fmt.Sprintf("watcher RSS, mean of %d", n), "validate p50", "validate p99", "validates answered", "disk edits"} {
			want = append(want, sc+" / "+f)
		}
		zeroOK = append(zeroOK, sc+" / CPU of all their processes", sc+" / within the limit")
		for _, f := range []string{"failed validates", "projects whose last edit did not reach the reader in 10 s", "processes that exited"} {
			zeroOK = append(zeroOK, sc+" / "+f)
			if v := got[sc+" / "+f].Value; v != 0 {
				t.Errorf("%s / %s = %v, want 0 (warnings: %v)", sc, f, v, rep.Warnings)
			}
		}
	}
	want = append(want, benchScProjSum+" / projects per machine (largest N within the limit)")

	check := func(key string, positive bool) {
		f, ok := got[key]
		switch {
		case !ok:
			t.Errorf("figure %q missing", key)
		case math.IsNaN(f.Value) || math.IsInf(f.Value, 0) || f.Value < 0 || positive && f.Value == 0:
			t.Errorf("figure %q = %v, want a positive number", key, f.Value)
		case f.Unit == "":
			t.Errorf("figure %q has no unit", key)
		}
	}
	for _, key := range want {
		check(key, true)
	}
	for _, key := range zeroOK {
		check(key, false)
	}
	for _, c := range rep.Params.GateLevels {
		if got[benchScGateHTTP(c)+" / answered from the decision cache"].Value > 100 {
			t.Errorf("%s: cache share over 100%%", benchScGateHTTP(c))
		}
	}
	if n := got[benchScReloadPoll+" / reloads"].Value; n != float64(rep.Params.FileReloads) {
		t.Errorf("file-poll reloads = %v, want %d", n, rep.Params.FileReloads)
	}
	if n := got[benchScReloadHUP+" / reloads"].Value; n != float64(rep.Params.HUPReloads) {
		t.Errorf("SIGHUP reloads = %v, want %d", n, rep.Params.HUPReloads)
	}
	if n := got["write → reader-visible lag / samples"].Value; n != float64(rep.Params.LagSamples) {
		t.Errorf("lag samples = %v, want %d", n, rep.Params.LagSamples)
	}
	if n := got["reader catch-up / events replayed"].Value; n < float64(rep.Params.CatchUpEvents) {
		t.Errorf("events replayed = %v, want at least %d", n, rep.Params.CatchUpEvents)
	}
}

// TestBenchHistContent checks the time-travel generator: sizes of 1–10 KiB,
// every revision one line away from the one before, the word in the first
// line of marked files only.
func TestBenchHistContent(t *testing.T) {
	p := benchHistPlan{Files: 300}
	for _, i := range []int{benchHistHotIndex, 0, 7, 123, 299} {
		prev := p.content(i, 0)
		if n := len(prev); n < 1024 || n > 10240 || n%benchHistLineLen != 0 {
			t.Errorf("file %d: %d bytes", i, n)
		}
		if got := bytes.Count(prev, []byte(benchHistWord)); got != map[bool]int{true: 1, false: 0}[p.marked(i)] {
			t.Errorf("file %d: the word %d times (marked %v)", i, got, p.marked(i))
		}
		seen := map[string]bool{string(prev): true}
		for r := 1; r <= 400; r++ {
			cur := p.content(i, r)
			if len(cur) != len(prev) {
				t.Fatalf("file %d revision %d: size changed", i, r)
			}
			a, b := bytes.SplitAfter(prev, []byte("\n")), bytes.SplitAfter(cur, []byte("\n"))
			diff := 0
			for k := range a {
				if !bytes.Equal(a[k], b[k]) {
					diff++
					if k == 0 {
						t.Errorf("file %d revision %d changed the first line", i, r)
					}
				}
			}
			if diff != 1 {
				t.Errorf("file %d revision %d: %d lines changed, want 1", i, r, diff)
			}
			if seen[string(cur)] {
				t.Errorf("file %d revision %d repeats an earlier revision", i, r)
			}
			seen[string(cur)] = true
			prev = cur
		}
	}
}
