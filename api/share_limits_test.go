package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/qujat/qujat/service"
	"github.com/qujat/qujat/sharing"
)

// withShareLimits builds the test server with its sharing service under lim.
func withShareLimits(lim sharing.Limits) func(*service.Service) {
	return func(s *service.Service) { s.Sharing.Limits = lim }
}

type termsCase struct {
	name    string
	body    any // nil: no body
	status  int
	message string        // of a 400
	ttl     time.Duration // of a 201
	views   int           // of a 201
}

func checkTerms(t *testing.T, s *testServer, token, docID string, cases []termsCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("POST", "/v1/documents/"+docID+"/shares", token, tc.body)
			if r.Status != tc.status {
				t.Fatalf("%d, want %d: %s", r.Status, tc.status, r.Body)
			}
			m := r.JSON(t)
			if tc.status != http.StatusCreated {
				if code := r.ErrorCode(t); code != "invalid_request" {
					t.Errorf("code %q", code)
				}
				if got := m["error"].(map[string]any)["message"]; got != tc.message {
					t.Errorf("message %q, want %q", got, tc.message)
				}
				return
			}
			created, _ := time.Parse(time.RFC3339, m["created_at"].(string))
			expires, _ := time.Parse(time.RFC3339, m["expires_at"].(string))
			if got := expires.Sub(created); got != tc.ttl {
				t.Errorf("share lives %v, want %v", got, tc.ttl)
			}
			if got := m["max_views"]; got != float64(tc.views) {
				t.Errorf("max_views %v, want %d", got, tc.views)
			}
		})
	}
}

func TestSharing_TermsFollowTheSharingLimits(t *testing.T) {
	t.Run("stricter than the defaults", func(t *testing.T) {
		s := newTestServer(t, withShareLimits(sharing.Limits{
			DefaultTTL: 20 * time.Second, MaxTTL: 30 * time.Second, DefaultMaxViews: 2, MaxViews: 3,
		}))
		a := s.signIn(demoAllTypes).Access
		doc := s.documents(a)[0]
		checkTerms(t, s, a, doc.ID, []termsCase{
			{"no terms: the defaults", nil, 201, "", 20 * time.Second, 2},
			{"the limits", []byte(`{"ttl_seconds":30,"max_views":3}`), 201, "", 30 * time.Second, 3},
			{"ttl past the limit", []byte(`{"ttl_seconds":31}`), 400, "ttl_seconds must be between 1 and 30", 0, 0},
			{"default ttl of the API's defaults", []byte(`{"ttl_seconds":180}`), 400, "ttl_seconds must be between 1 and 30", 0, 0},
			{"views past the limit", []byte(`{"max_views":4}`), 400, "max_views must be between 1 and 3", 0, 0},
			{"ttl zero", []byte(`{"ttl_seconds":0}`), 400, "ttl_seconds must be between 1 and 30", 0, 0},
			{"views zero", []byte(`{"max_views":0}`), 400, "max_views must be between 1 and 3", 0, 0},
		})
	})
	t.Run("looser than the defaults", func(t *testing.T) {
		s := newTestServer(t, withShareLimits(sharing.Limits{MaxTTL: 900 * time.Second, MaxViews: 20}))
		a := s.signIn(demoAllTypes).Access
		doc := s.documents(a)[0]
		checkTerms(t, s, a, doc.ID, []termsCase{
			{"no terms: the defaults", nil, 201, "", 180 * time.Second, 1},
			{"the limits", []byte(`{"ttl_seconds":900,"max_views":20}`), 201, "", 900 * time.Second, 20},
			{"ttl past the limit", []byte(`{"ttl_seconds":901}`), 400, "ttl_seconds must be between 1 and 900", 0, 0},
			{"views past the limit", []byte(`{"max_views":21}`), 400, "max_views must be between 1 and 20", 0, 0},
		})
	})
}

func TestSharing_BadTermsAreRefusedFirst(t *testing.T) {
	s := newTestServer(t)
	a := s.signIn(demoAllTypes).Access
	b := s.signIn(demoRevoked).Access
	doc := s.documents(a)[0]
	checkTerms(t, s, a, doc.ID, []termsCase{
		{"ttl past the default limit", []byte(`{"ttl_seconds":601}`), 400, "ttl_seconds must be between 1 and 600", 0, 0},
		{"views past the default limit", []byte(`{"max_views":11}`), 400, "max_views must be between 1 and 10", 0, 0},
		{"negative ttl", []byte(`{"ttl_seconds":-1}`), 400, "ttl_seconds must be between 1 and 600", 0, 0},
		// 18446744075 s in nanoseconds wraps around 64 bits to about 1.29 s.
		{"ttl that would wrap around", []byte(`{"ttl_seconds":18446744075}`), 400, "ttl_seconds must be between 1 and 600", 0, 0},
		{"largest ttl", []byte(`{"ttl_seconds":9223372036854775807}`), 400, "ttl_seconds must be between 1 and 600", 0, 0},
	})
	// Bad terms are 400 before the document is looked up: also on someone
	// else's document, which is otherwise 404.
	checkTerms(t, s, b, doc.ID, []termsCase{
		{"bad terms on another's document", []byte(`{"ttl_seconds":601}`), 400, "ttl_seconds must be between 1 and 600", 0, 0},
	})
	if r := s.do("POST", "/v1/documents/"+doc.ID+"/shares", b, nil); r.Status != http.StatusNotFound {
		t.Fatalf("another's document: %d %s", r.Status, r.Body)
	}
}
