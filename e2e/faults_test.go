package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// faultSettings size the fault suite: `make test` runs a few cycles,
// `make soak` hundreds (LIGHTHOUSE_SOAK_CYCLES, LIGHTHOUSE_SOAK_WRITERS).
// LIGHTHOUSE_SOAK_REPORT names a file the suite appends its figures to,
// one tab-separated line per scenario: name, tried, lost, failed.
type faultSettings struct {
	cycles  int           // kill -9 cycles of each process
	writers int           // concurrent writers
	load    time.Duration // write load between two kills
	report  string
}

func faultSettingsFromEnv(t *testing.T) faultSettings {
	t.Helper()
	s := faultSettings{cycles: 3, writers: 8, load: 1200 * time.Millisecond, report: os.Getenv("LIGHTHOUSE_SOAK_REPORT")}
	for _, v := range []struct {
		name string
		to   *int
	}{{"LIGHTHOUSE_SOAK_CYCLES", &s.cycles}, {"LIGHTHOUSE_SOAK_WRITERS", &s.writers}} {
		if raw := os.Getenv(v.name); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive number", v.name, raw)
			}
			*v.to = n
		}
	}
	return s
}

// faultAck is one write the writer acknowledged.
type faultAck struct {
	path, content string
	seq           uint64
}

// TestFaultSuite runs the whole system (writer, reader and, where FUSE
// works, the fuser) under a steady load from several concurrent writers,
// kills each process with SIGKILL a few times and restarts it. Then no
// acknowledged write is lost or duplicated, the log has no gaps,
// `lighthouse verify` passes, and every replica holds exactly the
// writer's state at the writer's head.
func TestFaultSuite(t *testing.T) {
	t.Parallel()
	s := faultSettingsFromEnv(t)
	mount := os.Geteuid() == 0
	if _, err := os.Stat("/dev/fuse"); err != nil {
		mount = false
	}
	e := start(t, mount)
	if mount && e.sys.Fuser == nil {
		t.Logf("no fuser (%v): the suite runs without it", e.sys.FuserError)
		mount = false
	}
	ctx := context.Background()

	var (
		mu    sync.Mutex
		acked []faultAck
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < s.writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				path := fmt.Sprintf("w%d/f%d.txt", w, i%25)
				content := fmt.Sprintf("w%d-%d", w, i)
				// The same command is retried until it is acknowledged: a
				// write that committed before a crash must answer as a
				// duplicate, never be appended twice.
				for {
					select {
					case <-stop:
						return
					default:
					}
					res, err := e.admin.WriteFile(ctx, path, strings.NewReader(content), client.WriteOptions{CommandID: content})
					if err == nil {
						mu.Lock()
						acked = append(acked, faultAck{path, content, res.Seq})
						mu.Unlock()
						break
					}
					time.Sleep(20 * time.Millisecond) // the writer is down
				}
			}
		}(w)
	}

	type proc struct {
		name    string
		kill    func()
		restart func(context.Context) error
	}
	procs := []proc{
		{"writer", func() { e.sys.Writer.Kill() }, e.sys.StartWriter},
		{"reader", func() { e.sys.Reader.Kill() }, e.sys.StartReader},
	}
	if mount {
		procs = append(procs, proc{"fuser", func() { e.sys.Fuser.Kill() }, e.sys.StartFuser})
	}
	restartFailed := map[string]int{}
	kills := map[string]int{}
	for c := 0; c < s.cycles; c++ {
		for _, p := range procs {
			time.Sleep(s.load)
			p.kill()
			kills[p.name]++
			time.Sleep(100 * time.Millisecond)
			// A restart may race the previous instance's last breath (a port,
			// a lock); it gets three tries before the suite gives up.
			var err error
			for try := 0; try < 3; try++ {
				if err = p.restart(ctx); err == nil {
					break
				}
			}
			if err != nil {
				restartFailed[p.name]++
				close(stop)
				wg.Wait()
				t.Fatalf("cycle %d: restart the %s after kill -9: %v\nits last output:\n%s", c, p.name, err, outputOf(e.out.String(), p.name, 40))
			}
		}
	}
	time.Sleep(s.load)
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}

	// The writer's log is the truth: every event in order, no gaps, every
	// acknowledged write exactly once.
	state, byContent, head := foldLog(ctx, t, e.admin)
	lost, duplicated := 0, 0
	seen := map[uint64]bool{}
	for _, a := range acked {
		seqs := byContent[hashOf(a.content)]
		switch {
		case len(seqs) == 0:
			lost++
			t.Errorf("acknowledged write %s=%q (seq %d) is not in the log", a.path, a.content, a.seq)
		case len(seqs) > 1:
			duplicated++
			t.Errorf("write %q is in the log %d times: %v", a.content, len(seqs), seqs)
		case seqs[0] != a.seq:
			t.Errorf("write %q acknowledged at %d, logged at %d", a.content, a.seq, seqs[0])
		}
		if seen[a.seq] {
			duplicated++
			t.Errorf("two writes acknowledged with seq %d", a.seq)
		}
		seen[a.seq] = true
	}

	// `lighthouse verify`, as a user types it.
	verifyFailed := 0
	if out, err := cli(t, e, "verify"); err != nil {
		verifyFailed = 1
		t.Errorf("lighthouse verify: %v\n%s", err, out)
	}

	// Every replica converges to exactly the writer's state.
	diverged := map[string]int{}
	if err := readerMatches(ctx, e, head, state); err != nil {
		diverged["reader"]++
		t.Errorf("reader: %v", err)
	}
	if mount {
		if err := fuserMatches(ctx, e, head, state); err != nil {
			diverged["fuser"]++
			t.Errorf("fuser: %v", err)
		}
	}
	t.Logf("fault suite: %d writers, %d cycles, %d acknowledged writes, head %d, kills %v", s.writers, s.cycles, len(acked), head, kills)

	if s.report != "" {
		var b strings.Builder
		for _, p := range procs {
			fmt.Fprintf(&b, "kill -9 %s (restart, converge)\t%d\t0\t%d\n", p.name, kills[p.name], restartFailed[p.name]+diverged[p.name])
		}
		fmt.Fprintf(&b, "acknowledged writes (lost, duplicated)\t%d\t%d\t%d\n", len(acked), lost, duplicated)
		fmt.Fprintf(&b, "lighthouse verify after the kills\t1\t0\t%d\n", verifyFailed)
		f, err := os.OpenFile(s.report, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.WriteString(b.String())
			f.Close()
		}
		if err != nil {
			t.Errorf("report: %v", err)
		}
	}
}

