package historylog

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// A Log's pseudonyms, made with reused states, are what a fresh HMAC under
// the subject key gives, for subjects of every length, in any order.
func TestPseudonym_IsHexHMACOfTheSubject(t *testing.T) {
	keys, err := NewKeys("qujat.test/log", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	l := &Log{keys: keys, macs: wallet.NewMACs(keys.SubjectKey)}
	for _, s := range []string{"citizen:880412310009", "x", strings.Repeat("long", 40), "org:bank", "citizen:880412310009"} {
		m := hmac.New(sha256.New, keys.SubjectKey)
		m.Write([]byte(s))
		want := hex.EncodeToString(m.Sum(nil))
		if got := l.Pseudonym(s); got != want {
			t.Fatalf("Pseudonym(%q) = %s, want %s", s, got, want)
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
