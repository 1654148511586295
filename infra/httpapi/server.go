// Package httpapi is the HTTP edge of the writer and the reader: routing,
// authentication, limits and the JSON error contract.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/net/netutil"

	"github.com/lighthouse-ai/lighthouse/infra/metrics"
)

// Metrics is what an API exposes to Prometheus. The zero value serves no
// /metrics and times nothing.
type Metrics struct {
	// HTTP times every request by route and status.
	HTTP *metrics.HTTP
	// Handler serves GET /metrics, without authentication.
	Handler http.Handler
}

// newEcho returns an echo instance with what every Lighthouse API shares:
// panic recovery, structured request logs, the JSON error contract, health.
func newEcho(log *slog.Logger, ready func() error, m Metrics) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(log)
	e.Use(jsonErrors)
	e.Use(middleware.Recover())
	e.Use(requestLog(log, m.HTTP))
	e.Use(unescapeParams)
	if m.Handler != nil {
		e.GET("/metrics", echo.WrapHandler(m.Handler))
	}
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", func(c echo.Context) error {
		if err := ready(); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	return e
}

// unescapeParams decodes the route's path parameters. Echo matches routes on
// the request's escaped path, so without it a client that escapes a name
// (lighthouse%2Dwatcher) would be answered about the literal escape.
func unescapeParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		vals := c.ParamValues()
		if len(vals) == 0 || !slices.ContainsFunc(vals, func(v string) bool { return strings.Contains(v, "%") }) {
			return next(c)
		}
		names := c.ParamNames()
		out := make([]string, len(vals))
		for i, v := range vals {
			u, err := url.PathUnescape(v)
			if err != nil {
				field := "path"
				if i < len(names) && names[i] != "*" {
					field = names[i]
				}
				return badRequest(field, field+"_invalid", fmt.Sprintf("%s: %q is not a valid escape in a path", field, v))
			}
			out[i] = u
		}
		c.SetParamValues(out...)
		return next(c)
	}
}

func requestLog(log *slog.Logger, hm *metrics.HTTP) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			dur := time.Since(start)
			if hm != nil {
				route := c.Path()
				if route == "" {
					route = "unmatched"
				}
				hm.Observe(c.Request().Method, route, status, dur)
			}
			level := slog.LevelDebug
			if status >= 500 && status != http.StatusServiceUnavailable {
				level = slog.LevelError
			}
			log.Log(c.Request().Context(), level, "request", "method", c.Request().Method,
				"path", c.Request().URL.Path, "status", status, "dur", dur)
			return nil
		}
	}
}

// ServeOptions are the limits every Lighthouse HTTP server applies.
type ServeOptions struct {
	Addr     string
	AddrFile string // when set, the bound address is written there
	// MaxConns caps concurrent connections; past it new ones wait to be
	// accepted. 0 means DefaultMaxConns.
	MaxConns int
	// BodyIdle is how long a request body may make no progress (0:
	// DefaultBodyIdle); BodyMax bounds the whole body's arrival (0:
	// DefaultBodyMax).
	BodyIdle, BodyMax time.Duration
	// BodyMemory bounds the bytes of request bodies read whole into memory
	// at once, in bytes (0: DefaultBodyMemory); bodies of at most 64 KiB
	// are not counted. A request whose body would pass it waits.
	BodyMemory int64
}

// Defaults of ServeOptions.
const (
	DefaultMaxConns   = 4096
	DefaultBodyIdle   = 30 * time.Second
	DefaultBodyMax    = 15 * time.Minute
	DefaultBodyMemory = 8 << 20
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

type shutdownKey struct{}

// longPoll returns the context a long poll of r waits under for at most d:
// it also ends when the request does, or when the server begins shutting
// down, so that the poll answers (its state as it is) and the shutdown
// does not wait out the poll.
func longPoll(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), d)
	shutdown, ok := r.Context().Value(shutdownKey{}).(context.Context)
	if !ok {
		return ctx, cancel
	}
	stop := context.AfterFunc(shutdown, cancel)
	return ctx, func() { stop(); cancel() }
}

// Serve serves h on o.Addr until ctx ends, then shuts down gracefully. When
// o.AddrFile is set, the bound address (useful with port 0) is written there
// once the listener is up, and removed when Serve returns.
func Serve(ctx context.Context, log *slog.Logger, h http.Handler, o ServeOptions) error {
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.BodyIdle <= 0 {
		o.BodyIdle = DefaultBodyIdle
	}
	if o.BodyMax <= 0 {
		o.BodyMax = DefaultBodyMax
	}
	if o.BodyMemory <= 0 {
		o.BodyMemory = DefaultBodyMemory
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	if o.AddrFile != "" {
		addr := ln.Addr().String()
		if err := os.WriteFile(o.AddrFile, []byte(addr), 0o644); err != nil {
			ln.Close()
			return fmt.Errorf("write address file: %w", err)
		}
		// The address must not outlive the server: the CLI finds the
		// server there and would send its token to whatever listens on
		// that port next. A newer server's address is left alone.
		defer func() {
			if b, err := os.ReadFile(o.AddrFile); err == nil && string(b) == addr {
				os.Remove(o.AddrFile)
			}
		}()
	}
	// Long polls end when shutdown begins (longPoll): a minute's poll
	// would otherwise hold the shutdown past its grace.
	shutdown, shut := context.WithCancel(context.Background())
	defer shut()
	srv := &http.Server{
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), shutdownKey{}, shutdown)
		},
		Handler:           withBodyLimits(h, o.BodyIdle, o.BodyMax, newBodyMemory(o.BodyMemory)),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	srv.RegisterOnShutdown(shut)
	// The server's own plain-text errors go out as our JSON error.
	ln = withJSONServerErrors(srv, netutil.LimitListener(ln, o.MaxConns))
	log.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// HealthHandler serves only /healthz, /readyz and /metrics (when m has a handler), for processes whose real
// interface is not HTTP (the fuser).
func HealthHandler(log *slog.Logger, ready func() error, m Metrics) http.Handler {
	return newEcho(log, ready, m)
}
