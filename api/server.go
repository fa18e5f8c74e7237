// Package api is Qujat's HTTP server: routes, handlers per resource,
// authentication, the error table and the OpenAPI document. It imports
// domain packages only; cmd/qujat picks the adapters and wires them in.
package api

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qujat/qujat/cases"
	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/duplicates"
	"github.com/qujat/qujat/extracts"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/notify"
	"github.com/qujat/qujat/registries"
	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/web"
)

// Deps are what the server is built from. Optional parts may be nil; their
// routes then answer 404.
type Deps struct {
	Logger    *slog.Logger
	Now       func() time.Time
	Tokens    *TokenIssuer
	Directory wallet.Directory
	// SignIn signs citizens in (OTP), refreshes and ends their sessions.
	SignIn *signin.Service
	Rand   io.Reader

	Documents *wallet.DocumentService
	Verifier  *wallet.Verifier
	Keys      wallet.KeyRing
	Views     wallet.ViewStore
	// Changes commits state changes with their history (guardians' views).
	Changes  wallet.Committer
	Sharing  *sharing.Service
	Events   wallet.EventStore
	Consents *consent.Service
	// Counters keep per-address request counters (the short-lived store).
	Counters wallet.ShortLivedStore
	// HistoryLog is the tamper-evident log of history events.
	HistoryLog *historylog.Log
	// SMSInboundSecret is the HMAC secret with which the SMS gateway signs
	// POST /v1/sms/inbound.
	SMSInboundSecret []byte
	// PublicURL is the base of links given out (qr_url).
	PublicURL string
	// Preferences keeps citizens' preferences (their language).
	Preferences wallet.PreferenceStore
	// ClientName returns an organisation's name for history pages.
	ClientName func(ctx context.Context, clientID string) string
	// Devices registers citizens' devices for notifications.
	Devices *notify.Devices

	// Development only: the demo registry's citizens and the SMS outbox.
	DevCitizens func() []wallet.Citizen
	DevOutbox   *sms.Outbox
	// DevNotifications keeps the notifications delivered (development
	// only), readable at /v1/dev/notifications (which delivers what is due first).
	DevNotifications *notify.DevOutbox
	// NoCitizenLimits turns the per-citizen limits (limitByCitizen) off:
	// development only, for load generation.
	NoCitizenLimits bool

	// TrustedProxies are the reverse proxies from which X-Forwarded-For is
	// read (clientAddress); none: the peer's address is the client's.
	TrustedProxies []*net.IPNet

	// ReadyChecks are run by /readyz; each returns nil when its store is reachable.
	ReadyChecks map[string]func(context.Context) error
	// ReadyCheckTimeout bounds each ready check, run concurrently (2 s if
	// zero).
	ReadyCheckTimeout time.Duration
	// OptionalReady are shown by /readyz under "optional" without making
	// the service unready: each returns its part's state ("ok" or what is
	// wrong), as a streaming replica whose reads the primary takes over
	// when it is down or behind. They must answer at once (a cached state),
	// and are read with the ready checks' timeout all the same.
	OptionalReady map[string]func(context.Context) string
	// Metrics is where request metrics are registered (a new registry if nil).
	Metrics *prometheus.Registry
	// Pages, if set, are the web pages for browsers (GET /s/{token} with
	// Accept: text/html, /verify, /view/{id}).
	Pages *web.Pages

	// Staff registers staff members, signs them in and publishes their
	// keys; nil, the staff endpoints answer 404.
	Staff *staff.Service
	// Duplicates makes and certifies electronic duplicates; nil, their
	// endpoints answer 404.
	Duplicates *duplicates.Service
	// Registries keeps hosted registries; nil, their endpoints and pages
	// answer 404.
	Registries *registries.Service
	// Extracts prints documents' extracts; nil, their endpoints answer 404.
	Extracts *extracts.Service
	// Cases carries applications to agencies and takes their answers; nil,
	// their endpoints answer 404.
	Cases *cases.Service

	// MetricsToken, if set, is the bearer secret that GET /metrics requires
	// on this server; if empty, /metrics is not served here (serve
	// MetricsHandler on an address of its own instead).
	MetricsToken string
}

// Server is the HTTP API.
type Server struct {
	Deps
	e   *echo.Echo
	log *slog.Logger
}

