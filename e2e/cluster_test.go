package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/lighthouse-ai/lighthouse/infra/bus"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// buildNATSServer builds the nats-server binary from the module in go.mod
// into dir (a few seconds with a warm build cache).
func buildNATSServer(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "nats-server")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	return bin
}

// natsNode is one nats-server process of a test cluster; it keeps its
// ports and store across restarts.
type natsNode struct {
	name, addr, clusterAddr, dir string
	proc                         *supervisor.Process
}

// natsCluster is a JetStream cluster of real nats-server processes on
// loopback, with a client token; one of one node is a standalone server.
type natsCluster struct {
	t     *testing.T
	bin   string
	token string
	nodes []*natsNode
	out   *syncBuffer
}

func startNATSCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	bin := buildNATSServer(t, t.TempDir())
	c := &natsCluster{t: t, bin: bin, token: "cluster-s3cret", out: &syncBuffer{}}
	// A client and a route port per node, all distinct.
	addrs, err := supervisor.FreeAddrs(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		c.nodes = append(c.nodes, &natsNode{name: fmt.Sprintf("n%d", i+1), addr: addrs[2*i], clusterAddr: addrs[2*i+1], dir: t.TempDir()})
	}
	for _, nd := range c.nodes {
		c.start(nd)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			if nd.proc != nil {
				nd.proc.Kill()
			}
		}
		if t.Failed() {
			t.Logf("nats-server output:\n%s", tail(c.out.String(), 4000))
		}
	})
	// Every node answers JetStream requests: the meta group has formed.
	for _, nd := range c.nodes {
		c.waitJetStream(nd.url(c.token), 30*time.Second)
	}
	return c
}

func (nd *natsNode) url(token string) string { return "nats://" + token + "@" + nd.addr }

// URLs is the comma-separated list of every node's client URL.
func (c *natsCluster) URLs() string {
	var urls []string
	for _, nd := range c.nodes {
		urls = append(urls, nd.url(c.token))
	}
	return strings.Join(urls, ",")
}

func (c *natsCluster) start(nd *natsNode) {
	c.t.Helper()
	var routes []string
	for _, o := range c.nodes {
		routes = append(routes, "nats://"+o.clusterAddr)
	}
	host, port, _ := strings.Cut(nd.addr, ":")
	_, cport, _ := strings.Cut(nd.clusterAddr, ":")
	args := []string{"-n", nd.name, "-a", host, "-p", port, "-js", "-sd", nd.dir, "--auth", c.token}
	if len(c.nodes) > 1 { // a cluster of one is a server of its own
		args = append(args, "--cluster_name", "lighthouse-test", "--cluster", "nats://127.0.0.1:"+cport, "--routes", strings.Join(routes, ","))
	}
	p, err := supervisor.Start("nats-"+nd.name, c.bin, args, nil, c.out)
	if err != nil {
		c.t.Fatal(err)
	}
	nd.proc = p
}

// kill stops a node with SIGKILL.
func (c *natsCluster) kill(nd *natsNode) {
	nd.proc.Kill()
	nd.proc = nil
}

func (c *natsCluster) node(name string) *natsNode {
	for _, nd := range c.nodes {
		if nd.name == name {
			return nd
		}
	}
	c.t.Fatalf("no node %q", name)
	return nil
}

