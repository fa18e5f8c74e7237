package locale_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// kazakhOnly are the letters of the Kazakh alphabet that Russian has not.
const kazakhOnly = "әғқңөұүһіӘҒҚҢӨҰҮҺІ"

func hasCyrillic(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Cyrillic, r) {
			return true
		}
	}
	return false
}

// checkText holds what one text must be: present in every language, the
// Kazakh and Russian ones written in Cyrillic (not an English fallback), and
// the Russian one without Kazakh letters.
func checkText(t *testing.T, what string, get func(locale.Lang) string) {
	t.Helper()
	for _, l := range locale.Langs {
		if strings.TrimSpace(get(l)) == "" {
			t.Errorf("%s: no %s text", what, l)
		}
	}
	en := get(locale.EN)
	for _, l := range []locale.Lang{locale.KK, locale.RU} {
		s := get(l)
		if s == en || !hasCyrillic(s) {
			t.Errorf("%s: the %s text %q is not written in %s", what, l, s, l)
		}
	}
	if ru := get(locale.RU); strings.ContainsAny(ru, kazakhOnly) {
		t.Errorf("%s: the Russian text %q has Kazakh letters", what, ru)
	}
}

func TestCatalogue_EveryTypeHasTitleAndLabelsInEveryLanguage(t *testing.T) {
	for _, typ := range wallet.DocumentTypes {
		checkText(t, string(typ)+" title", func(l locale.Lang) string {
			if s := locale.Title(l, typ); s != string(typ) {
				return s
			}
			return ""
		})
		fields := locale.Fields(typ)
		if len(fields) == 0 {
			t.Errorf("%s: no field labels", typ)
		}
		for _, f := range fields {
			checkText(t, string(typ)+"."+f, func(l locale.Lang) string {
				if s := locale.Label(l, typ, f); s != f {
					return s
				}
				return ""
			})
		}
	}
}

