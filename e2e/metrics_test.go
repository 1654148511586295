package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads base/metrics without credentials.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %d", base, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s/metrics: %v", base, err)
	}
	return fams
}

// metricValue sums the series of name whose labels include want: counter
// and gauge values, histogram sample counts. ok is false when name is absent.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, x := range want {
			if have[k] != x {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		}
	}
	return v, true
}

// TestMetrics: the writer, the reader and (where FUSE works) the fuser serve
// GET /metrics without credentials, and what they report matches what was
// done to them.
func TestMetrics(t *testing.T) {
	t.Parallel()
	mount := os.Geteuid() == 0
	if _, err := os.Stat("/dev/fuse"); err != nil {
		mount = false
	}
	e := start(t, mount)
	const files = 25
	var seq uint64
	for i := 0; i < files; i++ {
		seq = e.put(e.admin, fmt.Sprintf("m/f%d.txt", i), fmt.Sprint(i))
	}
	d := validate(t, e.admin, []byte(`{"tool_name":"Bash","tool_input":{"command":"rm -rf ~"},"cwd":"`+gateProject+`"}`))
	if d.Decision != "block" {
		t.Fatalf("rm -rf ~ decided %q", d.Decision)
	}
	if got, err := e.readFile("m/f3.txt", seq); err != nil || got != "3" {
		t.Fatalf("read = %q, %v", got, err)
	}
	head := float64(e.writerHead())

	type check struct {
		name   string
		labels map[string]string
		cmp    string // ">=" or "=="
		want   float64
	}
	verify := func(what, base string, checks []check) error {
		fams := scrape(t, base)
		for _, c := range checks {
			v, ok := metricValue(fams, c.name, c.labels)
			if !ok {
				return fmt.Errorf("%s: %s missing", what, c.name)
			}
			if (c.cmp == "==" && v != c.want) || (c.cmp == ">=" && v < c.want) {
				return fmt.Errorf("%s: %s%v = %v, want %s %v", what, c.name, c.labels, v, c.cmp, c.want)
			}
		}
		return nil
	}
	writerChecks := []check{
		{"lighthouse_http_request_duration_seconds", map[string]string{"route": "/v1/files/*", "method": "PUT"}, ">=", files},
		{"lighthouse_gate_decisions_total", map[string]string{"decision": "block"}, ">=", 1},
		{"lighthouse_gate_decision_duration_seconds", nil, ">=", 1},
		{"lighthouse_store_append_duration_seconds", nil, ">=", files + 1},
		{"lighthouse_store_group_commit_appends", nil, ">=", 1},
		{"lighthouse_store_fsync_duration_seconds", nil, ">=", 1},
		{"lighthouse_bus_published_events_total", nil, "==", head},
		{"lighthouse_outbox_lag_events", nil, "==", 0},
		{"lighthouse_reviews_open", nil, "==", 0},
		{"lighthouse_tasks_open", nil, "==", 0},
		{"lighthouse_leases_active", nil, "==", 0},
	}
	replicaChecks := []check{
		{"lighthouse_replica_applied_seq", nil, "==", head},
		{"lighthouse_replica_lag_events", nil, "==", 0},
		{"lighthouse_replica_applied_events_total", nil, "==", head},
	}
	eventually(t, "writer metrics", func() error { return verify("writer", e.sys.WriterURL, writerChecks) })
	eventually(t, "reader metrics", func() error {
		return verify("reader", e.sys.ReaderURL, append(replicaChecks,
			check{"lighthouse_http_request_duration_seconds", map[string]string{"route": "/v1/files/*", "method": "GET", "status": "200"}, ">=", 1},
			check{"lighthouse_bus_consumed_messages_total", nil, ">=", 0}))
	})
	if !mount {
		t.Log("FUSE is not available here: the fuser's /metrics is not checked")
		return
	}
	if e.sys.Fuser == nil {
		t.Fatalf("fuser did not start: %v", e.sys.FuserError)
	}
	eventually(t, "fuser caught up", func() error { return verify("fuser", e.sys.FuserURL, replicaChecks) })
	if b, err := os.ReadFile(filepath.Join(e.sys.MountDir(), "current", "m", "f3.txt")); err != nil || string(b) != "3" {
		t.Fatalf("read through the mount = %q, %v", b, err)
	}
	fuserChecks := []check{
		{"lighthouse_fuse_op_duration_seconds", map[string]string{"op": "lookup"}, ">=", 1},
		{"lighthouse_fuse_op_duration_seconds", map[string]string{"op": "read"}, ">=", 1},
	}
	if os.Getenv("GOGC") == "" {
		// The fuser's own default, and Go's for the reader.
		fuserChecks = append(fuserChecks, check{"go_gc_gogc_percent", nil, "==", 50})
		if err := verify("reader", e.sys.ReaderURL, []check{{"go_gc_gogc_percent", nil, "==", 100}}); err != nil {
			t.Error(err)
		}
	}
	eventually(t, "fuser metrics", func() error { return verify("fuser", e.sys.FuserURL, fuserChecks) })
}
