package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/procstat"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// --- control calls -----------------------------------------------------------

// call sends an authenticated request with the admin token and decodes a
// JSON answer into out; a non-2xx answer is an error carrying the status.
func (b *benchRun) call(ctx context.Context, cl *http.Client, method, url string, body []byte, out any) (int, error) {
	return b.callAs(ctx, cl, b.sys.AdminToken, method, url, body, out)
}

// callAs is call with another system's token.
func (b *benchRun) callAs(ctx context.Context, cl *http.Client, token, method, url string, body []byte, out any) (int, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, url, err)
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body) // keep the connection reusable
	return resp.StatusCode, nil
}

// writerHead is the writer's last appended sequence number.
func (b *benchRun) writerHead(ctx context.Context) (uint64, error) {
	var st struct {
		Head uint64 `json:"head"`
	}
	_, err := b.call(ctx, b.http, http.MethodGet, b.sys.WriterURL+"/v1/status", nil, &st)
	return st.Head, err
}

// readerApplied is how far the reader at base has applied the log.
func (b *benchRun) readerApplied(ctx context.Context, base string) (uint64, error) {
	var st struct {
		Applied uint64 `json:"applied"`
	}
	_, err := b.call(ctx, b.http, http.MethodGet, base+"/v1/status", nil, &st)
	return st.Applied, err
}

// settle waits until the system's reader has applied the writer's head, so
// the next scenario does not share the CPUs with a projection catching up.
func (b *benchRun) settle(ctx context.Context, timeout time.Duration) error {
	head, err := b.writerHead(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		applied, err := b.readerApplied(ctx, b.sys.ReaderURL)
		if err == nil && applied >= head {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reader did not reach seq %d within %s (applied %d, err %v): %w", head, timeout, applied, err, errBenchTimeout)
		}
		if err := benchSleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
}

func benchSleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// benchFill pads generated file content.
const benchFill = "lighthouse bench: the quick brown fox jumps over the lazy dog 0123456789. "

// benchContent is size bytes starting with id, so every write is distinct
// (the blob store deduplicates identical content).
func benchContent(size int, id string) []byte {
	b := make([]byte, size)
	n := copy(b, id)
	for i := n; i < size; i++ {
		b[i] = benchFill[i%len(benchFill)]
	}
	if size > 0 {
		b[size-1] = '\n'
	}
	return b
}

// --- baselines -----------------------------------------------------------------

// benchFsync measures a bare 1 KiB append + fdatasync on the data disk, the
// floor under any durable append.
func (b *benchRun) benchFsync(ctx context.Context) error {
	b.progress("baseline: 1 KiB append + fdatasync, 1 goroutine, %s", b.p.Baseline)
	path := filepath.Join(b.dir, "fdatasync.bin")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := benchContent(1024, "fdatasync baseline ")
	op := func() error {
		if _, err := f.Write(buf); err != nil {
			return err
		}
		return benchDatasync(f)
	}
	if err := op(); err != nil { // warm-up: creates the first block
		return fmt.Errorf("fdatasync: %w", err)
	}
	b.fsyncP50, b.fsyncOps, err = b.baselineLoop(ctx, "baseline: 1 KiB append+fdatasync, 1 goroutine", func() error {
		if err := op(); err != nil {
			return fmt.Errorf("fdatasync: %w", err)
		}
		return nil
	})
	return err
}

// baselineLoop runs op on one goroutine for the baseline duration and
// reports its p50, p99 and rate under scenario.
func (b *benchRun) baselineLoop(ctx context.Context, scenario string, op func() error) (p50us, opsPerSec float64, err error) {
	var lat []time.Duration
	start := time.Now()
	for deadline := start.Add(b.p.Baseline); time.Now().Before(deadline) && ctx.Err() == nil; {
		t := time.Now()
		if err := op(); err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(t))
	}
	elapsed := time.Since(start)
	s := benchSummarise(lat)
	p50us, opsPerSec = us(s.P50), perSecond(s.N, elapsed)
	b.rep.add(scenario, "p50", p50us, "µs")
	b.rep.add(scenario, "p99", us(s.P99), "µs")
	b.rep.add(scenario, "ops/s", opsPerSec, "ops/s")
	return p50us, opsPerSec, ctx.Err()
}

// benchLoopback measures GET /healthz on the writer over a kept-alive
// connection: the HTTP floor under every request.
func (b *benchRun) benchLoopback(ctx context.Context) error {
	b.progress("baseline: GET /healthz on the writer, 1 goroutine, %s", b.p.Baseline)
	url := b.sys.WriterURL + "/healthz"
	get := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := b.http.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /healthz: %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(); err != nil {
		return err
	}
	var err error
	b.loopP50, b.loopOps, err = b.baselineLoop(ctx, "baseline: GET /healthz, 1 goroutine", get)
	return err
}

