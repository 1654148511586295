package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
)

// EventSource is the writer's log as the HTTP edge reads it.
type EventSource interface {
	ReadRaw(after uint64, limit int) ([]json.RawMessage, error)
	Head() (uint64, string)
	Published() (uint64, error)
	Verify() (uint64, error)
	EachFileVersion(fn func(hash string, v domain.FileVersion) error) error
}

// AgentLister lists the known agents.
type AgentLister interface {
	Authenticator
	List() []domain.Agent
}

// Writer is everything the writer's HTTP API needs.
type Writer struct {
	Log          *slog.Logger
	Files        command.ChangeFilesHandler
	Register     command.RegisterAgentHandler
	ChangeAgent  command.ChangeAgentHandler
	Agents       AgentLister
	Events       EventSource
	Blobs        *blobstore.Store
	MaxFileBytes int64
	Limits       Limits
	Ready        func() error
	Gate         *Gate
	History      *command.HistoryHandler
	ProjectRoot  string // the absolute project root the gate guards, reported by GET /v1/status
	// Disk, when set, restores through the project's watcher, which also
	// brings the files on disk back (and refuses over local changes).
	Disk DiskRestorer
	// Coordination serves leases and sessions; nil leaves them out.
	Coordination *Coordination
	// Messaging serves messages; nil leaves them out.
	Messaging *Messaging
	// Tasks serves tasks routed by capability; nil leaves them out.
	Tasks *Tasks
	// Annotating serves annotations; nil leaves them out.
	Annotating *Annotating
	// Metrics times requests and serves GET /metrics.
	Metrics Metrics
}

// DiskRestorer hands a restore to the project's watcher. ok is false when
// no watcher runs; otherwise status and body are the watcher's answer.
type DiskRestorer interface {
	RestoreOnDisk(ctx context.Context, token string, req RestoreRequest) (status int, body []byte, ok bool, err error)
}

// Handler returns the writer's routes.
func (w *Writer) Handler() http.Handler {
	e := newEcho(w.Log, w.Ready, w.Metrics)
	v1 := e.Group("/v1", checkText, authenticate(w.Agents, w.Limits), observersRead("/v1/blobs/batch"))
	v1.PUT("/files/*", w.putFile)
	v1.DELETE("/files/*", w.deleteFile)
	v1.POST("/files/move", w.moveFile)
	v1.POST("/changes", w.changes)
	v1.POST("/blobs", w.putBlob)
	v1.GET("/blobs/:hash", w.getBlob)
	v1.POST("/blobs/batch", w.batchBlobs)
	v1.GET("/events", w.events)
	v1.POST("/agents", w.addAgent)
	v1.GET("/agents", w.listAgents)
	v1.DELETE("/agents/:name", func(c echo.Context) error { return w.changeAgent(c, true) })
	v1.POST("/agents/:name/rotate", func(c echo.Context) error { return w.changeAgent(c, false) })
	v1.PUT("/agents/:name/capabilities", w.setCapabilities)
	v1.GET("/whoami", func(c echo.Context) error { return c.JSON(http.StatusOK, agentOf(c)) })
	v1.GET("/status", w.status)
	v1.GET("/verify", w.verify)
	v1.POST("/snapshots", w.snapshot)
	v1.POST("/restore", w.restore)
	w.Gate.routes(v1)
	w.Coordination.routes(v1)
	w.Messaging.routes(v1)
	w.Tasks.routes(v1)
	w.Annotating.routes(v1)
	return e
}

// CommandResponse answers an accepted command. Seq is the consistency token:
// pass it as min_seq to the reader to read your own write.
type CommandResponse struct {
	Seq       uint64 `json:"seq"`
	FirstSeq  uint64 `json:"first_seq"`
	Duplicate bool   `json:"duplicate"`
	// Unchanged: the command changed nothing and appended no event (its
	// writes were of the content and mode the files already had); Seq is
	// then the newest sequence of those files.
	Unchanged bool         `json:"unchanged,omitempty"`
	Events    []EventBrief `json:"events,omitempty"`
}

// EventBrief names one appended event.
type EventBrief struct {
	Seq           uint64 `json:"seq"`
	Type          string `json:"type"`
	StreamID      string `json:"stream_id"`
	StreamVersion uint64 `json:"stream_version"`
}

