package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// The scale scenarios run on systems of their own: one writer with four
// readers on the embedded bus (fan-out), and one writer with a reader on a
// 3-node NATS JetStream cluster of nats-server processes with a node killed.
// They use only the supervisor and the bench's report and statistics.

// benchScaleParams size the scale scenarios.
type benchScaleParams struct {
	Readers    int           // fan-out readers on one writer
	Rate       float64       // background writes per second
	Samples    int           // lag samples (each read from every reader)
	Phase      time.Duration // length of each NATS phase (all up, one node down)
	PhaseRate  float64       // open-loop writes per second in each NATS phase
	VisibleOne int           // every VisibleOne-th write is read back from the reader
}

func benchScaleParamsFor(quick bool) benchScaleParams {
	p := benchScaleParams{Readers: 4, Rate: 200, Samples: 300, Phase: 15 * time.Second, PhaseRate: 200, VisibleOne: 10}
	if quick {
		p.Samples, p.Phase = 40, 3*time.Second
	}
	return p
}

// benchScale runs both scale scenarios.
func (b *benchRun) benchScale(ctx context.Context) error {
	p := benchScaleParamsFor(b.opts.Quick)
	if err := b.scaleFanOut(ctx, p); err != nil {
		return fmt.Errorf("fan-out: %w", err)
	}
	if err := b.scaleNATSDown(ctx, p); err != nil {
		return fmt.Errorf("NATS node down: %w", err)
	}
	return nil
}

// scaleSystem is a writer and its readers started for one scale scenario.
type scaleSystem struct {
	sys     *supervisor.System
	readers []string // base URLs, the system's own reader first
	extra   []*supervisor.Process
	writer  *client.Client // the writer, as the admin
}

func (s *scaleSystem) stop() {
	for _, p := range s.extra {
		_ = p.Stop(15 * time.Second)
	}
	_ = s.sys.Stop()
}

// startScaleSystem starts a writer and `readers` readers under dir.
func (b *benchRun) startScaleSystem(ctx context.Context, dir, busURL string, readers int) (*scaleSystem, error) {
	sys, err := supervisor.StartSystem(ctx, supervisor.Config{Data: dir, BinDir: b.opts.Bin, Output: b.logOut, BusURL: busURL,
		WriterArgs: benchWriterArgs, ReaderArgs: benchReaderArgs})
	if err != nil {
		return nil, fmt.Errorf("start system: %w", err)
	}
	s := &scaleSystem{sys: sys, readers: []string{sys.ReaderURL}, writer: client.New(sys.WriterURL, sys.AdminToken)}
	bin, err := supervisor.FindBinary(b.opts.Bin, "reader")
	if err != nil {
		s.stop()
		return nil, err
	}
	serviceToken, _ := config.OwnTokenFile(dir, domain.AgentService)
	for i := 2; i <= readers; i++ {
		data := filepath.Join(dir, fmt.Sprintf("reader-%d", i))
		p, err := supervisor.Start(fmt.Sprintf("reader-%d", i), bin, append([]string{"--data", data,
			"--addr", "127.0.0.1:0", "--name", fmt.Sprintf("lighthouse-reader-%d", i), "--token-file", serviceToken}, benchReaderArgs...),
			[]string{"LIGHTHOUSE_BUS_URL=" + sys.BusURL, "LIGHTHOUSE_URL=" + sys.WriterURL}, b.logOut)
		if err != nil {
			s.stop()
			return nil, err
		}
		s.extra = append(s.extra, p)
		addr, err := supervisor.WaitAddr(ctx, p, filepath.Join(data, "reader.addr"))
		if err == nil {
			err = supervisor.WaitReady(ctx, p, "http://"+addr+"/readyz")
		}
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("reader-%d: %w", i, err)
		}
		s.readers = append(s.readers, "http://"+addr)
	}
	return s, nil
}

// put writes content at path and returns the sequence.
func (s *scaleSystem) put(ctx context.Context, path string, content []byte) (uint64, error) {
	res, err := s.writer.WriteFile(ctx, path, bytes.NewReader(content), client.WriteOptions{})
	if err != nil {
		return 0, fmt.Errorf("PUT %s: %w", path, err)
	}
	return res.Seq, nil
}

