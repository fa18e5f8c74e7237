package consent

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/wallet"
)

// The texts of the SMS that ask a citizen, in the citizen's language
// (locale's catalogue: sms.consent.otp, sms.consent.reply). The reply words
// of sms_reply (YES/NO, ИӘ/ЖОҚ, ДА/НЕТ) are all understood by
// sms.ParseReply, whatever the language of the request.

// otpText is the SMS of an otp request, carrying code.
func otpText(lang locale.Lang, client wallet.Client, c wallet.Consent, code, child string) string {
	return locale.Format(lang, wardKey("sms.consent.otp", child), map[string]string{
		"client": client.Name, "documents": locale.ListTypes(lang, c.DocumentTypes),
		"purpose": quotePurpose(c.Purpose), "code": code, "child": child,
	})
}

// wardKey is the message key for a request sent to a minor's
// representative (child != ""), naming the child.
func wardKey(key, child string) string {
	if child != "" {
		return key + ".ward"
	}
	return key
}

// replyText is the SMS of an sms_reply request, asking for ref back within
// minutes.
func replyText(lang locale.Lang, client wallet.Client, c wallet.Consent, ref string, minutes int, child string) string {
	return locale.Format(lang, wardKey("sms.consent.reply", child), map[string]string{
		"client": client.Name, "documents": locale.ListTypes(lang, c.DocumentTypes),
		"purpose": quotePurpose(c.Purpose), "ref": ref, "minutes": strconv.Itoa(minutes), "child": child,
	})
}

// quotePurpose shortens a long purpose for an SMS.
func quotePurpose(p string) string {
	if utf8.RuneCountInString(p) <= smsPurposeMax {
		return p
	}
	r := []rune(p)
	return strings.TrimSpace(string(r[:smsPurposeMax-1])) + "…"
}
