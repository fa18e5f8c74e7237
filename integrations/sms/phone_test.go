package sms_test

import (
	"testing"

	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/wallet"
)

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+77011234567":         "+77011234567",
		"87011234567":          "+77011234567",
		"77011234567":          "+77011234567",
		"8 701 123 45 67":      "+77011234567",
		"8-701-123-45-67":      "+77011234567",
		"+7 (701) 123-45-67":   "+77011234567",
		" +7 701 123 45 67 ":   "+77011234567",
		"8 (7172) 55-12-34":    "+77172551234",
		"+7\u00a0701\u00a0123": "",
	} {
		got, err := sms.NormalizePhone(in)
		if want == "" {
			if wallet.ErrorCode(err) != wallet.EINVALID {
				t.Errorf("NormalizePhone(%q) = %q, %v; want invalid_request", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNormalizePhone_RefusesOtherShapes(t *testing.T) {
	for _, in := range []string{
		"", "+", "7011234567", "+7701123456", "+777011234567", "97011234567",
		"+87011234567", "+4915112345678", "+7 701 123 45 6x", "7+7011234567",
		"++77011234567", "(+7) 701 123 45 67", "+7/701/1234567", "８7011234567",
	} {
		if got, err := sms.NormalizePhone(in); wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("NormalizePhone(%q) = %q, %v; want invalid_request", in, got, err)
		}
	}
}
