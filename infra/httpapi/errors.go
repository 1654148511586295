package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// ErrorBody is the JSON error contract: {"error": {...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names what went wrong and, for bad input, the field at fault.
type ErrorDetail struct {
	Code           string  `json:"code"`
	Message        string  `json:"message"`
	Field          string  `json:"field,omitempty"`
	CurrentVersion *uint64 `json:"current_version,omitempty"`
	// A lease conflict names the holder, its lease and the overlapping paths.
	Holder  string   `json:"holder,omitempty"`
	LeaseID string   `json:"lease_id,omitempty"`
	Paths   []string `json:"paths,omitempty"`
}

// apiError is an error that already knows its status and body.
type apiError struct {
	status int
	detail ErrorDetail
}

func (e *apiError) Error() string { return e.detail.Message }

func badRequest(field, code, msg string) error {
	return &apiError{status: http.StatusBadRequest, detail: ErrorDetail{Code: code, Message: msg, Field: field}}
}

// statusOf maps an error to its HTTP status and body.
func statusOf(err error) (int, ErrorDetail) {
	var (
		ae       *apiError
		ve       *domain.ValidationError
		ce       *domain.ConflictError
		re       *domain.RuleError
		le       *domain.LeaseConflictError
		he       *echo.HTTPError
		tooLarge *http.MaxBytesError
		be       *BodyError
	)
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.detail
	case errors.As(err, &ve):
		// The field is the body's own key: the message does not say it again.
		return http.StatusBadRequest, ErrorDetail{Code: ve.Code, Message: ve.Message, Field: ve.Field}
	case errors.As(err, &ce):
		cur := ce.Current
		return http.StatusConflict, ErrorDetail{Code: "version_conflict", Message: ce.Error(), Field: "expected_version", CurrentVersion: &cur}
	case errors.As(err, &le):
		return http.StatusConflict, ErrorDetail{Code: "lease_conflict", Message: "the paths overlap an active lease: " + le.Error(),
			Field: "paths", Holder: le.Holder, LeaseID: le.LeaseID, Paths: le.Paths}
	case errors.As(err, &re):
		status := http.StatusUnprocessableEntity
		switch re.Code {
		case "file_not_found", "restore_no_match":
			status = http.StatusNotFound
		case "file_exists", "agent_exists", "agent_name_retired", "snapshot_exists", "path_conflict", "command_id_reused", "task_claimed", "task_closed", "task_not_claimed", "symlink_in_the_way":
			status = http.StatusConflict
		}
		return status, ErrorDetail{Code: re.Code, Message: re.Message}
	case errors.As(err, &be):
		if be.Timeout {
			return http.StatusRequestTimeout, ErrorDetail{Code: "body_timeout", Message: "the request body stopped arriving", Field: "body"}
		}
		return http.StatusBadRequest, ErrorDetail{Code: "body_unreadable", Message: be.Error(), Field: "body"}
	case errors.Is(err, blobstore.ErrCorrupt):
		return http.StatusInternalServerError, ErrorDetail{Code: "corrupt_content", Message: err.Error()}
	case pebbledb.IsNoSpace(err):
		return http.StatusInsufficientStorage, ErrorDetail{Code: "insufficient_storage", Message: "the writer's disk is full; nothing was stored, retry once space is freed"}
	case errors.Is(err, domain.ErrNotEncodable):
		return http.StatusBadRequest, ErrorDetail{Code: "event_not_encodable", Message: err.Error()}
	case errors.Is(err, domain.ErrUnauthenticated):
		return http.StatusUnauthorized, ErrorDetail{Code: "unauthenticated", Message: "a valid bearer token is required (Authorization: Bearer <token>)"}
	case errors.Is(err, domain.ErrForbidden):
		return http.StatusForbidden, ErrorDetail{Code: "forbidden", Message: withoutSentinel(err, domain.ErrForbidden)}
	case errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound, ErrorDetail{Code: "not_found", Message: withoutSentinel(err, domain.ErrNotFound)}
	case errors.Is(err, blobstore.ErrTooLarge), errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, ErrorDetail{Code: "too_large", Message: err.Error(), Field: "body"}
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, ErrorDetail{Code: "timeout", Message: err.Error()}
	case errors.As(err, &he):
		msg, _ := he.Message.(string)
		if msg == "" {
			msg = http.StatusText(he.Code)
		}
		return he.Code, ErrorDetail{Code: errorCode(he.Code), Message: msg}
	}
	return http.StatusInternalServerError, ErrorDetail{Code: "internal", Message: "internal error"}
}

// withoutSentinel is err's message without the words of the sentinel it
// wraps ("forbidden: role builder may not…" → "role builder may not…"):
// the error code already says them, and clients print both.
func withoutSentinel(err, sentinel error) string {
	msg, word := err.Error(), sentinel.Error()
	if trimmed := strings.TrimSuffix(strings.TrimPrefix(msg, word+": "), ": "+word); trimmed != "" {
		return trimmed
	}
	return msg
}

func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, detail := statusOf(err)
		if status >= 500 {
			log.Error("request failed", "path", c.Request().URL.Path, "err", err)
		}
		if status == http.StatusUnauthorized {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="lighthouse"`)
		}
		if err := c.JSON(status, ErrorBody{Error: detail}); err != nil {
			log.Debug("write error response", "err", err)
		}
	}
}

// jsonErrors makes errors that handlers leave to net/http (http.Error, as
// in http.ServeContent's 416) our JSON error: a status of 400 or more
// written with a non-JSON body is replaced by ErrorBody.
func jsonErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		res.Writer = &plainErrorWriter{ResponseWriter: res.Writer}
		return next(c)
	}
}

// plainErrorWriter rewrites plain-text error answers as JSON.
type plainErrorWriter struct {
	http.ResponseWriter
	rewritten bool
}

func (w *plainErrorWriter) WriteHeader(status int) {
	h := w.Header()
	if status < 400 || strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.rewritten = true
	detail := ErrorDetail{Code: errorCode(status), Message: http.StatusText(status)}
	if status == http.StatusRequestedRangeNotSatisfiable {
		detail.Field, detail.Message = "Range", "the range is not satisfiable"
		if cr := h.Get("Content-Range"); cr != "" {
			detail.Message += " (" + cr + ")"
		}
	}
	body, _ := json.Marshal(ErrorBody{Error: detail})
	h.Del("X-Content-Type-Options")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.ResponseWriter.WriteHeader(status)
	w.ResponseWriter.Write(append(body, '\n'))
}

func (w *plainErrorWriter) Write(b []byte) (int, error) {
	if w.rewritten {
		return len(b), nil // the plain-text body is dropped
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *plainErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes on, for streamed answers.
func (w *plainErrorWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// errorCode is the code of an error named only by its status:
// "range_not_satisfiable" for 416.
func errorCode(status int) string {
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}
