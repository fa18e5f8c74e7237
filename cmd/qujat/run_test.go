package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/shortlived/shortlivedtest"
	"github.com/qujat/qujat/wallet/wallettest"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

// skipIfShort skips, with -short, a test that runs the service (or the
// registry simulator) on a port of its own. A test that also uses
// PostgreSQL or Redis calls it first, before it is recorded as running
// against them.
func skipIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the service on a port of its own; skipped with -short")
	}
}

// startService runs the whole program (`qujat serve`) on a free port with
// env, and returns its base URL. It is stopped by cancelling, as a signal would.
func startService(t *testing.T, env map[string]string) string {
	t.Helper()
	skipIfShort(t)
	if env["QUJAT_DATA_DIR"] == "" {
		env["QUJAT_DATA_DIR"] = t.TempDir()
	}
	env["QUJAT_ADDR"] = "127.0.0.1:0"
	if env["QUJAT_LOG_LEVEL"] == "" {
		env["QUJAT_LOG_LEVEL"] = "error"
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("serve did not stop after cancel")
		}
	})
	for i := 0; i < 1200; i++ { // up to 30 s on a loaded machine
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, out.String())
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start: %s", out.String())
	return ""
}

// client is a tiny HTTP client for the walk-throughs.
type client struct {
	t    *testing.T
	base string
}

func (c client) call(method, path, token string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m
}

var code6 = regexp.MustCompile(`\b[0-9]{6}\b`)

// signIn signs a demo citizen in, reading the code from /v1/dev/sms.
func (c client) signIn(iin, phone string) string {
	c.t.Helper()
	st, m := c.call("POST", "/v1/auth/otp", "", map[string]string{"iin": iin})
	if st != 202 {
		c.t.Fatalf("otp: %d %v", st, m)
	}
	_, sms := c.call("GET", "/v1/dev/sms?to="+strings.ReplaceAll(phone, "+", "%2B"), "", nil)
	msgs := sms["messages"].([]any)
	code := code6.FindString(msgs[0].(map[string]any)["text"].(string))
	st, m = c.call("POST", "/v1/auth/token", "", map[string]string{"challenge_id": m["challenge_id"].(string), "code": code})
	if st != 200 {
		c.t.Fatalf("token: %d %v", st, m)
	}
	return m["access_token"].(string)
}

