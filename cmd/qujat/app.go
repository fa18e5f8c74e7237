package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/qujat/qujat/api"
	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/shortlived/memstore"
	"github.com/qujat/qujat/shortlived/redisstore"
	"github.com/qujat/qujat/signin"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
	"github.com/qujat/qujat/wallet/postgres"
	"github.com/qujat/qujat/wallet/sqlite"
)

// app is the wired service: the adapters chosen by the configuration and the
// HTTP server built on them.
type app struct {
	mode    string
	store   wallet.Store
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
func openStore(ctx context.Context, cfg Config) (wallet.Store, string, error) {
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
	hasher := wallet.NewHasher(pepper)
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
	logStore, ok := st.(historylog.LogStore)
	if !ok {
		return nil, fmt.Errorf("the store keeps no history log")
	}
	logKeys, err := historylog.LoadOrCreateKeys(keysDir, cfg.LogOrigin)
	if err != nil {
		return nil, fmt.Errorf("history log keys: %w", err)
	}
	hlog, err := historylog.New(historylog.Config{Store: logStore, Keys: logKeys})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, hlog.Close)
	// Every view and history event stored through `logged` is appended to
	// the log before the call returns.
	logged := historylog.Recorder{Store: st, Log: hlog}

	documents := &wallet.DocumentService{Store: st, Sources: srcs, Keys: keys, Now: time.Now}
	verifier := &wallet.Verifier{Keys: keys, Status: documents.Status, CurrentVersion: documents.CurrentVersion, Now: time.Now}

	// SMS: the outbox in development, an HTTP gateway in production.
	var sender otp.Sender
	var outbox *sms.Outbox
	switch cfg.SMSDriver {
	case "http":
		sender = sms.NewHTTPGateway(cfg.SMSGatewayURL, cfg.SMSGatewayToken, nil)
	default:
		outbox = sms.NewOutbox(1000, time.Now)
		sender = outbox
	}

	otpSvc := otp.NewService(short, hasher, sender)
	tokens := &api.TokenIssuer{Key: tokenKey, Issuer: cfg.TokenIssuer, Now: time.Now}
	signIn := &signin.Service{
		Directory: directory, OTP: otpSvc, Sessions: st, Hasher: hasher, Access: tokens, Now: time.Now, Rand: rand.Reader,
	}

	sealKey, err := keyfiles.LoadOrCreateSecret(filepath.Join(keysDir, "share-seal.key"), 32)
	if err != nil {
		return nil, fmt.Errorf("share seal key: %w", err)
	}
	shares := &sharing.Service{
		Store: logged, Codes: short, Hasher: hasher, Documents: documents, Now: time.Now,
		PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"), SealKey: sealKey,
		Authorize: wallet.Guardianship{Directory: directory, Now: time.Now}.AuthorizeShare,
	}

	inboundSecret := []byte(cfg.SMSInboundSecret)
	if len(inboundSecret) == 0 {
		inboundSecret, err = keyfiles.LoadOrCreateSecret(filepath.Join(keysDir, "sms-inbound.key"), 32)
		if err != nil {
			return nil, fmt.Errorf("SMS inbound secret: %w", err)
		}
	}
	consents := newConsentService(logged, directory, otpSvc, sender, short, documents, hasher)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	a.server = api.New(api.Deps{
		Logger:     logger,
		Now:        time.Now,
		Tokens:     tokens,
		Directory:  directory,
		SignIn:     signIn,
		Rand:       rand.Reader,
		Documents:  documents,
		Verifier:   verifier,
		Keys:       keys,
		Views:      logged,
		Events:     logged,
		HistoryLog: hlog,
		Counters:   short,
		Sharing:    shares,
		PublicURL:  strings.TrimSuffix(cfg.PublicURL, "/"),
		Consents:   consents,
		ClientName: func(ctx context.Context, id string) string {
			c, err := consents.Client(ctx, id)
			if err != nil {
				return ""
			}
			return c.Name
		},
		SMSInboundSecret: inboundSecret,
		DevCitizens:      devCitizens,
		DevOutbox:        outbox,
		ReadyChecks: map[string]func(context.Context) error{
			"database":    st.Ping,
			"short_lived": short.Ping,
		},
		Metrics: reg,
	})
	a.mode = fmt.Sprintf("%s, %s, %s, SMS %s", storeName, shortName, sourceName, cfg.SMSDriver)
	return a, nil
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

func newConsentService(st wallet.Store, dir wallet.Directory, o *otp.Service, sender otp.Sender,
	short wallet.ShortLivedStore, docs *wallet.DocumentService, hasher *wallet.Hasher) *consent.Service {
	return &consent.Service{
		Store: st, Directory: dir, OTP: o, SMS: sender, Codes: short,
		Documents: wallet.AssembledDocuments{Service: docs}, Hasher: hasher, Now: time.Now, Rand: rand.Reader,
	}
}
