package api_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/qujat/qujat/api"
	"github.com/qujat/qujat/wallet"
)

// citizenLimitCase is one operation limited per citizen.
type citizenLimitCase struct {
	name   string
	max    int
	window time.Duration
	// prepare returns the call for the citizen signed in with access token a.
	prepare func(t *testing.T, s *testServer, a string) func() response
	ok      int // the status of an allowed request
}

func citizenLimitCases() []citizenLimitCase {
	return []citizenLimitCase{
		{"open shares", api.SharesOpenedPerCitizen, api.SharesOpenedWindow, func(t *testing.T, s *testServer, a string) func() response {
			doc := s.documents(a)[0].ID
			return func() response { return s.do("POST", "/v1/documents/"+doc+"/shares", a, nil) }
		}, http.StatusCreated},
		{"QR images", api.QRImagesPerCitizen, api.QRImagesWindow, func(t *testing.T, s *testServer, a string) func() response {
			doc := s.documents(a)[0].ID
			r := s.do("POST", "/v1/documents/"+doc+"/shares", a, nil)
			if r.Status != http.StatusCreated {
				t.Fatalf("open share: %d %s", r.Status, r.Body)
			}
			id := r.JSON(t)["id"].(string)
			return func() response { return s.do("GET", "/v1/shares/"+id+"/qr", a, nil) }
		}, http.StatusOK},
		{"refresh documents", api.RefreshesPerCitizen, api.RefreshesWindow, func(t *testing.T, s *testServer, a string) func() response {
			return func() response { return s.do("POST", "/v1/documents/refresh", a, nil) }
		}, http.StatusOK},
	}
}

func TestCitizenLimits_ExceedingGives429AndSparesOthers(t *testing.T) {
	for _, tc := range citizenLimitCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			a := s.signIn(demoAllTypes).Access
			b := s.signIn(demoSpouse).Access
			call := tc.prepare(t, s, a)
			other := tc.prepare(t, s, b)
			for i := 0; i < tc.max; i++ {
				if r := call(); r.Status != tc.ok {
					t.Fatalf("request %d of %d: %d %s", i+1, tc.max, r.Status, r.Body)
				}
			}
			r := call()
			if r.Status != http.StatusTooManyRequests || r.ErrorCode(t) != "rate_limited" {
				t.Fatalf("past the limit: %d %s, want 429 rate_limited", r.Status, r.Body)
			}
			secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if err != nil || secs < 1 || time.Duration(secs)*time.Second > tc.window {
				t.Errorf("Retry-After %q, want 1 to %v seconds", r.Header.Get("Retry-After"), tc.window.Seconds())
			}
			// Another citizen is unaffected.
			if r := other(); r.Status != tc.ok {
				t.Errorf("another citizen: %d %s", r.Status, r.Body)
			}
			// The limit is the citizen's, not the session's.
			if r := tc.prepare(t, s, s.signIn(demoAllTypes).Access)(); r.Status != http.StatusTooManyRequests {
				t.Errorf("new session of the same citizen: %d, want 429", r.Status)
			}
			// After the window the citizen may again.
			s.Clock.Advance(tc.window)
			if r := tc.prepare(t, s, s.signIn(demoAllTypes).Access)(); r.Status != tc.ok {
				t.Errorf("after the window: %d %s", r.Status, r.Body)
			}
		})
	}
}

// downCounters is a short-lived store whose counters cannot be reached.
type downCounters struct{ wallet.ShortLivedStore }

func (downCounters) Incr(context.Context, string, time.Duration) (int64, time.Duration, error) {
	return 0, 0, &wallet.Error{Code: wallet.EUNAVAILABLE, Message: "short-lived store down"}
}

func TestCitizenLimits_FailClosedWhenTheStoreIsDown(t *testing.T) {
	for _, tc := range citizenLimitCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			a := s.signIn(demoAllTypes).Access
			call := tc.prepare(t, s, a)
			s.Server.Counters = downCounters{s.Short}
			if r := call(); r.Status != http.StatusServiceUnavailable || r.ErrorCode(t) != "unavailable" {
				t.Errorf("%d %s, want 503 unavailable", r.Status, r.Body)
			}
		})
	}
}
