package api_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/wallet"
)

const (
	demoAllTypes = wallet.IIN("880412310009") // Aidos Nurlanov: documents of all seven types
	demoRevoked  = wallet.IIN("800519347947") // Askar Bekov: a revoked driving licence
	demoSpouse   = wallet.IIN("900903412710") // Aigerim Nurlanova
)

func (s *testServer) documents(token string) []wallet.Document {
	s.t.Helper()
	r := s.do("GET", "/v1/documents", token, nil)
	if r.Status != http.StatusOK {
		s.t.Fatalf("documents: %d %s", r.Status, r.Body)
	}
	var out struct{ Documents []wallet.Document }
	if err := json.Unmarshal(r.Body, &out); err != nil {
		s.t.Fatal(err)
	}
	return out.Documents
}

func TestDocuments_SevenTypesEachVerifyingWithAnIndependentJOSELibrary(t *testing.T) {
	s := newTestServer(t)
	docs := s.documents(s.signIn(demoAllTypes).Access)
	types := map[wallet.DocumentType]bool{}
	for _, d := range docs {
		types[d.Type] = true
		if d.SubjectIIN != demoAllTypes || d.JWS == "" || d.Version != 1 || d.FetchedAt.IsZero() {
			t.Fatalf("bad document %+v", d)
		}
	}
	if len(types) != 7 {
		t.Fatalf("got types %v, want all seven", types)
	}

	r := s.do("GET", "/.well-known/jwks.json", "", nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil || len(set.Keys) < 3 {
		t.Fatalf("jwks: %v %s", err, r.Body)
	}
	for _, d := range docs {
		sig, err := jose.ParseSigned(d.JWS, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256})
		if err != nil {
			t.Fatalf("%s: %v", d.Type, err)
		}
		h := sig.Signatures[0].Header
		keys := set.Key(h.KeyID)
		if len(keys) != 1 {
			t.Fatalf("%s: kid %q not in the JWKS", d.Type, h.KeyID)
		}
		payload, err := sig.Verify(keys[0])
		if err != nil {
			t.Fatalf("%s: does not verify: %v", d.Type, err)
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"iss", "sub", "iat", "exp", "jti"} {
			if claims[c] == nil {
				t.Fatalf("%s: claim %s missing", d.Type, c)
			}
		}
		if claims["sub"] != string(demoAllTypes) || claims["iss"] != d.Issuer {
			t.Fatalf("%s: claims %v", d.Type, claims)
		}
		if typ, _ := h.ExtraHeaders["typ"].(string); typ == "" {
			t.Fatalf("%s: no typ header", d.Type)
		}
	}
}

func TestVerify_GenuineTamperedUnknownKeyRevoked(t *testing.T) {
	s := newTestServer(t)
	docs := s.documents(s.signIn(demoRevoked).Access)
	var genuine, revoked wallet.Document
	for _, d := range docs {
		switch {
		case d.Status == wallet.StatusRevoked:
			revoked = d
		case d.Status == wallet.StatusValid && genuine.ID == "":
			genuine = d
		}
	}
	if genuine.ID == "" || revoked.ID == "" {
		t.Fatalf("demo data lacks a valid and a revoked document: %+v", docs)
	}
	verify := func(jws string) map[string]any {
		r := s.do("POST", "/v1/verify", "", map[string]string{"jws": jws})
		if r.Status != http.StatusOK {
			t.Fatalf("verify: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)
	}
	if v := verify(genuine.JWS); v["valid"] != true || v["status"] != "valid" || v["document_id"] != genuine.ID {
		t.Fatalf("genuine: %v", v)
	}
	// One changed character in the payload.
	b := []byte(genuine.JWS)
	for i := len(b) / 2; ; i++ {
		if b[i] != '.' {
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			break
		}
	}
	if v := verify(string(b)); v["valid"] != false || (v["reason"] != "bad_signature" && v["reason"] != "malformed") {
		t.Fatalf("tampered: %v", v)
	}
	// Signed by a key nobody published.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	content, _ := wallet.ParseContent(mustContent(t, s, genuine.ID))
	forged, err := wallet.SignDocument(wallet.IssuerKey{KID: "kz-mia-forged", Issuer: genuine.Issuer, Alg: wallet.AlgEdDSA, Key: other}, content, 1, s.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if v := verify(forged); v["valid"] != false || v["reason"] != "unknown_key" {
		t.Fatalf("unknown key: %v", v)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged, _ = wallet.SignDocument(wallet.IssuerKey{KID: "kz-mia-ec", Issuer: genuine.Issuer, Alg: wallet.AlgES256, Key: ec}, content, 1, s.Clock.Now())
	if v := verify(forged); v["valid"] != false || v["reason"] != "unknown_key" {
		t.Fatalf("unknown EC key: %v", v)
	}
	if v := verify(revoked.JWS); v["valid"] != false || v["reason"] != "revoked" || v["status"] != "revoked" {
		t.Fatalf("revoked: %v", v)
	}
	if v := verify("not-a-jws"); v["valid"] != false || v["reason"] != "malformed" {
		t.Fatalf("garbage: %v", v)
	}
	r := s.do("POST", "/v1/verify", "", map[string]string{})
	if r.Status != http.StatusBadRequest {
		t.Fatalf("empty verify: %d", r.Status)
	}
}

func mustContent(t *testing.T, s *testServer, id string) []byte {
	t.Helper()
	d, err := s.Store.Document(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d.Latest.Content
}

func TestDocuments_AnotherCitizensDocumentIsNotFound(t *testing.T) {
	s := newTestServer(t)
	mine := s.documents(s.signIn(demoAllTypes).Access)
	other := s.signIn(demoRevoked).Access
	s.documents(other)
	for _, p := range []string{"/v1/documents/" + mine[0].ID, "/v1/documents/" + mine[0].ID + "/versions", "/v1/documents/doc_nosuchdocument000"} {
		r := s.do("GET", p, other, nil)
		if r.Status != http.StatusNotFound || r.ErrorCode(t) != "not_found" {
			t.Fatalf("%s: %d %s", p, r.Status, r.Body)
		}
	}
	// A spouse is not a guardian: still 404.
	spouse := s.signIn(demoSpouse).Access
	if r := s.do("GET", "/v1/documents/"+mine[0].ID, spouse, nil); r.Status != http.StatusNotFound {
		t.Fatalf("spouse: %d", r.Status)
	}
	if r := s.do("GET", "/v1/documents/"+mine[0].ID, "", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", r.Status)
	}
}

func TestDocuments_RefreshKeepsVersionsWhenNothingChanged(t *testing.T) {
	s := newTestServer(t)
	tok := s.signIn(demoAllTypes).Access
	docs := s.documents(tok)
	s.Clock.Advance(10 * time.Minute)
	r := s.do("POST", "/v1/documents/refresh", tok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", "/v1/documents/"+docs[0].ID+"/versions", tok, nil)
	var vs struct {
		Versions []struct {
			Version  int
			Hash     string
			PrevHash string `json:"prev_hash"`
		}
	}
	json.Unmarshal(r.Body, &vs)
	if r.Status != 200 || len(vs.Versions) != 1 || vs.Versions[0].Hash == "" || vs.Versions[0].PrevHash != "" {
		t.Fatalf("versions: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", "/v1/documents/"+docs[0].ID, tok, nil)
	var d wallet.Document
	json.Unmarshal(r.Body, &d)
	if !d.FetchedAt.Equal(s.Clock.Now().Truncate(time.Microsecond)) {
		t.Fatalf("fetched_at %v, want the refresh time %v", d.FetchedAt, s.Clock.Now())
	}
}
