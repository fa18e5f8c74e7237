package shortlivedtest

import (
	"fmt"
	"strings"
	"testing"
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
	if err := ping(srv.Addr()); err != nil {
		t.Fatalf("PING after start: %v", err)
	}
	if !strings.HasPrefix(srv.URL(), "redis://127.0.0.1:") {
		t.Fatalf("URL = %q", srv.URL())
	}
	srv.Stop()
	if err := ping(srv.Addr()); err == nil {
		t.Fatal("PING answered after Stop")
	}
	srv.Stop() // idempotent
	srv.Restart()
	if err := ping(srv.Addr()); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
}
