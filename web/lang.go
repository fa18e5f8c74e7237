package web

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// Languages of the pages, the first the default.
var Languages = []string{"kk", "ru", "en"}

// languageNames are shown in the language switch, each in its own language.
var languageNames = map[string]string{"kk": "Қазақша", "ru": "Русский", "en": "English"}

// messagesJSON is the pages' own catalogue of interface texts, keyed by
// language then by message. Document titles and field labels are not here:
// documentText gives them.
//
//go:embed messages.json
var messagesJSON []byte

var catalogue = func() map[string]map[string]string {
	var m map[string]map[string]string
	if err := json.Unmarshal(messagesJSON, &m); err != nil {
		panic("web: messages.json: " + err.Error())
	}
	return m
}()

// text returns message key in lang; a missing message shows its key, so
// that a gap is visible rather than blank (a test checks there is none).
func text(lang, key string, args ...any) string {
	s, ok := catalogue[lang][key]
	if !ok {
		s = key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

func known(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// negotiate picks the page language: ?lang= (or the form's lang field),
// else the best of Accept-Language that the pages have, else Kazakh.
func negotiate(asked, acceptLanguage string) string {
	if asked = strings.ToLower(strings.TrimSpace(asked)); known(asked) {
		return asked
	}
	type choice struct {
		lang string
		q    float64
		pos  int
	}
	var cs []choice
	for i, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if !known(primary) {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if q > 0 {
			cs = append(cs, choice{primary, q, i})
		}
	}
	if len(cs) == 0 {
		return Languages[0]
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].q > cs[b].q })
	return cs[0].lang
}

// documentText is the one place the pages get a document's display form in
// lang: its title and a label for each field, from the shared catalogue
// (locale), as the API gives them.
func (p *Pages) documentText(lang string, t wallet.DocumentType, fields []string) (title string, labels map[string]string) {
	l := locale.Lang(lang)
	if !l.Valid() {
		l = locale.Default
	}
	labels = make(map[string]string, len(fields))
	for _, f := range fields {
		labels[f] = locale.Label(l, t, f)
	}
	return locale.Title(l, t), labels
}