// visible waits (server side) until the reader at base has applied seq.
func (s *scaleSystem) visible(ctx context.Context, base string, seq uint64) error {
	r := client.New(base, s.sys.AdminToken)
	if _, err := r.Do(ctx, http.MethodGet, fmt.Sprintf("/v1/status?min_seq=%d&wait=20s", seq), nil, nil, nil); err != nil {
		return fmt.Errorf("reader %s did not reach %d: %w", base, seq, err)
	}
	return nil
}

// background writes at rate per second until stop is closed.
func (s *scaleSystem) background(ctx context.Context, rate float64, stop <-chan struct{}, failed *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := s.put(ctx, fmt.Sprintf("bench/bg/f%03d", i%500), benchContent(200, fmt.Sprintf("bg %d ", i))); err != nil {
				failed.Add(1)
			}
		}
	}()
	return &wg
}

// scaleFanOut measures four readers on one writer under a steady write
// load: for each sample write, the time until each reader has applied it.
func (b *benchRun) scaleFanOut(ctx context.Context, p benchScaleParams) error {
	sc := fmt.Sprintf("scale: fan-out, %d readers on one writer", p.Readers)
	b.progress("%s: %d samples under %.0f writes/s", sc, p.Samples, p.Rate)
	s, err := b.startScaleSystem(ctx, filepath.Join(b.dir, "scale-fanout"), "", p.Readers)
	if err != nil {
		return err
	}
	defer s.stop()
	var failed atomic.Int64
	stop := make(chan struct{})
	wg := s.background(ctx, p.Rate, stop, &failed)
	per := make([][]time.Duration, len(s.readers))
	var all []time.Duration
	start := time.Now()
	for i := range p.Samples {
		seq, err := s.put(ctx, fmt.Sprintf("bench/fanout/f%d", i), benchContent(200, "fan-out "))
		if err != nil {
			close(stop)
			wg.Wait()
			return err
		}
		written := time.Now()
		lat := make([]time.Duration, len(s.readers))
		errs := make([]error, len(s.readers))
		var rw sync.WaitGroup
		for r, base := range s.readers {
			rw.Add(1)
			go func() {
				defer rw.Done()
				errs[r] = s.visible(ctx, base, seq)
				lat[r] = time.Since(written)
			}()
		}
		rw.Wait()
		if err := errors.Join(errs...); err != nil {
			close(stop)
			wg.Wait()
			return err
		}
		for r := range lat {
			per[r] = append(per[r], lat[r])
			all = append(all, lat[r])
		}
		if err := benchSleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	for r := range per {
		l := benchSummarise(per[r])
		b.rep.add(sc, fmt.Sprintf("reader %d lag p50", r+1), ms(l.P50), "ms")
		b.rep.add(sc, fmt.Sprintf("reader %d lag p99", r+1), ms(l.P99), "ms")
	}
	l := benchSummarise(all)
	b.rep.add(sc, "all readers lag p50", ms(l.P50), "ms")
	b.rep.add(sc, "all readers lag p99", ms(l.P99), "ms")
	b.rep.add(sc, "samples per reader", float64(p.Samples), "samples")
	b.rep.add(sc, "background writes", p.Rate, "/s")
	b.rep.add(sc, "failed background writes", float64(failed.Load()), "writes")
	b.rep.add(sc, "wall time", elapsed.Seconds(), "s")
	// One project's memory: its writer and one reader (peak RSS).
	w, err1 := benchVmHWM(s.sys.Writer.Pid())
	r, err2 := benchVmHWM(s.sys.Reader.Pid())
	if err := errors.Join(err1, err2); err == nil {
		b.rep.add(sc, "writer peak RSS", w, "MiB")
		b.rep.add(sc, "reader peak RSS", r, "MiB")
		b.rep.add(sc, "projects per 16 GiB (writer + 1 reader, by peak RSS)", 16*1024/(w+r), "projects")
	} else {
		b.rep.Warnings = append(b.rep.Warnings, "scale: RSS: "+err.Error())
	}
	return nil
}

// benchNATSServer finds a nats-server binary beside the other binaries or
// on PATH, or builds it from the module (go build) into the bench dir.
func (b *benchRun) benchNATSServer(ctx context.Context) (string, error) {
	if bin, err := supervisor.FindBinary(b.opts.Bin, "nats-server"); err == nil {
		return bin, nil
	}
	out := filepath.Join(b.dir, "nats-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/nats-io/nats-server/v2")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("no nats-server beside the binaries or on PATH, and go build failed: %w: %s", err, strings.TrimSpace(string(msg)))
	}
	return out, nil
}

// benchNATSNode is one node of the bench's cluster.
type benchNATSNode struct {
	name, addr, cluster, monitor, dir string
	proc                              *supervisor.Process
}

