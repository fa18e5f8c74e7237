package api_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qujat/qujat/calendar"
	"github.com/qujat/qujat/cases"
	"github.com/qujat/qujat/integrations/exchange/agencysim"
	"github.com/qujat/qujat/wallet"
)

// agency registers a state body for the exchange whose endpoint does not
// answer (these tests stop at the centre's side; the cases package runs the
// whole exchange against the simulator).
func (s *testServer) agency() string {
	s.t.Helper()
	gov, _, err := s.Consents.CreateClient(s.t.Context(), "Migration service", "gov", []wallet.DocumentType{wallet.IDCard})
	if err != nil {
		s.t.Fatal(err)
	}
	sig, enc, err := agencysim.Keygen(filepath.Join(s.t.TempDir(), "agency"))
	if err != nil {
		s.t.Fatal(err)
	}
	sb, _ := os.ReadFile(sig)
	eb, _ := os.ReadFile(enc)
	ag := &cases.Agencies{Store: s.Store, Calendars: calendar.Embedded()}
	if _, _, err := ag.Register(s.t.Context(), cases.Registration{OrganisationID: gov.ID, Endpoint: "http://127.0.0.1:9/packages",
		SigningKey: sb, EncryptionKey: eb, TimeZone: "Asia/Almaty", Calendar: "kz"}); err != nil {
		s.t.Fatal(err)
	}
	return gov.ID
}

