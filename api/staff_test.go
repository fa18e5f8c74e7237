package api_test

import (
	"net/http"
	"testing"

	"github.com/qujat/qujat/wallet"
)

// Demo citizens who work as staff in these tests.
const (
	operatorIIN = wallet.IIN("900903412710") // Aigerim Nurlanova
	officialIIN = wallet.IIN("600210320844") // Serik Nurlanov
)

// operator registers a service centre and an operator of it (a demo
// citizen), signs them in and returns the centre's id, the staff member and
// their token.
func (s *testServer) operator(iin wallet.IIN) (centreID string, m wallet.StaffMember, token string) {
	s.t.Helper()
	centre, _, err := s.Consents.CreateClient(s.t.Context(), "Centre No 1", "service_centre", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	m, err = s.Staff.Create(s.t.Context(), centre.ID, iin, "Aigerim Operator", wallet.RoleOperator)
	if err != nil {
		s.t.Fatal(err)
	}
	return centre.ID, m, s.staffSignIn(iin)
}

// staffSignIn signs a staff member in through the staff OTP flow.
func (s *testServer) staffSignIn(iin wallet.IIN) string {
	s.t.Helper()
	r := s.do("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": string(iin)})
	if r.Status != http.StatusAccepted {
		s.t.Fatalf("staff otp: %d %s", r.Status, r.Body)
	}
	ch := r.JSON(s.t)["challenge_id"].(string)
	code := s.lastCode(s.citizen(iin).Phone)
	r = s.do("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": ch, "code": code})
	if r.Status != http.StatusOK {
		s.t.Fatalf("staff token: %d %s", r.Status, r.Body)
	}
	return r.JSON(s.t)["access_token"].(string)
}

func TestStaff_SignInGivesATokenNamingTheStaffMemberAndTheirCentre(t *testing.T) {
	ts := newTestServer(t)
	centreID, m, _ := ts.operator(operatorIIN)

	r := ts.do("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": string(operatorIIN)})
	if r.Status != http.StatusAccepted {
		t.Fatalf("otp: %d %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	if _, hint := body["phone_hint"]; hint || body["expires_at"] == nil {
		t.Fatalf("challenge: %s", r.Body)
	}
	code := ts.lastCode(ts.citizen(operatorIIN).Phone)
	r = ts.do("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": body["challenge_id"].(string), "code": code})
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)
	st := tok["staff"].(map[string]any)
	org := st["organisation"].(map[string]any)
	if st["id"] != m.ID || st["role"] != "operator" || org["id"] != centreID || org["kind"] != "service_centre" || org["name"] != "Centre No 1" || tok["token_type"] != "Bearer" {
		t.Fatalf("token body: %s", r.Body)
	}
	me := ts.do("GET", "/v1/centre/me", tok["access_token"].(string), nil)
	if me.Status != http.StatusOK || me.JSON(t)["staff"].(map[string]any)["id"] != m.ID {
		t.Fatalf("me: %d %s", me.Status, me.Body)
	}
	// The code works once.
	r = ts.do("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": body["challenge_id"].(string), "code": code})
	if r.Status != http.StatusGone {
		t.Fatalf("second use: %d %s", r.Status, r.Body)
	}
}

func TestStaff_AnIINThatIsNotStaffGetsTheSameAnswerAndNoSMS(t *testing.T) {
	ts := newTestServer(t)
	citizen := ts.citizen("880412310009")
	r := ts.do("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": string(citizen.IIN)})
	if r.Status != http.StatusAccepted || r.JSON(t)["challenge_id"] == nil {
		t.Fatalf("otp: %d %s", r.Status, r.Body)
	}
	if msgs := ts.Outbox.Messages(citizen.Phone); len(msgs) != 0 {
		t.Fatalf("a citizen who is not staff got %d SMS", len(msgs))
	}
	if r := ts.do("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": "123"}); r.Status != http.StatusBadRequest || r.ErrorCode(t) != "invalid_request" {
		t.Fatalf("bad IIN: %d %s", r.Status, r.Body)
	}
}

func TestStaff_WrongCodeThreeTimesKillsTheChallenge(t *testing.T) {
	ts := newTestServer(t)
	ts.operator(operatorIIN)
	r := ts.do("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": string(operatorIIN)})
	ch := r.JSON(t)["challenge_id"].(string)
	right := ts.lastCode(ts.citizen(operatorIIN).Phone)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	for i := 0; i < 2; i++ {
		if r := ts.do("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": ch, "code": wrong}); r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "invalid_code" {
			t.Fatalf("wrong code %d: %d %s", i, r.Status, r.Body)
		}
	}
	if r := ts.do("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": ch, "code": wrong}); r.Status != http.StatusGone && r.Status != http.StatusUnauthorized {
		t.Fatalf("third wrong code: %d %s", r.Status, r.Body)
	}
	if r := ts.do("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": ch, "code": right}); r.Status != http.StatusGone || r.ErrorCode(t) != "expired" {
		t.Fatalf("right code after three wrong ones: %d %s", r.Status, r.Body)
	}
}

func TestStaff_ACitizenSignInCodeDoesNotSignStaffIn(t *testing.T) {
	ts := newTestServer(t)
	ts.operator(operatorIIN)
	r := ts.do("POST", "/v1/auth/otp", "", map[string]string{"iin": string(operatorIIN)})
	ch := r.JSON(t)["challenge_id"].(string)
	code := ts.lastCode(ts.citizen(operatorIIN).Phone)
	if r := ts.do("POST", "/v1/staff/auth/token", "", map[string]string{"challenge_id": ch, "code": code}); r.Status == http.StatusOK {
		t.Fatalf("a citizen's challenge signed a staff member in: %s", r.Body)
	}
}

