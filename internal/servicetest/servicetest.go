// Package servicetest records which tests ran against a real service
// (PostgreSQL, Redis, a redis-server of their own) and which were skipped,
// and why, so that `make test` can end with a line saying so: without -v,
// go test shows no skip.
//
// When QUJAT_TEST_SERVICES_LOG names a file, each call appends one line:
//
//	SERVICE ran PACKAGE TEST
//	SERVICE skipped PACKAGE TEST: REASON
//	SERVICE failed PACKAGE TEST: REASON
//
// (failed: the service is missing and QUJAT_TEST_REQUIRE_SERVICES=1).
// scripts/test-services.sh sets the variable and sums the lines up. Without
// it nothing is written. The helpers that decide whether a service suite
// runs (wallettest.PostgresURL, shortlivedtest.RedisURL, StartRedis and
// StartCluster)
// call this package; so must any other test that skips for want of a
// service.
package servicetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The services, as the lines name them.
const (
	Postgres    = "postgres"     // TEST_DATABASE_URL
	Redis       = "redis"        // TEST_REDIS_URL
	RedisServer = "redis-server" // a redis-server child process the test starts
	// RedisCluster is a Redis Cluster (six redis-server children joined by
	// redis-cli) the test starts.
	RedisCluster = "redis-cluster"
	// PostgresServer is a PostgreSQL server (initdb and postgres) the test
	// starts as a child process.
	PostgresServer = "postgres-server"
	// Chromium is Debian's chromium, which the browser tests of the web
	// pages drive headless.
	Chromium = "chromium"
)

// SummaryEnv names the file Summary appends its lines to.
const SummaryEnv = "QUJAT_TEST_SUMMARY_LOG"

// Summary prints line to standard output (shown by go test -v, or when the
// package fails) and, when QUJAT_TEST_SUMMARY_LOG names a file, appends it
// there: scripts/test-services.sh prints those lines at the end of make
// test, where go test without -v would have hidden them.
func Summary(t testing.TB, line string) {
	t.Helper()
	line = strings.Join(strings.Fields(line), " ")
	fmt.Println(line)
	path := os.Getenv(SummaryEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.Write([]byte(line + "\n"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Errorf("%s: %v", SummaryEnv, err)
	}
}

// LogEnv names the file the lines are appended to.
const LogEnv = "QUJAT_TEST_SERVICES_LOG"

// Required reports whether a missing service must fail the tests that need
// it instead of skipping them (QUJAT_TEST_REQUIRE_SERVICES=1, as in CI).
func Required() bool { return os.Getenv("QUJAT_TEST_REQUIRE_SERVICES") == "1" }

// Ran records that t runs against service.
func Ran(t testing.TB, service string) {
	t.Helper()
	record(t, service, "ran", "")
}

// Skip records that t does not run against service, and why, prints the
// reason to stderr once per test binary, and skips t.
func Skip(t testing.TB, service, reason string) {
	t.Helper()
	record(t, service, "skipped", reason)
	if _, printed := notices.LoadOrStore(service+"\x00"+reason, struct{}{}); !printed {
		fmt.Fprintln(os.Stderr, "NOTICE: skipping tests: "+reason)
	}
	t.Skip(reason)
}

// Missing is for a service that t needs and does not have: it fails t when
// Required, and otherwise skips it as Skip does.
func Missing(t testing.TB, service, reason string) {
	t.Helper()
	if Required() {
		record(t, service, "failed", reason)
		t.Fatal(reason + " (QUJAT_TEST_REQUIRE_SERVICES=1)")
		return
	}
	Skip(t, service, reason)
}

var notices sync.Map // service and reason → struct{}

func record(t testing.TB, service, status, reason string) {
	t.Helper()
	path := os.Getenv(LogEnv)
	if path == "" {
		return
	}
	line := service + " " + status + " " + pkg() + " " + t.Name()
	if reason != "" {
		line += ": " + strings.Join(strings.Fields(reason), " ")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		// One write of a short line to a file opened for appending: lines
		// of test binaries running at once do not interleave.
		_, err = f.Write([]byte(line + "\n"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Errorf("%s: %v", LogEnv, err)
	}
}

// pkg is the package under test as ./dir from the module root: go test runs
// a test binary in its package's directory.
var pkg = sync.OnceValue(func() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if rel, err := filepath.Rel(dir, wd); err == nil {
				return "./" + strings.TrimPrefix(filepath.ToSlash(rel), ".")
			}
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return filepath.Base(wd)
})