func accepted(c echo.Context, status int, res domain.AppendResult) error {
	out := CommandResponse{Seq: res.LastSeq, FirstSeq: res.FirstSeq, Duplicate: res.Duplicate, Unchanged: res.Unchanged}
	for _, e := range res.Events {
		out.Events = append(out.Events, EventBrief{Seq: e.Seq, Type: e.Type, StreamID: e.StreamID, StreamVersion: e.StreamVersion})
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.LastSeq, 10))
	return c.JSON(status, out)
}

// meta builds event metadata: the agent always comes from the token. The
// headers were checked for valid UTF-8 by checkText; over-long ids are cut
// on a character boundary.
func meta(c echo.Context, agent domain.Agent) domain.Metadata {
	h := c.Request().Header
	return domain.Metadata{
		AgentID:       agent.ID,
		SessionID:     limitText(h.Get("X-Session-Id")),
		CorrelationID: limitText(h.Get("X-Correlation-Id")),
		CausationID:   limitText(h.Get("X-Causation-Id")),
	}
}

func limitText(s string) string { return domain.TruncateText(s, domain.MaxMetaBytes) }

// requestParam reads a parameter from the query or, failing that, a header.
func requestParam(c echo.Context, query, header string) string {
	if v := c.QueryParam(query); v != "" {
		return v
	}
	return c.Request().Header.Get(header)
}

func commandID(c echo.Context) (string, error) {
	id := requestParam(c, "command_id", "X-Command-Id")
	return id, checkCommandID(id)
}

// checkCommandID applies the same limits to every command's command_id.
func checkCommandID(id string) error {
	if len(id) > domain.MaxMetaBytes {
		return badRequest("command_id", "command_id_too_long", fmt.Sprintf("command_id is at most %d bytes", domain.MaxMetaBytes))
	}
	return domain.CheckText("command_id", id)
}

func expectedVersion(c echo.Context) (*uint64, error) {
	s := requestParam(c, "expected_version", "X-Expected-Version")
	if s == "" {
		return nil, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, badRequest("expected_version", "expected_version_invalid", "expected_version must be a non-negative integer")
	}
	return &v, nil
}

// parseMode reads octal permission bits, kept exactly (0000 included); nil
// when s is empty. Anything else (setuid, sticky, file type bits) is a 400.
func parseMode(field, s string) (*uint32, error) {
	if s == "" {
		return nil, nil
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return nil, badRequest(field, "mode_invalid", "mode must be octal permission bits from 000 to 777, for example 644 or 755")
	}
	mode := uint32(m)
	return &mode, nil
}

// filePath takes the path from the URL. The decoded URL path is used, so
// percent-encoded dots and slashes are normalised like plain ones.
func filePath(c echo.Context) (domain.Path, error) {
	raw := strings.TrimPrefix(c.Request().URL.Path, "/v1/files/")
	return domain.ParsePath("path", raw)
}

// fileRequest is what a single-file command takes from the URL and headers.
type fileRequest struct {
	agent     domain.Agent
	path      domain.Path
	expected  *uint64
	commandID string
}

func parseFileRequest(c echo.Context) (r fileRequest, err error) {
	if r.agent, err = require(c, domain.RoleBuilder); err != nil {
		return r, err
	}
	if r.path, err = filePath(c); err != nil {
		return r, err
	}
	if r.expected, err = expectedVersion(c); err != nil {
		return r, err
	}
	r.commandID, err = commandID(c)
	return r, err
}

func (w *Writer) putFile(c echo.Context) error {
	r, err := parseFileRequest(c)
	if err != nil {
		return err
	}
	mode, err := parseMode("mode", c.QueryParam("mode"))
	if err != nil {
		return err
	}
	content, err := w.Blobs.Ingest(c.Request().Body, w.MaxFileBytes)
	if err != nil {
		return err
	}
	return w.fileOp(c, r, command.FileOp{Op: command.OpWrite, Content: content.ContentRef, Inline: content.Inline, Mode: mode})
}

func (w *Writer) deleteFile(c echo.Context) error {
	r, err := parseFileRequest(c)
	if err != nil {
		return err
	}
	return w.fileOp(c, r, command.FileOp{Op: command.OpDelete})
}

func (w *Writer) fileOp(c echo.Context, r fileRequest, op command.FileOp) error {
	op.Path, op.ExpectedVersion = r.path, r.expected
	res, err := w.Files.Handle(c.Request().Context(), command.ChangeFiles{CommandID: r.commandID, Meta: meta(c, r.agent), Ops: []command.FileOp{op}})
	if err != nil {
		return err
	}
	return accepted(c, http.StatusOK, res)
}

