package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/qujat/qujat/registries"
	"github.com/qujat/qujat/wallet"
)

const (
	otherOfficialIIN wallet.IIN = "620505423555" // Kulyash
	licenceHolder    wallet.IIN = "880412310009" // Aidos
)

// hostedRegistry registers a gov organisation with an official (signed
// in) and a licence registry it keeps; it returns the official's token.
func (s *testServer) hostedRegistry(code string, official wallet.IIN, name string) string {
	s.t.Helper()
	gov, _, err := s.Consents.CreateClient(s.t.Context(), "Ministry "+code, "gov", []wallet.DocumentType{wallet.IDCard})
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.Staff.Create(s.t.Context(), gov.ID, official, name, wallet.RoleOfficial); err != nil {
		s.t.Fatal(err)
	}
	reg := &registries.Service{Store: s.Store, Now: s.Clock.Now}
	if _, err := reg.Create(s.t.Context(), code, "Licences of "+code, gov.ID, wallet.Licence); err != nil {
		s.t.Fatal(err)
	}
	return s.staffSignIn(official)
}

func wantStatus(t *testing.T, what string, r response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: %d, want %d: %s", what, r.Status, status, r.Body)
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return r.JSON(t)
	}
	return nil
}

// walletLicence returns the holder's licence from GET /v1/documents, or nil.
func (s *testServer) walletLicence(token string) map[string]any {
	s.t.Helper()
	docs := wantStatus(s.t, "documents", s.do("GET", "/v1/documents?lang=en", token, nil), 200)["documents"].([]any)
	for _, d := range docs {
		if d := d.(map[string]any); d["type"] == "licence" {
			return d
		}
	}
	return nil
}

