package servicetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTB records Skip and Fatal instead of ending the test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Skip(args ...any)  { f.skipped = fmt.Sprint(args...) }
func (f *fakeTB) Fatal(args ...any) { f.failed = fmt.Sprint(args...) }

func TestRecordsOneLinePerCallNamingServicePackageTestAndReason(t *testing.T) {
	log := filepath.Join(t.TempDir(), "services.log")
	t.Setenv(LogEnv, log)
	t.Setenv("QUJAT_TEST_REQUIRE_SERVICES", "")

	Ran(t, Postgres)
	f := &fakeTB{TB: t}
	Skip(f, Redis, "no Redis\nhere")
	if f.skipped == "" || f.failed != "" {
		t.Fatalf("Skip: skipped %q, failed %q", f.skipped, f.failed)
	}
	f = &fakeTB{TB: t}
	Missing(f, RedisServer, "redis-server is not on PATH")
	if f.skipped == "" || f.failed != "" {
		t.Fatalf("Missing without QUJAT_TEST_REQUIRE_SERVICES: skipped %q, failed %q; want a skip", f.skipped, f.failed)
	}
	t.Setenv("QUJAT_TEST_REQUIRE_SERVICES", "1")
	f = &fakeTB{TB: t}
	Missing(f, Postgres, "TEST_DATABASE_URL is not set")
	if f.failed == "" || f.skipped != "" {
		t.Fatalf("Missing with QUJAT_TEST_REQUIRE_SERVICES=1: skipped %q, failed %q; want a failure", f.skipped, f.failed)
	}

	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	name := t.Name()
	want := "postgres ran ./internal/servicetest " + name + "\n" +
		"redis skipped ./internal/servicetest " + name + ": no Redis here\n" +
		"redis-server skipped ./internal/servicetest " + name + ": redis-server is not on PATH\n" +
		"postgres failed ./internal/servicetest " + name + ": TEST_DATABASE_URL is not set\n"
	if string(b) != want {
		t.Fatalf("log:\n%s\nwant:\n%s", b, want)
	}
}

func TestWritesNothingWithoutTheVariable(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(LogEnv, "")
	Ran(t, Postgres)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("wrote %v", entries)
	}
}

func TestPackageIsRelativeToTheModule(t *testing.T) {
	if p := pkg(); p != "./internal/servicetest" || strings.Contains(p, "\\") {
		t.Fatalf("pkg() = %q", p)
	}
}
