package api_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/qujat/qujat/api"
	"github.com/qujat/qujat/service"
)

func TestOpenAPI_MatchesTheRoutes(t *testing.T) {
	s := newTestServer(t)
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			switch m {
			case "get", "post", "put", "patch", "delete":
				documented[strings.ToUpper(m)+" "+p] = true
			}
		}
	}
	served := map[string]bool{}
	for _, r := range s.Server.Routes() {
		// echo's :param is OpenAPI's {param}.
		parts := strings.Split(r[1], "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		served[r[0]+" "+strings.Join(parts, "/")] = true
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("served but not in openapi.yaml: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("in openapi.yaml but not served: %v", extra)
	}
	r := s.do("GET", "/openapi.yaml", "", nil)
	if r.Status != 200 || !strings.HasPrefix(string(r.Body), "openapi: 3") {
		t.Fatalf("GET /openapi.yaml: %d", r.Status)
	}
}

func TestOperations_HealthReadyMetrics(t *testing.T) {
	s := newTestServer(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := s.do("GET", p, "", nil); r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", p, r.Status, r.Body)
		}
	}
	s.do("GET", "/healthz", "", nil)
	r := s.do("GET", "/metrics", testMetricsToken, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `qujat_http_requests_total{method="GET",route="/healthz",status="200"}`) {
		t.Fatalf("metrics: %d %s", r.Status, r.Body)
	}
}

// /metrics on the public listener needs its bearer token, and without a
// token configured it is not served there at all.
func TestOperations_MetricsNeedTheirToken(t *testing.T) {
	s := newTestServer(t)
	for _, tok := range []string{"", "wrong-token", testMetricsToken + "x"} {
		if r := s.do("GET", "/metrics", tok, nil); r.Status != http.StatusUnauthorized || strings.Contains(string(r.Body), "qujat_http") {
			t.Fatalf("token %q: %d %.80s", tok, r.Status, r.Body)
		}
	}
	if r := s.do("GET", "/metrics", testMetricsToken, nil); r.Status != 200 {
		t.Fatalf("with the token: %d", r.Status)
	}
	s = newTestServer(t, func(svc *service.Service) { svc.Server.MetricsToken = "" })
	for _, tok := range []string{"", testMetricsToken} {
		if r := s.do("GET", "/metrics", tok, nil); r.Status != http.StatusNotFound {
			t.Fatalf("no token configured, token %q: %d %.80s", tok, r.Status, r.Body)
		}
	}
}

// Every response carries the security headers; every /v1 and /s response
// (documents, versions, wards, me, views, history, consents, shares, and
// errors) is no-store; HSTS only when the public URL is https.
func TestHeaders_SecurityHeadersAndNoStore(t *testing.T) {
	s := newTestServer(t)
	a := s.adult()
	tok := s.signIn(a.IIN)
	docs := s.documents(tok.Access)
	check := func(r response, path string, noStore, hsts bool) {
		t.Helper()
		want := map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"X-Frame-Options":        "DENY",
		}
		for k, v := range want {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if got := r.Header.Get("Cache-Control"); noStore && got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", path, got)
		}
		if got := r.Header.Get("Strict-Transport-Security"); hsts != strings.HasPrefix(got, "max-age=") {
			t.Errorf("%s: Strict-Transport-Security %q (want it: %v)", path, got, hsts)
		}
	}
	for _, p := range []string{
		"/v1/me", "/v1/documents", "/v1/documents/" + docs[0].ID, "/v1/documents/" + docs[0].ID + "/versions",
		"/v1/wards", "/v1/views?as=owner", "/v1/me/history", "/v1/me/consents", "/v1/shares",
	} {
		r := s.do("GET", p, tok.Access, nil)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", p, r.Status, r.Body)
		}
		check(r, p, true, true)
	}
	r := s.do("GET", "/v1/documents", "", nil)
	if r.Status != 401 {
		t.Fatalf("no token: %d", r.Status)
	}
	check(r, "/v1/documents without a token", true, true)
	check(s.do("GET", "/v1/nope", "", nil), "/v1/nope", true, true)
	check(s.do("GET", "/s/sometoken", "", nil), "/s/sometoken", true, true)
	check(s.do("GET", "/healthz", "", nil), "/healthz", false, true)

	s = newTestServer(t, func(svc *service.Service) { svc.Server.PublicURL = "http://127.0.0.1:8080" })
	check(s.do("GET", "/healthz", "", nil), "/healthz over http", false, false)
	check(s.do("GET", "/v1/documents", "", nil), "/v1/documents over http", true, false)
}

func TestErrors_UnknownRouteAndMethodHaveTheErrorShape(t *testing.T) {
	s := newTestServer(t)
	r := s.do("GET", "/v1/nope", "", nil)
	if r.Status != 404 || r.ErrorCode(t) != "not_found" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	r = s.do("DELETE", "/v1/auth/otp", "", nil)
	if r.Status != 405 || r.ErrorCode(t) != "not_found" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}

func TestDev_CitizensAndSMS(t *testing.T) {
	s := newTestServer(t)
	r := s.do("GET", "/v1/dev/citizens", "", nil)
	cs := r.JSON(t)["citizens"].([]any)
	if r.Status != 200 || len(cs) < 30 {
		t.Fatalf("dev citizens: %d, %d citizens", r.Status, len(cs))
	}
	a := s.adult()
	s.do("POST", "/v1/auth/otp", "", map[string]string{"iin": string(a.IIN)})
	r = s.do("GET", "/v1/dev/sms?to="+strings.ReplaceAll(a.Phone, "+", "%2B"), "", nil)
	msgs := r.JSON(t)["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("dev sms: %s", r.Body)
	}
}
