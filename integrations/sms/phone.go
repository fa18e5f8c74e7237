package sms

import (
	"strings"
	"unicode"

	"github.com/qujat/qujat/wallet"
)

// NormalizePhone returns a Kazakh phone number in E.164 form, "+7" and ten
// digits. It accepts that form, the national form with the trunk prefix
// ("8 701 123 45 67") and the international one without its plus
// ("77011234567"), with spaces, dashes, dots and parentheses anywhere.
// Kazakhstan shares country code 7 with Russia, and the registry may list
// either kind of number, so any ten digits after the 7 are accepted. EINVALID
// for anything else.
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == strings.IndexFunc(s, func(r rune) bool { return !unicode.IsSpace(r) }):
			b.WriteRune(r)
		case unicode.IsSpace(r) || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", badPhone()
		}
	}
	d := b.String()
	switch {
	case len(d) == 12 && strings.HasPrefix(d, "+7"):
		return d, nil
	case len(d) == 11 && (d[0] == '8' || d[0] == '7'):
		return "+7" + d[1:], nil
	}
	return "", badPhone()
}

func badPhone() *wallet.Error {
	return wallet.Errorf(wallet.EINVALID, "phone must be +7 and ten digits (or 8 and ten digits)")
}
