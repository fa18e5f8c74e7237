package api

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/wallet"
)

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI returns the OpenAPI document served at /openapi.yaml.
func OpenAPI() []byte { return openapiYAML }

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", openapiYAML)
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyCheckTimeout is how long /readyz waits for one check when
// Deps.ReadyCheckTimeout is zero.
const readyCheckTimeout = 2 * time.Second

// readyz checks every store the service depends on, all at once, each
// under its own timeout: one store that is down or stalls is reported as
// it is and neither delays nor colours the report of the others. A check
// that does not return within its timeout (even one that ignores its
// context) is reported unavailable.
func (s *Server) readyz(c echo.Context) error {
	timeout := s.ReadyCheckTimeout
	if timeout <= 0 {
		timeout = readyCheckTimeout
	}
	type result struct {
		name string
		err  error
	}
	// Buffered for every check, so that a check answering after the probe
	// has given up on it does not leak its goroutine.
	results := make(chan result, len(s.ReadyChecks))
	parent := c.Request().Context()
	for n, check := range s.ReadyChecks {
		go func() {
			ctx, cancel := context.WithTimeout(parent, timeout)
			defer cancel()
			results <- result{n, check(ctx)}
		}()
	}
	checks := make(map[string]string, len(s.ReadyChecks))
	for n := range s.ReadyChecks {
		checks[n] = "unavailable" // until it answers in time
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
wait:
	for range s.ReadyChecks {
		select {
		case r := <-results:
			if r.err == nil {
				checks[r.name] = "ok"
			}
		case <-deadline.C:
			break wait
		}
	}
	ok := true
	for _, v := range checks {
		if v != "ok" {
			ok = false
		}
	}
	body := map[string]any{"status": "ok", "checks": checks}
	if len(s.OptionalReady) > 0 {
		body["optional"] = s.optionalReady(parent, timeout)
	}
	if !ok {
		body["status"] = "unavailable"
		body["error"] = map[string]string{"code": wallet.EUNAVAILABLE, "message": "a dependency is down"}
		return c.JSON(http.StatusServiceUnavailable, body)
	}
	return c.JSON(http.StatusOK, body)
}

// optionalReady reads the states of the parts the service can do without
// (Deps.OptionalReady), each under timeout; one that does not answer in
// time is "unavailable".
func (s *Server) optionalReady(parent context.Context, timeout time.Duration) map[string]string {
	type result struct{ name, state string }
	results := make(chan result, len(s.OptionalReady))
	for n, state := range s.OptionalReady {
		go func() {
			ctx, cancel := context.WithTimeout(parent, timeout)
			defer cancel()
			results <- result{n, state(ctx)}
		}()
	}
	out := make(map[string]string, len(s.OptionalReady))
	for n := range s.OptionalReady {
		out[n] = "unavailable"
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for range s.OptionalReady {
		select {
		case r := <-results:
			out[r.name] = r.state
		case <-deadline.C:
			return out
		}
	}
	return out
}

type devCitizen struct {
	IIN        string   `json:"iin"`
	Name       string   `json:"name"`
	Phone      string   `json:"phone"`
	BirthDate  string   `json:"birth_date"`
	GuardianOf []string `json:"guardian_of"`
}

// devCitizens lists the demo registry's citizens (development only).
func (s *Server) devCitizens(c echo.Context) error {
	if s.DevCitizens == nil {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	out := []devCitizen{}
	for _, cz := range s.DevCitizens() {
		g := make([]string, 0, len(cz.GuardianOf))
		for _, w := range cz.GuardianOf {
			g = append(g, string(w))
		}
		out = append(out, devCitizen{string(cz.IIN), cz.Name, cz.Phone, cz.BirthDate.Format(time.DateOnly), g})
	}
	return c.JSON(http.StatusOK, map[string]any{"citizens": out})
}

type devMessage struct {
	To   string    `json:"to"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// devSMS lists the outbox SMS driver's messages, newest first (development only).
func (s *Server) devSMS(c echo.Context) error {
	if s.DevOutbox == nil {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	out := []devMessage{}
	for _, m := range s.DevOutbox.Messages(c.QueryParam("to")) {
		out = append(out, devMessage{m.To, m.Text, m.At.UTC()})
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": out})
}
