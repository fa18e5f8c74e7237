package sources_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/wallet"
)

const testSecret = "test-secret-0123456789abcdef"

// startSim serves the demo over a real loopback connection.
func startSim(t *testing.T, demo *sources.Demo, opts sources.SimOptions) *httptest.Server {
	t.Helper()
	if opts.Secret == "" {
		opts.Secret = testSecret
	}
	srv := httptest.NewServer(sources.NewSimulator(demo, opts))
	t.Cleanup(srv.Close)
	return srv
}

// counting wraps h and counts the requests it sees.
func counting(h http.Handler, n *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

func newClient(t *testing.T, baseURL, source string, tweak func(*sources.ClientConfig)) *sources.Client {
	t.Helper()
	cfg := sources.ClientConfig{BaseURL: baseURL, Source: source, Secret: testSecret, Backoff: time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := sources.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func newDirectory(t *testing.T, baseURL string, tweak func(*sources.ClientConfig)) *sources.DirectoryClient {
	t.Helper()
	cfg := sources.ClientConfig{BaseURL: baseURL, Secret: testSecret, Backoff: time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := sources.NewDirectoryClient(cfg)
	if err != nil {
		t.Fatalf("NewDirectoryClient: %v", err)
	}
	return c
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// richestAdult returns the demo citizen with the most document types.
func richestAdult(t *testing.T, d *sources.Demo) wallet.IIN {
	t.Helper()
	best, most := wallet.IIN(""), 0
	for _, c := range d.Citizens() {
		n := 0
		for _, s := range d.Sources() {
			rs, _ := s.Records(context.Background(), c.IIN)
			n += len(rs)
		}
		if n > most {
			best, most = c.IIN, n
		}
	}
	return best
}

func TestClient_FetchesWhatTheDemoHolds(t *testing.T) {
	demo := loadDemo(t)
	srv := startSim(t, demo, sources.SimOptions{})
	ctx := context.Background()
	iin := richestAdult(t, demo)
	total := 0
	for _, want := range demo.Sources() {
		c := newClient(t, srv.URL, want.Name(), nil)
		if c.Name() != want.Name() {
			t.Errorf("Name() = %q, want %q", c.Name(), want.Name())
		}
		got, err := c.Records(ctx, iin)
		if err != nil {
			t.Fatalf("%s: %v", want.Name(), err)
		}
		wantRs, _ := want.Records(ctx, iin)
		if jsonOf(t, got) != jsonOf(t, wantRs) {
			t.Errorf("%s records differ:\n got %s\nwant %s", want.Name(), jsonOf(t, got), jsonOf(t, wantRs))
		}
		total += len(got)
	}
	if total == 0 {
		t.Error("no records at all")
	}
}

func TestDirectoryClient_ReturnsCitizensAndGuardians(t *testing.T) {
	demo := loadDemo(t)
	srv := startSim(t, demo, sources.SimOptions{})
	dir := newDirectory(t, srv.URL+"/", nil) // a trailing slash is fine
	ctx := context.Background()
	for _, want := range demo.Citizens() {
		got, err := dir.Citizen(ctx, want.IIN)
		if err != nil {
			t.Fatalf("Citizen(%s): %v", want.IIN, err)
		}
		if jsonOf(t, got) != jsonOf(t, want) {
			t.Errorf("Citizen(%s):\n got %s\nwant %s", want.IIN, jsonOf(t, got), jsonOf(t, want))
		}
		gs, err := dir.Guardians(ctx, want.IIN)
		if err != nil {
			t.Fatalf("Guardians(%s): %v", want.IIN, err)
		}
		wantGs, _ := demo.Guardians(ctx, want.IIN)
		if jsonOf(t, gs) != jsonOf(t, wantGs) {
			t.Errorf("Guardians(%s) = %v, want %v", want.IIN, gs, wantGs)
		}
	}
}

func TestClient_UnknownIINHasNoRecordsAndIsNotACitizen(t *testing.T) {
	srv := startSim(t, loadDemo(t), sources.SimOptions{})
	ctx := context.Background()
	iin := unknownIIN(t)
	rs, err := newClient(t, srv.URL, sources.Transport, nil).Records(ctx, iin)
	if err != nil || rs == nil || len(rs) != 0 {
		t.Errorf("Records(unknown) = %v, %v; want an empty list", rs, err)
	}
	dir := newDirectory(t, srv.URL, nil)
	if _, err := dir.Citizen(ctx, iin); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Errorf("Citizen(unknown): %v, want %s", err, wallet.ENOTFOUND)
	}
	if _, err := dir.Guardians(ctx, iin); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Errorf("Guardians(unknown): %v, want %s", err, wallet.ENOTFOUND)
	}
}

func TestClient_MalformedIINIsInvalidWithoutACall(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(counting(http.NotFoundHandler(), &calls))
	defer srv.Close()
	ctx := context.Background()
	if _, err := newClient(t, srv.URL, sources.Population, nil).Records(ctx, "900101300124"); !wallet.IsCode(err, wallet.EINVALID) {
		t.Errorf("Records: %v, want %s", err, wallet.EINVALID)
	}
	if _, err := newDirectory(t, srv.URL, nil).Citizen(ctx, "../../etc"); !wallet.IsCode(err, wallet.EINVALID) {
		t.Errorf("Citizen: %v, want %s", err, wallet.EINVALID)
	}
	if calls.Load() != 0 {
		t.Errorf("%d calls made", calls.Load())
	}
}

func TestClient_WrongSecretIsRefusedAndNotRetried(t *testing.T) {
	demo := loadDemo(t)
	var calls atomic.Int32
	srv := httptest.NewServer(counting(sources.NewSimulator(demo, sources.SimOptions{Secret: testSecret}), &calls))
	defer srv.Close()
	wrong := func(c *sources.ClientConfig) { c.Secret = "another-secret-0123456789" }
	iin := richestAdult(t, demo)
	_, err := newClient(t, srv.URL, sources.Population, wrong).Records(context.Background(), iin)
	if !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Records with a wrong secret: %v, want %s", err, wallet.EUNAVAILABLE)
	}
	_, err = newDirectory(t, srv.URL, wrong).Citizen(context.Background(), iin)
	if !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Citizen with a wrong secret: %v, want %s", err, wallet.EUNAVAILABLE)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2 (a 401 is not retried)", n)
	}
}

