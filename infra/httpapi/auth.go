package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// Authenticator resolves a bearer token to its agent.
type Authenticator interface {
	Authenticate(token string) (domain.Agent, error)
}

const agentKey = "lighthouse.agent"

// Limits are the per-agent request limits.
type Limits struct {
	RatePerSecond float64 // sustained requests per second per agent; 0 disables
	Burst         int
}

// authenticate resolves the bearer token and applies the agent's rate limit.
func authenticate(auth Authenticator, limits Limits) echo.MiddlewareFunc {
	var (
		mu       sync.Mutex
		limiters = map[string]*rate.Limiter{}
	)
	limiter := func(id string) *rate.Limiter {
		mu.Lock()
		defer mu.Unlock()
		l, ok := limiters[id]
		if !ok {
			l = rate.NewLimiter(rate.Limit(limits.RatePerSecond), limits.Burst)
			limiters[id] = l
		}
		return l
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get("Authorization")
			token, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				return domain.ErrUnauthenticated
			}
			agent, err := auth.Authenticate(strings.TrimSpace(token))
			if err != nil {
				return err
			}
			if limits.RatePerSecond > 0 {
				res := limiter(agent.ID).Reserve()
				if wait := res.Delay(); !res.OK() || wait > 0 {
					res.Cancel()
					// Retry-After is whole seconds; a wait under one second is 1.
					secs := max(1, int(math.Ceil(wait.Seconds())))
					if !res.OK() {
						secs = 1
					}
					c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
					return &apiError{status: http.StatusTooManyRequests, detail: ErrorDetail{Code: "rate_limited",
						Message: fmt.Sprintf("agent %s is over %.0f requests/s; retry after %d s", agent.Name, limits.RatePerSecond, secs)}}
				}
			}
			c.Set(agentKey, agent)
			return next(c)
		}
	}
}

// agentOf returns the authenticated agent of the request.
func agentOf(c echo.Context) domain.Agent {
	a, _ := c.Get(agentKey).(domain.Agent)
	return a
}

// require fails with ErrForbidden unless the request's agent holds a role.
func require(c echo.Context, roles ...domain.Role) (domain.Agent, error) {
	a := agentOf(c)
	if !a.Can(roles...) {
		var names []string
		for _, r := range roles {
			if r != domain.RoleAdmin {
				names = append(names, string(r))
			}
		}
		return a, fmt.Errorf("%w: role %s may not do this (it takes %s)", domain.ErrForbidden, a.Role, strings.Join(append(names, "admin"), ", "))
	}
	return a, nil
}

// observersRead refuses every request of an observer that is not a read:
// observers read (the reader and the fuser backfill with one), and
// everything that appends is refused whatever handler it reaches. A POST
// that only reads (the replicas' blob batch) is named in reads by its route.
func observersRead(reads ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			m := c.Request().Method
			if agentOf(c).Role == domain.RoleObserver && m != http.MethodGet && m != http.MethodHead && !slices.Contains(reads, c.Path()) {
				return fmt.Errorf("%w: role observer may only read", domain.ErrForbidden)
			}
			return next(c)
		}
	}
}
