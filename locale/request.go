package locale

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/qujat/qujat/wallet"
)

// FromRequest picks the language of an API request: ?lang= if given, else
// the best of Accept-Language that Qujat speaks, else Default. EINVALID for
// a ?lang= that is not kk, ru or en: an app that asks for a language gets
// it or is told, never silently another.
func FromRequest(r *http.Request) (Lang, error) {
	if q := r.URL.Query(); q.Has("lang") {
		l, err := Parse(q.Get("lang"))
		if err != nil {
			return "", wallet.Errorf(wallet.EINVALID, "lang must be kk, ru or en")
		}
		return l, nil
	}
	if l, ok := Negotiate(r.Header.Values("Accept-Language")...); ok {
		return l, nil
	}
	return Default, nil
}

// Pick picks the language of a web page: as FromRequest, but a ?lang= that
// is not spoken is ignored (a page is shown in the next best language).
func Pick(r *http.Request) Lang {
	if l, err := Parse(r.URL.Query().Get("lang")); err == nil {
		return l
	}
	if l, ok := Negotiate(r.Header.Values("Accept-Language")...); ok {
		return l
	}
	return Default
}

// Negotiate returns the language of Langs that the Accept-Language headers
// (RFC 9110, section 12.5.4) rank highest: by q-value, ties by order of
// appearance; a range matches by its primary subtag ("ru-RU" is ru, "kk-KZ"
// is kk), "*" stands for Default, and q=0 excludes a language. ok is false
// if nothing in the headers is spoken here.
func Negotiate(headers ...string) (Lang, bool) {
	type weight struct {
		q     float64
		order int
	}
	weights := map[Lang]weight{}
	excluded := map[Lang]bool{}
	wildcard, n := 0.0, 0
	for _, h := range headers {
		for _, item := range strings.Split(h, ",") {
			tag, params, _ := strings.Cut(item, ";")
			tag = strings.ToLower(strings.TrimSpace(tag))
			q, ok := qValue(params)
			if tag == "" || !ok {
				continue
			}
			n++
			if tag == "*" {
				wildcard = max(wildcard, q)
				continue
			}
			primary, _, _ := strings.Cut(tag, "-")
			l := Lang(primary)
			switch {
			case !l.Valid():
			case q == 0:
				excluded[l] = true
			default:
				if w, seen := weights[l]; !seen || q > w.q {
					weights[l] = weight{q, n}
				}
			}
		}
	}
	var best Lang
	var bw weight
	for _, l := range Langs {
		w, ok := weights[l]
		if !ok || excluded[l] {
			continue
		}
		if best == "" || w.q > bw.q || w.q == bw.q && w.order < bw.order {
			best, bw = l, w
		}
	}
	if best != "" && bw.q >= wildcard {
		return best, true
	}
	if wildcard > 0 {
		// "*" ranks above every language named: the first not excluded and
		// not named (named ones have lower weights), else the best named.
		for _, l := range Langs {
			if _, named := weights[l]; !named && !excluded[l] {
				return l, true
			}
		}
	}
	if best != "" {
		return best, true
	}
	return "", false
}

// qValue reads the weight of an Accept-Language item from its parameters
// (";q=0.8"); 1 if none. ok is false for a malformed weight: the item is
// then ignored.
func qValue(params string) (float64, bool) {
	q := 1.0
	for _, p := range strings.Split(params, ";") {
		k, v, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return 0, false
		}
		q = f
	}
	return q, true
}
