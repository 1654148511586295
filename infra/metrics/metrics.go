// Package metrics holds Lighthouse's Prometheus instruments. Nothing here is
// global: each process makes one registry with NewRegistry and hands it to
// the constructors of the instruments its parts use; every part accepts a
// nil instrument set and then records nothing.
//
// Hot paths observe through pre-bound children (label values resolved once
// and cached), so an observation costs an atomic add, not a label lookup.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every Lighthouse metric name.
const Namespace = "lighthouse"

// latencyBuckets cover 50 µs to 10 s: fsyncs, gate decisions, HTTP requests.
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}

// fuseBuckets cover 5 µs to 1 s: most FUSE operations are served from memory.
var fuseBuckets = []float64{.000005, .00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .01, .1, 1}

// NewRegistry returns a registry holding the Go runtime and process
// collectors, labelled with the process name ("writer", "reader", ...).
func NewRegistry(process string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "process_info",
		Help: "Always 1; the process label names the Lighthouse process.", ConstLabels: prometheus.Labels{"process": process}})
	info.Set(1)
	reg.MustRegister(info)
	return reg
}

// Handler serves reg in the Prometheus text format (GET /metrics).
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// HTTP times requests by route (the route pattern, not the path) and status.
type HTTP struct {
	vec *prometheus.HistogramVec
	mu  sync.RWMutex
	obs map[httpKey]prometheus.Observer
}

type httpKey struct {
	method, route string
	status        int
}

// NewHTTP registers lighthouse_http_request_duration_seconds on reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	h := &HTTP{
		vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "http",
			Name: "request_duration_seconds", Help: "HTTP request latency by route pattern, method and status.",
			Buckets: latencyBuckets}, []string{"route", "method", "status"}),
		obs: map[httpKey]prometheus.Observer{},
	}
	reg.MustRegister(h.vec)
	return h
}

// Observe records one request. route is the route pattern ("/v1/files/*").
// The first request of a (method, route, status) binds its series; later
// ones find it with one map lookup under a read lock.
func (h *HTTP) Observe(method, route string, status int, d time.Duration) {
	if h == nil {
		return
	}
	switch method {
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodHead, http.MethodPatch, http.MethodOptions:
	default:
		method = "OTHER" // clients choose methods: keep the series bounded
	}
	k := httpKey{method, route, status}
	h.mu.RLock()
	o, ok := h.obs[k]
	h.mu.RUnlock()
	if !ok {
		h.mu.Lock()
		if o, ok = h.obs[k]; !ok {
			o = h.vec.WithLabelValues(route, method, strconv.Itoa(status))
			h.obs[k] = o
		}
		h.mu.Unlock()
	}
	o.Observe(d.Seconds())
}

// Gate counts the gate's decisions by decision and rule and times them.
type Gate struct {
	vec     *prometheus.CounterVec
	latency prometheus.Histogram
	mu      sync.RWMutex
	counts  map[string]map[string]prometheus.Counter
}

// NewGate registers lighthouse_gate_decisions_total and
// lighthouse_gate_decision_duration_seconds on reg.
func NewGate(reg prometheus.Registerer) *Gate {
	g := &Gate{
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "gate", Name: "decisions_total",
			Help: "Gate decisions by decision (allow, block, escalate) and deciding rule."}, []string{"decision", "rule"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "gate", Name: "decision_duration_seconds",
			Help: "Time to decide a tool call, audit append included.", Buckets: latencyBuckets}),
		counts: map[string]map[string]prometheus.Counter{},
	}
	reg.MustRegister(g.vec, g.latency)
	return g
}

// Observe records one decision. A learned decision's rule
// ("learned:ID") is counted as "learned": one series per learned decision
// would grow without bound.
func (g *Gate) Observe(decision, rule string, d time.Duration) {
	if g == nil {
		return
	}
	if strings.HasPrefix(rule, "learned:") {
		rule = "learned"
	}
	g.latency.Observe(d.Seconds())
	g.mu.RLock()
	c, ok := g.counts[decision][rule]
	g.mu.RUnlock()
	if !ok {
		g.mu.Lock()
		byRule := g.counts[decision]
		if byRule == nil {
			byRule = map[string]prometheus.Counter{}
			g.counts[decision] = byRule
		}
		if c, ok = byRule[rule]; !ok {
			c = g.vec.WithLabelValues(decision, rule)
			byRule[rule] = c
		}
		g.mu.Unlock()
	}
	c.Inc()
}