func TestSimulator_RefusesUnsignedStaleAndForgedRequests(t *testing.T) {
	demo := loadDemo(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	srv := startSim(t, demo, sources.SimOptions{Now: func() time.Time { return now }})
	path := "/v1/citizens/" + string(richestAdult(t, demo))
	cases := []struct {
		name   string
		sign   func(r *http.Request)
		status int
	}{
		{"signed now", func(r *http.Request) { sources.SignRequest(r, testSecret, now) }, http.StatusOK},
		{"signed 4 minutes ago", func(r *http.Request) { sources.SignRequest(r, testSecret, now.Add(-4*time.Minute)) }, http.StatusOK},
		{"unsigned", func(r *http.Request) {}, http.StatusUnauthorized},
		{"signed 6 minutes ago", func(r *http.Request) { sources.SignRequest(r, testSecret, now.Add(-6*time.Minute)) }, http.StatusUnauthorized},
		{"signed 6 minutes ahead", func(r *http.Request) { sources.SignRequest(r, testSecret, now.Add(6*time.Minute)) }, http.StatusUnauthorized},
		{"wrong secret", func(r *http.Request) { sources.SignRequest(r, "guess", now) }, http.StatusUnauthorized},
		{"signature of another path", func(r *http.Request) {
			d := now.Format(time.RFC3339)
			r.Header.Set(sources.HeaderDate, d)
			r.Header.Set(sources.HeaderSignature, sources.Signature(testSecret, "GET", "/v1/citizens/other", d))
		}, http.StatusUnauthorized},
		{"signature without prefix", func(r *http.Request) {
			sources.SignRequest(r, testSecret, now)
			r.Header.Set(sources.HeaderSignature, r.Header.Get(sources.HeaderSignature)[len("sha256="):])
		}, http.StatusUnauthorized},
		{"date not RFC 3339", func(r *http.Request) {
			d := now.Format(time.RFC1123)
			r.Header.Set(sources.HeaderDate, d)
			r.Header.Set(sources.HeaderSignature, sources.Signature(testSecret, "GET", path, d))
		}, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			tc.sign(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if resp.StatusCode == http.StatusUnauthorized {
				var body struct{ Error struct{ Code string } }
				if json.NewDecoder(resp.Body).Decode(&body) != nil || body.Error.Code != wallet.EUNAUTHORIZED {
					t.Errorf("401 without the error body")
				}
			}
		})
	}
}

func TestSimulator_WithoutASecretRefusesEverything(t *testing.T) {
	srv := httptest.NewServer(sources.NewSimulator(loadDemo(t), sources.SimOptions{}))
	defer srv.Close()
	c, err := sources.NewClient(sources.ClientConfig{BaseURL: srv.URL, Source: sources.Population, Secret: "x", Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Records(context.Background(), unknownIIN(t)); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Records: %v, want %s", err, wallet.EUNAVAILABLE)
	}
}

func TestClient_SlowSourceTimesOutAsUnavailable(t *testing.T) {
	demo := loadDemo(t)
	srv := startSim(t, demo, sources.SimOptions{Latency: sources.SourceDurations{sources.Transport: 3 * time.Second}})
	c := newClient(t, srv.URL, sources.Transport, func(c *sources.ClientConfig) {
		c.Timeout = 100 * time.Millisecond
		c.Retries = 1
	})
	start := time.Now()
	_, err := c.Records(context.Background(), richestAdult(t, demo))
	if !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Records: %v, want %s", err, wallet.EUNAVAILABLE)
	}
	// Two attempts of 100ms and a short backoff: well under the latency.
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("took %s, the timeout did not hold", d)
	}
	// Another source at the same address is not slowed down.
	if _, err := newClient(t, srv.URL, sources.Education, nil).Records(context.Background(), richestAdult(t, demo)); err != nil {
		t.Errorf("education: %v", err)
	}
}

