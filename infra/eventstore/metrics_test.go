package eventstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
)

// TestMetricsCountAppendsAndGroups: every append is timed once, and the
// group-commit sizes add up to the appends that committed.
func TestMetricsCountAppendsAndGroups(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name             string
		writers, appends int
	}{
		{"one writer", 1, 20},
		{"concurrent writers share fsyncs", 16, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := metrics.NewRegistry("test")
			m := metrics.NewStore(reg)
			s, err := Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), WithMetrics(m))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var wg sync.WaitGroup
			for w := 0; w < tt.writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < tt.appends; i++ {
						req := domain.AppendRequest{Meta: domain.Metadata{AgentID: "a"}, Drafts: []domain.Draft{write(fmt.Sprintf("s%d", w))}}
						if _, err := s.Append(context.Background(), req); err != nil {
							t.Error(err)
						}
					}
				}(w)
			}
			wg.Wait()
			total := tt.writers * tt.appends
			if n := testutil.CollectAndCount(m.Append); n != 1 {
				t.Fatalf("append histogram has %d series", n)
			}
			fams, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][2]float64{}
			for _, f := range fams {
				if h := f.GetMetric()[0].GetHistogram(); h != nil {
					got[f.GetName()] = [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
				}
			}
			if c := got["lighthouse_store_append_duration_seconds"][0]; c != float64(total) {
				t.Errorf("appends timed %v, want %d", c, total)
			}
			groups := got["lighthouse_store_group_commit_appends"]
			if groups[1] != float64(total) || groups[0] < 1 || groups[0] > float64(total) {
				t.Errorf("group commits: %v groups of %v appends, want the sizes to add up to %d", groups[0], groups[1], total)
			}
			if c := got["lighthouse_store_fsync_duration_seconds"][0]; c != groups[0] {
				t.Errorf("fsyncs timed %v, want one per group (%v)", c, groups[0])
			}
		})
	}
}