// maxJSONBody bounds JSON command bodies (a change set with inline content).
const maxJSONBody = 64 << 20

func decodeJSON(c echo.Context, v any) error { return decodeBody(c, v, maxJSONBody, true) }

type moveRequest struct {
	From            string  `json:"from"`
	To              string  `json:"to"`
	ExpectedVersion *uint64 `json:"expected_version"`
	CommandID       string  `json:"command_id"`
}

func (w *Writer) moveFile(c echo.Context) error {
	agent, err := require(c, domain.RoleBuilder)
	if err != nil {
		return err
	}
	var req moveRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	op, err := parseOp(-1, changeOp{Op: command.OpMove, Path: req.From, To: req.To, ExpectedVersion: req.ExpectedVersion}, w.Blobs, w.MaxFileBytes)
	if err != nil {
		return err
	}
	if err := checkCommandID(req.CommandID); err != nil {
		return err
	}
	res, err := w.Files.Handle(c.Request().Context(), command.ChangeFiles{CommandID: req.CommandID, Meta: meta(c, agent), Ops: []command.FileOp{op}})
	if err != nil {
		return err
	}
	return accepted(c, http.StatusOK, res)
}

type changeOp struct {
	Op              string  `json:"op"`
	Path            string  `json:"path"`
	To              string  `json:"to"`
	Content         *string `json:"content"`
	ContentBase64   *string `json:"content_base64"`
	Hash            string  `json:"hash"`
	Mode            string  `json:"mode"`
	ExpectedVersion *uint64 `json:"expected_version"`
}

type changesRequest struct {
	CommandID string     `json:"command_id"`
	Ops       []changeOp `json:"ops"`
}

// fieldName names an op's field; i < 0 means a single-op request.
func fieldName(i int, f string) string {
	if i < 0 {
		return f
	}
	return fmt.Sprintf("ops[%d].%s", i, f)
}

// move's source is called "from" in the single-op request.
func parseOp(i int, o changeOp, blobs *blobstore.Store, maxBytes int64) (command.FileOp, error) {
	pathField := "path"
	if i < 0 && o.Op == command.OpMove {
		pathField = "from"
	}
	p, err := domain.ParsePath(fieldName(i, pathField), o.Path)
	if err != nil {
		return command.FileOp{}, err
	}
	op := command.FileOp{Op: o.Op, Path: p, ExpectedVersion: o.ExpectedVersion}
	switch o.Op {
	case command.OpWrite:
		if op.Mode, err = parseMode(fieldName(i, "mode"), o.Mode); err != nil {
			return op, err
		}
		var content blobstore.Content
		switch {
		case o.Content != nil:
			content, err = blobs.Ingest(strings.NewReader(*o.Content), maxBytes)
			op.Content, op.Inline = content.ContentRef, content.Inline
		case o.ContentBase64 != nil:
			content, err = blobs.Ingest(base64.NewDecoder(base64.StdEncoding, strings.NewReader(*o.ContentBase64)), maxBytes)
			op.Content, op.Inline = content.ContentRef, content.Inline
			if err != nil && !errors.Is(err, blobstore.ErrTooLarge) {
				err = badRequest(fieldName(i, "content_base64"), "base64_invalid", "content_base64 is not valid base64")
			}
		case o.Hash != "":
			op.Content, err = blobs.Stat(o.Hash)
			if err != nil {
				err = badRequest(fieldName(i, "hash"), "blob_unknown", "no blob with hash "+o.Hash+" was uploaded (POST /v1/blobs)")
			}
		default:
			err = badRequest(fieldName(i, "content"), "content_missing", "a write needs content, content_base64 or hash")
		}
	case command.OpMove:
		op.To, err = domain.ParsePath(fieldName(i, "to"), o.To)
	case command.OpDelete:
	default:
		err = badRequest(fieldName(i, "op"), "op_unknown", fmt.Sprintf("unknown operation %q (want write, delete or move)", o.Op))
	}
	return op, err
}