func TestRegistries_PublishAmendRevokeAndEveryViewFollows(t *testing.T) {
	ts := newTestServer(t)
	off := ts.hostedRegistry("pharma", officialIIN, "Serik Official")
	holder := ts.signIn(licenceHolder)

	// A draft: only the body's staff see it.
	r := ts.do("POST", "/v1/registries/pharma/records", off, map[string]any{
		"holder": map[string]string{"iin": string(licenceHolder)},
		"fields": map[string]string{"activity": "Pharmacy", "address": "Astana, Abai 1"},
	})
	d := wantStatus(t, "create", r, 201)
	number := d["number"].(string)
	if d["version"] != 1.0 || d["status"] != "draft" || number == "" {
		t.Fatalf("created: %v", d)
	}
	wantStatus(t, "public page of a draft", ts.do("GET", "/r/pharma/"+number, "", nil), 404)
	if ts.walletLicence(holder.Access) != nil {
		t.Fatal("the holder's wallet shows a draft")
	}
	rec := wantStatus(t, "staff read", ts.do("GET", "/v1/registries/pharma/records/"+number, off, nil), 200)
	if vs := rec["versions"].([]any); len(vs) != 1 || vs[0].(map[string]any)["status"] != "draft" {
		t.Fatalf("staff view: %v", rec)
	}

	// Publish.
	p1 := wantStatus(t, "sign", ts.do("POST", "/v1/registries/pharma/records/"+number+"/sign", off, nil), 200)
	if p1["status"] != "published" || p1["version"] != 1.0 || p1["jws"] == "" || p1["signed_by"].(map[string]any)["name"] != "Serik Official" {
		t.Fatalf("signed: %v", p1)
	}
	wantStatus(t, "sign twice", ts.do("POST", "/v1/registries/pharma/records/"+number+"/sign", off, nil), 409)
	pub := wantStatus(t, "public", ts.doWith("GET", "/r/pharma/"+number, "", nil, map[string]string{"Accept": "application/json"}), 200)
	if pub["status"] != "valid" || pub["version"] != 1.0 || pub["jws"] != p1["jws"] || pub["checked"] != true ||
		pub["holder"].(map[string]any)["name"] != "Aidos Nurlanov" || pub["signed_by"].(map[string]any)["name"] != "Serik Official" ||
		pub["registry"].(map[string]any)["code"] != "pharma" || len(pub["versions"].([]any)) != 1 {
		t.Fatalf("public page: %v", pub)
	}
	doc := ts.walletLicence(holder.Access)
	if doc == nil || doc["status"] != "valid" || doc["source"] != "registry:pharma" || doc["version"] != 1.0 || doc["jws"] != p1["jws"] ||
		doc["fields"].(map[string]any)["activity"] != "Pharmacy" || doc["field_labels"].(map[string]any)["activity"] != "Activity" {
		t.Fatalf("wallet after publishing: %v", doc)
	}
	// The holder's other documents are still assembled from their sources.
	if docs := ts.do("GET", "/v1/documents", holder.Access, nil).JSON(t)["documents"].([]any); len(docs) < 2 {
		t.Fatalf("the holder has only %d documents", len(docs))
	}
	v := wantStatus(t, "verify", ts.do("POST", "/v1/verify", "", map[string]string{"jws": p1["jws"].(string)}), 200)
	if v["valid"] != true || v["status"] != "valid" || v["kind"] != "registry_record" || v["document_id"] != doc["id"] {
		t.Fatalf("verify v1: %v", v)
	}

	// Amend: a draft of version 2 changes nothing public until it is signed.
	a := wantStatus(t, "amend", ts.do("POST", "/v1/registries/pharma/records/"+number+"/versions", off, map[string]any{
		"fields": map[string]string{"activity": "Pharmacy", "address": "Astana, Abai 2"}, "valid_until": "2030-01-01T00:00:00Z",
	}), 201)
	if a["version"] != 2.0 || a["status"] != "draft" {
		t.Fatalf("amend: %v", a)
	}
	wantStatus(t, "amend with a draft pending", ts.do("POST", "/v1/registries/pharma/records/"+number+"/versions", off, map[string]any{
		"fields": map[string]string{"activity": "X"}}), 409)
	wantStatus(t, "revoke with a draft pending", ts.do("POST", "/v1/registries/pharma/records/"+number+"/revoke", off, map[string]string{"reason": "test"}), 409)
	pub = ts.doWith("GET", "/r/pharma/"+number, "", nil, map[string]string{"Accept": "application/json"}).JSON(t)
	if pub["version"] != 1.0 || pub["fields"].(map[string]any)["address"] != "Astana, Abai 1" {
		t.Fatalf("the public page shows a draft: %v", pub)
	}
	if doc := ts.walletLicence(holder.Access); doc["version"] != 1.0 {
		t.Fatalf("the wallet shows a draft: %v", doc)
	}
	p2 := wantStatus(t, "sign v2", ts.do("POST", "/v1/registries/pharma/records/"+number+"/sign", off, nil), 200)
	pub = ts.doWith("GET", "/r/pharma/"+number, "", nil, map[string]string{"Accept": "application/json"}).JSON(t)
	vs := pub["versions"].([]any)
	if pub["version"] != 2.0 || pub["status"] != "valid" || len(vs) != 2 || vs[0].(map[string]any)["status"] != "superseded" ||
		vs[1].(map[string]any)["prev_hash"] != vs[0].(map[string]any)["hash"] || pub["checked"] != true {
		t.Fatalf("after amending: %v", pub)
	}
	old := wantStatus(t, "archived version", ts.doWith("GET", "/r/pharma/"+number+"/versions/1", "", nil, map[string]string{"Accept": "application/json"}), 200)
	if old["status"] != "superseded" || old["version"] != 1.0 || old["current_version"] != 2.0 || old["jws"] != p1["jws"] || old["checked"] != true ||
		!strings.HasSuffix(old["current_url"].(string), "/r/pharma/"+number) {
		t.Fatalf("archived version 1: %v", old)
	}
	wantStatus(t, "a version that does not exist", ts.do("GET", "/r/pharma/"+number+"/versions/3", "", nil), 404)
	if doc := ts.walletLicence(holder.Access); doc["version"] != 2.0 || doc["fields"].(map[string]any)["address"] != "Astana, Abai 2" || doc["status"] != "valid" {
		t.Fatalf("wallet after amending: %v", doc)
	}
	if v := ts.do("POST", "/v1/verify", "", map[string]string{"jws": p1["jws"].(string)}).JSON(t); v["valid"] != false || v["status"] != "superseded" || v["current_version"] != 2.0 {
		t.Fatalf("verify the superseded v1: %v", v)
	}

	// Revoke: at once everywhere.
	wantStatus(t, "revoke without a reason", ts.do("POST", "/v1/registries/pharma/records/"+number+"/revoke", off, map[string]string{"reason": ""}), 400)
	rv := wantStatus(t, "revoke", ts.do("POST", "/v1/registries/pharma/records/"+number+"/revoke", off, map[string]string{"reason": "Licence withdrawn by court order"}), 200)
	if rv["status"] != "revoked" || rv["version"] != 3.0 || rv["jws"] == "" {
		t.Fatalf("revoke: %v", rv)
	}
	wantStatus(t, "revoke twice", ts.do("POST", "/v1/registries/pharma/records/"+number+"/revoke", off, map[string]string{"reason": "again"}), 409)
	wantStatus(t, "amend after revoking", ts.do("POST", "/v1/registries/pharma/records/"+number+"/versions", off, map[string]any{
		"fields": map[string]string{"activity": "X"}}), 409)
	pub = ts.doWith("GET", "/r/pharma/"+number, "", nil, map[string]string{"Accept": "application/json"}).JSON(t)
	if pub["status"] != "revoked" || pub["reason"] != "Licence withdrawn by court order" || pub["version"] != 3.0 || pub["checked"] != true {
		t.Fatalf("public page after revoking: %v", pub)
	}
	if doc := ts.walletLicence(holder.Access); doc["status"] != "revoked" || doc["version"] != 3.0 {
		t.Fatalf("wallet after revoking: %v", doc)
	}
	for _, jws := range []any{p2["jws"], rv["jws"], p1["jws"]} {
		if v := ts.do("POST", "/v1/verify", "", map[string]string{"jws": jws.(string)}).JSON(t); v["valid"] != false || v["status"] != "revoked" || v["reason"] != "revoked" {
			t.Fatalf("verify after revoking: %v", v)
		}
	}
	// The wallet's versions chain: 1, 2, 3.
	vr := wantStatus(t, "wallet versions", ts.do("GET", "/v1/documents/"+doc["id"].(string)+"/versions", holder.Access, nil), 200)
	if wv := vr["versions"].([]any); len(wv) != 3 || wv[2].(map[string]any)["prev_hash"] != wv[1].(map[string]any)["hash"] {
		t.Fatalf("wallet versions: %v", vr)
	}

	// The holder's history: each publication and the revocation, not the drafts.
	hist := ts.do("GET", "/v1/me/history", holder.Access, nil)
	body := string(hist.Body)
	if strings.Count(body, wallet.EventRegistryPublished) != 2 || strings.Count(body, wallet.EventRegistryRevoked) != 1 || strings.Contains(body, wallet.EventRegistryDraft) {
		t.Fatalf("holder's history: %s", body)
	}

	// The HTML page for a browser.
	page := ts.doWith("GET", "/r/pharma/"+number+"?lang=ru", "", nil, map[string]string{"Accept": "text/html"})
	if page.Status != 200 || !strings.Contains(page.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page.Body), "Отозван") ||
		!strings.Contains(string(page.Body), "Licence withdrawn by court order") {
		t.Fatalf("HTML page: %d %s", page.Status, page.Body)
	}
	page = ts.doWith("GET", "/r/pharma/"+number+"/versions/1?lang=kk", "", nil, map[string]string{"Accept": "text/html"})
	if page.Status != 200 || !strings.Contains(string(page.Body), "Ауыстырылған") || !strings.Contains(string(page.Body), "/r/pharma/"+number) {
		t.Fatalf("HTML archived page: %d %s", page.Status, page.Body)
	}
	if page := ts.doWith("GET", "/r/pharma/0000000000", "", nil, map[string]string{"Accept": "text/html"}); page.Status != 404 {
		t.Fatalf("unknown record page: %d", page.Status)
	}
}