// walkThrough is what a new user does: sign in, list documents, share one,
// have it redeemed by another citizen, see the view in both histories.
func walkThrough(t *testing.T, base string) {
	c := client{t, base}
	st, m := c.call("GET", "/v1/dev/citizens", "", nil)
	if st != 200 {
		t.Fatalf("dev citizens: %d", st)
	}
	cs := m["citizens"].([]any)
	var a, b map[string]any
	for _, x := range cs {
		cz := x.(map[string]any)
		switch cz["iin"] {
		case "880412310009":
			a = cz
		case "800519347947":
			b = cz
		}
	}
	ta := c.signIn(a["iin"].(string), a["phone"].(string))
	tb := c.signIn(b["iin"].(string), b["phone"].(string))
	st, m = c.call("GET", "/v1/documents", ta, nil)
	docs := m["documents"].([]any)
	if st != 200 || len(docs) < 7 {
		t.Fatalf("documents: %d %d", st, len(docs))
	}
	doc := docs[0].(map[string]any)
	st, sh := c.call("POST", "/v1/documents/"+doc["id"].(string)+"/shares", ta, map[string]any{})
	if st != 201 {
		t.Fatalf("share: %d %v", st, sh)
	}
	st, red := c.call("POST", "/v1/shares/redeem", tb, map[string]string{"token": sh["token"].(string)})
	if st != 200 || red["document"].(map[string]any)["id"] != doc["id"] {
		t.Fatalf("redeem: %d %v", st, red)
	}
	if st, _ := c.call("POST", "/v1/shares/redeem", tb, map[string]string{"token": sh["token"].(string)}); st != 410 {
		t.Fatalf("second redeem: %d", st)
	}
	// A second share, redeemed by short code and the owner's IIN.
	doc2 := docs[1].(map[string]any)
	st, sh2 := c.call("POST", "/v1/documents/"+doc2["id"].(string)+"/shares", ta, map[string]any{"ttl_seconds": 300})
	if st != 201 {
		t.Fatalf("share 2: %d %v", st, sh2)
	}
	if st, m := c.call("POST", "/v1/shares/redeem", tb, map[string]string{"short_code": sh2["short_code"].(string), "owner_iin": a["iin"].(string)}); st != 200 {
		t.Fatalf("redeem by code: %d %v", st, m)
	}
	_, ov := c.call("GET", "/v1/views?as=owner", ta, nil)
	_, vv := c.call("GET", "/v1/views?as=viewer", tb, nil)
	if len(ov["views"].([]any)) != 2 || len(vv["views"].([]any)) != 2 {
		t.Fatalf("views: owner %v viewer %v", ov, vv)
	}
	for _, v := range append(ov["views"].([]any), vv["views"].([]any)...) {
		if v.(map[string]any)["log_index"] == nil {
			t.Fatalf("a view without its log index: %v", v)
		}
	}
	// A revoked share is 410.
	_, sh3 := c.call("POST", "/v1/documents/"+doc["id"].(string)+"/shares", ta, map[string]any{})
	if st, _ := c.call("DELETE", "/v1/shares/"+sh3["id"].(string), ta, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _ := c.call("POST", "/v1/shares/redeem", tb, map[string]string{"token": sh3["token"].(string)}); st != 410 {
		t.Fatalf("revoked: %d", st)
	}
	// Guessing codes hits 429 within the stated limits (5 wrong per viewer per 15 minutes).
	saw429 := false
	for i := 0; i < 6 && !saw429; i++ {
		st, _ := c.call("POST", "/v1/shares/redeem", tb, map[string]string{"short_code": "00000" + string(rune('0'+i)), "owner_iin": "900903412710"})
		switch st {
		case 401:
		case 429:
			saw429 = true
		default:
			t.Fatalf("guess %d: %d", i+1, st)
		}
	}
	if !saw429 {
		t.Fatal("six wrong codes were not limited")
	}
	if st, _ := c.call("GET", "/readyz", "", nil); st != 200 {
		t.Fatalf("readyz: %d", st)
	}
}

func TestServe_EmbeddedDefaultWalkThrough(t *testing.T) {
	base := startService(t, map[string]string{})
	walkThrough(t, base)
}

func TestServe_KeysSurviveARestart(t *testing.T) {
	skipIfShort(t)
	dir := t.TempDir()
	var jwks [2]string
	for i := range jwks {
		func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &syncBuffer{}
			env := map[string]string{"QUJAT_DATA_DIR": dir, "QUJAT_ADDR": "127.0.0.1:0", "QUJAT_LOG_LEVEL": "error"}
			done := make(chan error, 1)
			go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, out) }()
			var base string
			for j := 0; j < 1200 && base == ""; j++ {
				if m := listening.FindStringSubmatch(out.String()); m != nil {
					base = m[1]
				}
				time.Sleep(25 * time.Millisecond)
			}
			res, err := http.Get(base + "/.well-known/jwks.json")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			jwks[i] = string(b)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}()
	}
	if jwks[0] != jwks[1] || !strings.Contains(jwks[0], `"kid"`) {
		t.Fatalf("keys changed across a restart:\n%s\n%s", jwks[0], jwks[1])
	}
}

func TestConfig_ReportsEveryProblemAtOnce(t *testing.T) {
	env := map[string]string{
		"QUJAT_ADDR":             "nonsense",
		"QUJAT_DATABASE_URL":     "mysql://x",
		"QUJAT_SMS_DRIVER":       "pigeon",
		"QUJAT_DOCUMENT_KEY_ALG": "RS256",
		"QUJAT_PUBLIC_URL":       "ftp://x",
	}
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard)
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, want := range []string{"QUJAT_ADDR", "QUJAT_DATABASE_URL", "QUJAT_SMS_DRIVER", "QUJAT_DOCUMENT_KEY_ALG", "QUJAT_PUBLIC_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestRun_UnknownCommandAndVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &out); err == nil || exitCode(err) != 2 {
		t.Fatalf("unknown command: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out); err != nil || !strings.HasPrefix(out.String(), "qujat ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
}

func TestServe_PostgresAndRedisWalkThrough(t *testing.T) {
	skipIfShort(t)
	db := wallettest.PostgresSchemaURL(t)
	rd := shortlivedtest.RedisURL(t)
	base := startService(t, map[string]string{"QUJAT_DATABASE_URL": db, "QUJAT_REDIS_URL": rd,
		"QUJAT_REDIS_PREFIX": shortlivedtest.UniquePrefix(t), "QUJAT_DEV": "1"})
	walkThrough(t, base)
}

// On PostgreSQL and Redis the development endpoints are off unless
// QUJAT_DEV=1, even with the outbox SMS driver.
func TestServe_DevEndpointsOffOnPostgresAndRedis(t *testing.T) {
	skipIfShort(t)
	db := wallettest.PostgresSchemaURL(t)
	rd := shortlivedtest.RedisURL(t)
	base := startService(t, map[string]string{"QUJAT_DATABASE_URL": db, "QUJAT_REDIS_URL": rd,
		"QUJAT_REDIS_PREFIX": shortlivedtest.UniquePrefix(t)})
	c := client{t, base}
	if st, _ := c.call("POST", "/v1/auth/otp", "", map[string]string{"iin": "880412310009"}); st != 202 {
		t.Fatalf("otp: %d", st)
	}
	for _, p := range []string{"/v1/dev/citizens", "/v1/dev/sms", "/v1/dev/sms?to=%2B77011234567"} {
		if st, m := c.call("GET", p, "", nil); st != 404 {
			t.Errorf("%s: %d %v, want 404", p, st, m)
		}
	}
}

// /metrics is served on QUJAT_METRICS_ADDR, not on the public listener.
func TestServe_MetricsOnAnAddressOfTheirOwn(t *testing.T) {
	skipIfShort(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := ln.Addr().String()
	ln.Close()
	base := startService(t, map[string]string{"QUJAT_METRICS_ADDR": maddr})
	c := client{t, base}
	if st, _ := c.call("GET", "/healthz", "", nil); st != 200 {
		t.Fatalf("healthz: %d", st)
	}
	if st, _ := c.call("GET", "/metrics", "", nil); st != 404 {
		t.Fatalf("public /metrics: %d, want 404", st)
	}
	res, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `qujat_http_requests_total{method="GET",route="/healthz",status="200"}`) {
		t.Fatalf("metrics address: %d %.200s", res.StatusCode, b)
	}
	env := map[string]string{"QUJAT_METRICS_TOKEN": "short", "QUJAT_METRICS_ADDR": "nonsense"}
	err = run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "QUJAT_METRICS_TOKEN") || !strings.Contains(err.Error(), "QUJAT_METRICS_ADDR") || strings.Contains(err.Error(), "short") {
		t.Fatalf("bad metrics settings: %v", err)
	}
}