func (w *Writer) changes(c echo.Context) error {
	agent, err := require(c, domain.RoleBuilder)
	if err != nil {
		return err
	}
	var req changesRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := checkCommandID(req.CommandID); err != nil {
		return err
	}
	if len(req.Ops) > command.MaxOps {
		return badRequest("ops", "ops_too_many", fmt.Sprintf("a change set has at most %d operations", command.MaxOps))
	}
	ops := make([]command.FileOp, len(req.Ops))
	for i, o := range req.Ops {
		if ops[i], err = parseOp(i, o, w.Blobs, w.MaxFileBytes); err != nil {
			return err
		}
	}
	res, err := w.Files.Handle(c.Request().Context(), command.ChangeFiles{CommandID: req.CommandID, Meta: meta(c, agent), Ops: ops})
	if err != nil {
		return err
	}
	return accepted(c, http.StatusOK, res)
}

func (w *Writer) putBlob(c echo.Context) error {
	if _, err := require(c, domain.RoleBuilder); err != nil {
		return err
	}
	ref, err := w.Blobs.Put(c.Request().Body, w.MaxFileBytes)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ref)
}

// batchBlobs answers many small contents at once, for replicas about to
// read many files.
func (w *Writer) batchBlobs(c echo.Context) error {
	var req blobstore.BatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Hashes) > blobstore.MaxBatch {
		return badRequest("hashes", "hashes_too_many", fmt.Sprintf("at most %d hashes a batch", blobstore.MaxBatch))
	}
	out, err := w.Blobs.Batch(req.Hashes)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (w *Writer) getBlob(c echo.Context) error {
	b, err := w.Blobs.Open(c.Param("hash"))
	if err != nil {
		return err
	}
	defer b.Close()
	c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, b)
	return nil
}

// events streams the log as JSON lines, straight from the store's bytes.
func (w *Writer) events(c echo.Context) error {
	after, err := uintParam(c, "after", 0)
	if err != nil {
		return err
	}
	limit, err := uintParam(c, "limit", 1000)
	if err != nil {
		return err
	}
	if limit == 0 || limit > domain.MaxEventsPage {
		return badRequest("limit", "limit_invalid", fmt.Sprintf("limit must be 1 to %d", domain.MaxEventsPage))
	}
	head, _ := w.Events.Head()
	evs, err := w.Events.ReadRaw(after, int(limit))
	if err != nil {
		return err
	}
	r := c.Response()
	r.Header().Set("Content-Type", "application/x-ndjson")
	r.Header().Set("X-Lighthouse-Head", strconv.FormatUint(head, 10))
	r.WriteHeader(http.StatusOK)
	for _, e := range evs {
		if _, err := r.Write(append(e, '\n')); err != nil {
			return nil // the client went away
		}
	}
	return nil
}

func uintParam(c echo.Context, name string, def uint64) (uint64, error) {
	s := c.QueryParam(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, badRequest(name, name+"_invalid", name+" must be a non-negative integer")
	}
	return v, nil
}

// boolParam reads a boolean query parameter: true or 1, false or 0, def
// when absent; anything else is a 400 naming it (a typo must not quietly
// mean false).
func boolParam(c echo.Context, name string, def bool) (bool, error) {
	switch c.QueryParam(name) {
	case "":
		return def, nil
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, badRequest(name, name+"_invalid", name+" must be true or false")
}

type addAgentRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Capabilities the agent declares (optional).
	Capabilities []string `json:"capabilities"`
}

type addAgentResponse struct {
	Agent domain.Agent `json:"agent"`
	Token string       `json:"token,omitempty"`
	Seq   uint64       `json:"seq"`
}

func (w *Writer) addAgent(c echo.Context) error {
	admin, err := require(c, domain.RoleAdmin)
	if err != nil {
		return err
	}
	var req addAgentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := domain.ValidateAgentName("name", req.Name); err != nil {
		return err
	}
	role, err := domain.ParseRole("role", req.Role)
	if err != nil {
		return err
	}
	reg, err := w.Register.Handle(c.Request().Context(), command.RegisterAgent{Meta: meta(c, admin), Name: req.Name, Role: role, Capabilities: req.Capabilities})
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(reg.Result.LastSeq, 10))
	return c.JSON(http.StatusCreated, addAgentResponse{Agent: reg.Agent, Token: reg.Token, Seq: reg.Result.LastSeq})
}

