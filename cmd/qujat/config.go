package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is the service configuration, read from QUJAT_* environment
// variables (and a few flags). Validate reports every problem at once.
type Config struct {
	Addr        string `env:"QUJAT_ADDR" envDefault:"127.0.0.1:8080"`
	DataDir     string `env:"QUJAT_DATA_DIR" envDefault:"./data"`
	DatabaseURL string `env:"QUJAT_DATABASE_URL"`
	RedisURL    string `env:"QUJAT_REDIS_URL"`
	RedisPrefix string `env:"QUJAT_REDIS_PREFIX" envDefault:"qujat:"`
	PublicURL   string `env:"QUJAT_PUBLIC_URL"`
	LogLevel    string `env:"QUJAT_LOG_LEVEL" envDefault:"info"`
	// DebugAddr, if set, serves net/http/pprof there (keep it on loopback).
	DebugAddr string `env:"QUJAT_DEBUG_ADDR"`
	// Dev turns the development endpoints (/v1/dev/citizens, /v1/dev/sms)
	// on ("1") or off ("0"); unset, they are on with the embedded default
	// only (see DevEndpoints).
	Dev string `env:"QUJAT_DEV"`
	// DevUnlimited, "1", turns the per-citizen limits (shares opened, QR
	// images, document refreshes) off, for `qujat bench`; only with the
	// development endpoints on, so only on loopback.
	DevUnlimited string `env:"QUJAT_DEV_UNLIMITED"`
	// MetricsAddr, if set, serves /metrics there without authentication
	// (an address of its own, e.g. an internal interface).
	MetricsAddr string `env:"QUJAT_METRICS_ADDR"`
	// MetricsToken, if set, admits GET /metrics on the public listener
	// with this bearer secret; otherwise it is not served there.
	MetricsToken string `env:"QUJAT_METRICS_TOKEN"`
	// TrustedProxies are the reverse proxies (comma-separated CIDRs or
	// addresses) whose X-Forwarded-For is read to find the client.
	TrustedProxies string `env:"QUJAT_TRUSTED_PROXIES"`

	Sources       string `env:"QUJAT_SOURCES"`
	SourcesSecret string `env:"QUJAT_SOURCES_SECRET"`

	SMSDriver        string `env:"QUJAT_SMS_DRIVER" envDefault:"outbox"`
	SMSGatewayURL    string `env:"QUJAT_SMS_GATEWAY_URL"`
	SMSGatewayToken  string `env:"QUJAT_SMS_GATEWAY_TOKEN"`
	SMSInboundSecret string `env:"QUJAT_SMS_INBOUND_SECRET"`

	// PushDriver delivers notifications: "webhook" (webhooks are posted)
	// or "outbox" (nothing leaves the process; development).
	PushDriver string `env:"QUJAT_PUSH_DRIVER" envDefault:"webhook"`
	// FCMKeyFile is a Google service account's JSON key: with it, devices
	// may be FCM registration tokens (FCM HTTP v1). FCMEndpoint replaces
	// the FCM API's URL (an emulator, tests).
	FCMKeyFile  string `env:"QUJAT_FCM_KEY_FILE"`
	FCMEndpoint string `env:"QUJAT_FCM_ENDPOINT"`

	DocumentKeyAlg string `env:"QUJAT_DOCUMENT_KEY_ALG" envDefault:"EdDSA"`
	TokenIssuer    string `env:"QUJAT_TOKEN_ISSUER" envDefault:"qujat"`

	// DuplicateRetention (a Go duration) replaces the three calendar years
	// a certified duplicate is kept: for tests and demonstrations.
	DuplicateRetention string `env:"QUJAT_DUPLICATE_RETENTION"`
	// CalendarFiles: production calendars (JSON, the shape of calendar/data)
	// loaded over the embedded ones, comma-separated: later years or a
	// corrected year.
	CalendarFiles string `env:"QUJAT_CALENDAR_FILES"`
	// LogOrigin names the history log: the first line of its checkpoints
	// and the name of its verifier key.
	LogOrigin string `env:"QUJAT_LOG_ORIGIN" envDefault:"qujat.kz/history"`
	// DatabaseReplicaURL is a streaming replica of QUJAT_DATABASE_URL: it
	// serves the reads that tolerate lag (postgres.Replica).
	DatabaseReplicaURL string `env:"QUJAT_DATABASE_REPLICA_URL"`
	// DatabaseReplicaMaxLag (a Go duration) is how far behind the replica
	// may be and still serve reads (postgres.DefaultReplicaMaxLag if unset).
	DatabaseReplicaMaxLag string `env:"QUJAT_DATABASE_REPLICA_MAX_LAG"`
}