// benchNATSCluster starts n nats-server processes clustered on loopback.
func (b *benchRun) benchNATSCluster(ctx context.Context, bin string, n int) ([]*benchNATSNode, error) {
	// A client, a route and a monitoring port per node, all distinct.
	addrs, err := supervisor.FreeAddrs(3 * n)
	if err != nil {
		return nil, err
	}
	var nodes []*benchNATSNode
	for i := range n {
		a := addrs[3*i:]
		nodes = append(nodes, &benchNATSNode{name: fmt.Sprintf("n%d", i+1), addr: a[0], cluster: a[1], monitor: a[2],
			dir: filepath.Join(b.dir, "scale-nats", fmt.Sprintf("n%d", i+1))})
	}
	var routes []string
	for _, nd := range nodes {
		routes = append(routes, "nats://"+nd.cluster)
	}
	for _, nd := range nodes {
		_, port, _ := strings.Cut(nd.addr, ":")
		_, mport, _ := strings.Cut(nd.monitor, ":")
		p, err := supervisor.Start("nats-"+nd.name, bin, []string{"-n", nd.name, "-a", "127.0.0.1", "-p", port, "-m", mport,
			"-js", "-sd", nd.dir, "--cluster_name", "bench", "--cluster", "nats://" + nd.cluster, "--routes", strings.Join(routes, ",")}, nil, b.logOut)
		if err != nil {
			return nodes, err
		}
		nd.proc = p
	}
	for _, nd := range nodes {
		if err := supervisor.WaitReady(ctx, nd.proc, "http://"+nd.monitor+"/healthz?js-enabled-only=true"); err != nil {
			return nodes, fmt.Errorf("nats %s: %w", nd.name, err)
		}
	}
	return nodes, nil
}