// changeAgent removes an agent or rotates its token (admin only). The
// answer carries the new token of a rotation, shown once.
func (w *Writer) changeAgent(c echo.Context, remove bool) error {
	admin, err := require(c, domain.RoleAdmin)
	if err != nil {
		return err
	}
	name := c.Param("name")
	if err := domain.ValidateAgentName("name", name); err != nil {
		return err
	}
	ch, err := w.ChangeAgent.Handle(c.Request().Context(), command.ChangeAgent{Meta: meta(c, admin), Name: name, Remove: remove})
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(ch.Result.LastSeq, 10))
	return c.JSON(http.StatusOK, addAgentResponse{Agent: ch.Agent, Token: ch.Token, Seq: ch.Result.LastSeq})
}

// CapabilitiesRequest is the body of PUT /v1/agents/:name/capabilities:
// the agent's whole new list (empty clears it).
type CapabilitiesRequest struct {
	Capabilities []string `json:"capabilities"`
}

// setCapabilities replaces an agent's capabilities (admin only); messages
// and tasks to capability:X follow at once.
func (w *Writer) setCapabilities(c echo.Context) error {
	admin, err := require(c, domain.RoleAdmin)
	if err != nil {
		return err
	}
	name := c.Param("name")
	if err := domain.ValidateAgentName("name", name); err != nil {
		return err
	}
	var req CapabilitiesRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Capabilities == nil {
		return badRequest("capabilities", "capabilities_required", "capabilities is required: the agent's whole list ([] clears it)")
	}
	ch, err := w.ChangeAgent.Handle(c.Request().Context(), command.ChangeAgent{Meta: meta(c, admin), Name: name, SetCapabilities: true, Capabilities: req.Capabilities})
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(ch.Result.LastSeq, 10))
	return c.JSON(http.StatusOK, addAgentResponse{Agent: ch.Agent, Seq: ch.Result.LastSeq})
}

func (w *Writer) listAgents(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"agents": w.Agents.List()})
}

// WriterStatus is the writer's GET /v1/status answer.
type WriterStatus struct {
	Head      uint64 `json:"head"`
	HeadHash  string `json:"head_hash"`
	Published uint64 `json:"published"`
	// ProjectRoot is the absolute project root the gate guards.
	ProjectRoot string `json:"project_root"`
}

func (w *Writer) status(c echo.Context) error {
	head, hash := w.Events.Head()
	pub, err := w.Events.Published()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, WriterStatus{Head: head, HeadHash: hash, Published: pub, ProjectRoot: w.ProjectRoot})
}

// maxHoldersShown bounds the file versions verify names for one damaged
// content (a content shared by thousands of versions would otherwise make
// the answer as large as the log).
const maxHoldersShown = 20