func TestConfig_TrustedProxies(t *testing.T) {
	n, err := parseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::1")
	if err != nil || len(n) != 4 || n[1].String() != "192.0.2.7/32" || n[3].String() != "::1/128" {
		t.Fatalf("%v %v", n, err)
	}
	env := map[string]string{"QUJAT_TRUSTED_PROXIES": "10.0.0.0/8,proxy.example"}
	err = run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "QUJAT_TRUSTED_PROXIES") {
		t.Fatalf("bad QUJAT_TRUSTED_PROXIES: %v", err)
	}
}

func TestConfig_DevEndpointsOnLoopbackOnly(t *testing.T) {
	cases := []struct {
		env     map[string]string
		refused bool
	}{
		{map[string]string{"QUJAT_ADDR": "0.0.0.0:8080"}, true}, // embedded default
		{map[string]string{"QUJAT_ADDR": ":8080"}, true},
		{map[string]string{"QUJAT_ADDR": "[::]:8080", "QUJAT_DATABASE_URL": "postgres://h/db", "QUJAT_DEV": "1"}, true},
		{map[string]string{"QUJAT_ADDR": "0.0.0.0:8080", "QUJAT_DEV": "0"}, false},
		{map[string]string{"QUJAT_ADDR": "0.0.0.0:8080", "QUJAT_DATABASE_URL": "postgres://h/db", "QUJAT_REDIS_URL": "redis://h:6379/0"}, false},
		{map[string]string{"QUJAT_ADDR": "127.0.0.1:8080"}, false},
		{map[string]string{"QUJAT_ADDR": "localhost:8080", "QUJAT_DEV": "1"}, false},
		{map[string]string{"QUJAT_ADDR": "[::1]:8080", "QUJAT_DEV": "1"}, false},
		// The per-citizen limits are turned off only with the development endpoints.
		{map[string]string{"QUJAT_ADDR": "127.0.0.1:8080", "QUJAT_DEV_UNLIMITED": "1"}, false},
		{map[string]string{"QUJAT_ADDR": "127.0.0.1:8080", "QUJAT_DEV": "0", "QUJAT_DEV_UNLIMITED": "1"}, true},
		{map[string]string{"QUJAT_ADDR": "127.0.0.1:8080", "QUJAT_DEV_UNLIMITED": "yes"}, true},
	}
	for _, tc := range cases {
		cfg, err := loadConfig(func(k string) string { return tc.env[k] }, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.Validate()
		if tc.refused && (err == nil || !strings.Contains(err.Error(), "QUJAT_DEV")) {
			t.Errorf("%v: %v, want refused naming QUJAT_DEV", tc.env, err)
		}
		if !tc.refused && err != nil {
			t.Errorf("%v: %v, want accepted", tc.env, err)
		}
	}
	env := map[string]string{"QUJAT_DEV": "yes"}
	if err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "QUJAT_DEV") {
		t.Fatalf("QUJAT_DEV=yes: %v", err)
	}
}

