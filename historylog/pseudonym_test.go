package historylog

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// A reused pseudonymMAC gives what a fresh HMAC gives, for subjects of
// every length, in any order.
func TestPseudonymMAC_IsHexHMACOfTheSubject(t *testing.T) {
	key := []byte("subject key of the test, 32 byte")
	p := newPseudonymMAC(key)
	for _, s := range []string{"citizen:880412310009", "x", strings.Repeat("long", 40), "org:bank", "citizen:880412310009"} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		want := hex.EncodeToString(m.Sum(nil))
		if got := p.pseudonym(s); got != want {
			t.Fatalf("pseudonym(%q) = %s, want %s", s, got, want)
		}
	}
}
