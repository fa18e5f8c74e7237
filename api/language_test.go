package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// documentsIn lists the caller's documents with the given query and
// Accept-Language (either may be "").
func (s *testServer) documentsIn(token, query, accept string) (response, []wallet.Document) {
	s.t.Helper()
	h := map[string]string{}
	if accept != "" {
		h["Accept-Language"] = accept
	}
	r := s.doWith("GET", "/v1/documents"+query, token, nil, h)
	if r.Status != http.StatusOK {
		return r, nil
	}
	var out struct{ Documents []wallet.Document }
	if err := json.Unmarshal(r.Body, &out); err != nil {
		s.t.Fatal(err)
	}
	return r, out.Documents
}

func TestDocuments_TitleAndFieldLabelsInTheLanguageAsked(t *testing.T) {
	s := newTestServer(t)
	tok := s.signIn(demoAllTypes).Access
	cases := []struct {
		name, query, accept string
		want                locale.Lang
	}{
		{"default is Kazakh", "", "", locale.KK},
		{"lang=ru", "?lang=ru", "", locale.RU},
		{"lang=en over Accept-Language", "?lang=en", "ru", locale.EN},
		{"Accept-Language by q-value", "", "en;q=0.4, ru-RU;q=0.9, kk;q=0.5", locale.RU},
		{"Accept-Language of nothing spoken", "", "de-DE, fr;q=0.8", locale.KK},
		{"Accept-Language excluding with q=0", "", "ru;q=0, en;q=0.2", locale.EN},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, docs := s.documentsIn(tok, c.query, c.accept)
			if r.Status != http.StatusOK {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if got := r.Header.Get("Content-Language"); got != string(c.want) {
				t.Errorf("Content-Language = %q, want %q", got, c.want)
			}
			if len(docs) != 7 {
				t.Fatalf("%d documents", len(docs))
			}
			for _, d := range docs {
				if d.Title != locale.Title(c.want, d.Type) {
					t.Errorf("%s: title %q, want %q", d.Type, d.Title, locale.Title(c.want, d.Type))
				}
				if len(d.FieldLabels) != len(d.Fields) {
					t.Errorf("%s: %d labels for %d fields", d.Type, len(d.FieldLabels), len(d.Fields))
				}
				for f := range d.Fields {
					if got, want := d.FieldLabels[f], locale.Label(c.want, d.Type, f); got != want || got == f {
						t.Errorf("%s.%s: label %q, want %q", d.Type, f, got, want)
					}
				}
			}
		})
	}

	// The raw response carries the Kazakh letters as they are.
	r := s.do("GET", "/v1/documents?lang=kk", tok, nil)
	var raw struct {
		Documents []struct {
			Type        wallet.DocumentType `json:"type"`
			Title       string              `json:"title"`
			FieldLabels map[string]string   `json:"field_labels"`
		} `json:"documents"`
	}
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, d := range raw.Documents {
		if d.Type == wallet.IDCard && (d.Title != "Жеке куәлік" || d.FieldLabels["nationality"] != "Ұлты") {
			t.Errorf("id card in Kazakh: %q %v", d.Title, d.FieldLabels)
		}
	}
}

func TestDocument_OneInTheLanguageAsked(t *testing.T) {
	s := newTestServer(t)
	tok := s.signIn(demoAllTypes).Access
	docs := s.documents(tok)
	var card wallet.Document
	for _, d := range docs {
		if d.Type == wallet.IDCard {
			card = d
		}
	}
	r := s.doWith("GET", "/v1/documents/"+card.ID, tok, nil, map[string]string{"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"})
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var d wallet.Document
	if err := json.Unmarshal(r.Body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Title != "Удостоверение личности" || d.FieldLabels["surname"] != "Фамилия" || d.FieldLabels["birth_date"] != "Дата рождения" {
		t.Errorf("in Russian: %q %v", d.Title, d.FieldLabels)
	}
	r = s.do("GET", "/v1/documents/"+card.ID+"?lang=en", tok, nil)
	if err := json.Unmarshal(r.Body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Title != "Identity card" || d.FieldLabels["surname"] != "Surname" {
		t.Errorf("in English: %q %v", d.Title, d.FieldLabels)
	}
	// The signed document is the same in every language.
	if d.JWS != card.JWS {
		t.Error("the JWS changed with the language")
	}
}

func TestDocuments_UnknownLangIsInvalid(t *testing.T) {
	s := newTestServer(t)
	tok := s.signIn(demoAllTypes).Access
	docs := s.documents(tok)
	for _, path := range []string{
		"/v1/documents?lang=de", "/v1/documents?lang=", "/v1/documents?lang=ru-RU", "/v1/documents?lang=kz",
		"/v1/documents/" + docs[0].ID + "?lang=fr",
	} {
		r := s.do("GET", path, tok, nil)
		if r.Status != http.StatusBadRequest || r.ErrorCode(t) != wallet.EINVALID {
			t.Errorf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	// Without a token it is still 401 first.
	if r := s.do("GET", "/v1/documents?lang=de", "", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.Status)
	}
}

// The other ways a document leaves: a ward's documents to a guardian and a
// consent's release to an organisation, each in the language asked, and a
// bad lang there records nothing.
func TestDocuments_WardsAndConsentReleasesInTheLanguageAsked(t *testing.T) {
	s := newTestServer(t)
	aidos := s.signIn(demoAllTypes).Access
	r := s.do("GET", "/v1/wards/"+string(demoAlikhan)+"/documents?lang=fr", aidos, nil)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("ward, bad lang: %d %s", r.Status, r.Body)
	}
	if views := s.views(s.signIn(demoAlikhan).Access, "owner"); len(views) != 0 {
		t.Fatalf("a refused read was recorded: %v", views)
	}
	r = s.doWith("GET", "/v1/wards/"+string(demoAlikhan)+"/documents", aidos, nil, map[string]string{"Accept-Language": "ru"})
	var ward struct{ Documents []wallet.Document }
	if err := json.Unmarshal(r.Body, &ward); err != nil || r.Status != http.StatusOK || len(ward.Documents) == 0 {
		t.Fatalf("ward: %d %s", r.Status, r.Body)
	}
	for _, d := range ward.Documents {
		if d.Title != locale.Title(locale.RU, d.Type) || len(d.FieldLabels) != len(d.Fields) {
			t.Errorf("ward's %s: %q %v", d.Type, d.Title, d.FieldLabels)
		}
	}

	_, bank := s.bank("Lang Bank", wallet.VehicleRegistration)
	id := s.askConsent(bank, demoAllTypes, "app", "vehicle_registration")
	if r := s.do("POST", "/v1/me/consents/"+id+"/approve", aidos, nil); r.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1/consents/"+id+"/documents?lang=de", bank, nil); r.Status != http.StatusBadRequest {
		t.Fatalf("release, bad lang: %d %s", r.Status, r.Body)
	}
	if got := s.views(bank, "viewer"); len(got) != 0 {
		t.Fatalf("a refused release was recorded: %v", got)
	}
	r = s.do("GET", "/v1/consents/"+id+"/documents?lang=en", bank, nil)
	var rel struct{ Documents []wallet.Document }
	if err := json.Unmarshal(r.Body, &rel); err != nil || r.Status != http.StatusOK || len(rel.Documents) != 1 {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	if d := rel.Documents[0]; d.Title != "Vehicle registration certificate" || d.FieldLabels["plate"] != "Registration plate" {
		t.Errorf("released: %q %v", d.Title, d.FieldLabels)
	}
}