// --- durable appends ---------------------------------------------------------

// benchScAppends names an append saturation run: c writers in a closed
// loop, so its figure is throughput.
func benchScAppends(c int) string {
	if c == 1 {
		return "saturation: appends, 1 writer in a closed loop"
	}
	return fmt.Sprintf("saturation: appends, %d writers in a closed loop", c)
}

func (b *benchRun) benchAppends(ctx context.Context) error {
	for _, c := range b.p.Levels {
		if err := b.settle(ctx, 3*time.Minute); err != nil {
			return err
		}
		if err := b.appendLevel(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// appendLevel runs c writers, each PUTting its own small files back to back
// over its own kept-alive connection for the configured time.
func (b *benchRun) appendLevel(ctx context.Context, c int) error {
	b.progress("appends: %d concurrent writer(s), %d B files, %s", c, b.p.FileBytes, b.p.Append)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = c + 16
	tr.MaxIdleConnsPerHost = c + 16
	cl := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	defer tr.CloseIdleConnections()

	put := func(path string, body []byte) error {
		_, err := b.call(ctx, cl, http.MethodPut, b.sys.WriterURL+"/v1/files/"+path, body, nil)
		return err
	}
	var (
		wg, ready sync.WaitGroup
		startCh   = make(chan struct{})
		deadline  time.Time
		errs      atomic.Int64
		firstErr  atomic.Value
		lats      = make([][]time.Duration, c)
	)
	fail := func(err error) {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	ready.Add(c)
	wg.Add(c)
	for g := range c {
		go func() {
			defer wg.Done()
			prefix := fmt.Sprintf("bench/c%d/w%d/", c, g)
			// Untimed warm-up: opens this writer's connection.
			if err := put(prefix+"warm", benchContent(b.p.FileBytes, prefix+"warm ")); err != nil {
				fail(err)
			}
			ready.Done()
			<-startCh
			lat := make([]time.Duration, 0, 1024)
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				name := prefix + "f" + strconv.Itoa(i)
				body := benchContent(b.p.FileBytes, name+" ")
				t := time.Now()
				err := put(name, body)
				d := time.Since(t)
				if err != nil {
					fail(err)
					_ = benchSleep(ctx, 10*time.Millisecond) // do not spin on a broken server
					continue
				}
				lat = append(lat, d)
			}
			lats[g] = lat
		}()
	}
	ready.Wait()
	start := time.Now()
	deadline = start.Add(b.p.Append)
	close(startCh)
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}

	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	s := benchSummarise(all)
	if s.N == 0 {
		return fmt.Errorf("no append succeeded with %d writers: %v", c, firstErr.Load())
	}
	sc := benchScAppends(c)
	ops := perSecond(s.N, elapsed)
	b.rep.add(sc, "appends/s", ops, "ops/s")
	b.rep.add(sc, "p50", ms(s.P50), "ms")
	b.rep.add(sc, "p99", ms(s.P99), "ms")
	b.rep.add(sc, "p99.9", ms(s.P999), "ms")
	b.rep.add(sc, "requests", float64(s.N), "requests")
	b.rep.addRatio(sc, "p50 ÷ fdatasync p50", us(s.P50), b.fsyncP50)
	b.rep.addRatio(sc, "appends/s ÷ fdatasync ops/s", ops, b.fsyncOps)
	if n := errs.Load(); n > 0 {
		b.rep.add(sc, "errors", float64(n), "errors")
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("%s: %d requests failed, first: %v", sc, n, firstErr.Load()))
	}
	return nil
}

// --- write-to-visible lag ------------------------------------------------------

// benchLag writes one file at a time and reads it back from the reader with
// min_seq, timing from the writer's answer to the reader's full answer.
func (b *benchRun) benchLag(ctx context.Context) error {
	if err := b.settle(ctx, 3*time.Minute); err != nil {
		return err
	}
	b.progress("lag: %d sequential write → reader-visible samples", b.p.LagSamples)
	lat := make([]time.Duration, 0, b.p.LagSamples)
	for i := range b.p.LagSamples {
		if err := ctx.Err(); err != nil {
			return err
		}
		path := fmt.Sprintf("bench/lag/f%d", i)
		body := benchContent(b.p.FileBytes, path+" ")
		var res struct {
			Seq uint64 `json:"seq"`
		}
		if _, err := b.call(ctx, b.http, http.MethodPut, b.sys.WriterURL+"/v1/files/"+path, body, &res); err != nil {
			return err
		}
		written := time.Now()
		got, err := b.readVisible(ctx, path, res.Seq)
		if err != nil {
			return err
		}
		d := time.Since(written)
		if !bytes.Equal(got, body) {
			return fmt.Errorf("reader returned %d bytes for %s, want the %d written", len(got), path, len(body))
		}
		lat = append(lat, d)
	}
	s := benchSummarise(lat)
	b.lagP50 = ms(s.P50)
	const sc = "write → reader-visible lag"
	b.rep.add(sc, "p50", ms(s.P50), "ms")
	b.rep.add(sc, "p99", ms(s.P99), "ms")
	b.rep.add(sc, "max", ms(s.Max), "ms")
	b.rep.add(sc, "samples", float64(s.N), "samples")
	b.rep.addRatio(sc, "p50 ÷ GET /healthz p50", us(s.P50), b.loopP50)
	return nil
}

// readVisible GETs path from the reader, waiting (server side) for seq.
func (b *benchRun) readVisible(ctx context.Context, path string, seq uint64) ([]byte, error) {
	url := fmt.Sprintf("%s/v1/files/%s?min_seq=%d&wait=10s", b.sys.ReaderURL, path, seq)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.sys.AdminToken)
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return raw, nil
}

