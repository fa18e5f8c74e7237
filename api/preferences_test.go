package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestPreferences_LanguageStoredAndFollowedBySMS(t *testing.T) {
	s := newTestServer(t)
	tok := s.signIn(demoAllTypes).Access
	phone := s.citizen(demoAllTypes).Phone

	// Nothing chosen: Kazakh, and the sign-in SMS was Kazakh.
	r := s.do("GET", "/v1/me/preferences", tok, nil)
	if r.Status != http.StatusOK || r.JSON(t)["language"] != "kk" {
		t.Fatalf("default: %d %s", r.Status, r.Body)
	}
	if msg := s.Outbox.Messages(phone)[0].Text; !strings.HasPrefix(msg, "Qujat: кіру коды ") {
		t.Errorf("first sign-in SMS %q is not Kazakh", msg)
	}

	r = s.do("PUT", "/v1/me/preferences", tok, map[string]string{"language": "ru"})
	if r.Status != http.StatusOK || r.JSON(t)["language"] != "ru" || len(r.JSON(t)) != 2 {
		t.Fatalf("put: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", "/v1/me/preferences", tok, nil)
	if r.Status != http.StatusOK || r.JSON(t)["language"] != "ru" {
		t.Fatalf("get after put: %d %s", r.Status, r.Body)
	}
	s.signIn(demoAllTypes)
	if msg := s.Outbox.Messages(phone)[0].Text; !strings.HasPrefix(msg, "Qujat: код для входа ") {
		t.Errorf("sign-in SMS after choosing Russian: %q", msg)
	}

	// Only the caller's own preference changed.
	other := s.signIn(demoRevoked).Access
	if r := s.do("GET", "/v1/me/preferences", other, nil); r.JSON(t)["language"] != "kk" {
		t.Errorf("another citizen's language: %s", r.Body)
	}

	r = s.do("PUT", "/v1/me/preferences", tok, map[string]string{"language": "EN"})
	if r.Status != http.StatusOK || r.JSON(t)["language"] != "en" {
		t.Fatalf("put EN: %d %s", r.Status, r.Body)
	}
	s.signIn(demoAllTypes)
	if msg := s.Outbox.Messages(phone)[0].Text; !strings.HasPrefix(msg, "Qujat: your sign-in code is ") {
		t.Errorf("sign-in SMS after choosing English: %q", msg)
	}
}

func TestPreferences_BadRequestsChangeNothing(t *testing.T) {
	s := newTestServer(t)
	tok := s.signIn(demoAllTypes).Access
	if r := s.do("PUT", "/v1/me/preferences", tok, map[string]string{"language": "ru"}); r.Status != http.StatusOK {
		t.Fatalf("put: %d %s", r.Status, r.Body)
	}
	cases := []struct {
		name   string
		body   any
		status int
	}{
		{"unknown language", map[string]string{"language": "de"}, http.StatusBadRequest},
		{"a region", map[string]string{"language": "ru-RU"}, http.StatusBadRequest},
		{"empty language", map[string]string{"language": ""}, http.StatusBadRequest},
		{"no language", map[string]string{}, http.StatusBadRequest},
		{"null language", []byte(`{"language": null}`), http.StatusBadRequest},
		{"not a string", []byte(`{"language": 7}`), http.StatusBadRequest},
		{"unknown field", map[string]string{"language": "en", "lang": "en"}, http.StatusBadRequest},
		{"bad JSON", []byte(`{"language": "en"`), http.StatusBadRequest},
		{"not an object", []byte(`["en"]`), http.StatusBadRequest},
	}
	for _, c := range cases {
		r := s.do("PUT", "/v1/me/preferences", tok, c.body)
		if r.Status != c.status || r.ErrorCode(t) != "invalid_request" {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
	}
	if r := s.do("GET", "/v1/me/preferences", tok, nil); r.JSON(t)["language"] != "ru" {
		t.Errorf("a bad request changed the language: %s", r.Body)
	}

	// Citizens only.
	_, bank := s.bank("Pref Test Bank", "id_card")
	for _, tk := range []string{"", bank} {
		if r := s.do("GET", "/v1/me/preferences", tk, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("GET with %q: %d", tk, r.Status)
		}
		if r := s.do("PUT", "/v1/me/preferences", tk, map[string]string{"language": "en"}); r.Status != http.StatusUnauthorized {
			t.Errorf("PUT with %q: %d", tk, r.Status)
		}
	}
}