// attachFile posts a multipart document to a case.
func (s *testServer) attachFile(token, caseID, title string, file []byte) response {
	s.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if title != "" {
		w.WriteField("title", title)
	}
	if file != nil {
		fw, _ := w.CreateFormFile("file", "scan.pdf")
		fw.Write(file)
	}
	w.Close()
	req, _ := http.NewRequest("POST", s.URL+"/v1/centre/cases/"+caseID+"/documents", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func TestCases_OperatorOpensAttachesAndSendsTheCitizenFollows(t *testing.T) {
	ts := newTestServer(t)
	_, _, op := ts.operator(operatorIIN)
	agency := ts.agency()
	open := map[string]any{"iin": string(duplicateOwner), "service": "registration at the place of residence", "agency": agency,
		"application": map[string]string{"address": "Astana, Mangilik El 8, 12"}}

	for _, c := range []struct {
		name   string
		token  string
		body   map[string]any
		status int
	}{
		{"bad IIN", op, map[string]any{"iin": "123", "service": "s", "agency": agency}, http.StatusBadRequest},
		{"unknown agency", op, map[string]any{"iin": string(duplicateOwner), "service": "s", "agency": "gov-none"}, http.StatusBadRequest},
		{"no service", op, map[string]any{"iin": string(duplicateOwner), "agency": agency}, http.StatusBadRequest},
		{"unknown field", op, map[string]any{"iin": string(duplicateOwner), "service": "s", "agency": agency, "x": 1}, http.StatusBadRequest},
		{"no token", "", open, http.StatusUnauthorized},
	} {
		if r := ts.do("POST", "/v1/centre/cases", c.token, c.body); r.Status != c.status {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
	}
	citizen := ts.signIn(duplicateOwner)
	if r := ts.do("POST", "/v1/centre/cases", citizen.Access, open); r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
		t.Errorf("a citizen's token: %d", r.Status)
	}

	r := ts.do("POST", "/v1/centre/cases", op, open)
	if r.Status != http.StatusCreated || r.JSON(t)["status"] != "draft" {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)

	if r := ts.attachFile(op, id, "Lease agreement", scanPDF); r.Status != http.StatusCreated {
		t.Fatalf("attach: %d %s", r.Status, r.Body)
	}
	if r := ts.attachFile(op, id, "Program", scanELF); r.Status != http.StatusBadRequest {
		t.Errorf("an executable: %d %s", r.Status, r.Body)
	}
	if r := ts.attachFile(op, id, "", scanPDF); r.Status != http.StatusBadRequest {
		t.Errorf("no title: %d %s", r.Status, r.Body)
	}
	if r := ts.attachFile(op, id, "Huge", bytes.Repeat([]byte("%PDF-"), 3<<20)); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("over 10 MiB: %d", r.Status)
	}
	dup := ts.certified(op)["id"].(string)
	if r := ts.do("POST", "/v1/centre/cases/"+id+"/documents", op, map[string]string{"duplicate_id": dup}); r.Status != http.StatusCreated {
		t.Fatalf("attach duplicate: %d %s", r.Status, r.Body)
	}
	if r := ts.do("POST", "/v1/centre/cases/"+id+"/documents", op, map[string]string{"duplicate_id": "dup_none"}); r.Status != http.StatusNotFound {
		t.Errorf("unknown duplicate: %d %s", r.Status, r.Body)
	}
	if r := ts.doWith("POST", "/v1/centre/cases/"+id+"/documents", op, []byte("x"), map[string]string{"Content-Type": "text/plain"}); r.Status != http.StatusUnsupportedMediaType ||
		!strings.Contains(string(r.Body), "multipart/form-data") {
		t.Errorf("text/plain: %d %s", r.Status, r.Body)
	}

	// Another centre's operator does not see the case.
	_, _, other := ts.operator("880412310009")
	if r := ts.do("GET", "/v1/centre/cases/"+id, other, nil); r.Status != http.StatusNotFound {
		t.Errorf("another centre: %d", r.Status)
	}

	r = ts.do("GET", "/v1/centre/cases/"+id, op, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	got := r.JSON(t)
	docs := got["documents"].([]any)
	if len(docs) != 3 || docs[0].(map[string]any)["kind"] != "application" || docs[2].(map[string]any)["kind"] != "duplicate" {
		t.Fatalf("documents %v", docs)
	}
	if sig := docs[1].(map[string]any)["signature"].(string); jwsHeader(t, sig)["typ"] != "qujat-item+jws" {
		t.Errorf("item signature %v", jwsHeader(t, sig))
	}

	// The page for people, in the language asked, with the fields escaped.
	r = ts.do("GET", "/v1/centre/cases/"+id+"/view?lang=ru", op, nil)
	if page := string(r.Body); r.Status != http.StatusOK || !strings.Contains(page, "Заявление") || !strings.Contains(page, "Mangilik El 8") ||
		!strings.Contains(page, "Lease agreement") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("page: %d %s", r.Status, r.Body)
	}
	if r := ts.do("GET", "/v1/centre/cases/"+id+"/view?lang=xx", op, nil); r.Status != http.StatusBadRequest {
		t.Errorf("unknown language: %d", r.Status)
	}
	if r := ts.do("GET", "/v1/centre/cases/"+id+"/evidence", op, nil); r.Status != http.StatusOK || r.JSON(t)["valid"] != true {
		t.Errorf("evidence: %d %s", r.Status, r.Body)
	}
	if r := ts.do("GET", "/v1/centre/cases/"+id+"/evidence", other, nil); r.Status != http.StatusNotFound {
		t.Errorf("another centre's evidence: %d", r.Status)
	}
	if r := ts.do("POST", "/v1/centre/cases/"+id+"/issue", op, nil); r.Status != http.StatusConflict {
		t.Errorf("issue before a result: %d", r.Status)
	}
	r = ts.do("POST", "/v1/centre/cases/"+id+"/send", op, nil)
	if r.Status != http.StatusAccepted || r.JSON(t)["status"] != "queued" {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	if r := ts.do("POST", "/v1/centre/cases/"+id+"/send", op, nil); r.Status != http.StatusConflict {
		t.Errorf("sent twice: %d", r.Status)
	}
	if r := ts.attachFile(op, id, "Late", scanPDF); r.Status != http.StatusConflict {
		t.Errorf("attach after sending: %d", r.Status)
	}
	got = ts.do("GET", "/v1/centre/cases/"+id, op, nil).JSON(t)
	if got["day_of_sending"] == "" || got["sent_at"] == nil {
		t.Errorf("sent %v", got)
	}

	// The citizen follows it.
	r = ts.do("GET", "/v1/me/cases", citizen.Access, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("me/cases: %d %s", r.Status, r.Body)
	}
	mine := r.JSON(t)["cases"].([]any)
	if len(mine) != 1 {
		t.Fatalf("cases %v", mine)
	}
	c := mine[0].(map[string]any)
	if c["id"] != id || c["agency"].(map[string]any)["name"] != "Migration service" || len(c["events"].([]any)) != 1 {
		t.Fatalf("case %v", c)
	}
	if r := ts.do("GET", "/v1/me/cases/"+id+"/result", citizen.Access, nil); r.Status != http.StatusNotFound {
		t.Errorf("result before there is one: %d", r.Status)
	}
	if r := ts.do("GET", "/v1/me/cases", op, nil); r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
		t.Errorf("a staff token on a citizen's route: %d", r.Status)
	}
	// Another citizen has none.
	if other := ts.signIn(ts.adultOtherThan(duplicateOwner)); len(ts.do("GET", "/v1/me/cases", other.Access, nil).JSON(t)["cases"].([]any)) != 0 {
		t.Error("another citizen sees the case")
	}
	// The history has every step.
	h := string(ts.do("GET", "/v1/me/history", citizen.Access, nil).Body)
	for _, kind := range []string{"case_opened", "case_document_attached", "case_sent"} {
		if !strings.Contains(h, kind) {
			t.Errorf("history has no %s", kind)
		}
	}
}

func TestCases_ExchangeKeysArePublishedAndInboundWantsJOSE(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do("GET", "/.well-known/exchange-keys.json", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("%d", r.Status)
	}
	keys := r.JSON(t)["keys"].([]any)
	uses := map[string]bool{}
	for _, k := range keys {
		m := k.(map[string]any)
		uses[m["use"].(string)] = true
		if _, private := m["d"]; private || m["status"] != "active" || m["crv"] != "P-256" {
			t.Errorf("key %v", m)
		}
	}
	if !uses["sig"] || !uses["enc"] {
		t.Errorf("uses %v", uses)
	}
	if r := ts.doWith("POST", "/v1/exchange/inbound", "", []byte(`{"a":1}`), nil); r.Status != http.StatusUnsupportedMediaType ||
		!strings.Contains(string(r.Body), "application/jose") {
		t.Errorf("JSON to inbound: %d %s", r.Status, r.Body)
	}
	r = ts.doWith("POST", "/v1/exchange/inbound", "", []byte("a.b.c"), map[string]string{"Content-Type": "application/jose"})
	if r.Status != http.StatusUnprocessableEntity || r.Header.Get("Content-Type") != "application/jose" || jwsHeader(t, string(r.Body))["typ"] != "qujat-receipt+jws" {
		t.Errorf("garbage: %d %s", r.Status, r.Body)
	}
	if claims := jwsClaims(t, string(r.Body)); claims["status"] != "rejected" || claims["reason"] != "bad_request" {
		t.Errorf("rejection %v", claims)
	}
}

// adultOtherThan is a demo adult other than iin.
func (s *testServer) adultOtherThan(iin wallet.IIN) wallet.IIN {
	for _, c := range s.Demo.Citizens() {
		if c.IIN != iin && !wallet.IsMinor(c.BirthDate, s.Clock.Now()) {
			return c.IIN
		}
	}
	s.t.Fatal("no other adult")
	return ""
}
