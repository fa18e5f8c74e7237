package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/wallet"
)

// bank registers an organisation client and gets its access token through
// the client-credentials grant.
func (s *testServer) bank(name string, types ...wallet.DocumentType) (clientID, token string) {
	s.t.Helper()
	return s.organisation(name, "bank", types...)
}

// organisation registers a client of the kind and returns its id and an
// access token.
func (s *testServer) organisation(name, kind string, types ...wallet.DocumentType) (clientID, token string) {
	s.t.Helper()
	cl, secret, err := s.Consents.CreateClient(s.t.Context(), name, kind, types)
	if err != nil {
		s.t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID}, "client_secret": {secret}}
	res, err := http.Post(s.URL+"/v1/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string
	}
	json.NewDecoder(res.Body).Decode(&tok)
	if res.StatusCode != 200 || tok.AccessToken == "" {
		s.t.Fatalf("oauth token: %d", res.StatusCode)
	}
	return cl.ID, tok.AccessToken
}

func (s *testServer) askConsent(bankToken string, iin wallet.IIN, method string, types ...string) string {
	s.t.Helper()
	r := s.do("POST", "/v1/consents", bankToken, map[string]any{
		"iin": string(iin), "document_types": types, "purpose": "Opening a current account", "method": method,
	})
	if r.Status != http.StatusCreated {
		s.t.Fatalf("consent request: %d %s", r.Status, r.Body)
	}
	m := r.JSON(s.t)
	if m["status"] != "pending" || m["expires_at"] == nil {
		s.t.Fatalf("consent: %s", r.Body)
	}
	return m["id"].(string)
}

var inboundSeq atomic.Int64

func (s *testServer) inbound(from, text string, secret []byte) response {
	s.t.Helper()
	return s.inboundMessage(map[string]any{"message_id": fmt.Sprintf("gw-%d", inboundSeq.Add(1)), "from": from, "text": text, "received_at": s.Clock.Now()}, secret)
}

// replyRefRE reads the reply number of an sms_reply SMS in any language
// (Kazakh unless the citizen chose another).
var replyRefRE = regexp.MustCompile(`(?:YES|ИӘ|ДА) ([0-9]{4})\b`)

// lastRef reads the reply number of the newest SMS to phone.
func (s *testServer) lastRef(phone string) string {
	s.t.Helper()
	msgs := s.Outbox.Messages(phone)
	if len(msgs) == 0 {
		s.t.Fatalf("no SMS to %s", phone)
	}
	m := replyRefRE.FindStringSubmatch(msgs[0].Text)
	if m == nil {
		s.t.Fatalf("no reply number in %q", msgs[0].Text)
	}
	return m[1]
}

