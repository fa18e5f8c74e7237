package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/cmd/qujat/loadgen"
	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet/wallettest"
)

// TestBench_RunsEveryPhaseAgainstTheEmbeddedDefault starts the service and
// runs `qujat bench` at it for about a second per phase: it must stop by
// itself and report a rate for every phase and baseline, and no 5xx.
func TestBench_RunsEveryPhaseAgainstTheEmbeddedDefault(t *testing.T) {
	skipIfShort(t)
	base := startService(t, map[string]string{"QUJAT_DEV_UNLIMITED": "1"})
	var progress syncBuffer
	old := benchProgress
	benchProgress = &progress
	t.Cleanup(func() { benchProgress = old })

	var out bytes.Buffer
	args := []string{"bench", "--url", base, "--duration", "1s", "--concurrency", "2", "--json",
		"--sqlite", filepath.Join(t.TempDir(), "scratch.db"),
		"--phases", "issue,redeem-token,redeem-code,qr,list,redeem-token@0.5"}
	env := func(string) string { return "" }
	if err := run(context.Background(), args, env, &out); err != nil {
		t.Fatalf("bench: %v\nprogress:\n%s", err, progress.String())
	}
	var rep loadgen.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bench --json printed no report: %v\n%s", err, out.String())
	}
	if len(rep.Baselines) != 2 || rep.Baselines[0].Name != loadgen.BaselineSQLite || rep.Baselines[0].OKPerSecond <= 0 ||
		rep.Baselines[1].Name != loadgen.BaselineHTTP || rep.Baselines[1].OKPerSecond <= 0 || len(rep.Baselines[1].Errors) > 0 {
		t.Errorf("baselines %+v", rep.Baselines)
	}
	want := []string{"issue", "redeem-token", "redeem-code", "qr", "list", "redeem-token@0.5"}
	if len(rep.Phases) != len(want) {
		t.Fatalf("phases %+v, want %v", rep.Phases, want)
	}
	for i, p := range rep.Phases {
		if p.Name != want[i] {
			t.Errorf("phase %d is %q, want %q", i, p.Name, want[i])
		}
		if p.OKPerSecond <= 0 || p.P99ms <= 0 {
			t.Errorf("phase %s: no rate or latency: %+v", p.Name, p)
		}
		if n := p.ServerErrors(); n > 0 {
			t.Errorf("phase %s: %d responses with 5xx: %v", p.Name, n, p.Errors)
		}
		if len(p.Errors) > 0 {
			t.Errorf("phase %s: errors %v", p.Name, p.Errors)
		}
		if p.Ratios[loadgen.BaselineSQLite] <= 0 || p.Ratios[loadgen.BaselineHTTP] <= 0 {
			t.Errorf("phase %s: no ratio to the baselines: %v", p.Name, p.Ratios)
		}
	}
	if !strings.Contains(progress.String(), "bench: issue") {
		t.Errorf("no progress lines:\n%s", progress.String())
	}
}

// TestBench_RefusesAServiceThatIsNotOnLoopback never sends a request.
func TestBench_RefusesAServiceThatIsNotOnLoopback(t *testing.T) {
	old := benchProgress
	benchProgress = io.Discard
	t.Cleanup(func() { benchProgress = old })
	for _, u := range []string{"http://192.0.2.1:8080", "http://example.com"} {
		err := run(context.Background(), []string{"bench", "--url", u, "--duration", "1s"}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("bench --url %s: %v, want a loopback refusal", u, err)
		}
	}
	err := run(context.Background(), []string{"bench", "--phases", "nope"}, func(string) string { return "" }, io.Discard)
	if exitCode(err) != 2 {
		t.Errorf("unknown phase: %v (exit %d), want a usage error", err, exitCode(err))
	}
}

// TestBench_PGStatsCountsWhatPostgreSQLDidPerOperation runs two short
// phases against the service on PostgreSQL and Redis with --pg-stats
// (settling for 1.5 s instead of 11, so the last second's counters may be
// missing: only their presence is checked).
func TestBench_PGStatsCountsWhatPostgreSQLDidPerOperation(t *testing.T) {
	skipIfShort(t)
	dbURL := wallettest.PostgresSchemaURL(t)
	base := startService(t, map[string]string{"QUJAT_DATA_DIR": t.TempDir(), "QUJAT_DATABASE_URL": dbURL,
		"QUJAT_REDIS_URL": shortlivedtest.RedisURL(t), "QUJAT_REDIS_PREFIX": shortlivedtest.UniquePrefix(t),
		"QUJAT_DEV": "1", "QUJAT_DEV_UNLIMITED": "1"})
	phases, err := loadgen.ParsePhases("issue,redeem-token")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loadgen.Run(t.Context(), loadgen.Config{URL: base, Duration: time.Second, Concurrency: 2, Phases: phases,
		DatabaseURL: dbURL, NoBaselines: true, PGStats: true, PGSettle: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Phases {
		if p.PG == nil || p.PG.Commits <= 0 || p.PG.RowsInserted <= 0 || p.PG.WALRecords <= 0 {
			t.Errorf("phase %s: %+v", p.Name, p.PG)
		}
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil || !strings.Contains(out.String(), "PostgreSQL per successful operation") {
		t.Errorf("the text report has no PostgreSQL table: %v\n%s", err, out.String())
	}
	// Without PostgreSQL there is nothing to read.
	_, err = loadgen.Run(t.Context(), loadgen.Config{URL: base, Duration: time.Second, Concurrency: 1, Phases: phases, PGStats: true})
	if err == nil || !strings.Contains(err.Error(), "--pg-stats") {
		t.Errorf("--pg-stats without a database: %v", err)
	}
}
