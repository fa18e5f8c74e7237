package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/qujat/qujat/api"
)

func readyz(t *testing.T, checks map[string]func(context.Context) error, timeout time.Duration) (int, map[string]string, time.Duration) {
	t.Helper()
	srv := api.New(api.Deps{ReadyChecks: checks, ReadyCheckTimeout: timeout})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	start := time.Now()
	resp, err := http.Get(hs.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	took := time.Since(start)
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body.Checks, took
}

// A dependency that stalls or is down is reported down; the others are
// checked at the same time, each under its own timeout, and reported as
// they are. The probe answers within about one check's timeout.
func TestReadyz_ChecksRunConcurrentlyEachUnderItsOwnTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	checks := map[string]func(context.Context) error{
		// Stalls until its own timeout (sorted first: it used to eat the
		// shared budget of every check after it).
		"database": func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		},
		// Answers at once if its context is still alive.
		"short_lived": func(ctx context.Context) error { return ctx.Err() },
		// Ignores its context altogether.
		"stuck": func(ctx context.Context) error {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			return nil
		},
		"broken": func(context.Context) error { return errors.New("connection refused") },
	}
	const timeout = 300 * time.Millisecond
	status, got, took := readyz(t, checks, timeout)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", status)
	}
	want := map[string]string{"database": "unavailable", "short_lived": "ok", "stuck": "unavailable", "broken": "unavailable"}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: %q, want %q (all: %v)", n, got[n], w, got)
		}
	}
	if took > 5*time.Second {
		t.Errorf("the probe took %v with a %v check timeout", took, timeout)
	}

	status, got, _ = readyz(t, map[string]func(context.Context) error{
		"database":    func(context.Context) error { return nil },
		"short_lived": func(context.Context) error { return nil },
	}, 0)
	if status != http.StatusOK || got["database"] != "ok" || got["short_lived"] != "ok" {
		t.Fatalf("all up: %d %v", status, got)
	}
}

// A part the service can do without (a streaming replica, whose reads the
// primary takes over) is reported under "optional" with its state and
// never makes the service unready; the required checks still do.
func TestReadyz_OptionalPartIsReportedButDoesNotMakeTheServiceUnready(t *testing.T) {
	get := func(checks map[string]func(context.Context) error, optional map[string]func(context.Context) string) (int, map[string]map[string]string) {
		t.Helper()
		srv := api.New(api.Deps{ReadyChecks: checks, OptionalReady: optional, ReadyCheckTimeout: 300 * time.Millisecond})
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		resp, err := http.Get(hs.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Checks   map[string]string `json:"checks"`
			Optional map[string]string `json:"optional"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, map[string]map[string]string{"checks": body.Checks, "optional": body.Optional}
	}
	up := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused") }
	stalled := func(ctx context.Context) string { <-ctx.Done(); return "ok" }
	for _, state := range []string{"unavailable", "lagging", "promoted"} {
		status, got := get(map[string]func(context.Context) error{"database": up},
			map[string]func(context.Context) string{"database_replica": func(context.Context) string { return state }})
		if status != http.StatusOK || got["checks"]["database"] != "ok" || got["optional"]["database_replica"] != state {
			t.Errorf("replica %s: %d %v, want 200 with the replica %s", state, status, got, state)
		}
	}
	status, got := get(map[string]func(context.Context) error{"database": up},
		map[string]func(context.Context) string{"database_replica": stalled})
	if status != http.StatusOK || got["optional"]["database_replica"] != "unavailable" {
		t.Errorf("replica state stalls: %d %v, want 200 with the replica unavailable", status, got)
	}
	status, got = get(map[string]func(context.Context) error{"database": down},
		map[string]func(context.Context) string{"database_replica": func(context.Context) string { return "ok" }})
	if status != http.StatusServiceUnavailable || got["checks"]["database"] != "unavailable" || got["optional"]["database_replica"] != "ok" {
		t.Errorf("primary down, replica well: %d %v, want 503", status, got)
	}
	status, got = get(map[string]func(context.Context) error{"database": up}, nil)
	if status != http.StatusOK || got["optional"] != nil {
		t.Errorf("no optional part: %d %v, want 200 without \"optional\"", status, got)
	}
}
