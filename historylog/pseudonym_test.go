package historylog

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
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

// A leaf holds a party's pseudonym as the bytes its lowercase hex spells;
// any other spelling is refused.
func TestLeafMarshal_PseudonymsAreLowercaseHexOfTheirBytes(t *testing.T) {
	raw := make([]byte, PseudonymBytes)
	for i := range raw {
		raw[i] = byte(i*37 + 11)
	}
	good := hex.EncodeToString(raw)
	leaf := func(subject string) Leaf {
		return Leaf{Kind: "view", At: time.Unix(1, 0).UTC(), Parties: []Party{{Subject: subject, Seq: 1, Prev: -1}}}
	}
	b, err := leaf(good).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[len(b)-16-PseudonymBytes:len(b)-16], raw) {
		t.Fatalf("leaf holds %x, want %x", b[len(b)-16-PseudonymBytes:len(b)-16], raw)
	}
	for _, bad := range []string{strings.ToUpper(good), good[:len(good)-2], good + "00", good[:len(good)-1] + "g", ""} {
		if _, err := leaf(bad).MarshalBinary(); err == nil {
			t.Fatalf("pseudonym %q accepted", bad)
		}
	}
}