func TestClient_CallerCancellationStopsRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(counting(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}), &calls))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	c := newClient(t, srv.URL, sources.Population, func(c *sources.ClientConfig) {
		c.Retries = 100
		c.Backoff = 50 * time.Millisecond
	})
	if _, err := c.Records(ctx, unknownIIN(t)); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Records: %v, want %s", err, wallet.EUNAVAILABLE)
	}
	if n := calls.Load(); n >= 100 {
		t.Errorf("%d calls after the caller gave up", n)
	}
}

func TestClient_GarbageIsUnavailable(t *testing.T) {
	demo := loadDemo(t)
	srv := startSim(t, demo, sources.SimOptions{Garbage: sources.SourceSet{sources.Education: true, sources.Population: true}})
	iin := richestAdult(t, demo)
	ctx := context.Background()
	if _, err := newClient(t, srv.URL, sources.Education, nil).Records(ctx, iin); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Records: %v, want %s", err, wallet.EUNAVAILABLE)
	}
	if _, err := newDirectory(t, srv.URL, nil).Citizen(ctx, iin); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Citizen: %v, want %s", err, wallet.EUNAVAILABLE)
	}
	if _, err := newClient(t, srv.URL, sources.Transport, nil).Records(ctx, iin); err != nil {
		t.Errorf("transport is not garbled: %v", err)
	}
}

