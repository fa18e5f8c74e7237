package extracts

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/font/sfnt"

	"github.com/qujat/qujat/extracts/extractstest"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

func TestFonts_HaveEveryKazakhLetter(t *testing.T) {
	for name, b := range map[string][]byte{"regular": fontRegular, "bold": fontBold} {
		f, err := sfnt.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var buf sfnt.Buffer
		for _, r := range "әғқңөұүһіӘҒҚҢӨҰҮҺІ" + "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВЮЯ" + "0123456789№" {
			if g, err := f.GlyphIndex(&buf, r); err != nil || g == 0 {
				t.Errorf("%s has no glyph for %q", name, r)
			}
		}
	}
	if _, err := os.Stat("fonts/LICENSE"); err != nil {
		t.Fatalf("the fonts' licence is not beside them: %v", err)
	}
}

func sampleForm(lang locale.Lang) form {
	until := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	return form{
		Lang: lang, Type: wallet.Licence, Title: locale.Title(lang, wallet.Licence), Number: "0123456789",
		Holder: "Әйгерім Құрманғазықызы", HolderIIN: "900903412710", Issuer: "Денсаулық сақтау министрлігі",
		Registry: "Фармацевтикалық лицензиялар", SignedBy: "Серік Нұрланов", IssuedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		ValidUntil: &until, Status: wallet.StatusValid,
		Fields:  map[string]string{"activity": "Дәріхана қызметі", "address": "Астана, Абай даңғылы 1"},
		Version: 2, Hash: strings.Repeat("ab", 32), PrintedAt: time.Date(2026, 12, 3, 4, 5, 6, 0, time.UTC),
		URL: "https://qujat.test/r/pharma/0123456789/versions/2",
	}
}

func TestRender_OnePageWithKazakhAndRussianTextAndAQRCodeOfTheURL(t *testing.T) {
	for _, tc := range []struct {
		lang locale.Lang
		want []string
	}{
		{locale.KK, []string{"Лицензия", "Үзінді көшірме", "Қызмет түрі", "Дәріхана қызметі", "Әйгерім Құрманғазықызы", "Жарамды", "Серік Нұрланов"}},
		{locale.RU, []string{"Выписка", "Вид деятельности", "Действителен", "Версия", strings.Repeat("ab", 32)}},
		{locale.EN, []string{"Extract", "Activity", "Valid", "Printed at", "2026-12-03 04:05:06 UTC"}},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			f := sampleForm(tc.lang)
			pdf, err := render(f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(pdf), "%PDF-") {
				t.Fatalf("not a PDF: %q", pdf[:16])
			}
			text := extractstest.Text(t, pdf)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q not in the extract's text:\n%s", w, text)
				}
			}
			if n := extractstest.Pages(t, pdf); n != 1 {
				t.Fatalf("%d pages", n)
			}
			if got := extractstest.QR(t, pdf); got != f.URL {
				t.Fatalf("QR code says %q, want %q", got, f.URL)
			}
		})
	}
}

func TestRender_ManyLongFieldsStayOnOnePage(t *testing.T) {
	f := sampleForm(locale.KK)
	f.Fields = map[string]string{}
	for _, k := range []string{"activity", "address", "conditions"} {
		f.Fields[k] = strings.Repeat("Ұзын мәтін өте ұзын мәтін ", 40)
	}
	pdf, err := render(f)
	if err != nil {
		t.Fatal(err)
	}
	if n := extractstest.Pages(t, pdf); n != 1 {
		t.Fatalf("%d pages", n)
	}
	if got := extractstest.QR(t, pdf); got != f.URL {
		t.Fatalf("QR: %q", got)
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{"Aidos Nurlanov": "A**** N*******", "Әйгерім": "Ә******", "": "", "A": "A"} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}
