package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
	"github.com/lighthouse-ai/lighthouse/query"
)

// Progress is the reader's view of how far it and the writer are, and its
// index of points in history.
type Progress interface {
	domain.PointIndex
	Head() uint64
	WaitFor(ctx context.Context, seq uint64) error
	Snapshots() ([]domain.SnapshotCreated, error)
	// Rebuilt says how often the projection was rebuilt from the writer's
	// log since the process started, and why the last time.
	Rebuilt() (int, string)
}

// WriterHead asks the writer for its head.
type WriterHead func(ctx context.Context) (uint64, error)

// Reader is everything the reader's HTTP API needs.
type Reader struct {
	Log        *slog.Logger
	Agents     AgentLister
	Progress   Progress
	WriterHead WriterHead
	Tree       query.TreeHandler
	File       query.FileHandler
	History    query.HistoryHandler
	Events     query.EventsHandler
	Diff       query.DiffHandler
	Search     query.SearchHandler
	Leases     *projections.Leases   // GET /v1/leases; nil leaves it out
	Sessions   *projections.Sessions // GET /v1/sessions; nil leaves it out
	Messages   *projections.Messages // GET /v1/inbox and /v1/threads; nil leaves them out
	Tasks      *projections.Tasks    // GET /v1/tasks; nil leaves it out
	// Annotations serves GET /v1/annotations; nil leaves it out.
	Annotations *projections.Annotations
	Limits      Limits
	Ready       func() error
	Failure     func() error // the last failure to apply the log, if any
	// MaxWait bounds how long a read with min_seq waits.
	MaxWait time.Duration
	// Metrics times requests and serves GET /metrics.
	Metrics Metrics
}

// Handler returns the reader's routes.
func (r *Reader) Handler() http.Handler {
	e := newEcho(r.Log, r.Ready, r.Metrics)
	v1 := e.Group("/v1", authenticate(r.Agents, r.Limits), r.minSeq)
	v1.GET("/tree", r.tree)
	v1.GET("/files/*", r.file)
	v1.GET("/events", r.events)
	v1.GET("/status", r.status)
	v1.GET("/snapshots", r.snapshots)
	v1.GET("/snapshots/:name", r.snapshot)
	v1.GET("/diff", r.diff)
	v1.GET("/search", r.search)
	v1.GET("/agents", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]any{"agents": r.Agents.List()}) })
	r.coordinationRoutes(v1)
	r.messageRoutes(v1)
	r.taskRoutes(v1)
	r.annotationRoutes(v1)
	return e
}

// minSeq makes every read wait (bounded) until the projection has applied
// min_seq, so a client that wrote reads its own write.
func (r *Reader) minSeq(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := c.QueryParam("min_seq")
		if s == "" {
			return next(c)
		}
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return badRequest("min_seq", "min_seq_invalid", "min_seq must be a non-negative integer")
		}
		wait := r.MaxWait
		if ws := c.QueryParam("wait"); ws != "" {
			d, err := time.ParseDuration(ws)
			if err != nil || d < 0 {
				return badRequest("wait", "wait_invalid", "wait must be a duration such as 2s")
			}
			wait = min(d, r.MaxWait)
		}
		ctx, cancel := longPoll(c.Request(), wait)
		defer cancel()
		if err := r.Progress.WaitFor(ctx, seq); err != nil {
			c.Response().Header().Set("Retry-After", "1")
			return &apiError{status: http.StatusServiceUnavailable, detail: ErrorDetail{Code: "not_caught_up", Field: "min_seq",
				Message: "the reader has applied " + strconv.FormatUint(r.Progress.Head(), 10) + " events, not yet " + s}}
		}
		return next(c)
	}
}

func (r *Reader) setSeq(c echo.Context) {
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(r.Progress.Head(), 10))
}

// point reads a point parameter (a sequence, an RFC 3339 time or a
// snapshot name) and resolves it, rounded down to a change-set edge (see
// domain.Point.Resolve); absent means now (0). The effective point goes
// back in the X-Lighthouse-Point-<name> header ("X-Lighthouse-Point-At").
func (r *Reader) point(c echo.Context, name string) (uint64, error) {
	seq, err := r.resolvePoint(c, name)
	if err == nil && seq != 0 {
		c.Response().Header().Set("X-Lighthouse-Point-"+strings.ToUpper(name[:1])+name[1:], strconv.FormatUint(seq, 10))
	}
	return seq, err
}

