package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/qujat/qujat/api"
)

func key(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }

// A redemption retried with its Idempotency-Key (its answer lost) gets the
// same view and the document again, and spends no second use; the key with
// another body is 422; a malformed key is 400.
func TestIdempotencyKey_RedeemRetryGetsTheSameView(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	b := s.signIn(demoRevoked).Access
	docs := s.documents(a)
	sh := s.share(a, docs[0].ID, nil)

	body := map[string]string{"token": sh.Token}
	first := s.doWith("POST", "/v1/shares/redeem", b, body, key("redeem-1"))
	if first.Status != http.StatusOK {
		t.Fatalf("redeem: %d %s", first.Status, first.Body)
	}
	retry := s.doWith("POST", "/v1/shares/redeem", b, body, key(`"redeem-1"`))
	if retry.Status != http.StatusOK {
		t.Fatalf("retry: %d %s", retry.Status, retry.Body)
	}
	var r1, r2 struct {
		ViewID   string `json:"view_id"`
		LogIndex *int64 `json:"log_index"`
		Document struct{ ID string }
	}
	json.Unmarshal(first.Body, &r1)
	json.Unmarshal(retry.Body, &r2)
	if r1.ViewID == "" || r2.ViewID != r1.ViewID || r2.Document.ID != docs[0].ID ||
		r1.LogIndex == nil || r2.LogIndex == nil || *r2.LogIndex != *r1.LogIndex {
		t.Fatalf("first %s, retry %s", first.Body, retry.Body)
	}
	if n := len(s.views(a, "owner")); n != 1 {
		t.Fatalf("%d views, want 1", n)
	}
	// Without the key the single-use share is used up.
	if r := s.do("POST", "/v1/shares/redeem", b, body); r.Status != http.StatusGone {
		t.Fatalf("redeem without the key: %d %s", r.Status, r.Body)
	}
	// The key with another body.
	sh2 := s.share(a, docs[1].ID, nil)
	r := s.doWith("POST", "/v1/shares/redeem", b, map[string]string{"token": sh2.Token}, key("redeem-1"))
	if r.Status != http.StatusUnprocessableEntity || r.ErrorCode(t) != "idempotency_mismatch" {
		t.Fatalf("same key, other body: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{strings.Repeat("k", 256), "caf\u00e9"} {
		r := s.doWith("POST", "/v1/shares/redeem", b, map[string]string{"token": sh2.Token}, key(bad))
		if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "invalid_request" {
			t.Fatalf("key %q: %d %s", bad, r.Status, r.Body)
		}
	}
	// sh2 was not spent by any of that.
	if r := s.do("POST", "/v1/shares/redeem", b, map[string]string{"token": sh2.Token}); r.Status != http.StatusOK {
		t.Fatalf("redeem sh2: %d %s", r.Status, r.Body)
	}
}

// Share issuance retried with its key answers the same share, token and
// short code, and opens no second share.
func TestIdempotencyKey_ShareRetryGetsTheSameShare(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	docs := s.documents(a)
	body := map[string]int{"ttl_seconds": 300, "max_views": 2}
	path := "/v1/documents/" + docs[0].ID + "/shares"
	first := s.doWith("POST", path, a, body, key("share-1"))
	retry := s.doWith("POST", path, a, body, key("share-1"))
	if first.Status != http.StatusCreated || retry.Status != http.StatusCreated {
		t.Fatalf("share: %d %s; retry: %d %s", first.Status, first.Body, retry.Status, retry.Body)
	}
	var o1, o2 map[string]any
	json.Unmarshal(first.Body, &o1)
	json.Unmarshal(retry.Body, &o2)
	for _, f := range []string{"id", "token", "short_code", "url", "expires_at"} {
		if o1[f] == nil || o1[f] != o2[f] {
			t.Errorf("%s: %v then %v", f, o1[f], o2[f])
		}
	}
	r := s.do("GET", "/v1/shares", a, nil)
	var list struct{ Shares []any }
	json.Unmarshal(r.Body, &list)
	if len(list.Shares) != 1 {
		t.Fatalf("%d shares, want 1", len(list.Shares))
	}
	r = s.doWith("POST", path, a, map[string]int{"ttl_seconds": 300, "max_views": 3}, key("share-1"))
	if r.Status != http.StatusUnprocessableEntity || r.ErrorCode(t) != "idempotency_mismatch" {
		t.Fatalf("same key, other body: %d %s", r.Status, r.Body)
	}
}

// Every operation that reaches a store documents its 503 (and its retry);
// the two operations that take an Idempotency-Key document it and its 422.
func TestOpenAPI_Documents503AndIdempotencyKeys(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []map[string]any `yaml:"parameters"`
			Responses  map[string]any   `yaml:"responses"`
		} `yaml:"paths"`
		Components struct {
			Parameters map[string]struct {
				Name string `yaml:"name"`
				In   string `yaml:"in"`
			} `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	// These answer from memory and never 503.
	static := map[string]bool{
		"/healthz": true, "/metrics": true, "/openapi.yaml": true, "/.well-known/jwks.json": true,
		"/s/{token}": true, "/assets/style.css": true, "/v1/dev/citizens": true, "/v1/dev/sms": true, "/v1/log/key": true,
		"/v1/duplicates/types": true,
	}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			if _, ok := op.Responses["503"]; !ok && !static[p] {
				t.Errorf("%s %s: no 503", strings.ToUpper(m), p)
			}
		}
	}
	if p := doc.Components.Parameters["IdempotencyKey"]; p.Name != "Idempotency-Key" || p.In != "header" {
		t.Fatalf("IdempotencyKey parameter: %+v", p)
	}
	for _, po := range [][2]string{{"/v1/documents/{id}/shares", "post"}, {"/v1/shares/redeem", "post"}} {
		op := doc.Paths[po[0]][po[1]]
		found := false
		for _, prm := range op.Parameters {
			if prm["$ref"] == "#/components/parameters/IdempotencyKey" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s %s: no Idempotency-Key parameter", po[1], po[0])
		}
		if _, ok := op.Responses["422"]; !ok {
			t.Errorf("%s %s: no 422", po[1], po[0])
		}
	}
	if !strings.Contains(string(api.OpenAPI()), "retries with the same Idempotency-Key and the same body") {
		t.Error("the retry rule is not in the document")
	}
}