func (c *natsCluster) waitJetStream(url string, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := func() error {
			nc, err := nats.Connect(url, nats.Timeout(time.Second))
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := nc.JetStream(nats.MaxWait(time.Second))
			if err != nil {
				return err
			}
			_, err = js.AccountInfo()
			return err
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("JetStream at %s not ready: %v\n%s", url, err, tail(c.out.String(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// streamInfo asks the cluster (any live node) about the events stream.
func (c *natsCluster) streamInfo() (*nats.StreamInfo, error) {
	nc, err := nats.Connect(c.URLs(), nats.Timeout(time.Second))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.MaxWait(2 * time.Second))
	if err != nil {
		return nil, err
	}
	return js.StreamInfo(bus.Topic)
}

// waitStream polls the stream until ok accepts it.
func (c *natsCluster) waitStream(what string, within time.Duration, ok func(*nats.StreamInfo) error) *nats.StreamInfo {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		info, err := c.streamInfo()
		if err == nil {
			err = ok(info)
		}
		if err == nil {
			return info
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// healthy accepts a stream with a leader and every other node a current
// replica: a restarted node has rejoined and caught up.
func (c *natsCluster) healthy(info *nats.StreamInfo) error {
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return fmt.Errorf("stream has no leader")
	}
	seen := map[string]bool{info.Cluster.Leader: true}
	for _, r := range info.Cluster.Replicas {
		if !r.Current || r.Offline {
			return fmt.Errorf("replica %s not current (offline %v, lag %d)", r.Name, r.Offline, r.Lag)
		}
		seen[r.Name] = true
	}
	for _, nd := range c.nodes {
		if !seen[nd.name] {
			return fmt.Errorf("node %s is not in the stream's group (leader %s)", nd.name, info.Cluster.Leader)
		}
	}
	return nil
}

// ackedWrite is a write the writer acknowledged.
type ackedWrite struct {
	path, content string
	seq           uint64
}

// TestNATSCluster runs one writer, two readers and a fuser (where FUSE
// works) on a 3-node JetStream cluster of real nats-server processes, and
// kills (SIGKILL) a follower node and then the stream's leader under a
// steady write load. Every write is acknowledged (or fails clearly and
// succeeds on retry), every replica converges to exactly the writer's log,
// and the killed nodes rejoin.
func TestNATSCluster(t *testing.T) {
	t.Parallel()
	began := time.Now()
	cl := startNATSCluster(t, 3)

	out := &syncBuffer{}
	data := t.TempDir()
	cfg := supervisor.Config{Data: data, BinDir: binDir, Output: out, BusURL: cl.URLs(), WriterArgs: []string{"--rate", "0"}}
	mount := os.Geteuid() == 0
	if _, err := os.Stat("/dev/fuse"); err != nil {
		mount = false
	}
	if mount {
		cfg.Mount = filepath.Join(t.TempDir(), "mnt")
	} else {
		t.Log("FUSE is not available here: running without the fuser")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := supervisor.StartSystem(ctx, cfg)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		sys.Stop()
		if t.Failed() {
			t.Logf("lighthouse output:\n%s", tail(out.String(), 8000))
		}
	})
	if mount && sys.Fuser == nil {
		t.Fatalf("fuser did not start: %v", sys.FuserError)
	}
	// A second reader on the same stream.
	readerBin, err := supervisor.FindBinary(binDir, "reader")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := supervisor.Start("reader-2", readerBin, []string{"--data", filepath.Join(data, "reader-2"), "--addr", "127.0.0.1:0",
		"--name", "lighthouse-reader-2", "--token-file", filepath.Join(data, "service.token")},
		[]string{"LIGHTHOUSE_BUS_URL=" + cl.URLs(), "LIGHTHOUSE_URL=" + sys.WriterURL}, out)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Stop(10 * time.Second)
	r2addr, err := supervisor.WaitAddr(ctx, r2, filepath.Join(data, "reader-2", "reader.addr"))
	if err == nil {
		err = supervisor.WaitReady(ctx, r2, "http://"+r2addr+"/readyz")
	}
	if err != nil {
		t.Fatalf("reader-2: %v", err)
	}

	info := cl.waitStream("stream replicated on 3 nodes", 10*time.Second, cl.healthy)
	if info.Config.Replicas != 3 {
		t.Fatalf("stream has %d replicas on a 3-node cluster, want 3", info.Config.Replicas)
	}

	// Steady load: one write every 5 ms, each retried with its command id
	// until acknowledged.
	admin := client.New(sys.WriterURL, sys.AdminToken)
	var (
		mu       sync.Mutex
		acked    []ackedWrite
		failures []string
	)
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			w := ackedWrite{path: fmt.Sprintf("load/f%02d.txt", i%40), content: fmt.Sprintf("write %d", i)}
			for attempt := 0; ; attempt++ {
				wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
				res, err := admin.WriteFile(wctx, w.path, strings.NewReader(w.content), client.WriteOptions{CommandID: fmt.Sprintf("load-%d", i)})
				wcancel()
				if err == nil {
					w.seq = res.Seq
					break
				}
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				if attempt == 20 {
					t.Errorf("write %d never succeeded: %v", i, err)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			mu.Lock()
			acked = append(acked, w)
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitWrites := func(n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for start := count(); count() < start+n; {
			if time.Now().After(deadline) {
				t.Fatalf("writes stalled at %d", count())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitWrites(100)

	// Kill a node that does not lead the stream; restart it; it rejoins.
	leader := info.Cluster.Leader
	var follower *natsNode
	for _, nd := range cl.nodes {
		if nd.name != leader {
			follower = nd
			break
		}
	}
	t.Logf("stream leader %s; killing follower %s", leader, follower.name)
	cl.kill(follower)
	waitWrites(200)
	cl.start(follower)
	cl.waitStream("follower "+follower.name+" rejoins", 20*time.Second, cl.healthy)
	waitWrites(100)

	// Kill the node leading the stream; a new leader takes over; restart it.
	info = cl.waitStream("stream has a leader", 10*time.Second, cl.healthy)
	old := cl.node(info.Cluster.Leader)
	busBefore := sumMetric(t, sys.ReaderURL, "lighthouse_replica_applied_events_total", map[string]string{"source": "bus"})
	t.Logf("killing stream leader %s", old.name)
	cl.kill(old)
	cl.waitStream("a new leader is elected", 20*time.Second, func(i *nats.StreamInfo) error {
		if i.Cluster == nil || i.Cluster.Leader == "" || i.Cluster.Leader == old.name {
			return fmt.Errorf("leader %v", i.Cluster)
		}
		return nil
	})
	waitWrites(200)
	cl.start(old)
	final := cl.waitStream("old leader "+old.name+" rejoins", 20*time.Second, cl.healthy)
	waitWrites(100)
	close(stop)
	<-loadDone

	mu.Lock()
	writes := slices.Clone(acked)
	fails := slices.Clone(failures)
	mu.Unlock()
	for _, f := range fails {
		if strings.TrimSpace(f) == "" {
			t.Errorf("a write failed without a message")
		}
	}
	head := e2eHead(t, admin)
	t.Logf("%d writes acknowledged (%d failed attempts, each retried), head %d, final leader %s", len(writes), len(fails), head, final.Cluster.Leader)

	// Every acknowledged write has its own sequence: nothing acknowledged twice.
	last := map[string]ackedWrite{}
	revs := map[string][]uint64{}
	seen := map[uint64]bool{}
	for _, w := range writes {
		if seen[w.seq] {
			t.Fatalf("sequence %d acknowledged twice", w.seq)
		}
		seen[w.seq] = true
		last[w.path] = w
		revs[w.path] = append(revs[w.path], w.seq)
	}

	// The relay got everything onto the bus after the failovers.
	eventually(t, "writer published everything", func() error {
		if lag := sumMetric(t, sys.WriterURL, "lighthouse_outbox_lag_events", nil); lag != 0 {
			return fmt.Errorf("outbox lag %v", lag)
		}
		return nil
	})

	t.Logf("relay: %v failed publishes, each retried until JetStream acknowledged it",
		sumMetric(t, sys.WriterURL, "lighthouse_bus_publish_errors_total", nil))
	replicas := map[string]string{"reader": sys.ReaderURL, "reader-2": "http://" + r2addr}
	if sys.Fuser != nil {
		replicas["fuser"] = sys.FuserURL
	}
	for name, base := range replicas {
		// Converged: applied exactly the writer's head, each event once.
		eventually(t, name+" converges", func() error {
			applied := sumMetric(t, base, "lighthouse_replica_applied_seq", nil)
			total := sumMetric(t, base, "lighthouse_replica_applied_events_total", nil)
			if applied != float64(head) || total != float64(head) {
				return fmt.Errorf("%s applied seq %v, %v events applied, writer head %d", name, applied, total, head)
			}
			return nil
		})
		t.Logf("%s: %v events from the bus, %v backfilled, %v redeliveries dropped, %v resubscriptions", name,
			sumMetric(t, base, "lighthouse_replica_applied_events_total", map[string]string{"source": "bus"}),
			sumMetric(t, base, "lighthouse_replica_applied_events_total", map[string]string{"source": "backfill"}),
			sumMetric(t, base, "lighthouse_replica_duplicate_events_total", nil),
			sumMetric(t, base, "lighthouse_bus_resubscribes_total", nil))
	}
	// The readers hold exactly the acknowledged writes: every revision of
	// every path at its sequence, none missing, none extra.
	for _, base := range []string{sys.ReaderURL, "http://" + r2addr} {
		rc := client.New(base, sys.AdminToken)
		for path, want := range revs {
			var hist struct {
				Revisions []struct {
					Seq uint64 `json:"last_seq"`
				} `json:"revisions"`
			}
			if _, err := rc.Do(context.Background(), http.MethodGet, client.FilePath(path)+"/history", nil, nil, &hist); err != nil {
				t.Fatalf("%s history of %s: %v", base, path, err)
			}
			var got []uint64
			for _, r := range hist.Revisions {
				got = append(got, r.Seq)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: %s has revisions %v, want the acknowledged writes %v", base, path, got, want)
			}
			body, err := rc.Open(context.Background(), client.FilePath(path))
			if err != nil {
				t.Fatal(err)
			}
			b := new(strings.Builder)
			_, err = io.Copy(b, body)
			body.Close()
			if err != nil || b.String() != last[path].content {
				t.Fatalf("%s: %s = %q, %v; want %q", base, path, b.String(), err, last[path].content)
			}
		}
	}
	if sys.Fuser != nil {
		for path, w := range last {
			b, err := os.ReadFile(filepath.Join(sys.MountDir(), "current", path))
			if err != nil || string(b) != w.content {
				t.Fatalf("mount: %s = %q, %v; want %q", path, b, err, w.content)
			}
		}
	}
	// The reader receives from the bus again after the leader died, not only
	// by backfilling from the writer: a silent subscription is replaced
	// after an idle period, so keep writing until bus events arrive.
	busDeadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		busAfter := sumMetric(t, sys.ReaderURL, "lighthouse_replica_applied_events_total", map[string]string{"source": "bus"})
		if busAfter > busBefore {
			break
		}
		if time.Now().After(busDeadline) {
			t.Fatalf("reader applied no bus events after the leader was killed (%v before, %v after): only backfill kept it current", busBefore, busAfter)
		}
		if _, err := admin.WriteFile(context.Background(), fmt.Sprintf("after-failover/%d.txt", i), strings.NewReader("x"), client.WriteOptions{}); err != nil {
			t.Logf("write after failover: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("cluster test took %s", time.Since(began).Round(time.Millisecond))
}

// sumMetric scrapes base/metrics and sums name's series matching labels.
func sumMetric(t *testing.T, base, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := metricValue(scrape(t, base), name, labels)
	if !ok {
		t.Fatalf("%s/metrics has no %s", base, name)
	}
	return v
}

func e2eHead(t *testing.T, c *client.Client) uint64 {
	t.Helper()
	var st struct {
		Head uint64 `json:"head"`
	}
	if _, err := c.Do(context.Background(), http.MethodGet, "/v1/status", nil, nil, &st); err != nil {
		t.Fatalf("writer status: %v", err)
	}
	return st.Head
}

// TestSecondWriterOnABusIsRefused: two writers on one NATS account would
// share the fixed stream; the one that starts second refuses to, naming
// why, and the first goes on (a walkthrough saw only a reader's repeated
// hash-chain warnings, which read like tampering; a warning alone still
// let the second publish).
func TestSecondWriterOnABusIsRefused(t *testing.T) {
	t.Parallel()
	cl := startNATSCluster(t, 1)
	first := startConfig(t, supervisor.Config{BusURL: cl.URLs(), WriterArgs: []string{"--rate", "0"}})
	first.put(first.admin, "a.txt", "first project\n")
	const refusal = "another writer publishes on this NATS account, or the stream holds an older log"
	if strings.Contains(first.out.String(), refusal) {
		t.Fatalf("the first writer on the bus was refused:\n%s", first.out.String())
	}
	out := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	second, err := supervisor.StartSystem(ctx, supervisor.Config{BusURL: cl.URLs(), WriterArgs: []string{"--rate", "0"}, Data: t.TempDir(), BinDir: binDir, Output: out})
	if err == nil {
		second.Stop()
		t.Fatalf("a second writer on the bus started:\n%s", out.String())
	}
	wantIn(t, "the second writer", out.String(), refusal, "nats stream rm")
	// The first writer's log and bus go on.
	seq := first.put(first.admin, "b.txt", "still the first\n")
	if got, err := first.readFile("b.txt", seq); err != nil || got != "still the first\n" {
		t.Fatalf("b.txt on the first writer's reader: %q, %v", got, err)
	}
}
