package sms

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qujat/qujat/wallet"
)

// SignatureHeader carries the gateway's signature of an inbound call's body.
const SignatureHeader = "X-Qujat-Signature"

const signaturePrefix = "sha256="

// SignInbound returns the SignatureHeader value for body under secret:
// "sha256=" and the lowercase hex HMAC-SHA256 of the raw body.
func SignInbound(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// VerifyInboundSignature reports whether header is a valid signature of body
// under secret. The prefix must be exactly "sha256="; the hex may be upper or
// lower case (gateways differ, and case carries no information), and the
// comparison is of the decoded MACs, in constant time. An empty secret
// verifies nothing, so an unconfigured server refuses every call.
func VerifyInboundSignature(secret, body []byte, header string) bool {
	if len(secret) == 0 {
		return false
	}
	h, ok := strings.CutPrefix(strings.TrimSpace(header), signaturePrefix)
	if !ok || len(h) != hex.EncodedLen(sha256.Size) {
		return false
	}
	got, err := hex.DecodeString(h)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// Inbound is a text message a citizen sent, as the gateway reports it.
type Inbound struct {
	From       string    `json:"from"` // E.164 after ParseInbound
	Text       string    `json:"text"`
	ReceivedAt time.Time `json:"received_at"` // zero if the gateway did not say
}

// MaxInboundText is the longest text accepted from the gateway, in runes
// (ten concatenated SMS parts).
const MaxInboundText = 1600

// ParseInbound reads the body of a verified inbound call: one JSON object
// with "from", "text" and optionally "received_at". Fields the gateway adds
// are ignored. From is normalised with NormalizePhone. EINVALID for anything
// else: not one JSON object, a missing or foreign sender, a text that is not
// UTF-8 or is longer than MaxInboundText.
func ParseInbound(body []byte) (Inbound, error) {
	var in Inbound
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return Inbound{}, wallet.Wrap(wallet.EINVALID, err, "inbound SMS must be a JSON object with from and text")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Inbound{}, wallet.Errorf(wallet.EINVALID, "inbound SMS must be a single JSON object")
	}
	from, err := NormalizePhone(in.From)
	if err != nil {
		return Inbound{}, wallet.Wrap(wallet.EINVALID, err, "inbound SMS from: "+wallet.ErrorMessage(err))
	}
	in.From = from
	if !utf8.ValidString(in.Text) || utf8.RuneCountInString(in.Text) > MaxInboundText {
		return Inbound{}, wallet.Errorf(wallet.EINVALID, "inbound SMS text is too long or not UTF-8")
	}
	in.ReceivedAt = in.ReceivedAt.UTC()
	return in, nil
}

// Replies understood by ParseReply: English, Kazakh (with and without the
// Kazakh letters, which not every phone keyboard has) and Russian, the
// languages a consent SMS is likely to be answered in.
var (
	yesWords = []string{"YES", "Y", "ИӘ", "ИА", "ИЯ", "ДА"}
	noWords  = []string{"NO", "N", "ЖОҚ", "ЖОК", "НЕТ"}
)

// ParseReply reads a reply to a consent request. ok is false unless the whole
// message, trimmed of spaces and of trailing full stops, exclamation and
// question marks, is one word meaning yes or no, in any case: "yes", " Y ",
// "Иә!", "жоқ", "no." are read; "yes please", "ok" and "123456" are not. A
// reply the service cannot read must not count as either answer.
func ParseReply(text string) (yes bool, ok bool) {
	w := strings.ToUpper(strings.TrimRight(strings.TrimSpace(text), ".!? \t\r\n"))
	for _, y := range yesWords {
		if w == y {
			return true, true
		}
	}
	for _, n := range noWords {
		if w == n {
			return false, true
		}
	}
	return false, false
}