// benchJSZ is the part of nats-server's /jsz the bench reads.
type benchJSZ struct {
	Accounts []struct {
		Streams []struct {
			Name    string `json:"name"`
			Cluster struct {
				Leader string `json:"leader"`
			} `json:"cluster"`
			State struct {
				Msgs  uint64 `json:"messages"`
				Bytes uint64 `json:"bytes"`
			} `json:"state"`
			Consumers []struct {
				Name    string `json:"name"`
				Cluster struct {
					Leader string `json:"leader"`
				} `json:"cluster"`
			} `json:"consumer_detail"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

// benchStreamState is what a node's monitoring port says of the events
// stream: its leader, stored messages and bytes, and the node of each
// consumer it holds (the replicas' subscriptions), by consumer name.
type benchStreamState struct {
	leader      string
	msgs, bytes uint64
	consumers   map[string]string
}

// streamState asks a node's monitoring port for the events stream's state.
func (b *benchRun) streamState(ctx context.Context, nd *benchNATSNode) (benchStreamState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+nd.monitor+"/jsz?accounts=true&streams=true&consumers=true", nil)
	if err != nil {
		return benchStreamState{}, err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return benchStreamState{}, err
	}
	defer resp.Body.Close()
	var j benchJSZ
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		return benchStreamState{}, fmt.Errorf("decode /jsz: %w", err)
	}
	for _, a := range j.Accounts {
		for _, s := range a.Streams {
			if s.Name == "lighthouse_events" {
				st := benchStreamState{leader: s.Cluster.Leader, msgs: s.State.Msgs, bytes: s.State.Bytes, consumers: map[string]string{}}
				for _, c := range s.Consumers {
					st.consumers[c.Name] = c.Cluster.Leader
				}
				return st, nil
			}
		}
	}
	return benchStreamState{}, errors.New("no lighthouse_events stream on " + nd.name)
}

// phase writes open loop at rate for d (latency from the scheduled send),
// and waits for every nth write to be visible in the reader. The waits run
// beside the writers, not in them: a reader that falls behind (its bus
// connection moving to another node) would otherwise hold the writers and
// show up as late writes.
func (s *scaleSystem) phase(ctx context.Context, rate float64, d time.Duration, nth int) (writes, visible []time.Duration, failed int, err error) {
	var mu sync.Mutex
	var wg, waits sync.WaitGroup
	n := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var next atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				at := start.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(at))
				seq, err := s.put(ctx, fmt.Sprintf("bench/nats/f%03d", i%500), benchContent(200, fmt.Sprintf("phase %d ", i)))
				done := time.Now()
				mu.Lock()
				if err != nil {
					failed++
				} else {
					writes = append(writes, done.Sub(at))
				}
				mu.Unlock()
				if err == nil && i%nth == 0 {
					waits.Add(1)
					go func() {
						defer waits.Done()
						verr := s.visible(ctx, s.readers[0], seq)
						mu.Lock()
						if verr != nil {
							failed++
						} else {
							visible = append(visible, time.Since(done))
						}
						mu.Unlock()
					}()
				}
			}
		}()
	}
	wg.Wait()
	waits.Wait()
	return writes, visible, failed, ctx.Err()
}

// scaleNATSDown measures writes on a 3-node JetStream cluster with all
// nodes up and with one (not the stream's leader) killed.
func (b *benchRun) scaleNATSDown(ctx context.Context, p benchScaleParams) error {
	const sc = "scale: 3-node NATS cluster"
	bin, err := b.benchNATSServer(ctx)
	if err != nil {
		b.rep.Warnings = append(b.rep.Warnings, sc+" skipped: "+err.Error())
		return nil
	}
	nodes, err := b.benchNATSCluster(ctx, bin, 3)
	defer func() {
		for _, nd := range nodes {
			if nd.proc != nil {
				nd.proc.Kill()
			}
		}
	}()
	if err != nil {
		return err
	}
	var urls []string
	for _, nd := range nodes {
		urls = append(urls, "nats://"+nd.addr)
	}
	s, err := b.startScaleSystem(ctx, filepath.Join(b.dir, "scale-cluster"), strings.Join(urls, ","), 1)
	if err != nil {
		return err
	}
	defer s.stop()
	b.progress("%s: %s per phase at %.0f writes/s, all up then one node down", sc, p.Phase, p.PhaseRate)
	record := func(phase string, writes, visible []time.Duration, failed int) {
		w, v := benchSummarise(writes), benchSummarise(visible)
		b.rep.add(sc, phase+": write p50", ms(w.P50), "ms")
		b.rep.add(sc, phase+": write p99", ms(w.P99), "ms")
		b.rep.add(sc, phase+": write → reader-visible p50", ms(v.P50), "ms")
		b.rep.add(sc, phase+": write → reader-visible p99", ms(v.P99), "ms")
		b.rep.add(sc, phase+": failed", float64(failed), "writes")
	}
	writes, visible, failed, err := s.phase(ctx, p.PhaseRate, p.Phase, p.VisibleOne)
	if err != nil {
		return err
	}
	record("all 3 up", writes, visible, failed)
	st, err := b.streamState(ctx, nodes[0])
	if err != nil {
		return err
	}
	if head, err := s.sysHead(ctx); err == nil && head > 0 && st.msgs > 0 {
		b.rep.add(sc, "stream bytes per event (one replica)", float64(st.bytes)/float64(head), "B")
		b.rep.add(sc, "events per message", float64(head)/float64(st.msgs), "events")
	}
	// A node lists only the consumers it holds.
	consumerNodes := map[string]string{}
	for _, nd := range nodes {
		if other, err := b.streamState(ctx, nd); err == nil {
			maps.Copy(consumerNodes, other.consumers)
		}
	}
	// The node killed is not the stream's leader, so writes go on, and
	// holds the reader's consumer when another node leads: then the
	// visible figures measure how the reader finds its consumer gone.
	var victim *benchNATSNode
	for _, nd := range nodes {
		holds := slices.Contains(slices.Collect(maps.Values(consumerNodes)), nd.name)
		if nd.name != st.leader && (victim == nil || holds) {
			victim = nd
		}
	}
	onVictim := 0
	for _, n := range consumerNodes {
		if n == victim.name {
			onVictim++
		}
	}
	b.rep.add(sc, "bus consumers (the reader's)", float64(len(consumerNodes)), "consumers")
	b.rep.add(sc, "1 node down: bus consumers on the killed node", float64(onVictim), "consumers")
	victim.proc.Kill()
	victim.proc = nil
	writes, visible, failed, err = s.phase(ctx, p.PhaseRate, p.Phase, p.VisibleOne)
	if err != nil {
		return err
	}
	record("1 node down", writes, visible, failed)
	return nil
}

// sysHead is the writer's head.
func (s *scaleSystem) sysHead(ctx context.Context) (uint64, error) {
	var st struct {
		Head uint64 `json:"head"`
	}
	_, err := s.writer.Do(ctx, http.MethodGet, "/v1/status", nil, nil, &st)
	return st.Head, err
}
