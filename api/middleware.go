package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/qujat/qujat/wallet"
)

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// recoverPanics turns a panic into an internal error; the stack goes to the
// log, never to the client.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.ErrorContext(c.Request().Context(), "panic",
					slog.String("request_id", requestID(c)),
					slog.String("panic", fmt.Sprint(r)),
					slog.String("stack", string(debug.Stack())))
				err = wallet.Wrap(wallet.EINTERNAL, fmt.Errorf("panic: %v", r), "internal error")
			}
		}()
		return next(c)
	}
}

// logRequests writes one structured line per request. It logs the route
// pattern, never the raw URL's query or any body, so no secret reaches the log.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(c.Request().Context(), level, "request",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request().Method),
			slog.String("route", c.Path()),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", c.RealIP()),
		)
		return nil
	}
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qujat_http_requests_total",
			Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "qujat_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
	}
	if err := reg.Register(m.requests); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			m.requests = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	if err := reg.Register(m.duration); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			m.duration = are.ExistingCollector.(*prometheus.HistogramVec)
		}
	}
	return m
}

func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(c.Response().Status)).Inc()
		m.duration.WithLabelValues(route, c.Request().Method).Observe(time.Since(start).Seconds())
		return nil
	}
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// metrics serves /metrics on the public listener only to the holder of
// MetricsToken; without one it is not served here at all.
func (s *Server) metrics(c echo.Context) error {
	if s.MetricsToken == "" {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	tok, ok := bearer(c)
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.MetricsToken)) != 1 {
		return wallet.Errorf(wallet.EUNAUTHORIZED, "metrics need their bearer token")
	}
	metricsHandler(s.Metrics).ServeHTTP(c.Response(), c.Request())
	return nil
}

// HSTS max-age: one year.
const hstsMaxAge = 365 * 24 * 60 * 60

// securityHeaders sets the headers every response carries: no sniffing, no
// referrer, no framing, HSTS when the public URL is https, and no-store on
// every /v1 and /s response (they carry personal data or secrets).
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		if strings.HasPrefix(strings.ToLower(s.PublicURL), "https://") {
			h.Set("Strict-Transport-Security", "max-age="+strconv.Itoa(hstsMaxAge))
		}
		if p := c.Request().URL.Path; strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/s/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(c echo.Context) (string, bool) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

const ctxCitizen = "qujat.citizen"
const ctxClient = "qujat.client"

// citizenOnly admits requests that carry a valid citizen access token.
func (s *Server) citizenOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, ok := bearer(c)
		if !ok {
			return wallet.Errorf(wallet.EUNAUTHORIZED, "missing bearer token")
		}
		claims, err := s.Tokens.Parse(tok, AudienceCitizen)
		if err != nil {
			return err
		}
		iin, err := s.activeCitizen(c, claims)
		if err != nil {
			return err
		}
		c.Set(ctxCitizen, iin)
		return next(c)
	}
}

// organisationOnly admits requests that carry a valid organisation access token.
func (s *Server) organisationOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, ok := bearer(c)
		if !ok {
			return wallet.Errorf(wallet.EUNAUTHORIZED, "missing bearer token")
		}
		claims, err := s.Tokens.Parse(tok, AudienceOrganisation)
		if err != nil {
			return err
		}
		if err := s.activeOrganisation(c, claims.Subject); err != nil {
			return err
		}
		c.Set(ctxClient, claims.Subject)
		return next(c)
	}
}

// activeCitizen returns the citizen of an access token whose session was
// not revoked (by logout or a refresh token's reuse) since it was issued.
// If the short-lived store cannot be reached it fails closed.
func (s *Server) activeCitizen(c echo.Context, claims *AccessClaims) (wallet.IIN, error) {
	iin, err := wallet.ParseIIN(claims.Subject)
	if err != nil {
		return "", wallet.Errorf(wallet.EUNAUTHORIZED, "invalid access token")
	}
	if s.SignIn != nil && claims.Session != "" {
		revoked, err := s.SignIn.SessionRevoked(c.Request().Context(), claims.Session)
		if err != nil {
			return "", err
		}
		if revoked {
			return "", wallet.Errorf(wallet.EUNAUTHORIZED, "the session has ended; sign in again")
		}
	}
	return iin, nil
}

// activeOrganisation refuses the token of an organisation that was disabled
// (or removed) since it was issued: on every call, not only where the
// consent service looks the client up.
func (s *Server) activeOrganisation(c echo.Context, clientID string) error {
	if s.Consents == nil {
		return wallet.Errorf(wallet.EUNAUTHORIZED, "invalid access token")
	}
	return s.Consents.ActiveClient(c.Request().Context(), clientID)
}

func citizenOf(c echo.Context) wallet.IIN {
	iin, _ := c.Get(ctxCitizen).(wallet.IIN)
	return iin
}

func clientOf(c echo.Context) string {
	id, _ := c.Get(ctxClient).(string)
	return id
}