// outputOf returns the last n lines the named process logged.
func outputOf(out, process string, n int) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `"process":"`+process+`"`) || strings.HasPrefix(l, process+":") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// readerMatches checks that the reader has applied exactly head and holds
// state (path → content hash).
func readerMatches(ctx context.Context, e *env, head uint64, state map[string]string) error {
	var tree struct {
		Files []struct{ Path, Hash string }
	}
	if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/tree?min_seq=%d", head), nil, nil, &tree); err != nil {
		return err
	}
	got := map[string]string{}
	for _, f := range tree.Files {
		got[f.Path] = f.Hash
	}
	if err := sameState(got, state); err != nil {
		return err
	}
	var st struct {
		Applied uint64 `json:"applied"`
	}
	if _, err := e.reader.Do(ctx, "GET", "/v1/status", nil, nil, &st); err != nil {
		return err
	}
	if st.Applied != head {
		return fmt.Errorf("applied %d, writer head %d", st.Applied, head)
	}
	return nil
}

// fuserMatches waits until the fuser has applied head (its applied_seq
// metric), then checks every file under current/ against state.
func fuserMatches(ctx context.Context, e *env, head uint64, state map[string]string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		applied, err := fuserApplied(ctx, e.sys.FuserURL)
		if err == nil && applied == head {
			break
		}
		if err == nil && applied > head {
			return fmt.Errorf("applied %d, past the writer's head %d", applied, head)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("applied %d, writer head %d (%v)", applied, head, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	root := filepath.Join(e.sys.MountDir(), "current")
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := sha256.Sum256(b)
		got[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		return err
	}
	return sameState(got, state)
}

// fuserApplied reads the fuser's applied sequence from its metrics.
func fuserApplied(ctx context.Context, url string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "lighthouse_replica_applied_seq "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return uint64(f), err
		}
	}
	return 0, fmt.Errorf("no lighthouse_replica_applied_seq in the fuser's metrics (%v)", sc.Err())
}

// sameState compares two path → hash maps and names the first differences.
func sameState(got, want map[string]string) error {
	var diffs []string
	for p, h := range want {
		if got[p] != h {
			diffs = append(diffs, fmt.Sprintf("%s: have %.12s, writer %.12s", p, got[p], h))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, p+": not in the writer's state")
		}
	}
	if len(diffs) > 0 {
		if len(diffs) > 10 {
			diffs = append(diffs[:10], fmt.Sprintf("and %d more", len(diffs)-10))
		}
		return fmt.Errorf("%d files differ from the writer's state: %s", len(diffs), strings.Join(diffs, "; "))
	}
	return nil
}
