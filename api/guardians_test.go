package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

const (
	demoDaniyar  = wallet.IIN("081015542522") // born 2008-10-15; guardians Yerlan and Saule
	demoYerlan   = wallet.IIN("750705337106")
	demoSaule    = wallet.IIN("781225439811")
	demoNazerke  = wallet.IIN("160229656071") // born 2016-02-29; guardians Askar and Dana
	demoAskar    = wallet.IIN("800519347947")
	demoAlikhan  = wallet.IIN("150621515423") // guardians Aidos and Aigerim
	demoAigerim  = wallet.IIN("900903412710")
	demoDias     = wallet.IIN("120830528971") // guardian: his grandmother Gulnar
	demoTemirlan = wallet.IIN("080229553360") // born 2008-02-29
)

// almatyNoon is noon of a civil day in Kazakhstan (UTC+5), as UTC.
func almatyNoon(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 7, 0, 0, 0, time.UTC)
}

func (s *testServer) wards(token string) []string {
	s.t.Helper()
	r := s.do("GET", "/v1/wards", token, nil)
	if r.Status != 200 {
		s.t.Fatalf("wards: %d %s", r.Status, r.Body)
	}
	var out struct{ Wards []struct{ IIN string } }
	json.Unmarshal(r.Body, &out)
	var iins []string
	for _, w := range out.Wards {
		iins = append(iins, w.IIN)
	}
	return iins
}

func contains(xs []string, x wallet.IIN) bool {
	for _, v := range xs {
		if v == string(x) {
			return true
		}
	}
	return false
}

func TestGuardians_AccessEndsOnThe18thBirthday(t *testing.T) {
	s := newTestServer(t)
	s.Clock.Set(almatyNoon(2026, 10, 14))
	g := s.signIn(demoYerlan).Access
	if !contains(s.wards(g), demoDaniyar) {
		t.Fatalf("the day before his 18th birthday Daniyar is not Yerlan's ward")
	}
	r := s.do("GET", "/v1/wards/"+string(demoDaniyar)+"/documents", g, nil)
	if r.Status != 200 {
		t.Fatalf("ward documents the day before: %d %s", r.Status, r.Body)
	}
	var docs struct{ Documents []wallet.Document }
	json.Unmarshal(r.Body, &docs)
	if len(docs.Documents) == 0 {
		t.Fatal("no ward documents")
	}
	wardDoc := docs.Documents[0]
	if r := s.do("GET", "/v1/documents/"+wardDoc.ID, g, nil); r.Status != 200 {
		t.Fatalf("ward document the day before: %d", r.Status)
	}
	// A share the guardian opens today...
	sh := s.share(g, wardDoc.ID, map[string]int{"ttl_seconds": 600})

	// ...releases nothing once the ward has come of age.
	s.Clock.Set(almatyNoon(2026, 10, 15))
	g = s.signIn(demoYerlan).Access
	if contains(s.wards(g), demoDaniyar) {
		t.Fatal("on his 18th birthday Daniyar is still listed as a ward")
	}
	for _, p := range []string{"/v1/wards/" + string(demoDaniyar) + "/documents", "/v1/documents/" + wardDoc.ID} {
		if r := s.do("GET", p, g, nil); r.Status != http.StatusNotFound {
			t.Fatalf("%s on the birthday: %d %s", p, r.Status, r.Body)
		}
	}
	if r := s.do("POST", "/v1/documents/"+wardDoc.ID+"/shares", g, nil); r.Status != http.StatusNotFound {
		t.Fatalf("sharing on the birthday: %d", r.Status)
	}
	viewer := s.signIn(demoAigerim).Access
	if r := s.do("POST", "/v1/shares/redeem", viewer, map[string]string{"token": sh.Token}); r.Status != http.StatusGone {
		t.Fatalf("the guardian's old share after the birthday: %d %s", r.Status, r.Body)
	}
	// The new adult's own sign-in shows the documents.
	own := s.signIn(demoDaniyar).Access
	if d := s.documents(own); len(d) == 0 {
		t.Fatal("Daniyar sees no documents of his own")
	}
}

