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
	// MessageID is the gateway's id of the message, the same on every
	// delivery of it: the service accepts each id once.
	MessageID  string    `json:"message_id"`
	From       string    `json:"from"` // E.164 after ParseInbound
	Text       string    `json:"text"`
	ReceivedAt time.Time `json:"received_at"` // when the gateway received it
}

// MaxMessageID is the longest gateway message id accepted, in bytes.
const MaxMessageID = 128

// MaxInboundText is the longest text accepted from the gateway, in runes
// (ten concatenated SMS parts).
const MaxInboundText = 1600

// ParseInbound reads the body of a verified inbound call: one JSON object
// with "message_id", "from", "text" and "received_at". Fields the gateway
// adds are ignored. From is normalised with NormalizePhone. EINVALID for
// anything else: not one JSON object, a missing or foreign sender, a missing
// message id or one longer than MaxMessageID bytes or with characters other
// than printable ASCII, a missing received_at, a text that is not UTF-8 or
// is longer than MaxInboundText. Whether received_at is recent enough, and
// whether the id was seen before, is the consent service's to judge.
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
	if in.MessageID == "" || len(in.MessageID) > MaxMessageID || strings.IndexFunc(in.MessageID, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return Inbound{}, wallet.Errorf(wallet.EINVALID, "inbound SMS message_id must be 1 to %d printable ASCII characters", MaxMessageID)
	}
	if in.ReceivedAt.IsZero() {
		return Inbound{}, wallet.Errorf(wallet.EINVALID, "inbound SMS received_at is required")
	}
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

// RefDigits is the length of the reference a consent SMS asks the citizen
// to send back with the answer ("Reply YES 4821").
const RefDigits = 4

// ParseReply reads a reply to a consent request: a word meaning yes or no,
// in any case, optionally followed by a reference of RefDigits digits
// ("YES 4821", "иә 4821", "no 0007."), or the reference first ("4821 yes").
// Spaces around and trailing full stops, exclamation and question marks are
// ignored. ok is false for anything else: "yes please", "ok", "123456",
// "YES 48", "YES 4821 9". ref is "" if the reply carried none; whether a
// reply without one may answer anything is the caller's to decide. A reply
// the service cannot read must not count as either answer.
func ParseReply(text string) (yes bool, ref string, ok bool) {
	fields := strings.Fields(strings.TrimRight(strings.TrimSpace(text), ".!? \t\r\n"))
	var word string
	switch len(fields) {
	case 1:
		word = fields[0]
	case 2:
		switch {
		case isRef(fields[1]):
			word, ref = fields[0], fields[1]
		case isRef(fields[0]):
			word, ref = fields[1], fields[0]
		default:
			return false, "", false
		}
	default:
		return false, "", false
	}
	w := strings.ToUpper(strings.TrimRight(word, ".!?,"))
	for _, y := range yesWords {
		if w == y {
			return true, ref, true
		}
	}
	for _, n := range noWords {
		if w == n {
			return false, ref, true
		}
	}
	return false, "", false
}

func isRef(s string) bool {
	if len(s) != RefDigits {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
