package api_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/qujat/qujat/service"
)

// askForCode sends POST /v1/auth/otp as if forwarded for xff ("" sends no
// X-Forwarded-For) and returns the status. The per-address limit counts
// the request before its body is read, so the body does not matter.
func (s *testServer) askForCode(xff string) int {
	s.t.Helper()
	req, err := http.NewRequest("POST", s.URL+"/v1/auth/otp", strings.NewReader(`{"iin":"1"}`))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// exhaust asks for codes as xff until the address is limited.
func (s *testServer) exhaust(xff string) {
	s.t.Helper()
	for i := 0; i < 100; i++ {
		if s.askForCode(xff) == http.StatusTooManyRequests {
			return
		}
	}
	s.t.Fatalf("%q was never limited", xff)
}

func trusting(cidrs ...string) func(*service.Parts) {
	return func(p *service.Parts) {
		for _, c := range cidrs {
			_, n, err := net.ParseCIDR(c)
			if err != nil {
				panic(err)
			}
			p.TrustedProxies = append(p.TrustedProxies, n)
		}
	}
}

// Behind a trusted proxy the limits count the client the proxy forwards
// for, not the proxy: one client does not lock out the others.
func TestProxy_LimitsCountTheForwardedClient(t *testing.T) {
	s := newTestServerWith(t, trusting("127.0.0.0/8", "10.0.0.0/8"))
	s.exhaust("198.51.100.1")
	if st := s.askForCode("198.51.100.2"); st == http.StatusTooManyRequests {
		t.Fatal("another client behind the proxy was locked out")
	}
	// What a client prepends is not believed: the rightmost address the
	// trusted proxies did not add is the client.
	if st := s.askForCode("198.51.100.2, 198.51.100.1"); st != http.StatusTooManyRequests {
		t.Fatalf("a client escaped its limit by prepending an address: %d", st)
	}
	// A chain of trusted proxies is skipped.
	if st := s.askForCode("198.51.100.1, 10.1.2.3"); st != http.StatusTooManyRequests {
		t.Fatalf("through two proxies: %d", st)
	}
	if st := s.askForCode("198.51.100.3, 10.1.2.3"); st == http.StatusTooManyRequests {
		t.Fatal("another client through two proxies was locked out")
	}
}

// IPv6 addresses are counted per /64.
func TestProxy_IPv6CountedPer64(t *testing.T) {
	s := newTestServerWith(t, trusting("127.0.0.0/8"))
	s.exhaust("2001:db8:1:2::1")
	if st := s.askForCode("2001:db8:1:2:ffff:ffff:ffff:fffe"); st != http.StatusTooManyRequests {
		t.Fatalf("another address in the same /64: %d", st)
	}
	if st := s.askForCode("2001:db8:1:3::1"); st == http.StatusTooManyRequests {
		t.Fatal("an address in another /64 was limited")
	}
}

// Without trusted proxies (the default), X-Forwarded-For is not read: a
// client cannot pick the address it is counted as.
func TestProxy_ForwardedForIgnoredFromUntrustedPeers(t *testing.T) {
	for name, parts := range map[string]func(*service.Parts){
		"no trusted proxies":     nil,
		"peer is not among them": trusting("10.0.0.0/8"),
	} {
		t.Run(name, func(t *testing.T) {
			s := newTestServerWith(t, parts)
			s.exhaust("198.51.100.1")
			if st := s.askForCode("198.51.100.2"); st != http.StatusTooManyRequests {
				t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", st)
			}
			if st := s.askForCode(""); st != http.StatusTooManyRequests {
				t.Fatalf("the peer itself: %d", st)
			}
		})
	}
}
