package httpapi

import (
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// Coordination is the writer's lease and session API.
type Coordination struct {
	Handler *command.Coordination
}

func (co *Coordination) routes(v1 *echo.Group) {
	if co == nil || co.Handler == nil {
		return
	}
	v1.POST("/leases", co.grant)
	v1.DELETE("/leases/:id", co.release)
	v1.POST("/leases/:id/renew", co.renew)
	v1.POST("/sessions", co.startSession)
	v1.POST("/sessions/:id/end", co.endSession)
	v1.POST("/sessions/:id/seen", co.seen)
}

// LeaseRequest is the body of POST /v1/leases.
type LeaseRequest struct {
	Paths     []string `json:"paths"`
	Exclusive *bool    `json:"exclusive"` // default true
	TTL       string   `json:"ttl"`       // a Go duration; default 10m
	Reason    string   `json:"reason"`
	SessionID string   `json:"session_id"` // default X-Session-Id, then the agent's latest session
}

// LeaseAnswer answers a granted or renewed lease.
type LeaseAnswer struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
	Seq       uint64    `json:"seq"`
	Paths     []string  `json:"paths"`
	Exclusive bool      `json:"exclusive"`
}

func (co *Coordination) grant(c echo.Context) error {
	var req LeaseRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			return badRequest("ttl", "ttl_invalid", "ttl must be a positive Go duration such as 10m (leave it out for the default)")
		}
		ttl = d
	}
	exclusive := req.Exclusive == nil || *req.Exclusive
	session := req.SessionID
	if session == "" {
		session = limitText(c.Request().Header.Get("X-Session-Id"))
	}
	v, res, err := co.Handler.Grant(c.Request().Context(), command.GrantLease{Agent: agentOf(c), SessionID: limitText(session),
		Paths: req.Paths, Exclusive: exclusive, TTL: ttl, Reason: req.Reason})
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.LastSeq, 10))
	return c.JSON(http.StatusCreated, LeaseAnswer{ID: v.LeaseID, ExpiresAt: v.ExpiresAt, Seq: res.LastSeq, Paths: v.Paths, Exclusive: v.Exclusive})
}

func (co *Coordination) release(c echo.Context) error {
	res, err := co.Handler.Release(c.Request().Context(), agentOf(c), c.Param("id"), limitText(c.QueryParam("reason")))
	if err != nil {
		return err
	}
	return accepted(c, http.StatusOK, res)
}

func (co *Coordination) renew(c echo.Context) error {
	// A renewal takes no fields: a body with any is refused, not ignored
	// (a ttl sent there would not be what the lease gets).
	if c.Request().ContentLength != 0 {
		var req struct{}
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	v, res, err := co.Handler.Renew(c.Request().Context(), agentOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.LastSeq, 10))
	return c.JSON(http.StatusOK, LeaseAnswer{ID: v.LeaseID, ExpiresAt: v.ExpiresAt, Seq: res.LastSeq, Paths: v.Paths, Exclusive: v.Exclusive})
}

// SessionRequest is the body of POST /v1/sessions: Claude Code's
// SessionStart payload (other fields are ignored).
type SessionRequest struct {
	SessionID string `json:"session_id"`
	Cwd       string `json:"cwd"`
	Source    string `json:"source"`
}

// SessionAnswer answers a started session with the context for the agent.
type SessionAnswer struct {
	Session projections.SessionView `json:"session"`
	Context string                  `json:"context"`
	Seq     uint64                  `json:"seq"`
}

func (co *Coordination) startSession(c echo.Context) error {
	var req SessionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	s, err := co.Handler.StartSession(c.Request().Context(), command.StartSession{Agent: agentOf(c), SessionID: req.SessionID, Cwd: req.Cwd, Source: req.Source})
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(s.Result.LastSeq, 10))
	return c.JSON(http.StatusCreated, SessionAnswer{Session: s.Session, Context: s.Context, Seq: s.Result.LastSeq})
}

func (co *Coordination) endSession(c echo.Context) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	res, released, err := co.Handler.EndSession(c.Request().Context(), agentOf(c), c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	c.Response().Header().Set("X-Lighthouse-Seq", strconv.FormatUint(res.LastSeq, 10))
	return c.JSON(http.StatusOK, map[string]any{"seq": res.LastSeq, "released": nonNil(released)})
}

func (co *Coordination) seen(c echo.Context) error {
	var req struct {
		Path string `json:"path"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	seq, err := co.Handler.MarkSeen(agentOf(c), c.Param("id"), req.Path)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"path": path.Clean(req.Path), "seen_seq": seq})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// LeaseJSON is a lease as GET /v1/leases shows it.
type LeaseJSON struct {
	ID        string    `json:"id"`
	Holder    string    `json:"holder"`
	HolderID  string    `json:"holder_id"`
	SessionID string    `json:"session_id,omitempty"`
	Paths     []string  `json:"paths"`
	Exclusive bool      `json:"exclusive"`
	Reason    string    `json:"reason,omitempty"`
	TTL       string    `json:"ttl"`
	ExpiresAt time.Time `json:"expires_at"`
	GrantedAt time.Time `json:"granted_at"`
	Seq       uint64    `json:"seq"`
}

// leasesJSON lists the leases still in force at now.
func leasesJSON(list []projections.LeaseView, now time.Time) []LeaseJSON {
	out := []LeaseJSON{}
	for _, l := range list {
		if !l.ExpiresAt.After(now) {
			continue
		}
		out = append(out, LeaseJSON{ID: l.LeaseID, Holder: l.Holder, HolderID: l.HolderID, SessionID: l.SessionID, Paths: l.Paths,
			Exclusive: l.Exclusive, Reason: l.Reason, TTL: l.TTL.String(), ExpiresAt: l.ExpiresAt, GrantedAt: l.GrantedAt, Seq: l.Seq})
	}
	return out
}

// readerCoordination adds GET /v1/leases and GET /v1/sessions to the reader.
func (r *Reader) coordinationRoutes(v1 *echo.Group) {
	if r.Leases != nil {
		v1.GET("/leases", func(c echo.Context) error {
			r.setSeq(c)
			holder := strings.TrimSpace(c.QueryParam("holder"))
			var list []LeaseJSON
			for _, l := range leasesJSON(r.Leases.List(""), time.Now()) {
				if holder == "" || l.Holder == holder {
					list = append(list, l)
				}
			}
			if list == nil {
				list = []LeaseJSON{}
			}
			return c.JSON(http.StatusOK, map[string]any{"leases": list})
		})
	}
	if r.Sessions != nil {
		v1.GET("/sessions", func(c echo.Context) error {
			r.setSeq(c)
			return c.JSON(http.StatusOK, map[string]any{"sessions": r.Sessions.List("")})
		})
	}
}