// Store times the event store's appends, group commits and fsyncs.
type Store struct {
	Append    prometheus.Histogram
	GroupSize prometheus.Histogram
	Fsync     prometheus.Histogram
}

// NewStore registers the event store's histograms on reg.
func NewStore(reg prometheus.Registerer) *Store {
	s := &Store{
		Append: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "store", Name: "append_duration_seconds",
			Help: "Time from queueing an append to its durable outcome.", Buckets: latencyBuckets}),
		GroupSize: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "store", Name: "group_commit_appends",
			Help: "Appends sharing one commit (one fsync).", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}}),
		Fsync: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "store", Name: "fsync_duration_seconds",
			Help: "Time of one group's synced Pebble commit.", Buckets: latencyBuckets}),
	}
	reg.MustRegister(s.Append, s.GroupSize, s.Fsync)
	return s
}

// ObserveAppend records one append's latency.
func (s *Store) ObserveAppend(d time.Duration) {
	if s != nil {
		s.Append.Observe(d.Seconds())
	}
}

// ObserveCommit records one group commit.
func (s *Store) ObserveCommit(appends int, fsync time.Duration) {
	if s != nil {
		s.GroupSize.Observe(float64(appends))
		s.Fsync.Observe(fsync.Seconds())
	}
}

// Relay measures the outbox relay: what it publishes and how far behind the
// log it is.
type Relay struct {
	Messages prometheus.Counter
	Events   prometheus.Counter
	Errors   prometheus.Counter
	Publish  prometheus.Histogram
	Lag      prometheus.Gauge
}

// NewRelay registers the relay's instruments on reg.
func NewRelay(reg prometheus.Registerer) *Relay {
	r := &Relay{
		Messages: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "bus", Name: "published_messages_total",
			Help: "Messages published to the bus (each carries a run of events)."}),
		Events: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "bus", Name: "published_events_total",
			Help: "Events published to the bus."}),
		Errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "bus", Name: "publish_errors_total",
			Help: "Publishes that failed and were retried."}),
		Publish: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "bus", Name: "publish_duration_seconds",
			Help: "Time until JetStream acknowledged a message.", Buckets: latencyBuckets}),
		Lag: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "outbox", Name: "lag_events",
			Help: "Durable events not yet published to the bus (log head minus outbox cursor)."}),
	}
	reg.MustRegister(r.Messages, r.Events, r.Errors, r.Publish, r.Lag)
	return r
}

// Published records a message of n events acknowledged after d.
func (r *Relay) Published(n int, d time.Duration) {
	if r != nil {
		r.Messages.Inc()
		r.Events.Add(float64(n))
		r.Publish.Observe(d.Seconds())
	}
}

// Failed records a failed publish.
func (r *Relay) Failed() {
	if r != nil {
		r.Errors.Inc()
	}
}

// SetLag records the outbox lag.
func (r *Relay) SetLag(head, cursor uint64) {
	if r != nil && head >= cursor {
		r.Lag.Set(float64(head - cursor))
	}
}

// Follower measures a replica's consumption: messages and events taken from
// the bus, events backfilled from the writer, redeliveries dropped, and how
// far the replica is behind the writer.
type Follower struct {
	Messages   prometheus.Counter
	BusEvents  prometheus.Counter
	Backfilled prometheus.Counter
	Dropped    prometheus.Counter
	Resubs     prometheus.Counter
	Applied    prometheus.Gauge
	WriterHead prometheus.Gauge
	Lag        prometheus.Gauge

	mu   sync.Mutex
	head uint64
	pos  uint64
}

