package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// serveGCPercent is the garbage collector's target that serve sets unless
// GOGC is set: the heap may grow to five times what is live before a
// collection, instead of Go's default of twice. Measured with qujat bench
// on PostgreSQL + Redis (docs/performance.md, "The garbage collector's
// target"): 9 % less service CPU per redemption and per issuance, for a
// peak resident size of 85 MB instead of 57 MB.
const serveGCPercent = 400

// setGCTarget sets the garbage collector's target to serveGCPercent unless
// the GOGC environment variable chose one, and returns the target in force
// (-1: collection off, as GOGC=off says).
func setGCTarget(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		// The runtime read it at start; asking sets nothing.
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(serveGCPercent)
	return serveGCPercent
}

// runServe runs the HTTP service until ctx is cancelled, then shuts down
// gracefully.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("serve", `qujat serve [flags]
run the HTTP service until interrupted; without configuration, the embedded
default (SQLite in --data-dir, short-lived data in memory, the demo registry)`, stdout)
	cfg, err := loadConfig(getenv, fs, args)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := newLogger(cfg.LogLevel, os.Stderr)
	logger.Debug("garbage collector", slog.Int("gc_percent", setGCTarget(getenv)))

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + addr
	}

	a, err := openApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()

	srv := &http.Server{
		Handler:           a.server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", slog.String("addr", addr), slog.String("mode", a.mode))
	if cfg.TrustedProxies != "" {
		logger.Info("X-Forwarded-For is read from trusted proxies", slog.String("proxies", cfg.TrustedProxies))
	}
	if cfg.DevEndpoints() {
		logger.Warn("development endpoints are served: /v1/dev/citizens, /v1/dev/sms and /v1/dev/notifications (every one-time password, no authentication; http webhooks accepted); QUJAT_DEV=0 turns them off",
			slog.String("addr", addr))
	} else {
		logger.Info("development endpoints are off (QUJAT_DEV=1 turns them on)")
	}
	if phonesCannotOpen(cfg.PublicURL) {
		logger.Warn("QUJAT_PUBLIC_URL is a loopback or unspecified address: phones cannot open the links that QR codes encode; "+
			"set it to an address phones reach, e.g. QUJAT_PUBLIC_URL=http://192.168.1.20:8080 (this machine on the local network) "+
			"or the https URL of the deployment (see the README)",
			slog.String("public_url", cfg.PublicURL))
	}
	fmt.Fprintf(stdout, "qujat %s listening on http://%s (%s)\n", versionString(), addr, a.mode)

	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", a.server.MetricsHandler())
		msrv, err := startSideServer(cfg.MetricsAddr, mux)
		if err != nil {
			return err
		}
		defer msrv.Close()
		logger.Info("metrics", slog.String("addr", cfg.MetricsAddr))
	}
	if cfg.DebugAddr != "" {
		dbg, err := startDebugServer(cfg.DebugAddr)
		if err != nil {
			return err
		}
		defer dbg.Close()
		logger.Info("profiling", slog.String("addr", cfg.DebugAddr))
	}

	return serveUntilDone(ctx, srv, ln, 10*time.Second, func() { logger.Info("shutting down") })
}

// serveUntilDone serves on ln until ctx is cancelled, then shuts srv down
// gracefully, waiting at most grace for requests in flight.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, onShutdown func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	if onShutdown != nil {
		onShutdown()
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// runMigrate applies the database migrations and exits.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("migrate", `qujat migrate [flags]
apply the database migrations (PostgreSQL at QUJAT_DATABASE_URL, else SQLite
in --data-dir) and exit`, stdout)
	cfg, err := loadConfig(getenv, fs, args)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	st, where, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "migrations applied (%s)\n", where)
	return nil
}

// startDebugServer serves net/http/pprof on addr (loopback only; see Validate).
func startDebugServer(addr string) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return startSideServer(addr, mux)
}

// startSideServer serves h on addr in the background (profiling, metrics).
func startSideServer(addr string, h http.Handler) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}