func TestClient_RetriesA5xxThenSucceeds(t *testing.T) {
	demo := loadDemo(t)
	sim := sources.NewSimulator(demo, sources.SimOptions{Secret: testSecret})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		sim.ServeHTTP(w, r)
	}))
	defer srv.Close()
	iin := richestAdult(t, demo)
	rs, err := newClient(t, srv.URL, sources.Population, nil).Records(context.Background(), iin)
	if err != nil || len(rs) == 0 {
		t.Fatalf("Records = %d records, %v; want the records after one retry", len(rs), err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

func TestClient_AlwaysFailingSourceIsTriedOncePlusRetries(t *testing.T) {
	demo := loadDemo(t)
	var calls atomic.Int32
	sim := sources.NewSimulator(demo, sources.SimOptions{Secret: testSecret, Fail: sources.SourceSet{sources.Transport: true}})
	srv := httptest.NewServer(counting(sim, &calls))
	defer srv.Close()
	_, err := newClient(t, srv.URL, sources.Transport, func(c *sources.ClientConfig) { c.Retries = 3 }).
		Records(context.Background(), richestAdult(t, demo))
	if !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Records: %v, want %s", err, wallet.EUNAVAILABLE)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("%d calls, want 4", n)
	}
}

func TestClient_DoesNotRetry4xx(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(counting(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":{"code":"rate_limited","message":"slow down"}}`))
	}), &calls))
	defer srv.Close()
	_, err := newClient(t, srv.URL, sources.Population, nil).Records(context.Background(), unknownIIN(t))
	if !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Records: %v, want %s", err, wallet.EUNAVAILABLE)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestClient_UnreachableRegistryIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	ctx := context.Background()
	if _, err := newClient(t, url, sources.Population, nil).Records(ctx, unknownIIN(t)); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Records: %v, want %s", err, wallet.EUNAVAILABLE)
	}
	if _, err := newDirectory(t, url, nil).Guardians(ctx, unknownIIN(t)); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Errorf("Guardians: %v, want %s", err, wallet.EUNAVAILABLE)
	}
}

// TestClient_WrongContentIsUnavailable holds the client to validating
// answers: each case is a registry answering something it should not.
func TestClient_WrongContentIsUnavailable(t *testing.T) {
	demo := loadDemo(t)
	iin := richestAdult(t, demo)
	other := unknownIIN(t)
	rec := func(mutate func(r map[string]any)) string {
		r := map[string]any{"source": "population", "type": "id_card", "number": "1", "issuer": "kz-mia",
			"subject": string(iin), "fields": map[string]string{}, "issued_at": "2020-01-01T00:00:00Z"}
		mutate(r)
		b, _ := json.Marshal(map[string]any{"records": []any{r}})
		return string(b)
	}
	ok := func(map[string]any) {}
	cases := []struct {
		name, contentType string
		status            int
		body              string
	}{
		{"a valid record (control)", "application/json", 200, rec(ok)},
		{"html", "text/html", 200, "<html>hello</html>"},
		{"truncated json", "application/json", 200, `{"records": [`},
		{"trailing data", "application/json", 200, rec(ok) + "{}"},
		{"no records key", "application/json", 200, `{"items": []}`},
		{"records not a list", "application/json", 200, `{"records": 7}`},
		{"unknown type", "application/json", 200, rec(func(r map[string]any) { r["type"] = "spaceship_licence" })},
		{"another subject", "application/json", 200, rec(func(r map[string]any) { r["subject"] = string(other) })},
		{"another source", "application/json", 200, rec(func(r map[string]any) { r["source"] = "transport" })},
		{"no number", "application/json", 200, rec(func(r map[string]any) { r["number"] = "" })},
		{"no issue date", "application/json", 200, rec(func(r map[string]any) { delete(r, "issued_at") })},
		{"bad date", "application/json", 200, rec(func(r map[string]any) { r["issued_at"] = "yesterday" })},
		{"valid until before issued", "application/json", 200, rec(func(r map[string]any) { r["valid_until"] = "2019-01-01T00:00:00Z" })},
		{"a 404 page that is not the protocol's", "text/plain", 404, "404 page not found"},
		{"unknown source", "application/json", 404, `{"error":{"code":"unknown_source","message":"no source"}}`},
		{"204", "application/json", 204, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			rs, err := newClient(t, srv.URL, sources.Population, nil).Records(context.Background(), iin)
			if tc.name == "a valid record (control)" {
				if err != nil || len(rs) != 1 {
					t.Errorf("Records = %v, %v; want the record", rs, err)
				}
				return
			}
			if !wallet.IsCode(err, wallet.EUNAVAILABLE) {
				t.Errorf("Records = %v, %v; want %s", rs, err, wallet.EUNAVAILABLE)
			}
		})
	}
}