func (r *Reader) resolvePoint(c echo.Context, name string) (uint64, error) {
	s := c.QueryParam(name)
	if s == "" {
		return 0, nil
	}
	p, err := domain.ParsePoint(name, s)
	if err != nil {
		return 0, err
	}
	if err := r.reach(c, name, p); err != nil {
		return 0, err
	}
	return p.Resolve(name, r.Progress, r.Progress.Head(), time.Now())
}

// reach makes sure the reader has applied everything a point covers before
// it is resolved, so that a point answers the same on every replica at
// every moment: a sequence up to it, a time or an unknown snapshot up to
// the writer's head (the reader cannot know otherwise whether more events
// fall before them). It waits like min_seq (wait=, at most MaxWait), then
// answers 503 not_caught_up; a sequence past the writer's head is 400
// point_in_future.
func (r *Reader) reach(c echo.Context, name string, p domain.Point) error {
	local := r.Progress.Head()
	var target uint64
	switch {
	case p.Snapshot != "":
		if _, ok, err := r.Progress.Snapshot(p.Snapshot); err != nil || ok {
			return err // a known snapshot names a sequence the reader has
		}
	case !p.Time.IsZero():
		if p.Time.After(time.Now()) {
			return nil // Resolve refuses it
		}
		seq, err := r.Progress.SeqAtTime(p.Time)
		if err != nil {
			return err
		}
		if seq < local {
			return nil // an applied event comes after the time: nothing more can fall before it
		}
	default:
		if p.Seq <= local {
			return nil
		}
		target = p.Seq
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	head, err := r.WriterHead(ctx)
	cancel()
	if err != nil {
		c.Response().Header().Set("Retry-After", "1")
		return &apiError{status: http.StatusServiceUnavailable, detail: ErrorDetail{Code: "not_caught_up", Field: name,
			Message: "the writer cannot be asked how far the log goes: " + err.Error()}}
	}
	if target > head {
		return domain.Invalid(name, "point_in_future", "sequence %d is after the last event (%d)", target, head)
	}
	if target == 0 {
		target = head
	}
	wait := r.MaxWait
	if ws := c.QueryParam("wait"); ws != "" {
		if d, err := time.ParseDuration(ws); err == nil && d >= 0 {
			wait = min(d, r.MaxWait)
		}
	}
	wctx, wcancel := longPoll(c.Request(), wait)
	defer wcancel()
	if err := r.Progress.WaitFor(wctx, target); err != nil {
		c.Response().Header().Set("Retry-After", "1")
		return &apiError{status: http.StatusServiceUnavailable, detail: ErrorDetail{Code: "not_caught_up", Field: name,
			Message: fmt.Sprintf("the reader has applied %d events; %s %s needs %d", r.Progress.Head(), name, c.QueryParam(name), target)}}
	}
	return nil
}

func (r *Reader) tree(c echo.Context) error {
	point, err := r.point(c, "at")
	if err != nil {
		return err
	}
	prefix := c.QueryParam("prefix")
	if prefix != "" {
		p, err := domain.ParsePath("prefix", prefix)
		if err != nil {
			return err
		}
		prefix = string(p)
	}
	r.setSeq(c)
	files, err := r.Tree.Handle(c.Request().Context(), query.Tree{At: point, Prefix: prefix})
	if err != nil {
		return err
	}
	if files == nil {
		files = []projections.FileInfo{}
	}
	out := map[string]any{"seq": r.Progress.Head(), "files": files}
	if point != 0 {
		out["at"] = point // the effective point, after rounding to a change-set edge
	}
	return c.JSON(http.StatusOK, out)
}

// file serves content, or with a trailing "/history" the file's revisions;
// ?raw=1 reads a file that is itself named "history".
func (r *Reader) file(c echo.Context) error {
	raw := strings.TrimPrefix(c.Request().URL.Path, "/v1/files/")
	if rest, ok := strings.CutSuffix(raw, "/history"); ok && c.QueryParam("raw") == "" {
		p, err := domain.ParsePath("path", rest)
		if err != nil {
			return err
		}
		r.setSeq(c)
		revs, err := r.History.Handle(c.Request().Context(), query.History{Path: p})
		if errors.Is(err, domain.ErrNotFound) {
			return &apiError{status: http.StatusNotFound, detail: ErrorDetail{Code: "file_not_found", Field: "path", Message: "no file " + string(p) + " was ever written"}}
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"path": p, "revisions": revs})
	}
	p, err := domain.ParsePath("path", raw)
	if err != nil {
		return err
	}
	point, err := r.point(c, "at")
	if err != nil {
		return err
	}
	r.setSeq(c)
	fi, content, err := r.File.Handle(c.Request().Context(), query.File{Path: p, At: point})
	if errors.Is(err, domain.ErrNotFound) {
		msg := "no file " + string(p) + " at this point"
		if asked, perr := strconv.ParseUint(c.QueryParam("at"), 10, 64); perr == nil && point != 0 && asked != point {
			// The sequence a tree or a history shows for a file written in a
			// change set is inside that set, and reads as the state before it.
			msg = fmt.Sprintf("no file %s at @%d: @%d is inside an atomic change set, so it reads as @%d, the state just before the set", p, point, asked, point)
		}
		return &apiError{status: http.StatusNotFound, detail: ErrorDetail{Code: "file_not_found", Field: "path", Message: msg}}
	}
	if err != nil {
		return err
	}
	defer content.Close()
	h := c.Response().Header()
	h.Set("ETag", `"`+fi.Hash+`"`)
	h.Set("X-Lighthouse-Version", strconv.FormatUint(fi.Version, 10))
	h.Set("X-Lighthouse-Last-Seq", strconv.FormatUint(fi.Seq, 10))
	h.Set("X-Lighthouse-Agent", fi.AgentID)
	h.Set("Content-Type", "application/octet-stream")
	http.ServeContent(c.Response(), c.Request(), "", fi.Time, content)
	return nil
}

