package httpapi

import (
	"github.com/labstack/echo/v4"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// checkText refuses a request whose headers or query parameters that may
// reach an event are not valid UTF-8, with a 400 naming the header or
// parameter. Body fields are checked where they are decoded.
func checkText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		// The headers whose values can end up in an event.
		for _, name := range [...]string{"X-Session-Id", "X-Correlation-Id", "X-Causation-Id", "X-Command-Id", "X-Expected-Version"} {
			for _, v := range h.Values(name) {
				if err := domain.CheckText(name, v); err != nil {
					return err
				}
			}
		}
		for name, vs := range c.QueryParams() {
			if err := domain.CheckText("query parameter", name); err != nil {
				return err
			}
			for _, v := range vs {
				if err := domain.CheckText(name, v); err != nil {
					return err
				}
			}
		}
		return next(c)
	}
}