// contentReport walks the log's file versions once (each) and names, for
// each of the damaged contents and for each content the store does not
// have, the file versions whose content it is, oldest first and at most max
// a content; the person repairing a content then knows which bytes to put
// again. A damaged content no file version holds is absent.
func contentReport(each func(func(hash string, v domain.FileVersion) error) error, has func(hash string) (bool, error), damaged []string, max int) (damagedFiles, missing map[string][]domain.FileVersion, err error) {
	isDamaged := make(map[string]bool, len(damaged))
	for _, h := range damaged {
		isDamaged[h] = true
	}
	damagedFiles, missing = map[string][]domain.FileVersion{}, map[string][]domain.FileVersion{}
	err = each(func(hash string, v domain.FileVersion) error {
		held := damagedFiles
		if !isDamaged[hash] {
			if _, known := missing[hash]; !known {
				ok, err := has(hash)
				if err != nil || ok {
					return err
				}
			}
			held = missing
		}
		if len(held[hash]) < max {
			held[hash] = append(held[hash], v)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return damagedFiles, missing, nil
}

func (w *Writer) verify(c echo.Context) error {
	if _, err := require(c, domain.RoleAdmin); err != nil {
		return err
	}
	n, err := w.Events.Verify()
	out := map[string]any{"ok": err == nil, "verified": n}
	if err != nil {
		out["error"] = err.Error()
	}
	checked, damaged, err := w.Blobs.VerifyAll()
	if err != nil {
		return err
	}
	has := func(hash string) (bool, error) {
		_, err := w.Blobs.Stat(hash)
		if errors.Is(err, domain.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	damagedFiles, missing, err := contentReport(w.Events.EachFileVersion, has, damaged, maxHoldersShown)
	if err != nil {
		return err
	}
	out["blobs_checked"], out["damaged_blobs"] = checked, append([]string{}, damaged...)
	if len(missing) > 0 {
		out["missing_files"] = missing
		out["ok"] = false
		if out["error"] == nil {
			out["error"] = fmt.Sprintf("%d contents the log refers to are missing", len(missing))
		}
	}
	if len(damaged) > 0 {
		out["damaged_files"] = damagedFiles
		out["ok"] = false
		if out["error"] == nil {
			out["error"] = fmt.Sprintf("%d content blobs do not match their hash", len(damaged))
		}
	}
	return c.JSON(http.StatusOK, out)
}

type snapshotRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (w *Writer) snapshot(c echo.Context) error {
	agent, err := require(c, domain.RoleBuilder, domain.RoleReviewer, domain.RoleExpert)
	if err != nil {
		return err
	}
	var req snapshotRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	res, err := w.History.Snapshot(c.Request().Context(), command.CreateSnapshot{Meta: meta(c, agent), Name: req.Name, Description: req.Description})
	if err != nil {
		return err
	}
	// The snapshot names the head it saw (point); the event recording it
	// comes after (seq). Reads and restores "at NAME" use the point.
	out := SnapshotResponse{CommandResponse: CommandResponse{Seq: res.LastSeq, FirstSeq: res.FirstSeq, Duplicate: res.Duplicate}}
	for _, e := range res.Events {
		out.Events = append(out.Events, EventBrief{Seq: e.Seq, Type: e.Type, StreamID: e.StreamID, StreamVersion: e.StreamVersion})
		var p domain.SnapshotCreated
		if e.Type == domain.TypeSnapshotCreated && e.DecodePayload(&p) == nil {
			out.Point = p.Seq
		}
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.LastSeq, 10))
	return c.JSON(http.StatusCreated, out)
}

// SnapshotResponse is the writer's answer to POST /v1/snapshots: the
// command's result and the point the snapshot names (the head before its
// own event).
type SnapshotResponse struct {
	CommandResponse
	Point uint64 `json:"point"`
}

// RestoreRequest is the body of POST /v1/restore. By default a running
// watcher restores the files on disk too; LogOnly appends the events alone.
type RestoreRequest struct {
	Point     string   `json:"point"`
	Paths     []string `json:"paths"`
	CommandID string   `json:"command_id"`
	Force     bool     `json:"force,omitempty"`    // overwrite files on disk the log has not seen yet
	LogOnly   bool     `json:"log_only,omitempty"` // leave the working tree alone
	// Exclude are paths (files or directories) left out of the restore:
	// the watcher's symlinks on disk, which the log cannot say.
	Exclude []string `json:"exclude,omitempty"`
}

func (w *Writer) restore(c echo.Context) error {
	agent, err := require(c, domain.RoleBuilder)
	if err != nil {
		return err
	}
	var req RestoreRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := checkCommandID(req.CommandID); err != nil {
		return err
	}
	point, err := domain.ParsePoint("point", req.Point)
	if err != nil {
		return err
	}
	if !req.LogOnly && w.Disk != nil {
		token := strings.TrimPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		status, body, ok, err := w.Disk.RestoreOnDisk(c.Request().Context(), token, req)
		if err != nil {
			return fmt.Errorf("restore through the watcher: %w", err)
		}
		if ok {
			var res struct {
				Seq uint64 `json:"seq"`
			}
			if json.Unmarshal(body, &res) == nil && res.Seq > 0 {
				c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.Seq, 10))
			}
			return c.Blob(status, echo.MIMEApplicationJSON, body)
		}
	}
	cmd := command.Restore{CommandID: req.CommandID, Meta: meta(c, agent), Point: point}
	for i, p := range req.Paths {
		pp, err := domain.ParsePath(fmt.Sprintf("paths[%d]", i), p)
		if err != nil {
			return err
		}
		cmd.Paths = append(cmd.Paths, pp)
	}
	for i, p := range req.Exclude {
		pp, err := domain.ParsePath(fmt.Sprintf("exclude[%d]", i), p)
		if err != nil {
			return err
		}
		cmd.Exclude = append(cmd.Exclude, pp)
	}
	res, err := w.History.Restore(c.Request().Context(), cmd)
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.LastSeq, 10))
	ans := map[string]any{"seq": res.LastSeq, "point": res.Point, "restored": res.Restored, "deleted": res.Deleted, "on_disk": false}
	if res.FirstSeq > 0 {
		// The point just before the restore: restoring it undoes this one.
		ans["before"] = res.FirstSeq - 1
	}
	return c.JSON(http.StatusOK, ans)
}
