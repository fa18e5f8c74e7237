package api_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/qujat/qujat/api"
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
	r := s.do("GET", "/metrics", "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `qujat_http_requests_total{method="GET",route="/healthz",status="200"}`) {
		t.Fatalf("metrics: %d %s", r.Status, r.Body)
	}
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
