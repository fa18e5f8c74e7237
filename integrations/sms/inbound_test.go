package sms_test

import (
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/wallet"
)

func TestSignInbound_VerifiesAndIsLowercaseHex(t *testing.T) {
	secret := []byte("gateway secret")
	body := []byte(`{"from":"+77011234567","text":"YES","received_at":"2026-11-23T09:00:00Z"}`)
	sig := sms.SignInbound(secret, body)
	// Known answer, computed independently of Go.
	if want := "sha256=6cf692cd8496a0afcfdd8da38f6d4f7ab4708febb0c7616f6d59ed145f44da12"; sig != want {
		t.Fatalf("signature %q, want %q", sig, want)
	}
	if !sms.VerifyInboundSignature(secret, body, sig) {
		t.Fatal("own signature does not verify")
	}
	if !sms.VerifyInboundSignature(secret, body, "sha256="+strings.ToUpper(sig[7:])) {
		t.Fatal("upper-case hex does not verify")
	}
	if !sms.VerifyInboundSignature(secret, body, " "+sig+" ") {
		t.Fatal("surrounding spaces are not tolerated")
	}
}

func TestVerifyInboundSignature_RefusesWhatIsNotSigned(t *testing.T) {
	secret := []byte("gateway secret")
	body := []byte(`{"from":"+77011234567","text":"YES"}`)
	sig := sms.SignInbound(secret, body)
	for name, c := range map[string]struct {
		secret []byte
		body   []byte
		header string
	}{
		"other secret":   {[]byte("other"), body, sig},
		"tampered body":  {secret, []byte(`{"from":"+77011234567","text":"NO"}`), sig},
		"empty header":   {secret, body, ""},
		"no prefix":      {secret, body, sig[7:]},
		"other prefix":   {secret, body, "sha1=" + sig[7:]},
		"upper prefix":   {secret, body, "SHA256=" + sig[7:]},
		"short":          {secret, body, sig[:len(sig)-2]},
		"long":           {secret, body, sig + "00"},
		"not hex":        {secret, body, sig[:len(sig)-1] + "g"},
		"empty secret":   {nil, body, sms.SignInbound(nil, body)},
		"prefix only":    {secret, body, "sha256="},
		"one bit off":    {secret, body, sig[:len(sig)-1] + flip(sig[len(sig)-1])},
		"signature of …": {secret, body[:len(body)-1], sig},
	} {
		if sms.VerifyInboundSignature(c.secret, c.body, c.header) {
			t.Errorf("%s: verified", name)
		}
	}
}

func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func TestParseInbound(t *testing.T) {
	in, err := sms.ParseInbound([]byte(`{"message_id":"gw-1","from":"8 701 123 45 67","text":"Иә 4821","received_at":"2026-11-23T14:00:00+05:00","gateway_id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if in.MessageID != "gw-1" || in.From != "+77011234567" || in.Text != "Иә 4821" || !in.ReceivedAt.Equal(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)) || in.ReceivedAt.Location() != time.UTC {
		t.Fatalf("parsed %+v", in)
	}
	const at = `,"received_at":"2026-11-23T09:00:00Z"`
	for _, bad := range []string{
		``, `[]`, `{"from":`, `{"message_id":"m","text":"YES"` + at + `}`, `{"message_id":"m","from":"+4915112345678","text":"YES"` + at + `}`,
		`{"message_id":"m","from":"+77011234567","text":"YES"` + at + `} {}`,
		`{"message_id":"m","from":"+77011234567","text":"` + strings.Repeat("a", sms.MaxInboundText+1) + `"` + at + `}`,
		`{"message_id":"m","from":"+77011234567","text":"YES","received_at":"yesterday"}`,
		// The message id and the time are required.
		`{"message_id":"m","from":"+77011234567","text":"no"}`,
		`{"from":"+77011234567","text":"no"` + at + `}`,
		`{"message_id":"","from":"+77011234567","text":"no"` + at + `}`,
		`{"message_id":"a b","from":"+77011234567","text":"no"` + at + `}`,
		`{"message_id":"` + strings.Repeat("m", sms.MaxMessageID+1) + `","from":"+77011234567","text":"no"` + at + `}`,
	} {
		if _, err := sms.ParseInbound([]byte(bad)); wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("ParseInbound(%.60q) err = %v, want invalid_request", bad, err)
		}
	}
}

func TestParseReply(t *testing.T) {
	for _, c := range []struct {
		text string
		yes  bool
		ref  string
		ok   bool
	}{
		{"YES", true, "", true}, {"yes", true, "", true}, {" Yes \n", true, "", true}, {"y", true, "", true}, {"Yes!", true, "", true},
		{"иә", true, "", true}, {"ИӘ", true, "", true}, {"Иа", true, "", true}, {"ия.", true, "", true}, {"да", true, "", true},
		{"NO", false, "", true}, {"no", false, "", true}, {"n", false, "", true}, {"No.", false, "", true},
		{"жоқ", false, "", true}, {"ЖОК", false, "", true}, {"нет", false, "", true},
		{"YES 4821", true, "4821", true}, {" yes  0007. ", true, "0007", true}, {"Иә, 4821", true, "4821", true},
		{"4821 no", false, "4821", true}, {"нет 1234!", false, "1234", true},
		{"", false, "", false}, {"   ", false, "", false}, {"yes please", false, "", false}, {"ok", false, "", false},
		{"123456", false, "", false}, {"YES NO", false, "", false}, {"yess", false, "", false}, {"?", false, "", false},
		{"YES 48", false, "", false}, {"YES 48210", false, "", false}, {"YES 4821 9", false, "", false},
		{"4821", false, "", false}, {"4821 1234", false, "", false}, {"ok 4821", false, "", false},
	} {
		yes, ref, ok := sms.ParseReply(c.text)
		if yes != c.yes || ref != c.ref || ok != c.ok {
			t.Errorf("ParseReply(%q) = %v, %q, %v; want %v, %q, %v", c.text, yes, ref, ok, c.yes, c.ref, c.ok)
		}
	}
}