// New builds the server and its routes.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.Metrics == nil {
		d.Metrics = prometheus.NewRegistry()
	}
	s := &Server{Deps: d, e: echo.New(), log: d.Logger}
	e := s.e
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = clientAddress(d.TrustedProxies)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Generator: newRequestID,
	}))
	e.Use(s.securityHeaders)
	e.Use(s.logRequests)
	e.Use(newMetrics(d.Metrics).middleware)
	e.Use(s.recoverPanics)
	// 64 KiB for every body but a duplicate's scan, which has its own
	// limit (uploadDuplicate).
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit: "64K",
		Skipper: func(c echo.Context) bool {
			p := c.Path()
			return c.Request().Method == http.MethodPost && (p == duplicateUploadPath || p == caseDocumentPath || p == inboundPath)
		},
	}))
	s.routes()
	return s
}

// MetricsHandler serves the request metrics in the Prometheus text format,
// without authentication: for a listener of its own (QUJAT_METRICS_ADDR).
func (s *Server) MetricsHandler() http.Handler { return metricsHandler(s.Metrics) }

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

// Routes lists method and path of every registered route (for the OpenAPI test).
func (s *Server) Routes() [][2]string {
	var out [][2]string
	for _, r := range s.e.Routes() {
		out = append(out, [2]string{r.Method, r.Path})
	}
	return out
}

