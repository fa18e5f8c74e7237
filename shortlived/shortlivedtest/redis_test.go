package shortlivedtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qujat/qujat/internal/servicetest"
)

// recordingTB records Skip and Fatal instead of ending the test.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper()           {}
func (r *recordingTB) Skip(args ...any)  { r.skipped = fmt.Sprint(args...) }
func (r *recordingTB) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

func TestRedisURLWithoutServerSkipsOrFails(t *testing.T) {
	log := filepath.Join(t.TempDir(), "services.log")
	t.Setenv(servicetest.LogEnv, log) // not the run's own record
	t.Setenv("TEST_REDIS_URL", "")
	t.Setenv("QUJAT_TEST_REQUIRE_SERVICES", "")
	r := &recordingTB{TB: t}
	RedisURL(r)
	if r.skipped == "" || r.failed != "" {
		t.Fatalf("without TEST_REDIS_URL: skipped %q, failed %q; want a skip", r.skipped, r.failed)
	}
	t.Setenv("QUJAT_TEST_REQUIRE_SERVICES", "1")
	r = &recordingTB{TB: t}
	RedisURL(r)
	if r.failed == "" || r.skipped != "" {
		t.Fatalf("with QUJAT_TEST_REQUIRE_SERVICES=1: skipped %q, failed %q; want a failure", r.skipped, r.failed)
	}
	t.Setenv("TEST_REDIS_URL", "redis://example.invalid:6379")
	r = &recordingTB{TB: t}
	if got := RedisURL(r); got != "redis://example.invalid:6379" || r.failed != "" || r.skipped != "" {
		t.Fatalf("RedisURL = %q (skipped %q, failed %q)", got, r.skipped, r.failed)
	}
	// Each case is recorded for make test's summary.
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, want := range []string{"redis skipped ", "redis failed ", "redis ran "} {
		if i >= len(lines) || !strings.HasPrefix(lines[i], want+"./shortlived/shortlivedtest "+t.Name()) {
			t.Fatalf("recorded:\n%s\nwant lines starting %q in that order", b, []string{"redis skipped", "redis failed", "redis ran"})
		}
	}
}

func TestUniquePrefixDiffersAndAvoidsSpecialCharacters(t *testing.T) {
	a, b := UniquePrefix(t), UniquePrefix(t)
	if a == b {
		t.Fatalf("two prefixes are equal: %q", a)
	}
	t.Run("name with {braces} * and spaces", func(t *testing.T) {
		p := UniquePrefix(t)
		if strings.ContainsAny(p, "{}*?[] ") {
			t.Fatalf("prefix %q has characters that mean something to Redis", p)
		}
	})
}

func TestStartRedisStopAndRestart(t *testing.T) {
	srv := StartRedis(t)
	if err := Ping(srv.Addr()); err != nil {
		t.Fatalf("PING after start: %v", err)
	}
	if !strings.HasPrefix(srv.URL(), "redis://127.0.0.1:") {
		t.Fatalf("URL = %q", srv.URL())
	}
	srv.Stop()
	if err := Ping(srv.Addr()); err == nil {
		t.Fatal("PING answered after Stop")
	}
	srv.Stop() // idempotent
	srv.Restart()
	if err := Ping(srv.Addr()); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
}