// loadConfig reads the environment through getenv, then applies flags (see
// parseFlags: errHelp after -h or --help).
func loadConfig(getenv func(string) string, fs *flag.FlagSet, args []string) (Config, error) {
	var cfg Config
	envMap := map[string]string{}
	params, err := env.GetFieldParams(&cfg)
	if err != nil {
		return cfg, err
	}
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			envMap[p.Key] = v
		}
	}
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: envMap}); err != nil {
		return cfg, err
	}
	if fs != nil {
		fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (QUJAT_ADDR)")
		fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data directory (QUJAT_DATA_DIR)")
		if err := parseFlags(fs, args); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// parseTrustedProxies parses QUJAT_TRUSTED_PROXIES: comma-separated CIDRs
// (a bare address is its own /32 or /128).
func parseTrustedProxies(s string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			ip := net.ParseIP(f)
			if ip == nil {
				return nil, fmt.Errorf("QUJAT_TRUSTED_PROXIES: %q is neither a CIDR nor an IP address", f)
			}
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("QUJAT_TRUSTED_PROXIES: %q is neither a CIDR nor an IP address", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// embedded reports whether the configuration is the embedded default's:
// SQLite and the in-memory short-lived store.
func (c Config) embedded() bool { return c.DatabaseURL == "" && c.RedisURL == "" }

// DevEndpoints reports whether the development endpoints are served: with
// QUJAT_DEV=1, or on the embedded default unless QUJAT_DEV=0. They hand out
// every one-time password without authentication, so Validate refuses them
// on any address but loopback.
func (c Config) DevEndpoints() bool {
	switch c.Dev {
	case "1":
		return true
	case "0":
		return false
	}
	return c.embedded()
}

// isLoopback reports whether the host of a host:port address is loopback
// (an empty host means every interface).
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// duplicateRetention is QUJAT_DUPLICATE_RETENTION, or 0 (three calendar
// years) when unset. Validate has checked it.
func (c Config) duplicateRetention() time.Duration {
	d, _ := time.ParseDuration(c.DuplicateRetention)
	return d
}

// replicaMaxLag is QUJAT_DATABASE_REPLICA_MAX_LAG, or 0 (the default) when
// unset. Validate has checked it.
func (c Config) replicaMaxLag() time.Duration {
	d, _ := time.ParseDuration(c.DatabaseReplicaMaxLag)
	return d
}

// Validate checks the configuration and returns every problem at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("QUJAT_ADDR %q: want host:port (e.g. 127.0.0.1:8080, :0 for any free port)", c.Addr)
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			bad("QUJAT_DEBUG_ADDR %q: want host:port", c.DebugAddr)
		} else if !isLoopback(c.DebugAddr) {
			bad("QUJAT_DEBUG_ADDR %q: profiling is served on loopback addresses only", c.DebugAddr)
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("QUJAT_METRICS_ADDR %q: want host:port", c.MetricsAddr)
		} else if c.MetricsAddr == c.Addr {
			bad("QUJAT_METRICS_ADDR %q: must differ from QUJAT_ADDR", c.MetricsAddr)
		}
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		// The token is not quoted back.
		bad("QUJAT_METRICS_TOKEN: want at least 16 characters")
	}
	if c.DuplicateRetention != "" {
		if d, err := time.ParseDuration(c.DuplicateRetention); err != nil || d <= 0 {
			bad("QUJAT_DUPLICATE_RETENTION %q: want a positive Go duration (e.g. 5s, 72h)", c.DuplicateRetention)
		}
	}
	if _, err := parseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	switch c.PushDriver {
	case "webhook", "outbox":
	default:
		bad("QUJAT_PUSH_DRIVER %q: want webhook or outbox", c.PushDriver)
	}
	if c.FCMEndpoint != "" {
		if u, err := url.Parse(c.FCMEndpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("QUJAT_FCM_ENDPOINT %q: want an http(s) URL", c.FCMEndpoint)
		} else if c.FCMKeyFile == "" {
			bad("QUJAT_FCM_ENDPOINT needs QUJAT_FCM_KEY_FILE")
		}
	}
	switch c.Dev {
	case "", "0", "1":
	default:
		bad("QUJAT_DEV %q: want 1 (development endpoints on) or 0 (off)", c.Dev)
	}
	switch {
	case c.DevUnlimited != "" && c.DevUnlimited != "1":
		bad("QUJAT_DEV_UNLIMITED %q: want 1 (per-citizen limits off) or unset", c.DevUnlimited)
	case c.DevUnlimited == "1" && !c.DevEndpoints():
		bad("QUJAT_DEV_UNLIMITED=1 needs the development endpoints on (QUJAT_DEV=1 or the embedded default)")
	}
	if c.DevEndpoints() && !isLoopback(c.Addr) {
		bad("QUJAT_ADDR %q: the development endpoints (/v1/dev/citizens, /v1/dev/sms: every one-time password, no authentication) are served on loopback addresses only; listen on 127.0.0.1 or set QUJAT_DEV=0", c.Addr)
	}
	if c.DataDir == "" {
		bad("QUJAT_DATA_DIR must not be empty")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("QUJAT_DATABASE_URL: want postgres://user:password@host:port/db")
		}
	}
	if c.DatabaseReplicaURL != "" {
		u, err := url.Parse(c.DatabaseReplicaURL)
		switch {
		case err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql"):
			bad("QUJAT_DATABASE_REPLICA_URL: want postgres://user:password@host:port/db")
		case c.DatabaseURL == "":
			bad("QUJAT_DATABASE_REPLICA_URL needs QUJAT_DATABASE_URL (the primary it replicates)")
		}
	}
	if c.DatabaseReplicaMaxLag != "" {
		if d, err := time.ParseDuration(c.DatabaseReplicaMaxLag); err != nil || d <= 0 {
			bad("QUJAT_DATABASE_REPLICA_MAX_LAG %q: want a positive Go duration (e.g. 500ms, 10s)", c.DatabaseReplicaMaxLag)
		}
	}
	if c.RedisURL != "" {
		// The addresses are not quoted back: they may carry a password.
		for i, a := range strings.Split(c.RedisURL, ",") {
			a = strings.TrimSpace(a)
			if strings.Contains(a, "://") {
				u, err := url.Parse(a)
				ok := err == nil && (u.Scheme == "redis" || u.Scheme == "rediss" ||
					// redis+cluster://: a cluster, even with one seed address.
					i == 0 && (u.Scheme == "redis+cluster" || u.Scheme == "rediss+cluster"))
				if !ok {
					bad("QUJAT_REDIS_URL: address %d is not a redis:// (or, first, redis+cluster://) URL", i+1)
				}
			} else if _, _, err := net.SplitHostPort(a); err != nil {
				bad("QUJAT_REDIS_URL: address %d is neither a redis:// URL nor host:port", i+1)
			}
		}
	}
	if strings.ContainsAny(c.RedisPrefix, "{}") {
		// A brace in the prefix would change the hash slot of keys that
		// carry a Redis Cluster hash tag, and break the scripts that rely
		// on it.
		bad("QUJAT_REDIS_PREFIX %q must not contain { or }", c.RedisPrefix)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("QUJAT_PUBLIC_URL %q: want an absolute http(s) URL", c.PublicURL)
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("QUJAT_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.SMSDriver {
	case "outbox":
	case "http":
		if c.SMSGatewayURL == "" {
			bad("QUJAT_SMS_GATEWAY_URL is required with QUJAT_SMS_DRIVER=http")
		} else if u, err := url.Parse(c.SMSGatewayURL); err != nil || u.Host == "" {
			bad("QUJAT_SMS_GATEWAY_URL %q: want an absolute URL", c.SMSGatewayURL)
		}
		if c.SMSGatewayToken == "" {
			bad("QUJAT_SMS_GATEWAY_TOKEN is required with QUJAT_SMS_DRIVER=http")
		}
	default:
		bad("QUJAT_SMS_DRIVER %q: want outbox or http", c.SMSDriver)
	}
	switch c.DocumentKeyAlg {
	case "EdDSA", "ES256":
	default:
		bad("QUJAT_DOCUMENT_KEY_ALG %q: want EdDSA or ES256", c.DocumentKeyAlg)
	}
	if c.LogOrigin == "" || strings.ContainsAny(c.LogOrigin, "+ \t\n") {
		bad("QUJAT_LOG_ORIGIN %q: want a name without '+' or spaces, e.g. qujat.kz/history", c.LogOrigin)
	}
	if c.Sources != "" && c.SourcesSecret == "" {
		bad("QUJAT_SOURCES_SECRET is required with QUJAT_SOURCES")
	}
	if err := validateSources(c.Sources); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration:\n  %w", joinLines(errs))
}

func joinLines(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}
