package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/qujat/qujat/integrations/sources"
)

// runRegistrySim serves the demo registry over the source registry protocol,
// with faults to inject, so that the real HTTP client is exercised over a
// real connection.
func runRegistrySim(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("registry-sim", `qujat registry-sim --secret SECRET [flags]
serve the demo registry over the source registry protocol, with faults to inject`, stdout)
	addr := fs.String("addr", "127.0.0.1:9090", "listen address")
	// The default from the environment is applied after parsing, so that
	// --help does not print the secret.
	secret := fs.String("secret", "", "shared HMAC secret of at least 16 characters (default QUJAT_SOURCES_SECRET)")
	var opts sources.SimOptions
	fs.Var(&opts.Latency, "latency", "added latency per source, e.g. transport=3s,education=500ms")
	fs.Var(&opts.FailRate, "fail-rate", "share of requests answered 500 per source, e.g. transport=0.3")
	fs.Var(&opts.Fail, "fail", "sources that always answer 500, e.g. education")
	fs.Var(&opts.Garbage, "garbage", "sources that answer malformed JSON, e.g. education")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = getenv("QUJAT_SOURCES_SECRET")
	}
	if len(*secret) < 16 {
		return usageError{"registry-sim: --secret (or QUJAT_SOURCES_SECRET) of at least 16 characters is required"}
	}
	opts.Secret = *secret
	demo, err := sources.LoadDemo()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: sources.NewSimulator(demo, opts), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "registry simulator listening on http://%s\n", ln.Addr())
	return serveUntilDone(ctx, srv, ln, 5*time.Second, nil)
}
