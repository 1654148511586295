package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// find returns the metric family name from reg, or nil.
func find(t *testing.T, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestInstruments(t *testing.T) {
	tests := []struct {
		name   string
		record func(reg *prometheus.Registry)
		metric string
		labels map[string]string
		// count is the histogram sample count, or the counter/gauge value.
		count float64
	}{
		{"http by route and status", func(reg *prometheus.Registry) {
			h := NewHTTP(reg)
			h.Observe("GET", "/v1/tree", 200, time.Millisecond)
			h.Observe("GET", "/v1/tree", 200, time.Millisecond)
			h.Observe("GET", "/v1/tree", 404, time.Millisecond)
		}, "lighthouse_http_request_duration_seconds", map[string]string{"route": "/v1/tree", "method": "GET", "status": "200"}, 2},
		{"http other methods", func(reg *prometheus.Registry) {
			NewHTTP(reg).Observe("PUT", "/v1/files/*", 201, time.Millisecond)
		}, "lighthouse_http_request_duration_seconds", map[string]string{"route": "/v1/files/*", "method": "PUT", "status": "201"}, 1},
		{"unknown methods share one series", func(reg *prometheus.Registry) {
			h := NewHTTP(reg)
			h.Observe("BREW", "/v1/", 405, time.Millisecond)
			h.Observe("PROPFIND", "/v1/", 405, time.Millisecond)
		}, "lighthouse_http_request_duration_seconds", map[string]string{"route": "/v1/", "method": "OTHER", "status": "405"}, 2},
		{"gate decisions by decision and rule", func(reg *prometheus.Registry) {
			g := NewGate(reg)
			g.Observe("block", "builtin.rm-home", time.Millisecond)
			g.Observe("block", "builtin.rm-home", time.Millisecond)
			g.Observe("allow", "default", time.Millisecond)
		}, "lighthouse_gate_decisions_total", map[string]string{"decision": "block", "rule": "builtin.rm-home"}, 2},
		{"learned decisions share one series", func(reg *prometheus.Registry) {
			g := NewGate(reg)
			g.Observe("allow", "learned:7445aa58-0000-4000-8000-000000000001", time.Millisecond)
			g.Observe("allow", "learned:1b2c3d4e-0000-4000-8000-000000000002", time.Millisecond)
		}, "lighthouse_gate_decisions_total", map[string]string{"decision": "allow", "rule": "learned"}, 2},
		{"gate latency", func(reg *prometheus.Registry) {
			g := NewGate(reg)
			g.Observe("block", "x", time.Millisecond)
			g.Observe("allow", "y", time.Millisecond)
		}, "lighthouse_gate_decision_duration_seconds", nil, 2},
		{"group commit size", func(reg *prometheus.Registry) {
			s := NewStore(reg)
			s.ObserveCommit(3, time.Millisecond)
			s.ObserveCommit(5, time.Millisecond)
		}, "lighthouse_store_group_commit_appends", nil, 2},
		{"outbox lag", func(reg *prometheus.Registry) {
			NewRelay(reg).SetLag(120, 100)
		}, "lighthouse_outbox_lag_events", nil, 20},
		{"published events", func(reg *prometheus.Registry) {
			r := NewRelay(reg)
			r.Published(7, time.Millisecond)
			r.Published(3, time.Millisecond)
		}, "lighthouse_bus_published_events_total", nil, 10},
		{"replica lag", func(reg *prometheus.Registry) {
			f := NewFollower(reg)
			f.SetPosition(10)
			f.SawHead(25)
			f.AppliedEvents(5, 15, true)
		}, "lighthouse_replica_lag_events", nil, 10},
		{"replica applied seq", func(reg *prometheus.Registry) {
			f := NewFollower(reg)
			f.AppliedEvents(5, 15, false)
		}, "lighthouse_replica_applied_seq", nil, 15},
		{"applied by source", func(reg *prometheus.Registry) {
			f := NewFollower(reg)
			f.AppliedEvents(5, 5, false)
			f.AppliedEvents(2, 7, true)
		}, "lighthouse_replica_applied_events_total", map[string]string{"source": "backfill"}, 5},
		{"fuse ops", func(reg *prometheus.Registry) {
			f := NewFUSE(reg)
			f.Observer("lookup").Observe(1e-5)
			f.Observer("nonsense").Observe(1e-5)
		}, "lighthouse_fuse_op_duration_seconds", map[string]string{"op": "other"}, 1},
		{"open reviews", func(reg *prometheus.Registry) {
			NewCoordination(reg, func() int { return 4 }, func() int { return 2 }, func() int { return 3 })
		}, "lighthouse_reviews_open", nil, 4},
		{"open tasks", func(reg *prometheus.Registry) {
			NewCoordination(reg, func() int { return 4 }, func() int { return 2 }, func() int { return 3 })
		}, "lighthouse_tasks_open", nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := NewRegistry("test")
			tt.record(reg)
			fam := find(t, reg, tt.metric)
			if fam == nil {
				t.Fatalf("%s not registered", tt.metric)
			}
			var got *dto.Metric
			for _, m := range fam.GetMetric() {
				l := labels(m)
				match := true
				for k, v := range tt.labels {
					if l[k] != v {
						match = false
					}
				}
				if match {
					got = m
					break
				}
			}
			if got == nil {
				t.Fatalf("%s has no series with labels %v", tt.metric, tt.labels)
			}
			var v float64
			switch {
			case got.Histogram != nil:
				v = float64(got.Histogram.GetSampleCount())
			case got.Counter != nil:
				v = got.Counter.GetValue()
			case got.Gauge != nil:
				v = got.Gauge.GetValue()
			}
			if v != tt.count {
				t.Fatalf("%s%v = %v, want %v", tt.metric, tt.labels, v, tt.count)
			}
		})
	}
}

// TestNilInstruments: a part given no instruments records nothing and
// does not panic.
func TestNilInstruments(t *testing.T) {
	var (
		h *HTTP
		g *Gate
		s *Store
		r *Relay
		f *Follower
	)
	h.Observe("GET", "/", 200, time.Millisecond)
	g.Observe("allow", "r", time.Millisecond)
	s.ObserveAppend(time.Millisecond)
	s.ObserveCommit(1, time.Millisecond)
	r.Published(1, time.Millisecond)
	r.Failed()
	r.SetLag(2, 1)
	f.Consumed(1, 0)
	f.AppliedEvents(1, 1, true)
	f.SawHead(3)
	f.SetPosition(1)
}

// TestHotPathsDoNotAllocate: observing a bound route, decision or append
// costs no allocation.
func TestHotPathsDoNotAllocate(t *testing.T) {
	reg := NewRegistry("test")
	h, g, s := NewHTTP(reg), NewGate(reg), NewStore(reg)
	h.Observe("GET", "/v1/tree", 200, time.Millisecond)
	g.Observe("allow", "default", time.Millisecond)
	for name, fn := range map[string]func(){
		"http":   func() { h.Observe("GET", "/v1/tree", 200, time.Millisecond) },
		"gate":   func() { g.Observe("allow", "default", time.Millisecond) },
		"append": func() { s.ObserveAppend(time.Millisecond) },
	} {
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Errorf("%s: %v allocations per observation, want 0", name, n)
		}
	}
}

func TestHandlerServesText(t *testing.T) {
	reg := NewRegistry("writer")
	NewStore(reg).ObserveAppend(time.Millisecond)
	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"lighthouse_store_append_duration_seconds_count 1", `lighthouse_process_info{process="writer"} 1`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
