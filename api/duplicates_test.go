package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/service"
	"github.com/qujat/qujat/wallet"
)

// A tiny PDF and an ELF executable (what a renamed program starts with).
var (
	scanPDF = []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n\x00\xff binary")
	scanELF = append([]byte("\x7fELF\x02\x01\x01\x00"), bytes.Repeat([]byte{0x90}, 200)...)
)

const duplicateOwner = wallet.IIN("880412310009") // Aidos Nurlanov

// upload posts a duplicate's multipart form; fields override the defaults
// (an empty value leaves the field out).
func (s *testServer) upload(token string, scan []byte, filename string, fields map[string]string) response {
	s.t.Helper()
	form := map[string]string{"iin": string(duplicateOwner), "type": "marriage_certificate", "number": "I-AB 123456",
		"issued_on": "2015-06-01", "issued_by": "Registry office of Astana"}
	for k, v := range fields {
		form[k] = v
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range form {
		if v != "" {
			w.WriteField(k, v)
		}
	}
	if scan != nil {
		fw, err := w.CreateFormFile("scan", filename)
		if err != nil {
			s.t.Fatal(err)
		}
		fw.Write(scan)
	}
	w.Close()
	req, _ := http.NewRequest("POST", s.URL+"/v1/centre/duplicates", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// certified makes and certifies a duplicate of duplicateOwner's with the
// operator's token and returns the confirm response.
func (s *testServer) certified(op string) map[string]any {
	s.t.Helper()
	r := s.upload(op, scanPDF, "marriage.pdf", nil)
	if r.Status != http.StatusCreated {
		s.t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	id := r.JSON(s.t)["id"].(string)
	code := s.lastCode(s.citizen(duplicateOwner).Phone)
	r = s.do("POST", "/v1/centre/duplicates/"+id+"/confirm", op, map[string]string{"code": code})
	if r.Status != http.StatusOK {
		s.t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	return r.JSON(s.t)
}

func TestDuplicates_OperatorUploadsOwnerConsentsByCodeAndItIsCertified(t *testing.T) {
	ts := newTestServer(t)
	centreID, m, op := ts.operator(operatorIIN)
	r := ts.upload(op, scanPDF, "marriage.pdf", nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	up := r.JSON(t)
	id := up["id"].(string)
	if !strings.HasPrefix(id, "dup_") || up["status"] != "awaiting_consent" || up["expires_at"] == nil {
		t.Fatalf("upload: %s", r.Body)
	}
	msgs := ts.Outbox.Messages(ts.citizen(duplicateOwner).Phone)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Centre No 1") {
		t.Fatalf("consent SMS: %+v", msgs)
	}
	code := ts.lastCode(ts.citizen(duplicateOwner).Phone)
	r = ts.do("POST", "/v1/centre/duplicates/"+id+"/confirm", op, map[string]string{"code": code})
	if r.Status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	cert := r.JSON(t)
	if cert["status"] != "certified" || cert["certified_at"] == nil || cert["jws"] == "" {
		t.Fatalf("confirm: %s", r.Body)
	}
	if got, want := cert["retain_until"], ts.Clock.Now().AddDate(3, 0, 0).UTC().Format("2006-01-02T15:04:05Z"); got != want {
		t.Fatalf("retain_until %v, want %v", got, want)
	}
	// The JWS is the operator's: its kid is their key, its claims name them,
	// their centre and the scan's SHA-256.
	claims := jwsClaims(t, cert["jws"].(string))
	sum := sha256.Sum256(scanPDF)
	dup := claims["dup"].(map[string]any)
	if dup["sha256"] != hex.EncodeToString(sum[:]) || dup["operator"].(map[string]any)["id"] != m.ID ||
		dup["centre"].(map[string]any)["id"] != centreID || dup["type"] != "marriage_certificate" || claims["sub"] != string(duplicateOwner) {
		t.Fatalf("claims: %v", claims)
	}
	if kid := jwsHeader(t, cert["jws"].(string))["kid"]; kid != m.KeyID {
		t.Fatalf("kid %v, want the operator's %s", kid, m.KeyID)
	}
	// Confirming twice is a conflict.
	if r := ts.do("POST", "/v1/centre/duplicates/"+id+"/confirm", op, map[string]string{"code": code}); r.Status != http.StatusConflict {
		t.Fatalf("second confirm: %d %s", r.Status, r.Body)
	}
	// The owner's history has both steps, by the operator.
	owner := ts.signIn(duplicateOwner)
	h := ts.do("GET", "/v1/me/history", owner.Access, nil)
	kinds := map[string]map[string]any{}
	for _, e := range h.JSON(t)["events"].([]any) {
		e := e.(map[string]any)
		kinds[e["kind"].(string)] = e
	}
	for _, k := range []string{"duplicate_requested", "duplicate_certified"} {
		e := kinds[k]
		if e == nil || e["object_id"] != id || e["log_index"] == nil {
			t.Fatalf("%s in the owner's history: %v", k, e)
		}
		if a := e["actor"].(map[string]any); a["kind"] != "staff" || a["id"] != m.ID || a["name"] != m.Name {
			t.Fatalf("%s actor: %v", k, a)
		}
	}
	// The centre lists it, metadata only.
	r = ts.do("GET", "/v1/centre/duplicates?iin="+string(duplicateOwner), op, nil)
	list := r.JSON(t)["duplicates"].([]any)
	if r.Status != http.StatusOK || len(list) != 1 || list[0].(map[string]any)["id"] != id || list[0].(map[string]any)["jws"] != nil {
		t.Fatalf("centre's list: %d %s", r.Status, r.Body)
	}
}

func TestDuplicates_BadUploadsGetTheDocumentedErrors(t *testing.T) {
	ts := newTestServer(t)
	_, _, op := ts.operator(operatorIIN)
	big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("0"), 11<<20)...)
	for _, tc := range []struct {
		name   string
		scan   []byte
		file   string
		fields map[string]string
		status int
	}{
		{"unknown type", scanPDF, "a.pdf", map[string]string{"type": "casino_chip"}, http.StatusBadRequest},
		{"no type", scanPDF, "a.pdf", map[string]string{"type": ""}, http.StatusBadRequest},
		{"bad date", scanPDF, "a.pdf", map[string]string{"issued_on": "01.06.2015"}, http.StatusBadRequest},
		{"future date", scanPDF, "a.pdf", map[string]string{"issued_on": "2099-01-01"}, http.StatusBadRequest},
		{"no number", scanPDF, "a.pdf", map[string]string{"number": ""}, http.StatusBadRequest},
		{"bad IIN", scanPDF, "a.pdf", map[string]string{"iin": "880412310008"}, http.StatusBadRequest},
		{"no scan", nil, "", nil, http.StatusBadRequest},
		{"an executable renamed .pdf", scanELF, "passport.pdf", nil, http.StatusUnsupportedMediaType},
		{"11 MiB", big, "big.pdf", nil, http.StatusRequestEntityTooLarge},
	} {
		r := ts.upload(op, tc.scan, tc.file, tc.fields)
		if r.Status != tc.status || r.ErrorCode(t) != "invalid_request" {
			t.Errorf("%s: %d %s, want %d invalid_request", tc.name, r.Status, r.Body, tc.status)
		}
	}
	if msgs := ts.Outbox.Messages(ts.citizen(duplicateOwner).Phone); len(msgs) != 0 {
		t.Fatalf("a refused upload sent %d SMS", len(msgs))
	}
	// JSON is not a form.
	if r := ts.do("POST", "/v1/centre/duplicates", op, map[string]string{"iin": string(duplicateOwner)}); r.Status != http.StatusUnsupportedMediaType {
		t.Fatalf("JSON upload: %d %s", r.Status, r.Body)
	}
	// The 64 KiB limit stays everywhere else.
	if r := ts.do("POST", "/v1/auth/otp", "", append([]byte(`{"iin":"`), append(bytes.Repeat([]byte("1"), 70<<10), '"', '}')...)); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 70 KiB sign-in body: %d", r.Status)
	}
}

func TestDuplicates_AWrongCodeThreeTimesKillsTheConsent(t *testing.T) {
	ts := newTestServer(t)
	_, _, op := ts.operator(operatorIIN)
	r := ts.upload(op, scanPDF, "a.pdf", nil)
	id := r.JSON(t)["id"].(string)
	right := ts.lastCode(ts.citizen(duplicateOwner).Phone)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	for i := 0; i < 2; i++ {
		if r := ts.do("POST", "/v1/centre/duplicates/"+id+"/confirm", op, map[string]string{"code": wrong}); r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "invalid_code" {
			t.Fatalf("wrong code %d: %d %s", i, r.Status, r.Body)
		}
	}
	ts.do("POST", "/v1/centre/duplicates/"+id+"/confirm", op, map[string]string{"code": wrong})
	if r := ts.do("POST", "/v1/centre/duplicates/"+id+"/confirm", op, map[string]string{"code": right}); r.Status != http.StatusGone || r.ErrorCode(t) != "expired" {
		t.Fatalf("the right code after three wrong ones: %d %s", r.Status, r.Body)
	}
	if r := ts.do("POST", "/v1/centre/duplicates/"+id+"/confirm", op, map[string]string{"code": "12"}); r.Status != http.StatusBadRequest {
		t.Fatalf("a short code: %d %s", r.Status, r.Body)
	}
}

func TestDuplicates_OnlyOperatorsOfACentreMakeThem(t *testing.T) {
	ts := newTestServer(t)
	gov, _, _ := ts.Consents.CreateClient(t.Context(), "Ministry", "gov", []wallet.DocumentType{wallet.IDCard})
	if _, err := ts.Staff.Create(t.Context(), gov.ID, officialIIN, "Serik Official", wallet.RoleOfficial); err != nil {
		t.Fatal(err)
	}
	official := ts.staffSignIn(officialIIN)
	if r := ts.upload(official, scanPDF, "a.pdf", nil); r.Status != http.StatusForbidden {
		t.Fatalf("an official uploading: %d %s", r.Status, r.Body)
	}
	citizen := ts.signIn(duplicateOwner)
	_, bank := ts.bank("Bank", wallet.IDCard)
	for name, tok := range map[string]string{"citizen": citizen.Access, "bank": bank, "none": ""} {
		if r := ts.upload(tok, scanPDF, "a.pdf", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("%s uploading: %d %s", name, r.Status, r.Body)
		}
	}
	// Another centre's operator does not see or confirm this centre's duplicate.
	_, _, op := ts.operator(operatorIIN)
	id := ts.upload(op, scanPDF, "a.pdf", nil).JSON(t)["id"].(string)
	other, _, _ := ts.Consents.CreateClient(t.Context(), "Centre No 2", "service_centre", nil)
	if _, err := ts.Staff.Create(t.Context(), other.ID, "620505423555", "Kulyash Operator", wallet.RoleOperator); err != nil {
		t.Fatal(err)
	}
	op2 := ts.staffSignIn("620505423555")
	if r := ts.do("POST", "/v1/centre/duplicates/"+id+"/confirm", op2, map[string]string{"code": "123456"}); r.Status != http.StatusNotFound {
		t.Fatalf("another centre confirming: %d %s", r.Status, r.Body)
	}
	if r := ts.do("GET", "/v1/centre/duplicates", op2, nil); len(r.JSON(t)["duplicates"].([]any)) != 0 {
		t.Fatalf("another centre's list: %s", r.Body)
	}
}

func TestDuplicates_TypesAreTheListInThreeLanguages(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do("GET", "/v1/duplicates/types", "", nil)
	types := r.JSON(t)["types"].([]any)
	if r.Status != http.StatusOK || len(types) < 18 {
		t.Fatalf("types: %d %s", r.Status, r.Body)
	}
	for _, ty := range types {
		title := ty.(map[string]any)["title"].(map[string]any)
		if title["kk"] == "" || title["ru"] == "" || title["en"] == "" {
			t.Errorf("untitled: %v", ty)
		}
	}
}

func jwsPart(t *testing.T, jws string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", jws)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jwsHeader(t *testing.T, jws string) map[string]any { return jwsPart(t, jws, 0) }
func jwsClaims(t *testing.T, jws string) map[string]any { return jwsPart(t, jws, 1) }

func TestDuplicates_TheOwnerListsAndDownloadsTheExactBytes(t *testing.T) {
	ts := newTestServer(t)
	_, m, op := ts.operator(operatorIIN)
	cert := ts.certified(op)
	id := cert["id"].(string)
	owner := ts.signIn(duplicateOwner)

	r := ts.do("GET", "/v1/duplicates", owner.Access, nil)
	list := r.JSON(t)["duplicates"].([]any)
	if r.Status != http.StatusOK || len(list) != 1 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	d := list[0].(map[string]any)
	sum := sha256.Sum256(scanPDF)
	if d["id"] != id || d["status"] != "certified" || d["sha256"] != hex.EncodeToString(sum[:]) ||
		d["operator"].(map[string]any)["name"] != m.Name || d["centre"].(map[string]any)["name"] != "Centre No 1" || d["jws"] != nil {
		t.Fatalf("listed: %v", d)
	}
	r = ts.do("GET", "/v1/duplicates/"+id, owner.Access, nil)
	if r.Status != http.StatusOK || r.JSON(t)["jws"] != cert["jws"] {
		t.Fatalf("one: %d %s", r.Status, r.Body)
	}
	r = ts.do("GET", "/v1/duplicates/"+id+"/scan", owner.Access, nil)
	if r.Status != http.StatusOK || !bytes.Equal(r.Body, scanPDF) || r.Header.Get("Content-Type") != "application/pdf" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("scan: %d %q %q %d bytes", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"), len(r.Body))
	}
	// Another citizen: 404 by every owner's path; nobody shares a duplicate.
	other := ts.signIn("900903412710")
	for _, p := range []string{"/v1/duplicates/" + id, "/v1/duplicates/" + id + "/scan"} {
		if r := ts.do("GET", p, other.Access, nil); r.Status != http.StatusNotFound {
			t.Errorf("another citizen on %s: %d %s", p, r.Status, r.Body)
		}
	}
	if r := ts.do("GET", "/v1/duplicates", other.Access, nil); len(r.JSON(t)["duplicates"].([]any)) != 0 {
		t.Fatalf("another citizen's list: %s", r.Body)
	}
	for name, tok := range map[string]string{"owner": owner.Access, "other": other.Access} {
		if r := ts.do("POST", "/v1/duplicates/"+id+"/shares", tok, map[string]any{}); r.Status != http.StatusForbidden || r.ErrorCode(t) != "forbidden" {
			t.Errorf("%s sharing a duplicate: %d %s", name, r.Status, r.Body)
		}
	}
	// The operator's token is no citizen's.
	if r := ts.do("GET", "/v1/duplicates/"+id+"/scan", op, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("operator on the owner's path: %d", r.Status)
	}
}

func TestDuplicates_AStateBodyGetsThemWithABasisAndBothHistoriesShowIt(t *testing.T) {
	ts := newTestServer(t)
	_, _, op := ts.operator(operatorIIN)
	id := ts.certified(op)["id"].(string)
	govID, gov := ts.organisation("Ministry of Labour", "gov", wallet.IDCard)
	basis := "Application for a child benefit no. 2026-00042"
	q := "basis=" + url.QueryEscape(basis)

	r := ts.do("GET", "/v1/gov/duplicates?iin="+string(duplicateOwner)+"&"+q, gov, nil)
	if r.Status != http.StatusOK || len(r.JSON(t)["duplicates"].([]any)) != 1 {
		t.Fatalf("gov list: %d %s", r.Status, r.Body)
	}
	r = ts.do("GET", "/v1/gov/duplicates/"+id+"/scan?"+q, gov, nil)
	if r.Status != http.StatusOK || !bytes.Equal(r.Body, scanPDF) || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("gov scan: %d %d bytes", r.Status, len(r.Body))
	}
	// The owner's history: a view naming the body, and the release naming body and basis.
	owner := ts.signIn(duplicateOwner)
	views := ts.do("GET", "/v1/views", owner.Access, nil).JSON(t)["views"].([]any)
	found := false
	for _, v := range views {
		v := v.(map[string]any)
		if v["document_id"] == id {
			found = true
			if v["channel"] != "duplicate" || !strings.Contains(string(mustJSON(t, v)), govID) {
				t.Fatalf("owner's view: %v", v)
			}
		}
	}
	if !found {
		t.Fatalf("no view of the duplicate in the owner's history: %v", views)
	}
	var released map[string]any
	for _, e := range ts.do("GET", "/v1/me/history", owner.Access, nil).JSON(t)["events"].([]any) {
		if e := e.(map[string]any); e["kind"] == "duplicate_released" {
			released = e
		}
	}
	if released == nil || released["details"].(map[string]any)["basis"] != basis || released["details"].(map[string]any)["body"] != "Ministry of Labour" ||
		released["actor"].(map[string]any)["id"] != govID {
		t.Fatalf("duplicate_released: %v", released)
	}
	// The body's own history has the view.
	bodyViews := ts.do("GET", "/v1/views", gov, nil).JSON(t)["views"].([]any)
	if len(bodyViews) != 1 || bodyViews[0].(map[string]any)["document_id"] != id {
		t.Fatalf("the body's views: %v", bodyViews)
	}

	// No basis, or a bad one: 400, and nothing released.
	for _, bq := range []string{"", "basis=", "basis=ab", "basis=" + strings.Repeat("x", 501)} {
		if r := ts.do("GET", "/v1/gov/duplicates/"+id+"/scan?"+bq, gov, nil); r.Status != http.StatusBadRequest || r.ErrorCode(t) != "invalid_request" {
			t.Errorf("basis %q: %d %s", bq, r.Status, r.Body)
		}
		if r := ts.do("GET", "/v1/gov/duplicates?iin="+string(duplicateOwner)+"&"+bq, gov, nil); r.Status != http.StatusBadRequest {
			t.Errorf("list with basis %q: %d", bq, r.Status)
		}
	}
	if n := len(ts.do("GET", "/v1/views", gov, nil).JSON(t)["views"].([]any)); n != 1 {
		t.Fatalf("refused requests recorded views: %d", n)
	}
}

func TestDuplicates_BanksInsurersAndOthersAreRefused(t *testing.T) {
	ts := newTestServer(t)
	_, _, op := ts.operator(operatorIIN)
	id := ts.certified(op)["id"].(string)
	_, bank := ts.bank("Bank", wallet.IDCard)
	_, insurer := ts.organisation("Insurer", "insurer", wallet.IDCard)
	_, centre := ts.organisation("Centre client", "service_centre")
	q := "basis=" + url.QueryEscape("Loan application")
	for name, tok := range map[string]string{"bank": bank, "insurer": insurer, "service centre's client": centre} {
		for _, p := range []string{"/v1/gov/duplicates?iin=" + string(duplicateOwner) + "&" + q, "/v1/gov/duplicates/" + id + "/scan?" + q} {
			if r := ts.do("GET", p, tok, nil); r.Status != http.StatusForbidden || r.ErrorCode(t) != "forbidden" {
				t.Errorf("%s on %s: %d %s", name, p, r.Status, r.Body)
			}
		}
		if r := ts.do("POST", "/v1/duplicates/"+id+"/shares", tok, map[string]any{}); r.Status != http.StatusForbidden {
			t.Errorf("%s sharing: %d", name, r.Status)
		}
		if r := ts.do("GET", "/v1/duplicates/"+id+"/scan", tok, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("%s on the owner's path: %d", name, r.Status)
		}
	}
	// A citizen's token or a staff token on the state bodies' endpoints.
	citizen := ts.signIn(duplicateOwner)
	for name, tok := range map[string]string{"citizen": citizen.Access, "operator": op} {
		if r := ts.do("GET", "/v1/gov/duplicates/"+id+"/scan?"+q, tok, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("%s on the gov path: %d", name, r.Status)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDuplicates_VerifyNamesTheOperatorAndCatchesTampering(t *testing.T) {
	ts := newTestServer(t)
	_, m, op := ts.operator(operatorIIN)
	cert := ts.certified(op)
	jws := cert["jws"].(string)
	r := ts.do("POST", "/v1/verify", "", map[string]string{"jws": jws})
	v := r.JSON(t)
	signer, _ := v["signer"].(map[string]any)
	sum := sha256.Sum256(scanPDF)
	if r.Status != http.StatusOK || v["valid"] != true || v["kind"] != "duplicate" || v["document_id"] != cert["id"] || v["status"] != "certified" ||
		signer["kind"] != "staff" || signer["id"] != m.ID || signer["name"] != m.Name || signer["organisation"] != "Centre No 1" ||
		v["sha256"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	// A tampered scan no longer matches the signed digest.
	tampered := append([]byte(nil), scanPDF...)
	tampered[10] ^= 1
	if ts2 := sha256.Sum256(tampered); hex.EncodeToString(ts2[:]) == v["sha256"] {
		t.Fatal("a tampered scan has the signed digest")
	}
	// A JWS whose claims were changed does not verify.
	parts := strings.Split(jws, ".")
	claims := jwsClaims(t, jws)
	claims["dup"].(map[string]any)["sha256"] = strings.Repeat("0", 64)
	parts[1] = base64.RawURLEncoding.EncodeToString(mustJSON(t, claims))
	r = ts.do("POST", "/v1/verify", "", map[string]string{"jws": strings.Join(parts, ".")})
	if v := r.JSON(t); v["valid"] != false || v["reason"] != "bad_signature" {
		t.Fatalf("changed claims: %s", r.Body)
	}
	// A disabled operator's key is retired: what they certified still verifies.
	if err := ts.Staff.Disable(t.Context(), m.ID); err != nil {
		t.Fatal(err)
	}
	if v := ts.do("POST", "/v1/verify", "", map[string]string{"jws": jws}).JSON(t); v["valid"] != true {
		t.Fatalf("after the operator was disabled: %v", v)
	}
}

func TestDuplicates_PurgedAfterRetentionTheScanIsGoneAndAnswers410(t *testing.T) {
	var svc *service.Service
	ts := newTestServerWith(t, func(p *service.Parts) { p.DuplicateRetention = time.Hour }, func(s *service.Service) { svc = s })
	_, _, op := ts.operator(operatorIIN)
	cert := ts.certified(op)
	id := cert["id"].(string)
	if got, want := cert["retain_until"], ts.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339); got != want {
		t.Fatalf("retain_until %v, want %v (QUJAT_DUPLICATE_RETENTION)", got, want)
	}
	if n, err := svc.Duplicates.PurgeDue(t.Context()); err != nil || n != 0 {
		t.Fatalf("purge before the end of retention: %d %v", n, err)
	}
	ts.Clock.Advance(time.Hour)
	if n, err := svc.Duplicates.PurgeDue(t.Context()); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if _, err := ts.Store.Blob(t.Context(), id); wallet.ErrorCode(err) != wallet.ENOTFOUND {
		t.Fatalf("the scan's bytes are still stored: %v", err)
	}
	owner := ts.signIn(duplicateOwner)
	if r := ts.do("GET", "/v1/duplicates/"+id+"/scan", owner.Access, nil); r.Status != http.StatusGone || r.ErrorCode(t) != "expired" {
		t.Fatalf("owner's scan after the purge: %d %s", r.Status, r.Body)
	}
	_, gov := ts.organisation("Ministry", "gov", wallet.IDCard)
	if r := ts.do("GET", "/v1/gov/duplicates/"+id+"/scan?basis=benefit+application", gov, nil); r.Status != http.StatusGone {
		t.Fatalf("gov scan after the purge: %d %s", r.Status, r.Body)
	}
	// The tombstone stays: id, type, holder, SHA-256, dates.
	d := ts.do("GET", "/v1/duplicates/"+id, owner.Access, nil).JSON(t)
	if d["status"] != "purged" || d["sha256"] == "" || d["type"] != "marriage_certificate" || d["purged_at"] == nil || d["certified_at"] == nil {
		t.Fatalf("tombstone: %v", d)
	}
	if v := ts.do("POST", "/v1/verify", "", map[string]string{"jws": cert["jws"].(string)}).JSON(t); v["valid"] != false || v["reason"] != "purged" || v["status"] != "purged" {
		t.Fatalf("verify after the purge: %v", v)
	}
	var purged map[string]any
	for _, e := range ts.do("GET", "/v1/me/history", owner.Access, nil).JSON(t)["events"].([]any) {
		if e := e.(map[string]any); e["kind"] == "duplicate_purged" {
			purged = e
		}
	}
	if purged == nil || purged["object_id"] != id || purged["log_index"] == nil || purged["at"] != ts.Clock.Now().UTC().Format(time.RFC3339) {
		t.Fatalf("duplicate_purged in the owner's history: %v", purged)
	}
	if n, err := svc.Duplicates.PurgeDue(t.Context()); err != nil || n != 0 {
		t.Fatalf("a second purge: %d %v", n, err)
	}
}

func TestDuplicates_ABankAskingConsentForADuplicateIsRefused(t *testing.T) {
	ts := newTestServer(t)
	_, bank := ts.bank("Bank", wallet.IDCard)
	for _, types := range [][]string{{"marriage_certificate"}, {"duplicate"}} {
		r := ts.do("POST", "/v1/consents", bank, map[string]any{"iin": string(duplicateOwner), "document_types": types, "purpose": "Mortgage application", "method": "otp"})
		if r.Status != http.StatusForbidden || r.ErrorCode(t) != "forbidden" {
			t.Errorf("consent for %v: %d %s", types, r.Status, r.Body)
		}
	}
}
