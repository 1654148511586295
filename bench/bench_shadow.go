package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/procstat"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// benchShadowParams size the working-tree scenarios.
type benchShadowParams struct {
	Files      int           `json:"shadow_files"`
	FileBytes  int           `json:"shadow_file_bytes"`
	LagSamples int           `json:"shadow_lag_samples"`
	LagRate    float64       `json:"shadow_lag_edits_per_second"`
	CPUWindow  time.Duration `json:"-"`
	ChangeRate int           `json:"shadow_changes_per_second"`
}

func benchShadowParamsFor(quick bool) benchShadowParams {
	p := benchShadowParams{Files: 10_000, FileBytes: 10_486, LagSamples: 300, LagRate: 20, CPUWindow: 10 * time.Second, ChangeRate: 100}
	if quick {
		p.Files, p.LagSamples, p.CPUWindow = 1_000, 40, 2*time.Second
	}
	return p
}

// benchShadow measures the watcher on a system of its own: the import of
// a tree of Files files of FileBytes each, disk edit → visible in the
// reader (open loop: edits at LagRate per second whatever the answers),
// and the watcher's CPU while the tree is idle and while ChangeRate files a
// second change.
func (b *benchRun) benchShadow(ctx context.Context) error {
	p := benchShadowParamsFor(b.opts.Quick)
	data := filepath.Join(b.dir, "shadow-data")
	project := filepath.Join(b.dir, "shadow-project")
	b.progress("shadow: writing %d files of %d bytes to %s", p.Files, p.FileBytes, project)
	for i := range p.Files {
		path := filepath.Join(project, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d.txt", i))
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(path, benchContent(p.FileBytes, path+" "), 0o644); err != nil {
			return err
		}
	}
	defer func() {
		if !b.opts.Keep {
			os.RemoveAll(project)
			os.RemoveAll(data)
		}
	}()
	sys, err := supervisor.StartSystem(ctx, supervisor.Config{Data: data, BinDir: b.opts.Bin, Output: b.logOut,
		WriterArgs: b.rep.WriterArg, ReaderArgs: b.rep.ReaderArg})
	if err != nil {
		return fmt.Errorf("start the shadow system: %w", err)
	}
	defer sys.Stop()
	bin, err := supervisor.FindBinary(b.opts.Bin, "lighthouse")
	if err != nil {
		return err
	}
	const sc = "shadow (watcher)"
	b.progress("shadow: importing")
	start := time.Now()
	w, err := supervisor.Start("watcher", bin, []string{"watch", project, "--data", data, "--url", sys.WriterURL}, nil, b.logOut)
	if err != nil {
		return err
	}
	defer w.Stop(15 * time.Second)
	sock := filepath.Join(data, "watcher.sock")
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		select {
		case <-w.Done():
			return fmt.Errorf("the watcher exited: %v", w.Err())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	took := time.Since(start)
	mib := float64(p.Files) * float64(p.FileBytes) / (1 << 20)
	b.rep.add(sc, fmt.Sprintf("import of %d files / %.0f MiB", p.Files, mib), took.Seconds(), "s")
	b.rep.add(sc, "import rate", float64(p.Files)/took.Seconds(), "files/s")
	b.rep.add(sc, "import rate (MiB/s)", mib/took.Seconds(), "MiB/s")

	// Disk edit → visible in the reader, open loop.
	b.progress("shadow: %d disk edits at %.0f/s, each until the reader has it", p.LagSamples, p.LagRate)
	cl := &http.Client{Timeout: 30 * time.Second}
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	gap := time.Duration(float64(time.Second) / p.LagRate)
	next := time.Now()
	for i := range p.LagSamples {
		time.Sleep(time.Until(next))
		next = next.Add(gap)
		rel := fmt.Sprintf("d%03d/f%05d.txt", (i*37)%p.Files/100, (i*37)%p.Files)
		body := benchContent(512, fmt.Sprintf("edit %d %s ", i, rel))
		if err := os.WriteFile(filepath.Join(project, filepath.FromSlash(rel)), body, 0o644); err != nil {
			return err
		}
		written := time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := benchPollReader(ctx, cl, sys.ReaderURL+"/v1/files/"+rel, sys.AdminToken, body, 30*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", rel, err)
			}
			lat = append(lat, time.Since(written))
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	s := benchSummarise(lat)
	b.rep.add(sc, "disk edit → reader-visible p50", ms(s.P50), "ms")
	b.rep.add(sc, "disk edit → reader-visible p99", ms(s.P99), "ms")
	b.rep.add(sc, "disk edit → reader-visible samples", float64(s.N), "samples")

	// CPU: idle, then ChangeRate changes a second.
	time.Sleep(time.Second) // let the last flush settle before the idle window
	idle, err := benchCPUOver(w.Pid(), p.CPUWindow, nil)
	if err != nil {
		return err
	}
	b.rep.add(sc, fmt.Sprintf("watcher CPU idle (%d files)", p.Files), idle, "%")
	n := 0
	busy, err := benchCPUOver(w.Pid(), p.CPUWindow, func(stop <-chan struct{}) {
		t := time.NewTicker(time.Second / time.Duration(p.ChangeRate))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				rel := fmt.Sprintf("d%03d/f%05d.txt", (n*13)%p.Files/100, (n*13)%p.Files)
				os.WriteFile(filepath.Join(project, filepath.FromSlash(rel)), benchContent(512, fmt.Sprintf("load %d ", n)), 0o644)
				n++
			}
		}
	})
	if err != nil {
		return err
	}
	b.rep.add(sc, fmt.Sprintf("watcher CPU at %d changes/s", p.ChangeRate), busy, "%")
	return nil
}

// benchPollReader GETs url until its body is want.
func benchPollReader(ctx context.Context, cl *http.Client, url, token string, want []byte, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := cl.Do(req)
		if err == nil {
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Equal(got, want) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not visible in the reader within %v: %w", limit, errBenchTimeout)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

// benchCPUOver returns a process's CPU use over d as a percentage of one
// core, while load (if any) runs.
func benchCPUOver(pid int, d time.Duration, load func(stop <-chan struct{})) (float64, error) {
	before, err := procstat.Read(pid)
	if err != nil {
		return 0, err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		if load != nil {
			load(stop)
		}
	}()
	time.Sleep(d)
	close(stop)
	<-done
	after, err := procstat.Read(pid)
	if err != nil {
		return 0, err
	}
	return (after.CPU - before.CPU).Seconds() / time.Since(start).Seconds() * 100, nil
}
