package api

import (
	"context"
	_ "embed"
	"net/http"
	"sort"
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

// readyz checks every store the service depends on.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	names := make([]string, 0, len(s.ReadyChecks))
	for n := range s.ReadyChecks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := s.ReadyChecks[n](ctx); err != nil {
			checks[n] = "unavailable"
			ok = false
		} else {
			checks[n] = "ok"
		}
	}
	if !ok {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{
			"status": "unavailable", "checks": checks,
			"error": map[string]string{"code": wallet.EUNAVAILABLE, "message": "a dependency is down"},
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "checks": checks})
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
