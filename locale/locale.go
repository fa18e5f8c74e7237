// Package locale holds what Qujat says to people in Kazakh, Russian and
// English: the titles and field labels of document types and the texts of
// SMS and web pages. The words are data, kept in one place (catalogue.json,
// embedded); this package reads them and picks a language for a request
// (?lang=, else Accept-Language, else Kazakh).
//
// Error messages of the API stay English and their codes stable: they are
// for the developers of the apps, not for citizens.
package locale

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/qujat/qujat/wallet"
)

// Lang is a language Qujat speaks: an ISO 639-1 code.
type Lang string

// The languages, Kazakh first: it is the state language and the default.
const (
	KK Lang = "kk"
	RU Lang = "ru"
	EN Lang = "en"

	Default = KK
)

// Langs lists every language, in the order a language switch shows them.
var Langs = []Lang{KK, RU, EN}

// Valid reports whether l is one of Langs.
func (l Lang) Valid() bool {
	switch l {
	case KK, RU, EN:
		return true
	}
	return false
}

// Parse reads a language code ("kk", "ru", "en"; case and surrounding space
// ignored). EINVALID for anything else.
func Parse(s string) (Lang, error) {
	l := Lang(strings.ToLower(strings.TrimSpace(s)))
	if !l.Valid() {
		return "", wallet.Errorf(wallet.EINVALID, "language must be kk, ru or en")
	}
	return l, nil
}

// text is one thing said in every language.
type text map[Lang]string

type documentEntry struct {
	Title  text            `json:"title"`
	Fields map[string]text `json:"fields"`
}

type catalogue struct {
	Documents      map[wallet.DocumentType]documentEntry `json:"documents"`
	Messages       map[string]text                       `json:"messages"`
	DuplicateTypes []DuplicateType                       `json:"duplicate_types"`
}

// DuplicateType is one type of paper document of which a service centre
// makes electronic duplicates: the government list, kept as data.
type DuplicateType struct {
	Code  string          `json:"code"`
	Title map[Lang]string `json:"title"`
}

// DuplicateTypes returns the list of duplicate types, in its order.
func DuplicateTypes() []DuplicateType {
	out := make([]DuplicateType, len(cat.DuplicateTypes))
	copy(out, cat.DuplicateTypes)
	return out
}

// DuplicateTitle returns the title of a duplicate type in lang, and
// whether the type is on the list.
func DuplicateTitle(lang Lang, code string) (string, bool) {
	for _, t := range cat.DuplicateTypes {
		if t.Code == code {
			return text(t.Title).pick(lang), true
		}
	}
	return "", false
}

//go:embed catalogue.json
var catalogueJSON []byte

// cat is the catalogue, read once at start; a catalogue that does not
// decode is a bug caught by any test of this package.
var cat = mustLoad(catalogueJSON)

func mustLoad(b []byte) catalogue {
	var c catalogue
	if err := json.Unmarshal(b, &c); err != nil {
		panic(fmt.Sprintf("locale: catalogue.json: %v", err))
	}
	return c
}

// pick returns t in lang, else in the default language, else in English,
// else "". The catalogue test makes sure the fallbacks are never needed
// for what it holds.
func (t text) pick(lang Lang) string {
	for _, l := range []Lang{lang, Default, EN} {
		if s := t[l]; s != "" {
			return s
		}
	}
	return ""
}

// Title returns the title of a document type in lang ("Жеке куәлік"); an
// unknown type's title is the type itself.
func Title(lang Lang, t wallet.DocumentType) string {
	if e, ok := cat.Documents[t]; ok {
		if s := e.Title.pick(lang); s != "" {
			return s
		}
	}
	return string(t)
}

// Label returns the label of a field of a document type in lang ("Тегі");
// a field the catalogue does not know (a source may add fields) is labelled
// by its own name.
func Label(lang Lang, t wallet.DocumentType, field string) string {
	if e, ok := cat.Documents[t]; ok {
		if s := e.Fields[field].pick(lang); s != "" {
			return s
		}
	}
	return field
}

// Labels returns the labels of the given fields (a document's Fields) in
// lang, keyed by field.
func Labels(lang Lang, t wallet.DocumentType, fields map[string]string) map[string]string {
	out := make(map[string]string, len(fields))
	for f := range fields {
		out[f] = Label(lang, t, f)
	}
	return out
}

// Fields lists the fields the catalogue labels for a document type, sorted.
func Fields(t wallet.DocumentType) []string {
	e := cat.Documents[t]
	out := make([]string, 0, len(e.Fields))
	for f := range e.Fields {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// T returns the message key in lang ("status.valid" → "Жарамды"); an
// unknown key is returned as it is, so that a missing text shows as its key
// rather than as nothing.
func T(lang Lang, key string) string {
	if s := cat.Messages[key].pick(lang); s != "" {
		return s
	}
	return key
}

// Format returns the message key in lang with each {name} replaced by
// args[name]: T with named placeholders, since word order differs between
// the languages.
func Format(lang Lang, key string, args map[string]string) string {
	s := T(lang, key)
	if len(args) == 0 {
		return s
	}
	pairs := make([]string, 0, 2*len(args))
	for k, v := range args {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// ListTypes names document types for a sentence in lang, in lower case:
// "жеке куәлік және паспорт", "identity card, passport and diploma".
func ListTypes(lang Lang, types []wallet.DocumentType) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = strings.ToLower(Title(lang, t))
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + T(lang, "list.and") + " " + names[len(names)-1]
}

// OfCitizen tells the language a citizen chose (their stored preference).
type OfCitizen func(ctx context.Context, iin wallet.IIN) Lang

// Stored returns the OfCitizen that reads preferences from store: a citizen
// who chose none, or whose choice cannot be read now, gets Default, so that
// an SMS still goes out when the preference cannot be read.
func Stored(store wallet.PreferenceStore) OfCitizen {
	return func(ctx context.Context, iin wallet.IIN) Lang {
		p, err := store.Preferences(ctx, iin)
		if err != nil {
			return Default
		}
		if l := Lang(p.Language); l.Valid() {
			return l
		}
		return Default
	}
}

// Of returns f's answer for iin, or Default if f is nil.
func (f OfCitizen) Of(ctx context.Context, iin wallet.IIN) Lang {
	if f == nil {
		return Default
	}
	return f(ctx, iin)
}
