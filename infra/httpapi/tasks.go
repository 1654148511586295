package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// Tasks is the writer's task API.
type Tasks struct {
	Handler *command.TaskHandler
}

func (t *Tasks) routes(v1 *echo.Group) {
	if t == nil || t.Handler == nil {
		return
	}
	v1.POST("/tasks", t.create)
	v1.POST("/tasks/:id/claim", func(c echo.Context) error { return t.act(c, t.Handler.Claim, false) })
	v1.POST("/tasks/:id/release", func(c echo.Context) error { return t.act(c, t.Handler.Release, false) })
	v1.POST("/tasks/:id/complete", func(c echo.Context) error { return t.act(c, t.Handler.Complete, true) })
	v1.POST("/tasks/:id/fail", func(c echo.Context) error { return t.act(c, t.Handler.Fail, true) })
}

// TaskRequest is the body of POST /v1/tasks. Deadline is a duration such
// as "30m" (optional).
type TaskRequest struct {
	Capability string   `json:"capability"`
	Title      string   `json:"title"`
	Body       string   `json:"body"`
	Paths      []string `json:"paths"`
	Deadline   string   `json:"deadline"`
}

// TaskAnswer answers a created task: its id, the agents it was offered to
// and the sequence to read it from the reader (min_seq).
type TaskAnswer struct {
	ID       string    `json:"id"`
	Seq      uint64    `json:"seq"`
	Status   string    `json:"status"`
	Offered  []string  `json:"offered"`
	Deadline time.Time `json:"deadline,omitzero"`
}

func (t *Tasks) create(c echo.Context) error {
	agent, err := require(c, domain.RoleBuilder, domain.RoleReviewer, domain.RoleExpert)
	if err != nil {
		return err
	}
	var req TaskRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cmd := command.CreateTask{Meta: meta(c, agent), Requester: agent, Capability: req.Capability, Title: req.Title, Body: req.Body}
	if req.Deadline != "" {
		d, err := time.ParseDuration(req.Deadline)
		if err != nil || d <= 0 {
			return badRequest("deadline", "deadline_invalid", "deadline must be a positive duration such as 30m")
		}
		cmd.Deadline = d
	}
	if len(req.Paths) > domain.MaxTaskPaths {
		return badRequest("paths", "too_many_paths", fmt.Sprintf("a task names at most %d paths", domain.MaxTaskPaths))
	}
	for i, p := range req.Paths {
		pp, err := domain.ParsePath(fmt.Sprintf("paths[%d]", i), p)
		if err != nil {
			return err
		}
		cmd.Paths = append(cmd.Paths, pp)
	}
	created, err := t.Handler.Create(c.Request().Context(), cmd)
	if err != nil {
		return err
	}
	out := TaskAnswer{ID: created.ID, Seq: created.Result.LastSeq, Status: domain.TaskStatusOpen, Offered: []string{}}
	for _, r := range created.Offered {
		out.Offered = append(out.Offered, r.Name)
	}
	if v, ok := t.Handler.Tasks.Get(created.ID); ok {
		out.Deadline = v.Deadline
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(out.Seq, 10))
	return c.JSON(http.StatusCreated, out)
}

// taskActionRequest is the body of complete ({"result"}) and fail
// ({"reason"}); claim and release take none.
type taskActionRequest struct {
	Result string `json:"result"`
	Reason string `json:"reason"`
}

// TaskResponse is a task after a change, with the change's sequence.
type TaskResponse struct {
	projections.TaskView
	Seq uint64 `json:"seq"`
}

func (t *Tasks) act(c echo.Context, do func(context.Context, command.TaskAction) (domain.AppendResult, error), body bool) error {
	agent := agentOf(c)
	var req taskActionRequest
	if body && c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	res, err := do(c.Request().Context(), command.TaskAction{Meta: meta(c, agent), Agent: agent, TaskID: c.Param("id"), Result: req.Result, Reason: req.Reason})
	if err != nil {
		return err
	}
	v, _ := t.Handler.Tasks.Get(c.Param("id"))
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.LastSeq, 10))
	return c.JSON(http.StatusOK, TaskResponse{TaskView: v, Seq: res.LastSeq})
}

// maxTaskWait bounds one long-poll of GET /v1/tasks/:id.
const maxTaskWait = time.Minute

// taskRoutes adds GET /v1/tasks and GET /v1/tasks/:id to the reader.
func (r *Reader) taskRoutes(v1 *echo.Group) {
	if r.Tasks == nil {
		return
	}
	v1.GET("/tasks", func(c echo.Context) error {
		status, capability := c.QueryParam("status"), c.QueryParam("capability")
		if status != "" && !domain.ValidTaskStatus(status) {
			return badRequest("status", "status_invalid", "status must be open, claimed, completed, failed or expired")
		}
		if capability != "" {
			if _, err := domain.ParseCapabilities("capability", []string{capability}); err != nil {
				return err
			}
		}
		r.setSeq(c)
		return c.JSON(http.StatusOK, map[string]any{"tasks": r.Tasks.List(capability, status)})
	})
	v1.GET("/tasks/:id", r.task)
}

// task answers one task; with wait it long-polls until the task's status
// changes from what it is now (at once when it is final).
func (r *Reader) task(c echo.Context) error {
	var wait time.Duration
	if ws := c.QueryParam("wait"); ws != "" {
		d, err := time.ParseDuration(ws)
		if err != nil || d < 0 {
			return badRequest("wait", "wait_invalid", "wait must be a duration such as 30s")
		}
		wait = min(d, maxTaskWait)
	}
	id := c.Param("id")
	v, ok := r.Tasks.Get(id)
	if !ok {
		return fmt.Errorf("task %s: %w", id, domain.ErrNotFound)
	}
	if wait > 0 {
		ctx, cancel := longPoll(c.Request(), wait)
		defer cancel()
		var err error
		if v, err = r.Tasks.Wait(ctx, id, v.Status); err != nil {
			return err
		}
	}
	r.setSeq(c)
	return c.JSON(http.StatusOK, v)
}
