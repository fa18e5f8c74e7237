package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/qujat/qujat/api"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/notify"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/registries"
	"github.com/qujat/qujat/service"
	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/sqlite"
)

// app is the wired service: the adapters chosen by the configuration and the
// HTTP server built on them.
type app struct {
	mode    string
	store   service.Store
	short   wallet.ShortLivedStore
	server  *api.Server
	closers []func() error
}

func (a *app) Close() error {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
	return nil
}

// openStore opens the durable store the configuration names and applies the
// migrations.
func openStore(ctx context.Context, cfg Config) (service.Store, string, error) {
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, "", fmt.Errorf("open PostgreSQL: %w", err)
		}
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, "", fmt.Errorf("migrate PostgreSQL: %w", err)
		}
		return st, "PostgreSQL", nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "qujat.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, "", fmt.Errorf("open SQLite: %w", err)
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, "", fmt.Errorf("migrate SQLite: %w", err)
	}
	return st, "SQLite " + path, nil
}

func openShortLived(ctx context.Context, cfg Config) (wallet.ShortLivedStore, func() error, string, error) {
	if cfg.RedisURL != "" {
		opened, err := redisstore.Open(ctx, cfg.RedisURL)
		if err != nil {
			return nil, nil, "", fmt.Errorf("open Redis: %w", err)
		}
		return redisstore.New(opened.Client(), cfg.RedisPrefix), opened.Close, "Redis", nil
	}
	return memstore.New(time.Now), func() error { return nil }, "memory", nil
}

