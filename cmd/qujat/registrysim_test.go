package main

import (
	"context"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet/wallettest"
)

var simListening = regexp.MustCompile(`registry simulator listening on (http://[0-9.:]+)`)

// startRegistrySim runs `qujat registry-sim` on a free port with args.
func startRegistrySim(t *testing.T, secret string, args ...string) string {
	t.Helper()
	skipIfShort(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	all := append([]string{"registry-sim", "--addr", "127.0.0.1:0", "--secret", secret}, args...)
	go func() { done <- run(ctx, all, func(string) string { return "" }, out) }()
	t.Cleanup(func() { cancel(); <-done })
	for i := 0; i < 1500; i++ { // up to 30 s on a loaded machine
		if m := simListening.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("registry-sim did not start: %s", out.String())
	return ""
}

// The service against three registries served by `qujat registry-sim` over
// real HTTP: first all healthy, then (same data, restarted service) with the
// transport registry timing out and the education registry answering
// garbage. The population documents are refreshed; the others keep their
// last good version and refresh names the failed sources.
func testServiceAgainstRegistrySim(t *testing.T, env map[string]string) {
	const secret = "registry-sim-secret-for-tests"
	healthy := startRegistrySim(t, secret)
	slow := startRegistrySim(t, secret, "--latency", "transport=10s")
	garbage := startRegistrySim(t, secret, "--garbage", "education")
	env["QUJAT_DATA_DIR"] = t.TempDir()
	env["QUJAT_SOURCES_SECRET"] = secret

	// 1. All healthy: seven types over HTTP.
	env["QUJAT_SOURCES"] = "population=" + healthy + ",transport=" + healthy + ",education=" + healthy
	var before map[string]any
	func() {
		stop := startServiceStoppable(t, env)
		defer stop.stop()
		c := client{t, stop.base}
		// The SMS outbox still serves development; the directory is the registry's.
		tok := c.signIn("880412310009", "+77011234567")
		st, m := c.call("GET", "/v1/documents", tok, nil)
		if st != 200 || len(m["documents"].([]any)) != 7 {
			t.Fatalf("documents over HTTP: %d %v", st, m)
		}
		before = m
	}()

	// 2. Transport times out, education answers garbage.
	env["QUJAT_SOURCES"] = "population=" + healthy + ",transport=" + slow + ",education=" + garbage
	stop := startServiceStoppable(t, env)
	defer stop.stop()
	c := client{t, stop.base}
	tok := c.signIn("880412310009", "+77011234567")
	start := time.Now()
	st, m := c.call("POST", "/v1/documents/refresh", tok, nil)
	took := time.Since(start)
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, m)
	}
	var failed []string
	for _, f := range m["failed_sources"].([]any) {
		failed = append(failed, f.(string))
	}
	sort.Strings(failed)
	if len(failed) != 2 || failed[0] != "education" || failed[1] != "transport" {
		t.Fatalf("failed_sources = %v, want education and transport", failed)
	}
	if took > 9*time.Second {
		t.Errorf("a slow source blocked the refresh for %v", took)
	}
	docs := m["documents"].([]any)
	if len(docs) != 7 {
		t.Fatalf("after a partial failure %d documents, want the 7 last good ones", len(docs))
	}
	fetched := map[string]string{}
	for _, d := range before["documents"].([]any) {
		dm := d.(map[string]any)
		fetched[dm["id"].(string)] = dm["fetched_at"].(string)
	}
	for _, d := range docs {
		dm := d.(map[string]any)
		old := fetched[dm["id"].(string)]
		switch dm["source"] {
		case "population":
			if dm["fetched_at"] == old {
				t.Errorf("%s: population answered but fetched_at did not move", dm["type"])
			}
		default:
			if dm["fetched_at"] != old {
				t.Errorf("%s: its source failed but fetched_at moved", dm["type"])
			}
		}
		if dm["version"].(float64) != 1 {
			t.Errorf("%s: a new version without a change", dm["type"])
		}
	}
}

type stoppable struct {
	base string
	stop func()
}

// startServiceStoppable is startService with an explicit stop, so that a
// test can restart the service on the same data directory.
func startServiceStoppable(t *testing.T, env map[string]string) stoppable {
	t.Helper()
	skipIfShort(t)
	e := map[string]string{}
	for k, v := range env {
		e[k] = v
	}
	e["QUJAT_ADDR"] = "127.0.0.1:0"
	e["QUJAT_LOG_LEVEL"] = "error"
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return e[k] }, out) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	for i := 0; i < 1200; i++ { // up to 30 s on a loaded machine
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			return stoppable{m[1], stop}
		}
		time.Sleep(25 * time.Millisecond)
	}
	stop()
	t.Fatalf("serve did not start: %s", out.String())
	return stoppable{}
}

func TestServe_AgainstRegistrySimOnSQLite(t *testing.T) {
	testServiceAgainstRegistrySim(t, map[string]string{})
}

func TestServe_AgainstRegistrySimOnPostgres(t *testing.T) {
	skipIfShort(t)
	testServiceAgainstRegistrySim(t, map[string]string{"QUJAT_DATABASE_URL": wallettest.PostgresSchemaURL(t), "QUJAT_DEV": "1"})
}