// NewFollower registers a replica's instruments on reg.
func NewFollower(reg prometheus.Registerer) *Follower {
	f := &Follower{
		Messages: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "bus", Name: "consumed_messages_total",
			Help: "Bus messages this replica received."}),
		BusEvents: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "replica", Name: "applied_events_total",
			Help: "Events applied, by source (bus or backfill from the writer's log).", ConstLabels: prometheus.Labels{"source": "bus"}}),
		Backfilled: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "replica", Name: "applied_events_total",
			Help: "Events applied, by source (bus or backfill from the writer's log).", ConstLabels: prometheus.Labels{"source": "backfill"}}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "replica", Name: "duplicate_events_total",
			Help: "Events received again (redeliveries) and dropped."}),
		Resubs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "bus", Name: "resubscribes_total",
			Help: "Times the replica subscribed again because the bus brought nothing while the writer's log grew."}),
		Applied: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "replica", Name: "applied_seq",
			Help: "Last sequence this replica applied."}),
		WriterHead: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "replica", Name: "writer_head_seq",
			Help: "Highest writer sequence this replica has heard of (bus messages, backfill answers)."}),
		Lag: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "replica", Name: "lag_events",
			Help: "Writer head heard of minus applied sequence."}),
	}
	reg.MustRegister(f.Messages, f.BusEvents, f.Backfilled, f.Dropped, f.Resubs, f.Applied, f.WriterHead, f.Lag)
	return f
}

// Consumed records a bus message carrying n events, of which dup were
// already applied.
func (f *Follower) Consumed(n, dup int) {
	if f != nil {
		f.Messages.Inc()
		f.Dropped.Add(float64(dup))
	}
}

// Resubscribed records a new bus subscription after a silent one.
func (f *Follower) Resubscribed() {
	if f != nil {
		f.Resubs.Inc()
	}
}

// AppliedEvents records n events applied up to seq, from the bus or not.
func (f *Follower) AppliedEvents(n int, seq uint64, fromBus bool) {
	if f == nil {
		return
	}
	if fromBus {
		f.BusEvents.Add(float64(n))
	} else {
		f.Backfilled.Add(float64(n))
	}
	f.mu.Lock()
	f.pos = seq
	f.head = max(f.head, seq)
	f.update()
	f.mu.Unlock()
}

// SawHead records a writer sequence heard of.
func (f *Follower) SawHead(seq uint64) {
	if f == nil {
		return
	}
	f.mu.Lock()
	if seq > f.head {
		f.head = seq
		f.update()
	}
	f.mu.Unlock()
}

// SetPosition records the replica's position at start.
func (f *Follower) SetPosition(seq uint64) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.pos = seq
	f.head = max(f.head, seq)
	f.update()
	f.mu.Unlock()
}

func (f *Follower) update() {
	f.Applied.Set(float64(f.pos))
	f.WriterHead.Set(float64(f.head))
	f.Lag.Set(float64(f.head - f.pos))
}

// FUSEOps are the operations FUSE observes by name.
var FUSEOps = []string{"lookup", "getattr", "open", "read", "readdir", "readdirplus", "release", "opendir", "releasedir", "readlink", "statfs", "flush", "other"}

// FUSE times mount operations by operation.
type FUSE struct {
	vec *prometheus.HistogramVec
	obs map[string]prometheus.Observer // read-only after construction
}

// NewFUSE registers lighthouse_fuse_op_duration_seconds on reg, with every
// operation in FUSEOps pre-bound.
func NewFUSE(reg prometheus.Registerer) *FUSE {
	f := &FUSE{
		vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "fuse", Name: "op_duration_seconds",
			Help: "FUSE operation latency in the fuser, by operation.", Buckets: fuseBuckets}, []string{"op"}),
		obs: map[string]prometheus.Observer{},
	}
	reg.MustRegister(f.vec)
	for _, op := range FUSEOps {
		f.obs[op] = f.vec.WithLabelValues(op)
	}
	return f
}

// Observer returns the pre-bound observer of op; an op not in FUSEOps is
// "other".
func (f *FUSE) Observer(op string) prometheus.Observer {
	if o, ok := f.obs[op]; ok {
		return o
	}
	return f.obs["other"]
}

// NewCoordination registers lighthouse_reviews_open,
// lighthouse_leases_active and lighthouse_tasks_open, read from
// openReviews, activeLeases and openTasks at each scrape.
func NewCoordination(reg prometheus.Registerer, openReviews, activeLeases, openTasks func() int) {
	tasks := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "tasks", Name: "open",
		Help: "Tasks not yet finished: open or claimed."}, func() float64 { return float64(openTasks()) })
	reviews := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "reviews", Name: "open",
		Help: "Reviews pending a decision (the review queue)."}, func() float64 { return float64(openReviews()) })
	leases := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "leases", Name: "active",
		Help: "Active path leases."}, func() float64 { return float64(activeLeases()) })
	reg.MustRegister(tasks, reviews, leases)
}
