package web

import "testing"

func TestCatalogue_EveryMessageInEveryLanguage(t *testing.T) {
	for key := range catalogue["en"] {
		for _, lang := range Languages {
			if catalogue[lang][key] == "" {
				t.Errorf("%s has no %q", lang, key)
			}
		}
	}
	for _, lang := range Languages {
		if len(catalogue[lang]) != len(catalogue["en"]) {
			t.Errorf("%s has %d messages, en %d", lang, len(catalogue[lang]), len(catalogue["en"]))
		}
	}
}

func TestNegotiate_QueryThenAcceptLanguageThenKazakh(t *testing.T) {
	for _, c := range []struct{ asked, accept, want string }{
		{"", "", "kk"},
		{"ru", "en", "ru"},
		{"RU", "", "ru"},
		{"de", "", "kk"},
		{"", "en-US,en;q=0.9", "en"},
		{"", "de-DE, ru;q=0.5, en;q=0.4", "ru"},
		{"", "en;q=0.2, kk-KZ", "kk"},
		{"", "ru;q=0, en;q=0.1", "en"},
		{"", "fr, de", "kk"},
	} {
		if got := negotiate(c.asked, c.accept); got != c.want {
			t.Errorf("negotiate(%q, %q) = %s, want %s", c.asked, c.accept, got, c.want)
		}
	}
}
