package otp

import (
	"encoding/hex"
	"fmt"
)

// PhoneHint masks a phone number for display, keeping what lets its owner
// recognise it: "+77011234567" → "+7 701 *** ** 67". A number of another shape
// keeps only its last two digits ("*** ** 89"); one with fewer than four
// digits shows nothing ("***").
func PhoneHint(phone string) string {
	var d []byte
	for i := 0; i < len(phone); i++ {
		if phone[i] >= '0' && phone[i] <= '9' {
			d = append(d, phone[i])
		}
	}
	switch {
	case len(d) == 11 && d[0] == '7':
		return fmt.Sprintf("+7 %s *** ** %s", d[1:4], d[9:])
	case len(d) >= 4:
		return "*** ** " + string(d[len(d)-2:])
	default:
		return "***"
	}
}

// mobilePrefixes are operator codes of Kazakh mobile networks, from which a
// decoy hint picks one.
var mobilePrefixes = []string{"700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778"}

// decoyHint makes up a plausible hint for subject, the same every time (it
// is derived from the subject under the pepper, so nobody without the pepper
// can tell it from a real one).
func (s *Service) decoyHint(subject string) string {
	b, _ := hex.DecodeString(s.Hasher.Hash("otp-decoy-hint", subject))
	prefix := mobilePrefixes[int(b[0])%len(mobilePrefixes)]
	last := (int(b[1])<<8 | int(b[2])) % 100
	return fmt.Sprintf("+7 %s *** ** %02d", prefix, last)
}