// openApp wires the service from the configuration.
func openApp(ctx context.Context, cfg Config, logger *slog.Logger) (_ *app, err error) {
	a := &app{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	keysDir := filepath.Join(cfg.DataDir, "keys")

	st, storeName, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.store = st
	a.closers = append(a.closers, st.Close)

	short, closeShort, shortName, err := openShortLived(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.short = short
	a.closers = append(a.closers, closeShort)

	pepper, err := keyfiles.LoadOrCreateSecret(filepath.Join(keysDir, "pepper.key"), 32)
	if err != nil {
		return nil, fmt.Errorf("pepper: %w", err)
	}
	tokenKey, err := keyfiles.LoadOrCreateEd25519(filepath.Join(keysDir, "access-token.pem"))
	if err != nil {
		return nil, fmt.Errorf("access token key: %w", err)
	}

	// Source registries: the built-in demo registry unless QUJAT_SOURCES names others.
	directory, srcs, devCitizens, sourceName, err := openSources(cfg)
	if err != nil {
		return nil, err
	}

	// Issuer keys sign documents; generated on first start.
	issuers := make([]string, 0, 3)
	for _, is := range sources.Issuers() {
		issuers = append(issuers, is.ID)
	}
	keys, err := keyfiles.Open(keysDir, issuers, cfg.DocumentKeyAlg)
	if err != nil {
		return nil, fmt.Errorf("issuer keys: %w", err)
	}
	// Staff keys: one per staff member, made by `qujat staff create`.
	staffKeys, err := openStaffKeys(cfg)
	if err != nil {
		return nil, err
	}
	exchangeKeys, err := exchange.OpenCentreKeys(keysDir)
	if err != nil {
		return nil, fmt.Errorf("exchange keys: %w", err)
	}
	calendars, err := openCalendars(cfg)
	if err != nil {
		return nil, err
	}
	logKeys, err := historylog.LoadOrCreateKeys(keysDir, cfg.LogOrigin)
	if err != nil {
		return nil, fmt.Errorf("history log keys: %w", err)
	}

	// SMS: the outbox in development, an HTTP gateway in production.
	var sender outbox.Sender
	var outbox *sms.Outbox
	switch cfg.SMSDriver {
	case "http":
		sender = sms.NewHTTPGateway(cfg.SMSGatewayURL, cfg.SMSGatewayToken, nil)
	default:
		outbox = sms.NewOutbox(1000, time.Now)
		sender = outbox
	}
	sealKey, err := keyfiles.LoadOrCreateSecret(filepath.Join(keysDir, "share-seal.key"), 32)
	if err != nil {
		return nil, fmt.Errorf("share seal key: %w", err)
	}
	inboundSecret := []byte(cfg.SMSInboundSecret)
	if len(inboundSecret) == 0 {
		inboundSecret, err = keyfiles.LoadOrCreateSecret(filepath.Join(keysDir, "sms-inbound.key"), 32)
		if err != nil {
			return nil, fmt.Errorf("SMS inbound secret: %w", err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// A streaming replica serves the reads that tolerate lag; the primary
	// serves every other read and every write.
	var (
		replica  service.LagTolerantReads
		optional map[string]func(context.Context) string
	)
	if cfg.DatabaseReplicaURL != "" {
		primary, ok := st.(*postgres.Store)
		if !ok {
			return nil, fmt.Errorf("QUJAT_DATABASE_REPLICA_URL needs PostgreSQL at QUJAT_DATABASE_URL")
		}
		r, err := postgres.OpenReplica(ctx, primary, cfg.DatabaseReplicaURL, postgres.ReplicaOptions{MaxLag: cfg.replicaMaxLag(), Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("open the PostgreSQL replica: %w", err)
		}
		a.closers = append(a.closers, r.Close)
		replica = r
		optional = map[string]func(context.Context) string{"database_replica": func(context.Context) string { return r.State() }}
		registerReplicaMetrics(reg, r)
		storeName += " with a streaming replica for lag-tolerant reads (" + r.State() + ")"
	}

	// The development endpoints read the outbox and the demo registry's
	// citizens: only when the configuration allows them (Config.DevEndpoints).
	devOutbox, devList := outbox, devCitizens
	if !cfg.DevEndpoints() {
		devOutbox, devList = nil, nil
	}
	// Notifications: webhooks posted (and FCM with a service account's
	// key), or (outbox) kept in the process; the development endpoints show
	// what was delivered either way.
	var devNotifications *notify.DevOutbox
	if cfg.DevEndpoints() {
		devNotifications = &notify.DevOutbox{}
	}
	push := map[string]notify.Driver{wallet.PlatformWebhook: &notify.Webhook{AllowPrivate: cfg.DevEndpoints()}}
	if cfg.FCMKeyFile != "" {
		b, err := os.ReadFile(cfg.FCMKeyFile)
		if err != nil {
			return nil, fmt.Errorf("QUJAT_FCM_KEY_FILE: %w", err)
		}
		key, priv, err := notify.ParseFCMKey(b)
		if err != nil {
			return nil, fmt.Errorf("QUJAT_FCM_KEY_FILE: %w", err)
		}
		push[wallet.PlatformFCM] = &notify.FCM{Key: key, PrivateKey: priv, Endpoint: cfg.FCMEndpoint}
	}
	if cfg.PushDriver == "outbox" {
		kept := devNotifications
		if kept == nil {
			kept = &notify.DevOutbox{}
		}
		push = map[string]notify.Driver{wallet.PlatformWebhook: kept, wallet.PlatformFCM: kept}
	}
	proxies, err := parseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	svc, err := service.Build(service.Parts{
		Logger: logger, Now: time.Now, Rand: rand.Reader,
		Store: st, Short: short, Directory: directory, Sources: srcs, DevCitizens: devList,
		Keys: keys, StaffKeys: staffKeys, DuplicateRetention: cfg.duplicateRetention(), LogKeys: logKeys, ExchangeKeys: exchangeKeys, Calendars: calendars, Pepper: pepper, TokenKey: tokenKey, TokenIssuer: cfg.TokenIssuer, SealKey: sealKey,
		SMS: sender, Outbox: devOutbox, SMSInboundSecret: inboundSecret,
		Push: push, DevNotifications: devNotifications,
		PublicURL: cfg.PublicURL, Metrics: reg, MetricsToken: cfg.MetricsToken,
		NoCitizenLimits: cfg.DevUnlimited == "1",
		TrustedProxies:  proxies,
		Replica:         replica, OptionalReadyChecks: optional,
	})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, svc.Close)
	// Development with the demo registry's citizens: a demo registry of
	// licences and its official, so that a new user can try hosted
	// registries (README, "Hosted registries").
	if cfg.DevEndpoints() && devCitizens != nil {
		made, err := svc.Registries.SeedDemo(ctx, svc.Consents)
		if err != nil {
			return nil, fmt.Errorf("demo registry of licences: %w", err)
		}
		if made {
			logger.Info("demo registry of licences made", slog.String("registry", registries.DemoCode),
				slog.String("official_iin", string(registries.DemoOfficialIIN)))
		}
	}
	a.server = svc.Server
	a.mode = fmt.Sprintf("%s, %s, %s, SMS %s, push %s", storeName, shortName, sourceName, cfg.SMSDriver, cfg.PushDriver)
	return a, nil
}

// registerReplicaMetrics publishes the replica's state, lag and the
// lag-tolerant reads each side served.
func registerReplicaMetrics(reg *prometheus.Registry, r *postgres.Replica) {
	served := func(side string, n func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "qujat_database_lag_tolerant_reads_total",
			Help:        "Reads that tolerate lag (published statuses and keys, log checkpoints, leaves and proofs), by the server that answered them.",
			ConstLabels: prometheus.Labels{"served_by": side},
		}, func() float64 { return float64(n()) })
	}
	reg.MustRegister(
		served("replica", func() int64 { n, _ := r.Served(); return n }),
		served("primary", func() int64 { _, n := r.Served(); return n }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "qujat_database_replica_lag_seconds",
			Help: "How far the streaming replica was behind the primary at its last probe.",
		}, func() float64 { return r.Lag().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "qujat_database_replica_serving",
			Help: "1 while the streaming replica serves the lag-tolerant reads, 0 while the primary does (replica down, lagging or promoted).",
		}, func() float64 {
			if r.State() == postgres.ReplicaOK {
				return 1
			}
			return 0
		}),
	)
}

// openSources returns the citizen directory and the document sources: the
// built-in demo registry, or the HTTP registries that QUJAT_SOURCES names.
func openSources(cfg Config) (wallet.Directory, []wallet.Source, func() []wallet.Citizen, string, error) {
	if cfg.Sources == "" {
		demo, err := sources.LoadDemo()
		if err != nil {
			return nil, nil, nil, "", fmt.Errorf("demo registry: %w", err)
		}
		return demo, demo.Sources(), demo.Citizens, "demo registry", nil
	}
	sc, err := sources.ParseConfig(cfg.Sources)
	if err != nil {
		return nil, nil, nil, "", err
	}
	sc.Secret = cfg.SourcesSecret
	srcs, dir, err := sc.NewClients(sources.ClientConfig{Timeout: 800 * time.Millisecond})
	if err != nil {
		return nil, nil, nil, "", err
	}
	return dir, srcs, nil, fmt.Sprintf("%d source registries over HTTP", len(srcs)), nil
}

// validateSources checks QUJAT_SOURCES for Config.Validate.
func validateSources(s string) error {
	_, err := sources.ParseConfig(s)
	if err != nil {
		return fmt.Errorf("%s", wallet.ErrorMessage(err))
	}
	return nil
}