// --- reader catch-up ---------------------------------------------------------

type benchChangeOp struct {
	Op      string `json:"op"`
	Path    string `json:"path"`
	Content string `json:"content"`
}

// benchCatchUp loads the log with change sets, then starts a second reader
// on an empty data directory and times it until it has applied the head.
func (b *benchRun) benchCatchUp(ctx context.Context) error {
	head0, err := b.writerHead(ctx)
	if err != nil {
		return err
	}
	loaded, loadTime, err := b.bulkLoad(ctx)
	if err != nil {
		return err
	}
	head, err := b.writerHead(ctx)
	if err != nil {
		return err
	}
	if head-head0 != uint64(loaded) {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("catch-up: %d write ops appended %d events", loaded, head-head0))
	}
	const sc = "reader catch-up"
	bulkRate := perSecond(int(head-head0), loadTime)
	b.bulkRate = bulkRate
	b.rep.add(sc, "writer bulk append rate (deduplicated content)", bulkRate, "events/s")

	b.progress("catch-up: waiting for the live reader to apply seq %d", head)
	if err := b.settle(ctx, 5*time.Minute); err != nil {
		return err
	}

	b.progress("catch-up: starting a second reader on an empty data directory to replay %d events", head)
	bin, err := supervisor.FindBinary(b.opts.Bin, "reader")
	if err != nil {
		return err
	}
	data := filepath.Join(b.dir, "data")
	readerData := filepath.Join(b.dir, "catchup-reader")
	serviceToken, _ := config.OwnTokenFile(data, domain.AgentService)
	args := append([]string{"--data", readerData, "--addr", "127.0.0.1:0",
		"--token-file", serviceToken, "--name", "lighthouse-bench-catchup"}, benchReaderArgs...)
	env := []string{"LIGHTHOUSE_BUS_URL=" + b.sys.BusURL, "LIGHTHOUSE_URL=" + b.sys.WriterURL}
	start := time.Now()
	p, err := supervisor.Start("catch-up reader", bin, args, env, b.logOut)
	if err != nil {
		return err
	}
	defer p.Stop(15 * time.Second)
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	addr, err := supervisor.WaitAddr(actx, p, filepath.Join(readerData, "reader.addr"))
	cancel()
	if err != nil {
		return err
	}
	base := "http://" + addr
	ready, err := b.waitCatchUp(ctx, p, base, head, 5*time.Minute, start)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	b.addCPUPerEvent(sc, "catch-up reader", p.Pid(), head)
	if rss, err := benchVmHWM(p.Pid()); err == nil {
		b.catchReaderRSS = rss
	} else {
		b.rep.Warnings = append(b.rep.Warnings, "catch-up reader RSS: "+err.Error())
	}
	if err := p.Stop(15 * time.Second); err != nil {
		b.rep.Warnings = append(b.rep.Warnings, "stopping the catch-up reader: "+err.Error())
	}
	rate := perSecond(int(head), elapsed)
	b.rep.add(sc, "events replayed", float64(head), "events")
	b.rep.add(sc, "time to /readyz 200", ready.Seconds(), "s")
	b.rep.add(sc, "time to applied ≥ head", elapsed.Seconds(), "s")
	b.rep.add(sc, "catch-up rate", rate, "events/s")
	b.rep.addRatio(sc, "catch-up rate ÷ writer bulk append", rate, bulkRate)
	return nil
}