func TestRegistries_OnlyTheBodysOfficialsTouchTheRegistry(t *testing.T) {
	ts := newTestServer(t)
	off := ts.hostedRegistry("pharma", officialIIN, "Serik Official")
	other := ts.hostedRegistry("transport", otherOfficialIIN, "Kulyash Official")
	_, _, op := ts.operator(operatorIIN)
	citizen := ts.signIn(licenceHolder)
	_, org := ts.organisation("Bank", "bank", wallet.IDCard)

	body := map[string]any{"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"activity": "Pharmacy"}}
	number := wantStatus(t, "create", ts.do("POST", "/v1/registries/pharma/records", off, body), 201)["number"].(string)
	base := "/v1/registries/pharma/records/"
	for name, token := range map[string]string{"another body's official": other, "an operator": op} {
		wantStatus(t, name+" creates", ts.do("POST", "/v1/registries/pharma/records", token, body), 403)
		wantStatus(t, name+" reads the draft", ts.do("GET", base+number, token, nil), 403)
		wantStatus(t, name+" signs", ts.do("POST", base+number+"/sign", token, nil), 403)
		wantStatus(t, name+" amends", ts.do("POST", base+number+"/versions", token, map[string]any{"fields": map[string]string{"activity": "X"}}), 403)
		wantStatus(t, name+" revokes", ts.do("POST", base+number+"/revoke", token, map[string]string{"reason": "because"}), 403)
	}
	for name, token := range map[string]string{"a citizen": citizen.Access, "an organisation": org, "no one": ""} {
		if r := ts.do("POST", base+number+"/sign", token, nil); r.Status != 401 && r.Status != 403 {
			t.Fatalf("%s signs: %d %s", name, r.Status, r.Body)
		}
	}
	// Still a draft, never signed.
	rec := wantStatus(t, "staff read", ts.do("GET", base+number, off, nil), 200)
	if vs := rec["versions"].([]any); len(vs) != 1 || vs[0].(map[string]any)["status"] != "draft" {
		t.Fatalf("after the refusals: %v", rec)
	}
	// A staff token is not a citizen's.
	if r := ts.do("GET", "/v1/documents", off, nil); r.Status != 401 && r.Status != 403 {
		t.Fatalf("a staff token on a citizen's endpoint: %d", r.Status)
	}
	wantStatus(t, "unknown registry", ts.do("POST", "/v1/registries/nope/records", off, body), 404)
	wantStatus(t, "unknown record", ts.do("POST", base+"0000000001/sign", off, nil), 404)
}

func TestRegistries_BadDraftsGetClearErrors(t *testing.T) {
	ts := newTestServer(t)
	off := ts.hostedRegistry("pharma", officialIIN, "Serik Official")
	cases := map[string]any{
		"no holder":           map[string]any{"fields": map[string]string{"activity": "A"}},
		"bad IIN":             map[string]any{"holder": map[string]string{"iin": "123"}, "fields": map[string]string{"activity": "A"}},
		"unregistered IIN":    map[string]any{"holder": map[string]string{"iin": "000000000000"}, "fields": map[string]string{"activity": "A"}},
		"both IIN and BIN":    map[string]any{"holder": map[string]string{"iin": string(licenceHolder), "bin": "123456789012"}, "fields": map[string]string{"activity": "A"}},
		"BIN without a name":  map[string]any{"holder": map[string]string{"bin": "123456789012"}, "fields": map[string]string{"activity": "A"}},
		"no fields":           map[string]any{"holder": map[string]string{"iin": string(licenceHolder)}},
		"unknown field":       map[string]any{"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"colour": "red"}},
		"empty value":         map[string]any{"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"activity": " "}},
		"control characters":  map[string]any{"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"activity": "a\x00b"}},
		"valid_until passed":  map[string]any{"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"activity": "A"}, "valid_until": "2020-01-01T00:00:00Z"},
		"valid_until garbled": map[string]any{"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"activity": "A"}, "valid_until": "tomorrow"},
		"unknown member":      map[string]any{"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"activity": "A"}, "status": "published"},
	}
	for name, body := range cases {
		r := ts.do("POST", "/v1/registries/pharma/records", off, body)
		if r.Status != 400 || r.ErrorCode(t) != "invalid_request" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	// A business holder is fine, and is in no citizen's wallet.
	r := ts.do("POST", "/v1/registries/pharma/records", off, map[string]any{"holder": map[string]string{"bin": "123456789012", "name": "Dari LLP"}, "fields": map[string]string{"activity": "A"}})
	number := wantStatus(t, "business", r, 201)["number"].(string)
	wantStatus(t, "sign", ts.do("POST", "/v1/registries/pharma/records/"+number+"/sign", off, nil), 200)
	pub := ts.doWith("GET", "/r/pharma/"+number, "", nil, map[string]string{"Accept": "application/json"}).JSON(t)
	if pub["holder"].(map[string]any)["name"] != "Dari LLP" || pub["status"] != "valid" {
		t.Fatalf("business record: %v", pub)
	}
	if r := ts.do("GET", "/r/pharma/"+number+"/versions/x", "", nil); r.Status != http.StatusNotFound {
		t.Fatalf("a version that is not a number: %d", r.Status)
	}
}

func TestRegistries_VerifyCatchesForgeriesAndTampering(t *testing.T) {
	ts := newTestServer(t)
	off := ts.hostedRegistry("pharma", officialIIN, "Serik Official")
	ts.hostedRegistry("transport", otherOfficialIIN, "Kulyash Official")
	number := wantStatus(t, "create", ts.do("POST", "/v1/registries/pharma/records", off, map[string]any{
		"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"activity": "Pharmacy"}}), 201)["number"].(string)
	jws := wantStatus(t, "sign", ts.do("POST", "/v1/registries/pharma/records/"+number+"/sign", off, nil), 200)["jws"].(string)
	verify := func(jws string) map[string]any {
		return wantStatus(t, "verify", ts.do("POST", "/v1/verify", "", map[string]string{"jws": jws}), 200)
	}
	if v := verify(jws); v["valid"] != true {
		t.Fatalf("the genuine JWS: %v", v)
	}
	// The payload changed under the official's signature.
	parts := strings.Split(jws, ".")
	claims := jwsClaims(t, jws)
	claims["rec"].(map[string]any)["fields"] = map[string]string{"activity": "Casino"}
	forged := parts[0] + "." + b64(mustJSON(t, claims)) + "." + parts[2]
	if v := verify(forged); v["valid"] != false || v["reason"] != wallet.ReasonBadSignature {
		t.Fatalf("a changed payload: %v", v)
	}
	// Another body's official signs a record in Serik's name.
	members, err := ts.Store.Staff(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byIIN := map[wallet.IIN]wallet.StaffMember{}
	for _, m := range members {
		byIIN[m.IIN] = m
	}
	var c registries.Claims
	if err := json.Unmarshal(mustJSON(t, jwsClaims(t, jws)), &c); err != nil {
		t.Fatal(err)
	}
	sign := func(staffID string, c registries.Claims) string {
		key, err := ts.Staff.Signer(staffID)
		if err != nil {
			t.Fatal(err)
		}
		s, err := wallet.SignJWS(key, registries.JWSType, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if v := verify(sign(byIIN[otherOfficialIIN].ID, c)); v["valid"] != false || v["reason"] != wallet.ReasonBadSignature {
		t.Fatalf("signed by another official in Serik's name: %v", v)
	}
	// Serik's own key over a version that was never published.
	c.Record.Version, c.Record.Fields = 7, map[string]string{"activity": "Casino"}
	if v := verify(sign(byIIN[officialIIN].ID, c)); v["valid"] != false || v["reason"] != registries.ReasonTampered {
		t.Fatalf("a version that was never published: %v", v)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestRegistries_ARetryWithTheSameIdempotencyKeyMakesOneRecord(t *testing.T) {
	ts := newTestServer(t)
	off := ts.hostedRegistry("pharma", officialIIN, "Serik Official")
	body := map[string]any{"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"activity": "Pharmacy"}}
	first := wantStatus(t, "create", ts.doWith("POST", "/v1/registries/pharma/records", off, body, key("rec-1")), 201)
	again := wantStatus(t, "retry", ts.doWith("POST", "/v1/registries/pharma/records", off, body, key("rec-1")), 201)
	if first["number"] != again["number"] || again["version"] != 1.0 {
		t.Fatalf("the retry made another record: %v then %v", first, again)
	}
	other := map[string]any{"holder": map[string]string{"iin": string(licenceHolder)}, "fields": map[string]string{"activity": "Other"}}
	if r := ts.doWith("POST", "/v1/registries/pharma/records", off, other, key("rec-1")); r.Status != 422 || r.ErrorCode(t) != "idempotency_mismatch" {
		t.Fatalf("the key with another body: %d %s", r.Status, r.Body)
	}
	if r := ts.doWith("POST", "/v1/registries/pharma/records", off, body, key("rec-2")); r.Status != 201 || r.JSON(t)["number"] == first["number"] {
		t.Fatalf("a new key: %d %s", r.Status, r.Body)
	}
}
