package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/qujat/qujat/sharing"
	"github.com/qujat/qujat/wallet"
)

// redeemAs redeems with the given token (a citizen's or an organisation's).
func (s *testServer) redeemAs(token string, body any) response {
	s.t.Helper()
	return s.do("POST", "/v1/shares/redeem", token, body)
}

// idCardOf returns the caller's identity card.
func (s *testServer) idCardOf(token string) wallet.Document {
	s.t.Helper()
	for _, d := range s.documents(token) {
		if d.Type == wallet.IDCard {
			return d
		}
	}
	s.t.Fatal("no identity card")
	return wallet.Document{}
}

func TestCounter_BankRedeemsAPresentedQRAndBothHistoriesNameIt(t *testing.T) {
	s := newTestServer(t)
	owner := s.signIn(demoAllTypes).Access
	bankID, bank := s.bank("Halyk Counter", wallet.VehicleRegistration)
	card := s.idCardOf(owner)

	sh := s.share(owner, card.ID, nil)
	r := s.doWith("POST", "/v1/shares/redeem", bank, map[string]string{"token": sh.Token}, map[string]string{"Accept-Language": "ru"})
	if r.Status != http.StatusOK {
		t.Fatalf("bank redeems the QR: %d %s", r.Status, r.Body)
	}
	var out struct {
		ViewID   string          `json:"view_id"`
		LogIndex *int64          `json:"log_index"`
		Document wallet.Document `json:"document"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Document.ID != card.ID || out.Document.Title != "Удостоверение личности" || out.Document.FieldLabels["surname"] != "Фамилия" || out.LogIndex == nil {
		t.Fatalf("released %+v", out)
	}
	// Single use: the bank cannot redeem it again.
	if r := s.redeemAs(bank, map[string]string{"token": sh.Token}); r.Status != http.StatusGone {
		t.Fatalf("second redemption: %d %s", r.Status, r.Body)
	}

	// The owner's history names the bank.
	var seen map[string]any
	for _, v := range s.views(owner, "owner") {
		if v["id"] == out.ViewID {
			seen = v
		}
	}
	viewer, _ := seen["viewer"].(map[string]any)
	if seen == nil || viewer["kind"] != "organisation" || viewer["id"] != bankID || viewer["name"] != "Halyk Counter" || seen["channel"] != "qr" {
		t.Fatalf("owner's history: %v", seen)
	}
	// The bank's history has it too.
	got := s.views(bank, "viewer")
	if len(got) != 1 || got[0]["id"] != out.ViewID || got[0]["document_id"] != card.ID {
		t.Fatalf("bank's history: %v", got)
	}
	// Its leaf in the history log names the bank as a party: the bank may
	// fetch it, another organisation may not.
	leaf := fmt.Sprintf("/v1/log/leaves/%d", *out.LogIndex)
	if r := s.do("GET", leaf, bank, nil); r.Status != http.StatusOK {
		t.Fatalf("bank's leaf: %d %s", r.Status, r.Body)
	}
	_, other := s.bank("Another Bank", wallet.VehicleRegistration)
	if r := s.do("GET", leaf, other, nil); r.Status == http.StatusOK {
		t.Fatalf("another bank got the leaf: %s", r.Body)
	}

	// By short code and the owner's IIN, at the counter.
	sh = s.share(owner, card.ID, nil)
	r = s.redeemAs(bank, map[string]string{"short_code": sh.ShortCode, "owner_iin": string(demoAllTypes)})
	if r.Status != http.StatusOK {
		t.Fatalf("bank redeems the short code: %d %s", r.Status, r.Body)
	}
	if got := s.views(bank, "viewer"); len(got) != 2 || got[0]["channel"] != "short_code" {
		t.Fatalf("bank's history after the code: %v", got)
	}
	if v := s.views(owner, "owner")[0]; v["viewer"].(map[string]any)["id"] != bankID || v["channel"] != "short_code" {
		t.Fatalf("owner's history after the code: %v", v)
	}
}

func TestCounter_CitizenAndOrganisationTokensAndBadRequests(t *testing.T) {
	s := newTestServer(t)
	owner := s.signIn(demoAllTypes).Access
	viewer := s.signIn(demoRevoked).Access
	_, insurer := s.organisation("Nomad Counter", "insurer", wallet.IDCard)
	card := s.idCardOf(owner)

	// A citizen's token keeps working, and is still a citizen's view.
	sh := s.share(owner, card.ID, nil)
	if r := s.redeemAs(viewer, map[string]string{"token": sh.Token}); r.Status != http.StatusOK {
		t.Fatalf("citizen: %d %s", r.Status, r.Body)
	}
	if v := s.views(owner, "owner")[0]; v["viewer"].(map[string]any)["kind"] != "citizen" {
		t.Fatalf("citizen's view: %v", v)
	}

	sh = s.share(owner, card.ID, nil)
	cases := []struct {
		name   string
		token  string
		body   any
		path   string
		status int
		code   string
	}{
		{"no token", "", map[string]string{"token": sh.Token}, "", http.StatusUnauthorized, "unauthorized"},
		{"a forged token", "not-a-jwt", map[string]string{"token": sh.Token}, "", http.StatusUnauthorized, "unauthorized"},
		{"bad JSON", insurer, []byte(`{"token": `), "", http.StatusBadRequest, "invalid_request"},
		{"unknown field", insurer, map[string]string{"token": sh.Token, "viewer": "me"}, "", http.StatusBadRequest, "invalid_request"},
		{"token and code", insurer, map[string]string{"token": sh.Token, "short_code": sh.ShortCode}, "", http.StatusBadRequest, "invalid_request"},
		{"code without owner", insurer, map[string]string{"short_code": sh.ShortCode}, "", http.StatusBadRequest, "invalid_request"},
		{"malformed token", insurer, map[string]string{"token": "shr_x.y"}, "", http.StatusBadRequest, "invalid_request"},
		{"unknown lang", insurer, map[string]string{"token": sh.Token}, "?lang=de", http.StatusBadRequest, "invalid_request"},
	}
	for _, c := range cases {
		r := s.do("POST", "/v1/shares/redeem"+c.path, c.token, c.body)
		if r.Status != c.status || r.ErrorCode(t) != c.code {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
	}
	// None of them spent the share.
	if r := s.redeemAs(insurer, map[string]string{"token": sh.Token}); r.Status != http.StatusOK {
		t.Fatalf("after the bad requests: %d %s", r.Status, r.Body)
	}
}

func TestCounter_OrganisationGuessesAreLimitedPerOrganisationAndAddress(t *testing.T) {
	s := newTestServer(t, withShareLimits(sharing.Limits{
		ViewerWrongCodes15m: 2, ViewerWrongCodesDay: 100, AddressWrongCodesMinute: 100, OwnerWrongCodes: 100,
	}))
	owner := s.signIn(demoAllTypes).Access
	viewer := s.signIn(demoRevoked).Access
	_, bankA := s.bank("Bank A", wallet.VehicleRegistration)
	_, bankB := s.bank("Bank B", wallet.VehicleRegistration)
	sh := s.share(owner, s.idCardOf(owner).ID, nil)
	wrong := "000000"
	if sh.ShortCode == wrong {
		wrong = "000001"
	}
	guess := func(token string) response {
		return s.redeemAs(token, map[string]string{"short_code": wrong, "owner_iin": string(demoAllTypes)})
	}
	for i := range 2 {
		if r := guess(bankA); r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "invalid_code" {
			t.Fatalf("bank A guess %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := guess(bankA)
	if r.Status != http.StatusTooManyRequests || r.ErrorCode(t) != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("bank A past its budget: %d %s", r.Status, r.Body)
	}
	// Even the right code is refused while bank A is over its budget.
	if r := s.redeemAs(bankA, map[string]string{"short_code": sh.ShortCode, "owner_iin": string(demoAllTypes)}); r.Status != http.StatusTooManyRequests {
		t.Fatalf("bank A, right code: %d %s", r.Status, r.Body)
	}
	// The budget is bank A's: bank B and a citizen have their own.
	if r := guess(bankB); r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "invalid_code" {
		t.Fatalf("bank B: %d %s", r.Status, r.Body)
	}
	if r := guess(viewer); r.Status != http.StatusUnauthorized || r.ErrorCode(t) != "invalid_code" {
		t.Fatalf("citizen: %d %s", r.Status, r.Body)
	}
}

func TestCounter_OrganisationGuessesCountAgainstTheAddress(t *testing.T) {
	s := newTestServer(t, withShareLimits(sharing.Limits{
		ViewerWrongCodes15m: 100, ViewerWrongCodesDay: 100, AddressWrongCodesMinute: 3, OwnerWrongCodes: 100,
	}))
	owner := s.signIn(demoAllTypes).Access
	_, bankA := s.bank("Bank A", wallet.VehicleRegistration)
	_, bankB := s.bank("Bank B", wallet.VehicleRegistration)
	sh := s.share(owner, s.idCardOf(owner).ID, nil)
	wrong := "000000"
	if sh.ShortCode == wrong {
		wrong = "000001"
	}
	codes := []string{}
	for _, tok := range []string{bankA, bankB, bankA, bankB} {
		r := s.redeemAs(tok, map[string]string{"short_code": wrong, "owner_iin": string(demoAllTypes)})
		codes = append(codes, r.ErrorCode(t))
	}
	if strings.Join(codes, ",") != "invalid_code,invalid_code,invalid_code,rate_limited" {
		t.Fatalf("guesses from one address: %v", codes)
	}
}

func TestConsent_BankAsksRemotelyForIdentityDocuments(t *testing.T) {
	s := newTestServer(t)
	_, bank := s.bank("KYC Bank", wallet.IDCard, wallet.Passport, wallet.VehicleRegistration)
	_, insurer := s.organisation("Nomad Insurance", "insurer", wallet.IDCard, wallet.Passport)
	_, gov := s.organisation("Enbek Agency", "gov", wallet.IDCard)
	ask := func(token string, types ...string) response {
		return s.do("POST", "/v1/consents", token, map[string]any{
			"iin": string(demoAllTypes), "document_types": types, "purpose": "Opening a current account", "method": "app",
		})
	}
	for _, types := range [][]string{{"id_card"}, {"passport"}, {"vehicle_registration", "id_card"}} {
		r := ask(bank, types...)
		if r.Status != http.StatusForbidden || r.ErrorCode(t) != "forbidden" {
			t.Fatalf("bank + %v: %d %s", types, r.Status, r.Body)
		}
		msg := r.JSON(t)["error"].(map[string]any)["message"].(string)
		if !strings.Contains(msg, "in person") || !strings.Contains(msg, "QR code or short code") {
			t.Errorf("bank + %v: message %q", types, msg)
		}
	}
	for name, c := range map[string]struct {
		token string
		types []string
	}{
		"bank + vehicle registration": {bank, []string{"vehicle_registration"}},
		"insurer + identity card":     {insurer, []string{"id_card", "passport"}},
		"gov + identity card":         {gov, []string{"id_card"}},
	} {
		if r := ask(c.token, c.types...); r.Status != http.StatusCreated {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}