// bulkLoad appends CatchUpEvents file writes as change sets of OpsPerChange,
// from LoadWorkers concurrent clients. The content comes from a small pool,
// so the blob store deduplicates it: this fills the log, not the disk.
func (b *benchRun) bulkLoad(ctx context.Context) (int, time.Duration, error) {
	total, per := b.p.CatchUpEvents, b.p.OpsPerChange
	sets := (total + per - 1) / per
	b.progress("catch-up: appending %d file writes as %d change sets of %d", total, sets, per)
	pool := make([]string, 16)
	for i := range pool {
		pool[i] = string(benchContent(100, fmt.Sprintf("catch-up content %d ", i)))
	}
	took, err := b.postChangeSets(ctx, sets, func(set int) []benchChangeOp {
		ops := make([]benchChangeOp, 0, per)
		for k := set * per; k < min((set+1)*per, total); k++ {
			ops = append(ops, benchChangeOp{Op: "write", Path: fmt.Sprintf("catchup/d%d/f%d", k/1000, k), Content: pool[k%len(pool)]})
		}
		return ops
	})
	return total, took, err
}

// postChangeSets posts change sets 0..sets-1 (built by build) through
// POST /v1/changes from LoadWorkers clients, and returns how long it took.
// The first failure stops every client.
func (b *benchRun) postChangeSets(ctx context.Context, sets int, build func(set int) []benchChangeOp) (time.Duration, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = b.p.LoadWorkers + 2
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Minute}
	defer tr.CloseIdleConnections()
	var (
		next     atomic.Int64
		firstErr error
		mu       sync.Mutex
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range b.p.LoadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				set := int(next.Add(1) - 1)
				if set >= sets || ctx.Err() != nil {
					return
				}
				body, _ := json.Marshal(map[string]any{"ops": build(set)})
				if _, err := b.call(ctx, cl, http.MethodPost, b.sys.WriterURL+"/v1/changes", body, nil); err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					next.Store(int64(sets)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return time.Since(start), ctx.Err()
}

// waitCatchUp polls the new reader until /readyz answers 200 and it has
// applied head; it returns the time /readyz first answered 200.
func (b *benchRun) waitCatchUp(ctx context.Context, p *supervisor.Process, base string, head uint64, timeout time.Duration, start time.Time) (time.Duration, error) {
	deadline := start.Add(timeout)
	probe := &http.Client{Timeout: 2 * time.Second}
	var ready time.Duration
	for {
		select {
		case <-p.Done():
			return 0, fmt.Errorf("the catch-up reader exited: %v", p.Err())
		default:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the catch-up reader did not apply seq %d within %s: %w", head, timeout, errBenchTimeout)
		}
		if ready == 0 {
			if resp, err := probe.Get(base + "/readyz"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ready = time.Since(start)
				}
			}
		}
		if ready != 0 {
			if applied, err := b.readerApplied(ctx, base); err == nil && applied >= head {
				return ready, nil
			}
		}
		if err := benchSleep(ctx, 5*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// --- peak RSS ------------------------------------------------------------------

func (b *benchRun) benchRSS(ctx context.Context) error {
	const sc = "peak RSS (VmHWM)"
	procs := []*supervisor.Process{b.sys.Writer, b.sys.Reader}
	if b.rep.FUSE == "ran" {
		procs = append(procs, b.sys.Fuser)
	}
	for _, p := range procs {
		rss, err := benchVmHWM(p.Pid())
		if err != nil {
			b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("%s RSS: %v", p.Name, err))
			continue
		}
		b.rep.add(sc, p.Name, rss, "MiB")
	}
	if b.catchReaderRSS > 0 {
		b.rep.add(sc, "catch-up reader", b.catchReaderRSS, "MiB")
	}
	return nil
}

// benchVmHWM reads a process's peak resident set size, in MiB.
func benchVmHWM(pid int) (float64, error) { return benchProcMiB(pid, "VmHWM") }

// addCPUPerEvent reports the CPU process pid has used so far, per event of
// events, under sc (or a warning naming who when it cannot be read).
func (b *benchRun) addCPUPerEvent(sc, who string, pid int, events uint64) {
	st, err := procstat.Read(pid)
	if err != nil {
		b.rep.Warnings = append(b.rep.Warnings, who+" CPU: "+err.Error())
		return
	}
	cpu := st.CPU
	b.rep.add(sc, who+" CPU (user + system)", cpu.Seconds(), "s")
	if events > 0 {
		b.rep.add(sc, who+" CPU per event", float64(cpu.Microseconds())/float64(events), "µs")
	}
}

// benchProcMiB reads one "NAME: N kB" field (VmHWM, VmRSS) of a process's
// /proc status, in MiB.
func benchProcMiB(pid int, field string) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	mib, err := benchStatusMiB(f, field)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return mib, nil
}

// benchStatusMiB finds the "FIELD: N kB" line of a /proc status file and
// returns N in MiB.
func benchStatusMiB(r io.Reader, field string) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			fields := strings.Fields(rest) // "12345 kB"
			if len(fields) != 2 || fields[1] != "kB" {
				return 0, fmt.Errorf("%s: unexpected %q", field, rest)
			}
			kb, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", field, err)
			}
			return kb / 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s", field)
}