// inboundMessage posts one gateway message, signed with secret if set.
func (s *testServer) inboundMessage(msg map[string]any, secret []byte) response {
	s.t.Helper()
	body, _ := json.Marshal(msg)
	req, _ := http.NewRequest("POST", s.URL+"/v1/sms/inbound", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != nil {
		req.Header.Set(sms.SignatureHeader, sms.SignInbound(secret, body))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b.Bytes()}
}

// releaseAndCheck has the bank fetch the documents and checks both histories.
func releaseAndCheck(t *testing.T, s *testServer, bankID, bankToken, consentID string, citizen string) {
	t.Helper()
	r := s.do("GET", "/v1/consents/"+consentID+"/documents", bankToken, nil)
	if r.Status != 200 {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	var out struct{ Documents []wallet.Document }
	json.Unmarshal(r.Body, &out)
	if len(out.Documents) != 1 || out.Documents[0].Type != wallet.VehicleRegistration || out.Documents[0].JWS == "" {
		t.Fatalf("released: %s", r.Body)
	}
	if v := s.do("POST", "/v1/verify", "", map[string]string{"jws": out.Documents[0].JWS}).JSON(t); v["valid"] != true {
		t.Fatalf("released document does not verify: %v", v)
	}
	bv := s.views(bankToken, "viewer")
	if len(bv) == 0 || bv[0]["channel"] != "consent" {
		t.Fatalf("bank's history: %v", bv)
	}
	ov := s.views(citizen, "owner")
	if len(ov) == 0 || ov[0]["channel"] != "consent" || ov[0]["viewer"].(map[string]any)["id"] != bankID || ov[0]["viewer"].(map[string]any)["name"] == "" {
		t.Fatalf("citizen's history: %v", ov)
	}
}

func revokeAndCheck(t *testing.T, s *testServer, bankToken, consentID, citizen string) {
	t.Helper()
	if r := s.do("DELETE", "/v1/me/consents/"+consentID, citizen, nil); r.Status != 200 || r.JSON(t)["status"] != "revoked" {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/consents/"+consentID+"/documents", bankToken, nil); r.Status != http.StatusGone {
		t.Fatalf("release after revoke: %d %s", r.Status, r.Body)
	}
}

func TestConsent_OTPAsANewUserWould(t *testing.T) {
	s := newTestServer(t)
	bankID, bank := s.bank("Halyk Test Bank", wallet.VehicleRegistration, wallet.DrivingLicence)
	citizen := s.signIn(demoAllTypes).Access
	id := s.askConsent(bank, demoAllTypes, "otp", "vehicle_registration")
	msg := s.Outbox.Messages(s.citizen(demoAllTypes).Phone)[0].Text
	if !strings.Contains(msg, "Halyk Test Bank") || !strings.Contains(msg, "Opening a current account") {
		t.Fatalf("the SMS does not name the bank and purpose: %q", msg)
	}
	code := s.lastCode(s.citizen(demoAllTypes).Phone)
	if r := s.do("GET", "/v1/consents/"+id+"/documents", bank, nil); r.Status == 200 {
		t.Fatal("documents released before consent")
	}
	r := s.do("POST", "/v1/consents/"+id+"/otp", bank, map[string]string{"code": code})
	if r.Status != 200 || r.JSON(t)["status"] != "granted" {
		t.Fatalf("otp: %d %s", r.Status, r.Body)
	}
	releaseAndCheck(t, s, bankID, bank, id, citizen)
	revokeAndCheck(t, s, bank, id, citizen)
}

func TestConsent_SMSReplyAsANewUserWould(t *testing.T) {
	s := newTestServer(t)
	bankID, bank := s.bank("Kaspi Test", wallet.VehicleRegistration)
	citizen := s.signIn(demoAllTypes).Access
	phone := s.citizen(demoAllTypes).Phone
	id := s.askConsent(bank, demoAllTypes, "sms_reply", "vehicle_registration")
	// The citizen chose no language: the SMS is in Kazakh.
	if msg := s.Outbox.Messages(phone)[0].Text; !strings.Contains(msg, "ИӘ ") || !strings.Contains(msg, "құжаттарыңызды сұрайды") {
		t.Fatalf("SMS does not ask for ИӘ in Kazakh: %q", msg)
	}
	ref := s.lastRef(phone)
	// Unsigned, wrongly signed, and from another phone: refused.
	if r := s.inbound(phone, "YES "+ref, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d %s", r.Status, r.Body)
	}
	if r := s.inbound(phone, "YES "+ref, []byte("not the gateway secret")); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrongly signed: %d %s", r.Status, r.Body)
	}
	if r := s.inbound(s.citizen(demoRevoked).Phone, "YES "+ref, []byte("gateway secret")); r.Status != http.StatusNotFound {
		t.Fatalf("another phone: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/consents/"+id, bank, nil); r.JSON(t)["status"] != "pending" {
		t.Fatalf("a refused reply changed the consent: %s", r.Body)
	}
	if r := s.inbound(phone, " yes "+ref, []byte("gateway secret")); r.Status != 200 {
		t.Fatalf("signed YES: %d %s", r.Status, r.Body)
	}
	releaseAndCheck(t, s, bankID, bank, id, citizen)
	revokeAndCheck(t, s, bank, id, citizen)

	// NO denies.
	id2 := s.askConsent(bank, demoAllTypes, "sms_reply", "vehicle_registration")
	if r := s.inbound(phone, "NO "+s.lastRef(phone), []byte("gateway secret")); r.Status != 200 {
		t.Fatalf("NO: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/consents/"+id2, bank, nil); r.JSON(t)["status"] != "denied" {
		t.Fatalf("after NO: %s", r.Body)
	}
}

// TestConsent_SMSReplyAnswersOneRequestOnce: a YES carrying bank A's number
// grants A and not bank B's later, wider request; one signed gateway message
// delivered twice answers once; a signed message replayed after the window
// is refused; a bare YES answers nothing.
func TestConsent_SMSReplyAnswersOneRequestOnce(t *testing.T) {
	s := newTestServer(t)
	_, bankA := s.bank("Bank A", wallet.VehicleRegistration)
	_, bankB := s.bank("Bank B", wallet.VehicleRegistration, wallet.DrivingLicence)
	phone := s.citizen(demoAllTypes).Phone
	secret := []byte("gateway secret")
	a := s.askConsent(bankA, demoAllTypes, "sms_reply", "vehicle_registration")
	refA := s.lastRef(phone)
	b := s.askConsent(bankB, demoAllTypes, "sms_reply", "vehicle_registration", "driving_licence")
	refB := s.lastRef(phone)
	if refA == refB {
		t.Fatalf("two open requests share the number %s", refA)
	}
	if r := s.inbound(phone, "YES", secret); r.Status != http.StatusBadRequest {
		t.Fatalf("bare YES: %d %s", r.Status, r.Body)
	}
	msg := map[string]any{"message_id": "gw-once", "from": phone, "text": "YES " + refA, "received_at": s.Clock.Now()}
	r := s.inboundMessage(msg, secret)
	if r.Status != 200 || r.JSON(t)["consent_id"] != a {
		t.Fatalf("YES %s: %d %s (a %s, b %s)", refA, r.Status, r.Body, a, b)
	}
	if r := s.inboundMessage(msg, secret); r.Status != http.StatusConflict {
		t.Fatalf("the same message again: %d %s", r.Status, r.Body)
	}
	old := map[string]any{"message_id": "gw-old", "from": phone, "text": "YES " + refB, "received_at": s.Clock.Now().Add(-11 * time.Minute)}
	if r := s.inboundMessage(old, secret); r.Status == 200 {
		t.Fatalf("an old message was accepted: %s", r.Body)
	}
	noID := map[string]any{"from": phone, "text": "YES " + refB, "received_at": s.Clock.Now()}
	if r := s.inboundMessage(noID, secret); r.Status != http.StatusBadRequest {
		t.Fatalf("without message_id: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/consents/"+a, bankA, nil); r.JSON(t)["status"] != "granted" {
		t.Fatalf("a: %s", r.Body)
	}
	if r := s.do("GET", "/v1/consents/"+b, bankB, nil); r.JSON(t)["status"] != "pending" {
		t.Fatalf("b after replies to a and replays: %s", r.Body)
	}
}

func TestConsent_AppAsANewUserWould(t *testing.T) {
	s := newTestServer(t)
	bankID, bank := s.bank("Insurer Test", wallet.VehicleRegistration)
	citizen := s.signIn(demoAllTypes).Access
	id := s.askConsent(bank, demoAllTypes, "app", "vehicle_registration")
	r := s.do("GET", "/v1/me/consents", citizen, nil)
	var list struct{ Consents []map[string]any }
	json.Unmarshal(r.Body, &list)
	if len(list.Consents) != 1 || list.Consents[0]["id"] != id || list.Consents[0]["client_name"] != "Insurer Test" {
		t.Fatalf("my consents: %s", r.Body)
	}
	// Another citizen cannot approve it.
	other := s.signIn(demoRevoked).Access
	if r := s.do("POST", "/v1/me/consents/"+id+"/approve", other, nil); r.Status != http.StatusNotFound {
		t.Fatalf("someone else's approve: %d", r.Status)
	}
	if r := s.do("POST", "/v1/me/consents/"+id+"/approve", citizen, nil); r.Status != 200 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1/me/consents/"+id+"/deny", citizen, nil); r.Status != http.StatusConflict {
		t.Fatalf("deny after approve: %d %s", r.Status, r.Body)
	}
	releaseAndCheck(t, s, bankID, bank, id, citizen)
	revokeAndCheck(t, s, bank, id, citizen)
}

func TestConsent_RefusedCases(t *testing.T) {
	s := newTestServer(t)
	_, bank := s.bank("Bank One", wallet.VehicleRegistration)
	_, bank2 := s.bank("Bank Two", wallet.VehicleRegistration)
	citizen := s.signIn(demoAllTypes).Access
	phone := s.citizen(demoAllTypes).Phone

	// A document type the client was not admitted for.
	r := s.do("POST", "/v1/consents", bank, map[string]any{"iin": string(demoAllTypes), "document_types": []string{"driving_licence"}, "purpose": "KYC", "method": "app"})
	if r.Status != http.StatusForbidden || r.ErrorCode(t) != "forbidden" {
		t.Fatalf("type not admitted: %d %s", r.Status, r.Body)
	}
	for name, body := range map[string]any{
		"bad method":     map[string]any{"iin": string(demoAllTypes), "document_types": []string{"vehicle_registration"}, "purpose": "KYC", "method": "carrier pigeon"},
		"bad iin":        map[string]any{"iin": "880412310008", "document_types": []string{"vehicle_registration"}, "purpose": "KYC", "method": "app"},
		"no types":       map[string]any{"iin": string(demoAllTypes), "document_types": []string{}, "purpose": "KYC", "method": "app"},
		"too long valid": map[string]any{"iin": string(demoAllTypes), "document_types": []string{"vehicle_registration"}, "purpose": "KYC", "method": "app", "valid_for_seconds": 91 * 24 * 3600},
		"phone supplied": map[string]any{"iin": string(demoAllTypes), "document_types": []string{"vehicle_registration"}, "purpose": "KYC", "method": "otp", "phone": "+77770000000"},
	} {
		if r := s.do("POST", "/v1/consents", bank, body); r.Status != http.StatusBadRequest {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	// A wrong OTP three times, then the code is dead.
	id := s.askConsent(bank, demoAllTypes, "otp", "vehicle_registration")
	code := s.lastCode(phone)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i, want := range []int{401, 401, 401, 410} {
		if r := s.do("POST", "/v1/consents/"+id+"/otp", bank, map[string]string{"code": wrong}); r.Status != want {
			t.Fatalf("wrong otp %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	if r := s.do("POST", "/v1/consents/"+id+"/otp", bank, map[string]string{"code": code}); r.Status != http.StatusGone {
		t.Fatalf("right code after three wrong: %d %s", r.Status, r.Body)
	}
	// One organisation reading another's consent: 404, everywhere.
	for _, p := range []string{"/v1/consents/" + id, "/v1/consents/" + id + "/documents"} {
		if r := s.do("GET", p, bank2, nil); r.Status != http.StatusNotFound {
			t.Fatalf("other bank %s: %d", p, r.Status)
		}
	}
	if r := s.do("POST", "/v1/consents/"+id+"/otp", bank2, map[string]string{"code": code}); r.Status != http.StatusNotFound {
		t.Fatalf("other bank otp: %d", r.Status)
	}
	// A citizen token on organisation endpoints, and the other way round.
	if r := s.do("POST", "/v1/consents", citizen, map[string]any{"iin": string(demoAllTypes), "document_types": []string{"vehicle_registration"}, "purpose": "KYC", "method": "app"}); r.Status != http.StatusUnauthorized {
		t.Fatalf("citizen token on organisation endpoint: %d", r.Status)
	}
	if r := s.do("GET", "/v1/consents/"+id, citizen, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("citizen token reading a consent: %d", r.Status)
	}
	for _, p := range []string{"/v1/documents", "/v1/me/consents", "/v1/me"} {
		if r := s.do("GET", p, bank, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("organisation token on %s: %d", p, r.Status)
		}
	}
	// An expired consent releases nothing.
	r = s.do("POST", "/v1/consents", bank, map[string]any{"iin": string(demoAllTypes), "document_types": []string{"vehicle_registration"}, "purpose": "KYC", "method": "app", "valid_for_seconds": 600})
	id3 := r.JSON(t)["id"].(string)
	s.do("POST", "/v1/me/consents/"+id3+"/approve", citizen, nil)
	if r := s.do("GET", "/v1/consents/"+id3+"/documents", bank, nil); r.Status != 200 {
		t.Fatalf("live consent: %d %s", r.Status, r.Body)
	}
	s.Clock.Advance(10*time.Minute + time.Second)
	r = s.do("GET", "/v1/consents/"+id3+"/documents", bank, nil)
	if r.Status != http.StatusGone || r.ErrorCode(t) != "expired" {
		t.Fatalf("expired consent: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/consents/"+id3, bank, nil); r.JSON(t)["status"] != "expired" {
		t.Fatalf("expired consent status: %s", r.Body)
	}
	// Wrong client secret.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"cli_nosuchclient"}, "client_secret": {"x"}}
	res, _ := http.Post(s.URL+"/v1/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong client: %d", res.StatusCode)
	}
}

// A disabled organisation's token is refused on every call at once, its
// history and its log leaves included, not only where the consent service
// looks the client up.
func TestConsent_DisabledOrganisationRefusedOnEveryCall(t *testing.T) {
	s := newTestServer(t)
	bankID, bank := s.bank("Disabled Bank", wallet.VehicleRegistration)
	citizen := s.signIn(demoAllTypes).Access
	id := s.askConsent(bank, demoAllTypes, "app", "vehicle_registration")
	if r := s.do("POST", "/v1/me/consents/"+id+"/approve", citizen, nil); r.Status != 200 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	releaseAndCheck(t, s, bankID, bank, id, citizen)
	leaf := s.views(bank, "viewer")[0]["log_index"]
	calls := [][2]string{
		{"GET", "/v1/views?as=viewer"},
		{"GET", "/v1/views"},
		{"GET", fmt.Sprintf("/v1/log/leaves/%v", leaf)},
		{"GET", "/v1/consents"},
		{"GET", "/v1/consents/" + id},
		{"GET", "/v1/consents/" + id + "/documents"},
	}
	for _, c := range calls {
		if r := s.do(c[0], c[1], bank, nil); r.Status != 200 {
			t.Fatalf("before disabling, %s %s: %d %s", c[0], c[1], r.Status, r.Body)
		}
	}
	if err := s.Consents.DisableClient(t.Context(), bankID); err != nil {
		t.Fatal(err)
	}
	calls = append(calls, [2]string{"POST", "/v1/consents"}, [2]string{"POST", "/v1/consents/" + id + "/otp"})
	for _, c := range calls {
		if r := s.do(c[0], c[1], bank, map[string]any{}); r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "unauthorized" {
			t.Errorf("disabled, %s %s: %d %s", c[0], c[1], r.Status, r.Body)
		}
	}
}