func TestStaff_TokensWorkOnlyOnTheirOwnEndpoints(t *testing.T) {
	ts := newTestServer(t)
	_, _, staffTok := ts.operator(operatorIIN)
	citizen := ts.signIn("880412310009")
	_, bankTok := ts.bank("Bank", wallet.IDCard)
	_, centreTok := ts.organisation("Centre as a client", "service_centre")

	for name, tok := range map[string]string{"none": "", "citizen": citizen.Access, "bank": bankTok, "centre's client credentials": centreTok, "garbage": "x.y.z"} {
		if r := ts.do("GET", "/v1/centre/me", tok, nil); r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
			t.Errorf("%s token on a staff endpoint: %d %s", name, r.Status, r.Body)
		}
	}
	for _, path := range []string{"/v1/me", "/v1/documents", "/v1/me/history", "/v1/consents", "/v1/views", "/v1/shares"} {
		if r := ts.do("GET", path, staffTok, nil); r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
			t.Errorf("staff token on %s: %d %s", path, r.Status, r.Body)
		}
	}
	if r := ts.do("POST", "/v1/shares/redeem", staffTok, map[string]string{"code": "123456", "iin": "880412310009"}); r.Status != http.StatusUnauthorized {
		t.Errorf("staff token redeeming: %d %s", r.Status, r.Body)
	}
}

func TestStaff_KeysArePublishedWithTheirHolderAndRetiredWhenDisabled(t *testing.T) {
	ts := newTestServer(t)
	centreID, m, tok := ts.operator(operatorIIN)
	gov, _, err := ts.Consents.CreateClient(t.Context(), "Ministry", "gov", []wallet.DocumentType{wallet.IDCard})
	if err != nil {
		t.Fatal(err)
	}
	off, err := ts.Staff.Create(t.Context(), gov.ID, officialIIN, "Serik Official", wallet.RoleOfficial)
	if err != nil {
		t.Fatal(err)
	}
	keys := func() map[string]map[string]any {
		r := ts.do("GET", "/.well-known/staff-keys.json", "", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("staff keys: %d %s", r.Status, r.Body)
		}
		out := map[string]map[string]any{}
		for _, k := range r.JSON(t)["keys"].([]any) {
			k := k.(map[string]any)
			out[k["staff_id"].(string)] = k
		}
		return out
	}
	ks := keys()
	op := ks[m.ID]
	if op == nil || op["kid"] != m.KeyID || op["kty"] != "OKP" || op["x"] == "" || op["name"] != m.Name ||
		op["organisation"] != centreID || op["role"] != "operator" || op["status"] != "active" {
		t.Fatalf("operator's key: %v", op)
	}
	if o := ks[off.ID]; o == nil || o["role"] != "official" || o["organisation"] != gov.ID {
		t.Fatalf("official's key: %v", o)
	}

	if err := ts.Staff.Disable(t.Context(), m.ID); err != nil {
		t.Fatal(err)
	}
	if st := keys()[m.ID]["status"]; st != "retired" {
		t.Fatalf("disabled operator's key: %v", st)
	}
	if r := ts.do("GET", "/v1/centre/me", tok, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a disabled operator's token: %d %s", r.Status, r.Body)
	}
	r := ts.do("POST", "/v1/staff/auth/otp", "", map[string]string{"iin": string(operatorIIN)})
	if r.Status != http.StatusAccepted {
		t.Fatalf("otp: %d", r.Status)
	}
	if msgs := ts.Outbox.Messages(ts.citizen(operatorIIN).Phone); len(msgs) != 1 { // the first sign-in's only
		t.Fatalf("a disabled operator got a code: %d SMS", len(msgs))
	}
}

func TestStaff_CreateChecksTheOrganisationAndRole(t *testing.T) {
	ts := newTestServer(t)
	ctx := t.Context()
	centre, _, _ := ts.Consents.CreateClient(ctx, "Centre", "service_centre", nil)
	bankID, _ := ts.bank("Bank", wallet.IDCard)
	for name, tc := range map[string]struct {
		org, iin, name, role, code string
	}{
		"official of a centre": {centre.ID, string(officialIIN), "S", "official", wallet.EINVALID},
		"operator of a bank":   {bankID, string(officialIIN), "S", "operator", wallet.EINVALID},
		"unknown organisation": {"cli_none", string(officialIIN), "S", "operator", wallet.EINVALID},
		"bad IIN":              {centre.ID, "900903412711", "S", "operator", wallet.EINVALID},
		"no name":              {centre.ID, string(officialIIN), " ", "operator", wallet.EINVALID},
		"unknown role":         {centre.ID, string(officialIIN), "S", "admin", wallet.EINVALID},
	} {
		if _, err := ts.Staff.Create(ctx, tc.org, wallet.IIN(tc.iin), tc.name, tc.role); wallet.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	if _, err := ts.Staff.Create(ctx, centre.ID, operatorIIN, "A", "operator"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Staff.Create(ctx, centre.ID, operatorIIN, "A", "operator"); wallet.ErrorCode(err) != wallet.ECONFLICT {
		t.Fatalf("second active record: %v", err)
	}
	if _, _, err := ts.Consents.CreateClient(ctx, "Centre", "service_centre", []wallet.DocumentType{wallet.IDCard}); wallet.ErrorCode(err) != wallet.EINVALID {
		t.Fatalf("a centre with document types: %v", err)
	}
}
