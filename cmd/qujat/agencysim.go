package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/qujat/qujat/calendar"
	"github.com/qujat/qujat/integrations/exchange/agencysim"
)

// runAgencySim plays an agency over the exchange protocol: `qujat
// agency-sim keygen --out DIR` writes its keys; `qujat agency-sim --addr
// HOST:PORT --keys DIR --qujat URL [--delay D] [--reject-rate P]
// [--tamper-result] [--slow D] [--drop-after N]` serves POST /packages (the
// endpoint to register with `qujat agencies register`) and sends the
// statuses and results.
func runAgencySim(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "keygen" {
		fs := newFlagSet("agency-sim keygen", "qujat agency-sim keygen --out DIR\nwrite the simulator's private keys and print the paths of its public JWK files", stdout)
		out := fs.String("out", "", "directory for the keys (created; existing keys are never replaced)")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if *out == "" {
			return usageError{"agency-sim keygen: --out is required"}
		}
		sig, enc, err := agencysim.Keygen(*out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "signing key:    %s\nencryption key: %s\n", sig, enc)
		return nil
	}
	fs := newFlagSet("agency-sim", `qujat agency-sim --keys DIR --qujat URL [flags]
       qujat agency-sim keygen --out DIR
play an agency over the exchange protocol: take packages at POST /packages, answer with signed
receipts, then send two statuses and a signed, encrypted result to the service`, stdout)
	addr := fs.String("addr", "127.0.0.1:9091", "listen address")
	keys := fs.String("keys", "", "directory of the simulator's keys (agency-sim keygen)")
	qujat := fs.String("qujat", "http://127.0.0.1:8080", "the service's base URL")
	state := fs.String("state", "", "directory of the simulator's receipts and progress (default KEYS/state)")
	delay := fs.Duration("delay", 2*time.Second, "wait before each status and before the result")
	reject := fs.Float64("reject-rate", 0, "share of packages rejected (0..1)")
	tamper := fs.Bool("tamper-result", false, "change a byte of each result's signature")
	slow := fs.Duration("slow", 0, "wait before answering each package")
	drop := fs.Int("drop-after", 0, "drop the connection after processing the first N packages")
	cal := fs.String("calendar", "kz", "production calendar: kz or ru")
	zone := fs.String("time-zone", "", "the agency's IANA time zone (default the calendar's)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keys == "" {
		return usageError{"agency-sim: --keys is required (make them with qujat agency-sim keygen --out DIR)"}
	}
	if *reject < 0 || *reject > 1 {
		return usageError{"agency-sim: --reject-rate must be between 0 and 1"}
	}
	k, err := agencysim.LoadKeys(*keys)
	if err != nil {
		return err
	}
	c, err := calendar.Embedded().Get(*cal)
	if err != nil {
		return usageError{fmt.Sprintf("agency-sim: no calendar %q", *cal)}
	}
	loc := c.Location
	if *zone != "" {
		if loc, err = time.LoadLocation(*zone); err != nil {
			return usageError{fmt.Sprintf("agency-sim: unknown time zone %q", *zone)}
		}
	}
	if *state == "" {
		*state = filepath.Join(*keys, "state")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	sim, err := agencysim.New(agencysim.Config{Keys: k, Qujat: *qujat, StateDir: *state, Delay: *delay, RejectRate: *reject,
		TamperResult: *tamper, Slow: *slow, DropAfter: *drop, Calendar: c, Location: loc, Log: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "agency-sim: packages at http://%s/packages, answering %s\n", ln.Addr(), *qujat)
	go sim.Run(ctx)
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