func (r *Reader) events(c echo.Context) error {
	f := projections.EventFilter{AgentID: c.QueryParam("agent"), Type: c.QueryParam("type")}
	var err error
	if f.AfterSeq, err = uintParam(c, "after", 0); err != nil {
		return err
	}
	if f.UntilSeq, err = uintParam(c, "until_seq", 0); err != nil {
		return err
	}
	limit, err := uintParam(c, "limit", 100)
	if err != nil {
		return err
	}
	if limit == 0 || limit > domain.MaxEventsPage {
		return badRequest("limit", "limit_invalid", fmt.Sprintf("limit must be 1 to %d", domain.MaxEventsPage))
	}
	f.Limit = int(limit)
	if f.Newest, err = boolParam(c, "newest", false); err != nil {
		return err
	}
	if p := c.QueryParam("path"); p != "" {
		pp, err := domain.ParsePath("path", p)
		if err != nil {
			return err
		}
		f.PathPrefix = string(pp)
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if s := c.QueryParam(name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return badRequest(name, name+"_invalid", name+" must be an RFC 3339 time")
			}
			*dst = t
		}
	}
	r.setSeq(c)
	evs, next, err := r.Events.Handle(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []domain.Event{}
	}
	out := map[string]any{"events": evs}
	switch {
	case next != 0 && f.Newest:
		out["next_until"] = next
	case next != 0:
		out["next_after"] = next
	}
	return c.JSON(http.StatusOK, out)
}

// ReaderStatus is the reader's GET /v1/status answer.
type ReaderStatus struct {
	Applied     uint64  `json:"applied"`
	WriterHead  *uint64 `json:"writer_head"`
	Lag         *uint64 `json:"lag"`
	WriterError string  `json:"writer_error,omitempty"`
	// Rebuilds counts the times since the process started that the
	// projection was emptied and rebuilt from the writer's log: the log no
	// longer continued it, its files were damaged, or an older release wrote
	// it in another key layout. RebuildReason says why, the last time.
	Rebuilds      int    `json:"rebuilds,omitempty"`
	RebuildReason string `json:"rebuild_reason,omitempty"`
	// ApplyError is why the last event could not be applied; the reader
	// serves its last good state meanwhile.
	ApplyError string `json:"apply_error,omitempty"`
}

