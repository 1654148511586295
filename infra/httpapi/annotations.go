package httpapi

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// Annotating is the writer's annotation API.
type Annotating struct {
	Handler *command.Annotations
}

func (a *Annotating) routes(v1 *echo.Group) {
	if a == nil || a.Handler == nil {
		return
	}
	v1.POST("/annotations", a.annotate)
	v1.POST("/annotations/:id/resolve", a.resolve)
}

// AnnotationRequest is the body of POST /v1/annotations: a note on lines
// LineStart..LineEnd (1-based, inclusive) of the file's current content.
// Kind is note (the default), warning, todo or review.
type AnnotationRequest struct {
	Path      string `json:"path"`
	LineStart int    `json:"line_start"`
	LineEnd   int    `json:"line_end"`
	Kind      string `json:"kind"`
	Body      string `json:"body"`
}

// AnnotationAnswer answers a new annotation: its id, the sequence of its
// event (pass it as min_seq to the reader) and what was recorded.
type AnnotationAnswer struct {
	ID        string `json:"id"`
	Seq       uint64 `json:"seq"`
	Path      string `json:"path"`
	LineStart int    `json:"line_start"`
	LineEnd   int    `json:"line_end"`
	Kind      string `json:"kind"`
}

func (a *Annotating) annotate(c echo.Context) error {
	var req AnnotationRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	agent := agentOf(c)
	kind := req.Kind
	if kind == "" {
		kind = "note"
	}
	res, err := a.Handler.Annotate(c.Request().Context(), command.Annotate{Meta: meta(c, agent), Author: agent, Path: req.Path,
		LineStart: req.LineStart, LineEnd: req.LineEnd, Kind: kind, Body: req.Body})
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.Result.LastSeq, 10))
	return c.JSON(http.StatusCreated, AnnotationAnswer{ID: res.ID, Seq: res.Result.LastSeq, Path: string(res.Path),
		LineStart: req.LineStart, LineEnd: req.LineEnd, Kind: kind})
}

func (a *Annotating) resolve(c echo.Context) error {
	agent := agentOf(c)
	res, err := a.Handler.Resolve(c.Request().Context(), meta(c, agent), agent, c.Param("id"))
	if err != nil {
		return err
	}
	return accepted(c, http.StatusOK, res)
}

// AnnotationsAnswer is the answer of GET /v1/annotations, and the content
// of the mount's annotations/PATH.json files: the annotations as of
// sequence At, with their line numbers then.
type AnnotationsAnswer struct {
	At          uint64                   `json:"at"`
	Path        string                   `json:"path,omitempty"`
	Annotations []projections.Annotation `json:"annotations"`
}

// annotationRoutes adds GET /v1/annotations?path=&at= to the reader.
func (r *Reader) annotationRoutes(v1 *echo.Group) {
	if r.Annotations == nil {
		return
	}
	v1.GET("/annotations", r.annotations)
}

func (r *Reader) annotations(c echo.Context) error {
	at, err := r.point(c, "at")
	if err != nil {
		return err
	}
	var path string
	if raw := c.QueryParam("path"); raw != "" {
		p, err := domain.ParsePath("path", raw)
		if err != nil {
			return err
		}
		path = string(p)
	}
	if at == 0 {
		at = r.Progress.Head()
	}
	r.setSeq(c)
	return c.JSON(http.StatusOK, AnnotationsAnswer{At: at, Path: path, Annotations: r.Annotations.List(at, path)})
}