func TestDirectoryClient_WrongContentIsUnavailable(t *testing.T) {
	demo := loadDemo(t)
	ctx := context.Background()
	var ward wallet.Citizen
	for _, c := range demo.Citizens() {
		if gs, _ := demo.Guardians(ctx, c.IIN); len(gs) > 0 {
			ward = c
			break
		}
	}
	citizen := func(mutate func(c map[string]any)) string {
		c := map[string]any{"iin": string(ward.IIN), "name": ward.Name, "phone": ward.Phone,
			"birth_date": ward.BirthDate.Format(time.RFC3339), "guardian_of": []string{}}
		mutate(c)
		b, _ := json.Marshal(c)
		return string(b)
	}
	cases := []struct{ name, path, body string }{
		{"citizen of another iin", "citizen", citizen(func(c map[string]any) { c["iin"] = string(unknownIIN(t)) })},
		{"citizen without a name", "citizen", citizen(func(c map[string]any) { c["name"] = " " })},
		{"birth date not the iin's", "citizen", citizen(func(c map[string]any) { c["birth_date"] = "1900-01-01T00:00:00Z" })},
		{"phone not E.164", "citizen", citizen(func(c map[string]any) { c["phone"] = "call me" })},
		{"ward with a bad iin", "citizen", citizen(func(c map[string]any) { c["guardian_of"] = []string{"123"} })},
		{"guardians missing", "guardians", `{}`},
		{"guardian is the ward", "guardians", `{"guardians":["` + string(ward.IIN) + `"]}`},
		{"guardian listed twice", "guardians", `{"guardians":["` + string(unknownIIN(t)) + `","` + string(unknownIIN(t)) + `"]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			dir := newDirectory(t, srv.URL, nil)
			var err error
			if tc.path == "citizen" {
				_, err = dir.Citizen(ctx, ward.IIN)
			} else {
				_, err = dir.Guardians(ctx, ward.IIN)
			}
			if !wallet.IsCode(err, wallet.EUNAVAILABLE) {
				t.Errorf("%v, want %s", err, wallet.EUNAVAILABLE)
			}
		})
	}
}

func TestSimulator_FailRateFailsTheChosenShare(t *testing.T) {
	demo := loadDemo(t)
	var n atomic.Int32
	// Alternate 0.1 and 0.9: with a rate of 0.5 every other request fails.
	random := func() float64 {
		if n.Add(1)%2 == 1 {
			return 0.1
		}
		return 0.9
	}
	srv := startSim(t, demo, sources.SimOptions{FailRate: sources.SourceRates{sources.Population: 0.5}, Random: random})
	c := newClient(t, srv.URL, sources.Population, func(c *sources.ClientConfig) { c.Retries = -1 })
	iin := richestAdult(t, demo)
	failures := 0
	for i := 0; i < 10; i++ {
		if _, err := c.Records(context.Background(), iin); err != nil {
			failures++
		}
	}
	if failures != 5 {
		t.Errorf("%d of 10 failed, want 5", failures)
	}
}

func TestNewClient_RefusesIncompleteConfig(t *testing.T) {
	cases := []sources.ClientConfig{
		{Source: "population", Secret: "s"},
		{BaseURL: "ftp://example.test", Source: "population", Secret: "s"},
		{BaseURL: "http://127.0.0.1:1", Source: "population"},
		{BaseURL: "http://127.0.0.1:1", Source: "Population!", Secret: "s"},
		{BaseURL: "http://127.0.0.1:1", Source: "population", Secret: "s", Timeout: -time.Second},
	}
	for _, cfg := range cases {
		if _, err := sources.NewClient(cfg); !wallet.IsCode(err, wallet.EINVALID) {
			t.Errorf("NewClient(%+v): %v, want %s", cfg, err, wallet.EINVALID)
		}
	}
}