func (s *Server) routes() {
	e := s.e
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metrics)
	e.GET("/openapi.yaml", s.openapi)

	v1 := e.Group("/v1")
	v1.POST("/auth/otp", s.startSignIn, s.limitByAddress("signin", signInRequestsPerAddress, signInAddressWindow))
	v1.POST("/auth/token", s.finishSignIn)
	v1.POST("/auth/refresh", s.refreshSession)
	v1.POST("/auth/logout", s.logout)
	v1.GET("/me", s.me, s.citizenOnly)
	v1.GET("/me/preferences", s.myPreferences, s.citizenOnly)
	v1.PUT("/me/preferences", s.setPreferences, s.citizenOnly)
	v1.POST("/me/devices", s.addDevice, s.citizenOnly)
	v1.GET("/me/devices", s.listDevices, s.citizenOnly)
	v1.DELETE("/me/devices/:id", s.removeDevice, s.citizenOnly)

	e.GET("/.well-known/jwks.json", s.jwks)
	v1.POST("/verify", s.verify)
	v1.GET("/documents", s.listDocuments, s.citizenOnly)
	v1.POST("/documents/refresh", s.refreshDocuments, s.citizenOnly, s.limitByCitizen("refresh", refreshesPerCitizen, refreshesWindow))
	v1.GET("/documents/:id", s.getDocument, s.citizenOnly)
	v1.GET("/documents/:id/versions", s.documentVersions, s.citizenOnly)

	v1.GET("/wards", s.listWards, s.citizenOnly)
	v1.GET("/wards/:iin/documents", s.wardDocuments, s.citizenOnly)
	v1.GET("/views", s.listViews, s.eitherParty)

	v1.POST("/documents/:id/shares", s.openShare, s.citizenOnly, s.limitByCitizen("shares", sharesOpenedPerCitizen, sharesOpenedWindow))
	v1.GET("/shares", s.listShares, s.citizenOnly)
	v1.DELETE("/shares/:id", s.revokeShare, s.citizenOnly)
	v1.GET("/shares/:id/qr", s.shareQR, s.citizenOnly, s.limitByCitizen("qr", qrImagesPerCitizen, qrImagesWindow))
	v1.POST("/shares/redeem", s.redeemShare, s.eitherParty)
	e.GET("/s/:token", s.shareLink)
	v1.GET("/me/history", s.history, s.citizenOnly)

	v1.POST("/oauth/token", s.clientToken)
	v1.POST("/consents", s.requestConsent, s.organisationOnly)
	v1.GET("/consents", s.listClientConsents, s.organisationOnly)
	v1.GET("/consents/:id", s.getConsent, s.organisationOnly)
	v1.POST("/consents/:id/otp", s.submitConsentOTP, s.organisationOnly)
	v1.GET("/consents/:id/documents", s.consentDocuments, s.organisationOnly)
	v1.GET("/me/consents", s.myConsents, s.citizenOnly)
	v1.POST("/me/consents/:id/approve", s.decideConsent(s.Consents.Approve), s.citizenOnly)
	v1.POST("/me/consents/:id/deny", s.decideConsent(s.Consents.Deny), s.citizenOnly)
	v1.DELETE("/me/consents/:id", s.decideConsent(s.Consents.Revoke), s.citizenOnly)
	v1.POST("/sms/inbound", s.smsInbound)

	v1.GET("/log/checkpoint", s.logCheckpoint)
	v1.GET("/log/key", s.logKey)
	v1.GET("/log/leaves/:index", s.logLeaf, s.eitherParty)
	v1.GET("/log/proof/inclusion", s.logInclusion)
	v1.GET("/log/proof/consistency", s.logConsistency)

	if s.Staff != nil {
		v1.POST("/staff/auth/otp", s.startStaffSignIn, s.limitByAddress("signin", signInRequestsPerAddress, signInAddressWindow))
		v1.POST("/staff/auth/token", s.finishStaffSignIn)
		e.GET("/.well-known/staff-keys.json", s.staffKeys)
		v1.GET("/centre/me", s.centreMe, s.staffOnly)
	}
	if s.Duplicates != nil {
		v1.GET("/duplicates/types", s.duplicateTypes)
		e.POST(duplicateUploadPath, s.uploadDuplicate, s.staffOnly)
		if s.Cases != nil {
			v1.POST("/centre/cases", s.openCase, s.staffOnly)
			e.POST(caseDocumentPath, s.attachCaseDocument, s.staffOnly)
			v1.POST("/centre/cases/:id/send", s.sendCase, s.staffOnly)
			v1.GET("/centre/cases/:id", s.getCase, s.staffOnly)
			v1.POST("/centre/cases/:id/issue", s.issueCase, s.staffOnly)
			v1.GET("/centre/cases/:id/evidence", s.caseEvidence, s.staffOnly)
			v1.GET("/centre/cases/:id/view", s.caseView, s.staffOnly)
			v1.GET("/me/cases", s.myCases, s.citizenOnly)
			v1.GET("/me/cases/:id/result", s.myCaseResult, s.citizenOnly)
			e.POST(inboundPath, s.exchangeInbound)
			e.GET("/.well-known/exchange-keys.json", s.exchangeKeys)
		}
		v1.POST("/centre/duplicates/:id/confirm", s.confirmDuplicate, s.staffOnly)
		v1.GET("/centre/duplicates", s.centreDuplicates, s.staffOnly)
		v1.GET("/duplicates", s.myDuplicates, s.citizenOnly)
		v1.GET("/duplicates/:id", s.myDuplicate, s.citizenOnly)
		v1.GET("/duplicates/:id/scan", s.myDuplicateScan, s.citizenOnly)
		v1.POST("/duplicates/:id/shares", s.shareDuplicate, s.eitherParty)
		v1.GET("/gov/duplicates", s.govDuplicates, s.organisationOnly)
		v1.GET("/gov/duplicates/:id/scan", s.govDuplicateScan, s.organisationOnly)
	}

	if s.Registries != nil {
		v1.POST("/registries/:code/records", s.createRecord, s.staffOnly)
		v1.GET("/registries/:code/records/:number", s.staffRecord, s.staffOnly)
		v1.POST("/registries/:code/records/:number/sign", s.signRecord, s.staffOnly)
		v1.POST("/registries/:code/records/:number/versions", s.amendRecord, s.staffOnly)
		v1.POST("/registries/:code/records/:number/revoke", s.revokeRecord, s.staffOnly)
		e.GET("/r/:code/:number", s.publishedRecord)
		e.GET("/r/:code/:number/versions/:version", s.publishedRecord)
	}

	if s.Extracts != nil {
		v1.GET("/documents/:id/extract.pdf", s.documentExtract, s.citizenOnly, s.limitByCitizen("extracts", extractsPerCitizen, extractsWindow))
		e.GET("/e/:id", s.extractPage)
	}

	if s.Pages != nil {
		signInLimit := s.limitByAddress("signin", signInRequestsPerAddress, signInAddressWindow)
		s.Pages.Mount(e, func(c echo.Context) error { return signInLimit(func(echo.Context) error { return nil })(c) })
	}

	v1.GET("/dev/citizens", s.devCitizens)
	v1.GET("/dev/sms", s.devSMS)
	v1.GET("/dev/notifications", s.devNotifications)
}