func (r *Reader) status(c echo.Context) error {
	st := ReaderStatus{Applied: r.Progress.Head()}
	st.Rebuilds, st.RebuildReason = r.Progress.Rebuilt()
	if r.Failure != nil {
		if err := r.Failure(); err != nil {
			st.ApplyError = err.Error()
		}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	head, err := r.WriterHead(ctx)
	if err != nil {
		st.WriterError = err.Error()
	} else {
		lag := uint64(0)
		if head > st.Applied {
			lag = head - st.Applied
		}
		st.WriterHead, st.Lag = &head, &lag
	}
	return c.JSON(http.StatusOK, st)
}

func (r *Reader) snapshots(c echo.Context) error {
	snaps, err := r.Progress.Snapshots()
	if err != nil {
		return err
	}
	if snaps == nil {
		snaps = []domain.SnapshotCreated{}
	}
	return c.JSON(http.StatusOK, map[string]any{"snapshots": snaps})
}

func (r *Reader) snapshot(c echo.Context) error {
	snaps, err := r.Progress.Snapshots()
	if err != nil {
		return err
	}
	for _, s := range snaps {
		if s.Name == c.Param("name") {
			return c.JSON(http.StatusOK, s)
		}
	}
	return &apiError{status: http.StatusNotFound, detail: ErrorDetail{Code: "snapshot_unknown", Field: "name", Message: "no snapshot named " + c.Param("name")}}
}

func (r *Reader) diff(c echo.Context) error {
	var q query.Diff
	patches, err := boolParam(c, "patches", true)
	if err != nil {
		return err
	}
	q.Patches = patches
	if c.QueryParam("from") == "" {
		return badRequest("from", "point_missing", "from is required: a sequence number, an RFC 3339 time or a snapshot name")
	}
	if q.From, err = r.point(c, "from"); err != nil {
		return err
	}
	if q.To, err = r.point(c, "to"); err != nil {
		return err
	}
	if q.To == 0 {
		q.To = r.Progress.Head()
	}
	if p := c.QueryParam("path"); p != "" {
		pp, err := domain.ParsePath("path", p)
		if err != nil {
			return err
		}
		q.Prefix = string(pp)
	}
	r.setSeq(c)
	changes, err := r.Diff.Handle(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if changes == nil {
		changes = []query.Change{}
	}
	return c.JSON(http.StatusOK, map[string]any{"from": q.From, "to": q.To, "changes": changes})
}

// search streams matches as JSON lines, then one summary line.
func (r *Reader) search(c echo.Context) error {
	q := query.Search{Pattern: c.QueryParam("q"), Globs: c.QueryParams()["glob"]}
	if q.Pattern == "" {
		return badRequest("q", "pattern_missing", "q (the pattern) is required")
	}
	var err error
	if q.Literal, err = boolParam(c, "literal", false); err != nil {
		return err
	}
	if q.IgnoreCase, err = boolParam(c, "ignore_case", false); err != nil {
		return err
	}
	limit, err := uintParam(c, "limit", 1000)
	if err != nil {
		return err
	}
	if limit == 0 || limit > query.MaxSearchMatches {
		return badRequest("limit", "limit_invalid", "limit must be 1 to 100000")
	}
	q.Limit = int(limit)
	if q.At, err = r.point(c, "at"); err != nil {
		return err
	}
	if q.At == 0 {
		q.At = r.Progress.Head()
	}
	r.setSeq(c)
	resp := c.Response()
	enc := json.NewEncoder(resp)
	started := false
	// The stream's type is set only once it starts: an error before then
	// (an invalid pattern or glob) is our JSON error body, which the error
	// handler writes only into a response whose type is not yet set.
	start := func() {
		resp.Header().Set("Content-Type", "application/x-ndjson")
		resp.WriteHeader(http.StatusOK)
		started = true
	}
	sum, err := r.Search.Handle(c.Request().Context(), q, func(m query.Match) error {
		if !started {
			start()
		}
		if err := enc.Encode(m); err != nil {
			return err
		}
		resp.Flush()
		return nil
	})
	if err != nil && !started {
		return err
	}
	if !started {
		start()
	}
	out := map[string]any{"done": true, "at": q.At, "matches": sum.Matches, "files_searched": sum.Files, "truncated": sum.Truncated}
	if len(sum.Corrupt) > 0 {
		out["corrupt"] = sum.Corrupt // skipped: their stored content is damaged
	}
	if err != nil {
		out["error"] = err.Error()
	}
	return enc.Encode(out)
}
