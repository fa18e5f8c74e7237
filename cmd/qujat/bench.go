package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/qujat/qujat/cmd/qujat/loadgen"
)

// benchProgress receives bench's progress lines (a variable for tests).
var benchProgress io.Writer = os.Stderr

// runBench drives a running service over HTTP on this machine and measures
// the raw servers it uses in the same run (see package loadgen):
// `qujat bench --url http://127.0.0.1:8080 [--duration 10s] [--concurrency 16]
// [--phases …] [--json] [--database-url …] [--redis-url …] [--sqlite path] [--pg-stats]`.
// --database-url and --redis-url default to QUJAT_DATABASE_URL and
// QUJAT_REDIS_URL, so that bench run with the service's environment measures
// the service's servers.
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("bench", `qujat bench --url URL [flags]
load a running service on this machine, phase by phase, and measure the raw
servers it uses (insert-commit and round-trip baselines) and the HTTP ceiling
(an in-process echo server binding and answering as a redemption does) in the same run`, stdout)
	url := fs.String("url", "http://127.0.0.1:8080", "base URL of the running service (loopback only)")
	duration := fs.Duration("duration", 10*time.Second, "how long each phase and baseline runs (at most 2m)")
	conc := fs.Int("concurrency", 16, "concurrent requests of each phase and baseline")
	phases := fs.String("phases", loadgen.DefaultPhases, "comma-separated phases: issue, redeem-token, redeem-code, qr, list, and NAME@F to pace NAME at F times the rate it reached")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	// The defaults from the environment are applied after parsing, so that
	// --help does not print a password they may hold.
	dbURL := fs.String("database-url", "", "PostgreSQL of the insert-commit baseline (default QUJAT_DATABASE_URL; neither: SQLite)")
	redisURL := fs.String("redis-url", "", "Redis of the round-trip baseline (default QUJAT_REDIS_URL; neither: none)")
	sqlitePath := fs.String("sqlite", "", "scratch SQLite file of the baseline, created and deleted (default: in a fresh directory under the current one)")
	pool := fs.Int("pool", 0, "shares to prepare before each redemption phase (default: estimated from the rates seen)")
	citizens := fs.Int("citizens", 12, "demo citizens to sign in, half owners, half viewers (each sign-in spends one of the phone's 5 codes an hour)")
	noBaselines := fs.Bool("no-baselines", false, "skip the baselines")
	pgStats := fs.Bool("pg-stats", false, "read PostgreSQL's counters (pg_stat_database, pg_stat_wal) around each phase and report commits, rows and WAL per successful operation (waits 11 s before each reading)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dbURL == "" {
		*dbURL = getenv("QUJAT_DATABASE_URL")
	}
	if *redisURL == "" {
		*redisURL = getenv("QUJAT_REDIS_URL")
	}
	ps, err := loadgen.ParsePhases(*phases)
	if err != nil {
		return usageError{"bench: " + err.Error()}
	}
	cfg := loadgen.Config{
		URL: *url, Duration: *duration, Concurrency: *conc, Phases: ps,
		DatabaseURL: *dbURL, RedisURL: *redisURL, SQLitePath: *sqlitePath,
		Pool: *pool, Citizens: *citizens, NoBaselines: *noBaselines, PGStats: *pgStats, Progress: benchProgress,
	}
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}