// The demo registry holds every field a source sends today: each must have
// its label.
func TestCatalogue_EveryFieldOfTheDemoRegistryHasALabel(t *testing.T) {
	demo, err := sources.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	labelled := map[wallet.DocumentType]map[string]bool{}
	for _, typ := range wallet.DocumentTypes {
		labelled[typ] = map[string]bool{}
		for _, f := range locale.Fields(typ) {
			labelled[typ][f] = true
		}
	}
	seen := 0
	for _, c := range demo.Citizens() {
		for _, src := range demo.Sources() {
			recs, err := src.Records(context.Background(), c.IIN)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				for f := range r.Fields {
					seen++
					if !labelled[r.Type][f] {
						t.Errorf("%s field %q has no label", r.Type, f)
						labelled[r.Type][f] = true // once
					}
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("the demo registry has no fields")
	}
}

func TestCatalogue_KazakhLettersAreKazakh(t *testing.T) {
	cases := map[string]string{
		locale.Title(locale.KK, wallet.IDCard):                                  "Жеке куәлік",
		locale.Title(locale.KK, wallet.VehicleRegistration):                     "Көлік құралын тіркеу туралы куәлік",
		locale.Label(locale.KK, wallet.IDCard, "nationality"):                   "Ұлты",
		locale.Label(locale.KK, wallet.VehicleRegistration, "engine_volume_cc"): "Қозғалтқыш көлемі, см³",
		locale.Label(locale.KK, wallet.VehicleRegistration, "plate"):            "Мемлекеттік тіркеу нөмірі",
		locale.Title(locale.RU, wallet.MarriageCertificate):                     "Свидетельство о заключении брака",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// Every Kazakh letter that Russian lacks is used somewhere, so a
	// catalogue saved in a wrong encoding or with look-alike Latin letters
	// shows here.
	var all strings.Builder
	for _, typ := range wallet.DocumentTypes {
		all.WriteString(locale.Title(locale.KK, typ))
		for _, f := range locale.Fields(typ) {
			all.WriteString(locale.Label(locale.KK, typ, f))
		}
	}
	for _, k := range []string{"sms.signin", "sms.consent.otp", "sms.consent.reply", "status.expired", "status.revoked"} {
		all.WriteString(locale.T(locale.KK, k))
	}
	for _, r := range "әғқңөұүі" {
		if !strings.ContainsRune(strings.ToLower(all.String()), r) {
			t.Errorf("no %q in the Kazakh texts", r)
		}
	}
}

func TestMessages_EveryLanguageAndPlaceholders(t *testing.T) {
	placeholders := map[string][]string{
		"sms.signin":        {"{code}"},
		"sms.consent.otp":   {"{client}", "{documents}", "{purpose}", "{code}"},
		"sms.consent.reply": {"{client}", "{documents}", "{purpose}", "{ref}", "{minutes}"},
	}
	for _, key := range []string{"language.name", "list.and", "status.valid", "status.expired", "status.revoked",
		"document.holder", "document.issuer", "sms.signin", "sms.consent.otp", "sms.consent.reply"} {
		if key == "language.name" {
			continue // "English" is English in every catalogue's own tongue
		}
		checkText(t, key, func(l locale.Lang) string {
			if s := locale.T(l, key); s != key {
				return s
			}
			return ""
		})
		for _, l := range locale.Langs {
			for _, p := range placeholders[key] {
				if !strings.Contains(locale.T(l, key), p) {
					t.Errorf("%s in %s lacks %s", key, l, p)
				}
			}
		}
	}
	if got := locale.T(locale.RU, "no.such.key"); got != "no.such.key" {
		t.Errorf("unknown key = %q", got)
	}
	got := locale.Format(locale.RU, "sms.signin", map[string]string{"code": "123456"})
	if got != "Qujat: код для входа 123456. Никому его не сообщайте." {
		t.Errorf("Format = %q", got)
	}
}

func TestListTypes(t *testing.T) {
	cases := []struct {
		lang  locale.Lang
		types []wallet.DocumentType
		want  string
	}{
		{locale.EN, []wallet.DocumentType{wallet.IDCard}, "identity card"},
		{locale.EN, []wallet.DocumentType{wallet.IDCard, wallet.Passport}, "identity card and passport"},
		{locale.EN, []wallet.DocumentType{wallet.IDCard, wallet.Passport, wallet.Diploma}, "identity card, passport and diploma"},
		{locale.KK, []wallet.DocumentType{wallet.IDCard, wallet.Passport}, "жеке куәлік және паспорт"},
		{locale.RU, []wallet.DocumentType{wallet.IDCard, wallet.Passport}, "удостоверение личности и паспорт"},
	}
	for _, c := range cases {
		if got := locale.ListTypes(c.lang, c.types); got != c.want {
			t.Errorf("ListTypes(%s, %v) = %q, want %q", c.lang, c.types, got, c.want)
		}
	}
}

func TestUnknownTypeAndField_FallBackToTheirNames(t *testing.T) {
	if got := locale.Title(locale.KK, "tractor_licence"); got != "tractor_licence" {
		t.Errorf("Title = %q", got)
	}
	if got := locale.Label(locale.RU, wallet.IDCard, "eye_colour"); got != "eye_colour" {
		t.Errorf("Label = %q", got)
	}
	got := locale.Labels(locale.RU, wallet.IDCard, map[string]string{"surname": "Nurlanov", "eye_colour": "brown"})
	if got["surname"] != "Фамилия" || got["eye_colour"] != "eye_colour" || len(got) != 2 {
		t.Errorf("Labels = %v", got)
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"kk", "RU", " en "} {
		if _, err := locale.Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "kz", "de", "ru-RU", "k"} {
		if _, err := locale.Parse(s); wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("Parse(%q) = %v, want EINVALID", s, err)
		}
	}
}

func TestNegotiate(t *testing.T) {
	cases := []struct {
		header string
		want   locale.Lang
		ok     bool
	}{
		{"", "", false},
		{"ru", locale.RU, true},
		{"ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", locale.RU, true},
		{"en-US,en;q=0.9,ru;q=0.8", locale.EN, true},
		{"de-DE,de;q=0.9,ru;q=0.5,en;q=0.6", locale.EN, true},
		{"kk-KZ", locale.KK, true},
		{"KK", locale.KK, true},
		{"fr;q=1, ru;q=0.1", locale.RU, true},
		{"en;q=0.5, ru;q=0.5", locale.EN, true}, // a tie goes to the first
		{"ru;q=0.5, en;q=0.8", locale.EN, true},
		{"ru;q=0, en;q=0.1", locale.EN, true},
		{"ru;q=0.9, ru;q=0", locale.KK, false},
		{"en;q=abc, ru;q=0.2", locale.RU, true}, // a malformed weight drops its item
		{"en;q=2, ru;q=0.2", locale.RU, true},
		{"*", locale.KK, true},
		{"*;q=0.5, en;q=0.9", locale.EN, true},
		{"en;q=0.1, *;q=0.9", locale.KK, true},
		{"de, fr", "", false},
		{" , ;q=1,", "", false},
	}
	for _, c := range cases {
		got, ok := locale.Negotiate(c.header)
		if c.want == locale.KK && !c.ok {
			c.want = ""
		}
		if got != c.want || ok != c.ok {
			t.Errorf("Negotiate(%q) = %q, %v; want %q, %v", c.header, got, ok, c.want, c.ok)
		}
	}
}

func TestFromRequestAndPick(t *testing.T) {
	cases := []struct {
		url, accept string
		want        locale.Lang
		invalid     bool // FromRequest refuses it; Pick goes on
		pick        locale.Lang
	}{
		{"/x", "", locale.KK, false, locale.KK},
		{"/x", "ru-RU,ru;q=0.9", locale.RU, false, locale.RU},
		{"/x?lang=en", "ru", locale.EN, false, locale.EN},
		{"/x?lang=RU", "", locale.RU, false, locale.RU},
		{"/x?lang=de", "ru", "", true, locale.RU},
		{"/x?lang=", "en", "", true, locale.EN},
		{"/x", "de", locale.KK, false, locale.KK},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", c.url, nil)
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		got, err := locale.FromRequest(r)
		if c.invalid {
			if wallet.ErrorCode(err) != wallet.EINVALID {
				t.Errorf("FromRequest(%s, %q) = %q, %v; want EINVALID", c.url, c.accept, got, err)
			}
		} else if err != nil || got != c.want {
			t.Errorf("FromRequest(%s, %q) = %q, %v; want %q", c.url, c.accept, got, err, c.want)
		}
		if p := locale.Pick(r); p != c.pick {
			t.Errorf("Pick(%s, %q) = %q, want %q", c.url, c.accept, p, c.pick)
		}
	}
}

type prefs map[wallet.IIN]string

func (p prefs) Preferences(_ context.Context, iin wallet.IIN) (wallet.Preferences, error) {
	if l, ok := p[iin]; ok {
		return wallet.Preferences{IIN: iin, Language: l}, nil
	}
	if iin == "down" {
		return wallet.Preferences{}, wallet.Errorf(wallet.EUNAVAILABLE, "down")
	}
	return wallet.Preferences{}, wallet.Errorf(wallet.ENOTFOUND, "none")
}

func (p prefs) SavePreferences(context.Context, wallet.Preferences) error { return nil }

func TestStored_DefaultsToKazakh(t *testing.T) {
	of := locale.Stored(prefs{"1": "ru", "2": "xx"})
	ctx := context.Background()
	for iin, want := range map[wallet.IIN]locale.Lang{"1": locale.RU, "2": locale.KK, "3": locale.KK, "down": locale.KK} {
		if got := of.Of(ctx, iin); got != want {
			t.Errorf("%s: %q, want %q", iin, got, want)
		}
	}
	var none locale.OfCitizen
	if got := none.Of(ctx, "1"); got != locale.KK {
		t.Errorf("nil: %q", got)
	}
}

func TestDuplicateTypes_AtLeast18EachTitledInEveryLanguage(t *testing.T) {
	types := locale.DuplicateTypes()
	if len(types) < 18 {
		t.Fatalf("%d duplicate types, want at least 18", len(types))
	}
	seen := map[string]bool{}
	for _, ty := range types {
		if ty.Code == "" || seen[ty.Code] {
			t.Errorf("empty or repeated code %q", ty.Code)
		}
		seen[ty.Code] = true
		for _, l := range []locale.Lang{locale.KK, locale.RU, locale.EN} {
			if got, ok := locale.DuplicateTitle(l, ty.Code); !ok || got == "" || got != ty.Title[l] {
				t.Errorf("%s in %s: %q", ty.Code, l, got)
			}
		}
	}
	if _, ok := locale.DuplicateTitle(locale.EN, "casino_chip"); ok {
		t.Error("an unknown type is on the list")
	}
}
