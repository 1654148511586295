package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// fakeProgress is a replica that has applied head events, event i at
// times[i-1].
type fakeProgress struct {
	head  uint64
	times []time.Time
}

func (p fakeProgress) Head() uint64 { return p.head }
func (p fakeProgress) WaitFor(ctx context.Context, seq uint64) error {
	if seq <= p.head {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}
func (p fakeProgress) Snapshots() ([]domain.SnapshotCreated, error) { return nil, nil }
func (p fakeProgress) Rebuilt() (int, string)                       { return 0, "" }
func (p fakeProgress) Snapshot(name string) (uint64, bool, error) {
	if name == "known" {
		return 2, true, nil
	}
	return 0, false, nil
}
func (p fakeProgress) SeqAtTime(t time.Time) (uint64, error) {
	return domain.SeqAtTime(p.head, t, p.Event)
}
func (p fakeProgress) Event(seq uint64) (domain.Event, error) {
	return domain.Event{Seq: seq, Time: p.times[seq-1]}, nil
}

// TestPointsAreExactOrNotCaughtUp: a point the reader has not applied all
// of waits and then answers 503 not_caught_up, never a partial state.
func TestPointsAreExactOrNotCaughtUp(t *testing.T) {
	t.Parallel()
	t0 := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	local := fakeProgress{head: 5}
	for i := range 5 {
		local.times = append(local.times, t0.Add(time.Duration(i)*time.Minute))
	}
	writerAt := func(h uint64) WriterHead { return func(context.Context) (uint64, error) { return h, nil } }
	down := WriterHead(func(context.Context) (uint64, error) { return 0, errors.New("connection refused") })
	cases := []struct {
		name   string
		at     string
		writer WriterHead
		want   uint64
		status int
		code   string
	}{
		{"applied sequence", "3", writerAt(9), 3, 200, ""},
		{"sequence not applied yet", "7", writerAt(9), 0, 503, "not_caught_up"},
		{"sequence after the log", "12", writerAt(9), 0, 400, "point_in_future"},
		{"sequence not applied, writer down", "7", down, 0, 503, "not_caught_up"},
		{"time inside applied history", t0.Add(90 * time.Second).Format(time.RFC3339), writerAt(9), 2, 200, ""},
		{"time after the last applied event, writer ahead", t0.Add(time.Hour).Format(time.RFC3339), writerAt(9), 0, 503, "not_caught_up"},
		{"time after the last applied event, writer there", t0.Add(time.Hour).Format(time.RFC3339), writerAt(5), 5, 200, ""},
		{"time before history", t0.Add(-time.Hour).Format(time.RFC3339), writerAt(9), 0, 400, "point_before_history"},
		{"known snapshot", "known", writerAt(9), 2, 200, ""},
		{"unknown snapshot, writer ahead", "later", writerAt(9), 0, 503, "not_caught_up"},
		{"unknown snapshot, writer there", "later", writerAt(5), 0, 400, "snapshot_unknown"},
	}
	for _, c := range cases {
		r := &Reader{Progress: local, WriterHead: c.writer, MaxWait: 20 * time.Millisecond}
		req := httptest.NewRequest(http.MethodGet, "/v1/tree?at="+c.at, nil)
		ctx := echo.New().NewContext(req, httptest.NewRecorder())
		got, err := r.point(ctx, "at")
		status, detail := 200, ErrorDetail{}
		if err != nil {
			status, detail = statusOf(err)
		}
		if status != c.status || detail.Code != c.code || got != c.want || (err != nil && detail.Field != "at") {
			t.Errorf("%s: %d, %d %+v; want %d, %d %s", c.name, got, status, detail, c.want, c.status, c.code)
		}
	}
}