func TestGuardians_LeapDayBirthdayComesOfAgeOnFirstOfMarch(t *testing.T) {
	s := newTestServer(t)
	// Nazerke, born 29 February 2016: 28 February 2034 she is 17.
	s.Clock.Set(almatyNoon(2034, 2, 28))
	g := s.signIn(demoAskar).Access
	if !contains(s.wards(g), demoNazerke) {
		t.Fatal("on 28 February 2034 Nazerke should still be a ward")
	}
	s.Clock.Set(almatyNoon(2034, 3, 1))
	g = s.signIn(demoAskar).Access
	if contains(s.wards(g), demoNazerke) {
		t.Fatal("on 1 March 2034 Nazerke is 18 and no longer a ward")
	}
	if r := s.do("GET", "/v1/wards/"+string(demoNazerke)+"/documents", g, nil); r.Status != http.StatusNotFound {
		t.Fatalf("after coming of age: %d", r.Status)
	}
	// Temirlan, born 29 February 2008, came of age on 1 March 2026.
	if !wallet.IsMinor(demoTemirlan.BirthDate(), almatyNoon(2026, 2, 28)) || wallet.IsMinor(demoTemirlan.BirthDate(), almatyNoon(2026, 3, 1)) {
		t.Fatal("Temirlan's coming of age is not 1 March 2026")
	}
}

func TestGuardians_TwoGuardiansOneChildAndProbing(t *testing.T) {
	s := newTestServer(t)
	aidos := s.signIn(demoAllTypes).Access
	aigerim := s.signIn(demoAigerim).Access
	for _, g := range []string{aidos, aigerim} {
		if !contains(s.wards(g), demoAlikhan) {
			t.Fatal("a parent does not see Alikhan")
		}
		if r := s.do("GET", "/v1/wards/"+string(demoAlikhan)+"/documents", g, nil); r.Status != 200 {
			t.Fatalf("a parent's ward documents: %d", r.Status)
		}
	}
	// A guardian of other children probing: 404, as for any unknown IIN.
	askar := s.signIn(demoAskar).Access
	for _, probe := range []wallet.IIN{demoAlikhan, demoDias, demoAllTypes, "000101500017"} {
		for _, g := range []string{askar, aidos} {
			if g == aidos && probe == demoAlikhan {
				continue
			}
			r := s.do("GET", "/v1/wards/"+string(probe)+"/documents", g, nil)
			if r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
				t.Fatalf("probing %s: %d %s", probe, r.Status, r.Body)
			}
		}
	}
	// Ward documents by id are 404 to a non-guardian too.
	r := s.do("GET", "/v1/wards/"+string(demoAlikhan)+"/documents", aidos, nil)
	var docs struct{ Documents []wallet.Document }
	json.Unmarshal(r.Body, &docs)
	if r := s.do("GET", "/v1/documents/"+docs.Documents[0].ID, askar, nil); r.Status != http.StatusNotFound {
		t.Fatalf("non-guardian by id: %d", r.Status)
	}
}

func TestGuardians_ViewsAppearInTheWardsHistory(t *testing.T) {
	s := newTestServer(t)
	aidos := s.signIn(demoAllTypes).Access
	r := s.do("GET", "/v1/wards/"+string(demoAlikhan)+"/documents", aidos, nil)
	var docs struct{ Documents []wallet.Document }
	json.Unmarshal(r.Body, &docs)
	var birth wallet.Document
	for _, d := range docs.Documents {
		if d.Type == wallet.BirthCertificate {
			birth = d
		}
	}
	if birth.ID == "" {
		t.Fatalf("Alikhan has no birth certificate: %s", r.Body)
	}
	sh := s.share(aidos, birth.ID, nil)
	viewer := s.signIn(demoRevoked).Access
	if r := s.do("POST", "/v1/shares/redeem", viewer, map[string]string{"token": sh.Token}); r.Status != 200 {
		t.Fatalf("redeem the guardian's share: %d %s", r.Status, r.Body)
	}
	ward := s.signIn(demoAlikhan).Access
	views := s.views(ward, "owner")
	var byGuardian, throughShare bool
	for _, v := range views {
		viewer := v["viewer"].(map[string]any)
		if v["channel"] == "guardian" && viewer["id"] == string(demoAllTypes) && viewer["kind"] == "guardian" {
			byGuardian = true
		}
		if v["channel"] == "qr" && viewer["id"] == string(demoRevoked) {
			sb, _ := v["shared_by"].(map[string]any)
			throughShare = sb != nil && sb["id"] == string(demoAllTypes)
		}
	}
	if !byGuardian || !throughShare {
		t.Fatalf("ward's history lacks the guardian's view (%v) or the share's view naming the guardian (%v): %v", byGuardian, throughShare, views)
	}
	// The guardian's own history as viewer shows what they looked at.
	if len(s.views(aidos, "viewer")) == 0 {
		t.Fatal("the guardian's viewer history is empty")
	}
}
