package api_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/qujat/qujat/api"
	"github.com/qujat/qujat/service"
)

// BenchmarkTokenParse measures the access-token check every authenticated
// request makes (EdDSA JWT: parse, verify, claims).
func BenchmarkTokenParse(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ti := &api.TokenIssuer{Key: key, Issuer: "qujat", Now: time.Now}
	tok, _, err := ti.Issue(api.AudienceCitizen, "880412310009", "", "req-1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := ti.Parse(tok, api.AudienceCitizen); err != nil {
			b.Fatal(err)
		}
	}
}

// benchServer is the API of newStack (the embedded default's stores, the
// history log in the redemption path), served in-process without a
// network, with the real clock.
type benchServer struct {
	h      http.Handler
	tokens *api.TokenIssuer
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	// As the load generator runs the service (QUJAT_DEV_UNLIMITED): a
	// benchmark issues more shares an hour than a citizen may.
	k := newStackWith(b, time.Now, func(p *service.Parts) { p.NoCitizenLimits = true })
	return &benchServer{h: k.srv.Handler(), tokens: k.tokens}
}

func (s *benchServer) token(b *testing.B, iin string) string {
	tok, _, err := s.tokens.Issue(api.AudienceCitizen, iin, "", "bench")
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// call serves one request in-process and returns the status and body.
func (s *benchServer) call(method, path, token string, body []byte) (int, []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "127.0.0.1:40000"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

const (
	benchOwner  = "880412310009" // has documents of every type
	benchViewer = "800519347947"
)

// firstDocument returns the id of one of the owner's documents (assembling
// them from the demo registry on the first call).
func (s *benchServer) firstDocument(b *testing.B, owner string) string {
	st, raw := s.call("GET", "/v1/documents", owner, nil)
	if st != 200 {
		b.Fatalf("GET /v1/documents: %d %s", st, raw)
	}
	var out struct {
		Documents []struct {
			ID string `json:"id"`
		} `json:"documents"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Documents) == 0 {
		b.Fatalf("no documents: %v %s", err, raw)
	}
	return out.Documents[0].ID
}

var benchShareBody = []byte(`{"ttl_seconds":600,"max_views":1}`)

// BenchmarkHTTP measures whole requests through the API handler (routing,
// middleware, token check, JSON, stores) without the network, on SQLite and
// the memory store: allocations here are allocations per request of the
// service, less the HTTP server's own.
func BenchmarkHTTP(b *testing.B) {
	b.Run("issue", func(b *testing.B) {
		s := newBenchServer(b)
		owner := s.token(b, benchOwner)
		doc := s.firstDocument(b, owner)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if st, raw := s.call("POST", "/v1/documents/"+doc+"/shares", owner, benchShareBody); st != 201 {
				b.Fatalf("issue: %d %s", st, raw)
			}
		}
	})
	b.Run("redeem-token", func(b *testing.B) {
		s := newBenchServer(b)
		owner, viewer := s.token(b, benchOwner), s.token(b, benchViewer)
		doc := s.firstDocument(b, owner)
		bodies := make([][]byte, b.N)
		for i := range bodies {
			st, raw := s.call("POST", "/v1/documents/"+doc+"/shares", owner, benchShareBody)
			var sh struct {
				Token string `json:"token"`
			}
			if st != 201 || json.Unmarshal(raw, &sh) != nil {
				b.Fatalf("issue: %d %s", st, raw)
			}
			bodies[i], _ = json.Marshal(map[string]string{"token": sh.Token})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if st, raw := s.call("POST", "/v1/shares/redeem", viewer, bodies[i]); st != 200 {
				b.Fatalf("redeem: %d %s", st, raw)
			}
		}
	})
	b.Run("list", func(b *testing.B) {
		s := newBenchServer(b)
		owner := s.token(b, benchOwner)
		s.firstDocument(b, owner)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if st, raw := s.call("GET", "/v1/documents", owner, nil); st != 200 {
				b.Fatalf("list: %d %s", st, raw)
			}
		}
	})
}