func TestClients_AdministratorRegistersABankThatAsksForConsent(t *testing.T) {
	skipIfShort(t)
	dir := t.TempDir()
	env := map[string]string{"QUJAT_DATA_DIR": dir, "QUJAT_SMS_INBOUND_SECRET": "gateway-secret-for-tests"}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	err := run(context.Background(), []string{"clients", "create", "--name", "Test Bank", "--kind", "bank", "--document-types", "vehicle_registration,driving_licence"}, getenv, &out)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`client_id:\s+(\S+)\s+client_secret:\s+(\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no id and secret in %q", out.String())
	}
	clientID, secret := m[1], m[2]
	out.Reset()
	if err := run(context.Background(), []string{"clients", "list"}, getenv, &out); err != nil || !strings.Contains(out.String(), clientID) || strings.Contains(out.String(), secret) {
		t.Fatalf("list: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"clients", "create", "--name", "X", "--kind", "casino", "--document-types", "id_card"}, getenv, io.Discard); err == nil {
		t.Fatal("a client of an unknown kind was created")
	}

	base := startService(t, env)
	c := client{t, base}
	form := "grant_type=client_credentials&client_id=" + clientID + "&client_secret=" + secret
	res, err := http.Post(base+"/v1/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	bank, _ := tok["access_token"].(string)
	if res.StatusCode != 200 || bank == "" {
		t.Fatalf("oauth: %d %v", res.StatusCode, tok)
	}
	citizen := c.signIn("880412310009", "+77011234567")
	st, cs := c.call("POST", "/v1/consents", bank, map[string]any{"iin": "880412310009", "document_types": []string{"vehicle_registration"}, "purpose": "Car loan application", "method": "otp"})
	if st != 201 {
		t.Fatalf("consent: %d %v", st, cs)
	}
	_, sms := c.call("GET", "/v1/dev/sms?to=%2B77011234567", "", nil)
	code := code6.FindString(sms["messages"].([]any)[0].(map[string]any)["text"].(string))
	if st, m := c.call("POST", "/v1/consents/"+cs["id"].(string)+"/otp", bank, map[string]string{"code": code}); st != 200 {
		t.Fatalf("otp: %d %v", st, m)
	}
	if st, m := c.call("GET", "/v1/consents/"+cs["id"].(string)+"/documents", bank, nil); st != 200 || len(m["documents"].([]any)) != 1 {
		t.Fatalf("release: %d %v", st, m)
	}
	if st, _ := c.call("DELETE", "/v1/me/consents/"+cs["id"].(string), citizen, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _ := c.call("GET", "/v1/consents/"+cs["id"].(string)+"/documents", bank, nil); st != 410 {
		t.Fatalf("after revoke: %d", st)
	}
	// Disabling the client refuses its next call.
	if err := run(context.Background(), []string{"clients", "disable", "--id", clientID}, getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.call("GET", "/v1/consents/"+cs["id"].(string), bank, nil); st != 401 {
		t.Fatalf("disabled client: %d", st)
	}
}

func TestConfig_RedisClusterForms(t *testing.T) {
	for env, ok := range map[string]bool{
		"redis://h:6379/0":                          true,
		"h1:7000,h2:7001,redis://:pw@h3:7002":       true,
		"redis+cluster://:pw@seed:7000":             true,
		"rediss+cluster://seed:7000,h2:7001":        true,
		"h1:7000,redis+cluster://h2:7001":           false, // the form names the whole list: first only
		"redis-cluster://seed:7000":                 false,
		"h1:7000,notanaddress":                      false,
		"redis://h:6379/0 QUJAT_REDIS_PREFIX=q{x}:": false,
	} {
		url, prefix, _ := strings.Cut(env, " QUJAT_REDIS_PREFIX=")
		vars := map[string]string{"QUJAT_DATABASE_URL": "postgres://h/db", "QUJAT_REDIS_URL": url, "QUJAT_REDIS_PREFIX": prefix}
		if prefix == "" {
			delete(vars, "QUJAT_REDIS_PREFIX")
		}
		cfg, err := loadConfig(func(k string) string { return vars[k] }, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); (err == nil) != ok {
			t.Errorf("%s: %v, want accepted %v", env, err, ok)
		}
	}
}

func TestConfig_DoesNotQuoteTheRedisPassword(t *testing.T) {
	env := map[string]string{"QUJAT_REDIS_URL": "http://user:s3cret-pw@host:6379"}
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "QUJAT_REDIS_URL") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error %v: want QUJAT_REDIS_URL refused without its password", err)
	}
}
