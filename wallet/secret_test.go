package wallet

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy pool on fire") }

func TestHasher_HashIsHexHMACOfPurposeNulSecret(t *testing.T) {
	pepper := []byte("test pepper")
	h := NewHasher(pepper)
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte("otp\x00123456"))
	want := hex.EncodeToString(m.Sum(nil))
	if got := h.Hash(SecretOTP, "123456"); got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
	// The same from a reused state, after secrets of other lengths.
	for _, secret := range []string{"", strings.Repeat("long secret ", 20), "1"} {
		m := hmac.New(sha256.New, pepper)
		m.Write([]byte("share-token\x00" + secret))
		if got, want := h.Hash(SecretShareToken, secret), hex.EncodeToString(m.Sum(nil)); got != want {
			t.Fatalf("Hash of %q = %s, want %s", secret, got, want)
		}
	}
	if got := h.Hash(SecretOTP, "123456"); got != want {
		t.Fatalf("Hash again = %s, want %s", got, want)
	}
}

func TestHasher_PurposeSeparatesDomains(t *testing.T) {
	h := NewHasher([]byte("p"))
	seen := map[string]string{}
	for _, p := range []string{SecretOTP, SecretRefreshToken, SecretShareToken, SecretShortCode, SecretClientSecret} {
		got := h.Hash(p, "123456")
		if other, dup := seen[got]; dup {
			t.Fatalf("purposes %q and %q hash alike", p, other)
		}
		seen[got] = p
	}
	// The NUL separator keeps ("ab","c") and ("a","bc") apart.
	if h.Hash("ab", "c") == h.Hash("a", "bc") {
		t.Fatal("purpose/secret boundary is ambiguous")
	}
}

func TestHasher_PepperMatters(t *testing.T) {
	if NewHasher([]byte("a")).Hash(SecretOTP, "1") == NewHasher([]byte("b")).Hash(SecretOTP, "1") {
		t.Fatal("different peppers give the same hash")
	}
}

func TestHasher_PepperIsCopied(t *testing.T) {
	pepper := []byte("pepper")
	h := NewHasher(pepper)
	before := h.Hash(SecretOTP, "x")
	pepper[0] = 'X'
	if h.Hash(SecretOTP, "x") != before {
		t.Fatal("changing the caller's slice changed the hasher")
	}
}

func TestNewHasher_EmptyPepperPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewHasher(nil)
}

func TestHasher_PurposeWithNulPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewHasher([]byte("p")).Hash("o\x00tp", "1")
}

func TestHasher_Equal(t *testing.T) {
	h := NewHasher([]byte("p"))
	a := h.Hash(SecretOTP, "111111")
	if !h.Equal(a, h.Hash(SecretOTP, "111111")) {
		t.Fatal("equal hashes compare unequal")
	}
	if h.Equal(a, h.Hash(SecretOTP, "111112")) {
		t.Fatal("different hashes compare equal")
	}
	if h.Equal(a, a[:10]) || h.Equal(a, "") {
		t.Fatal("prefix compares equal")
	}
}

func TestRandomDigits_LengthAndAlphabet(t *testing.T) {
	for _, n := range []int{1, 6, 8, 100} {
		s, err := RandomDigits(rand.Reader, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != n {
			t.Fatalf("len = %d, want %d", len(s), n)
		}
		for _, c := range s {
			if c < '0' || c > '9' {
				t.Fatalf("non-digit %q in %q", c, s)
			}
		}
	}
}

func TestRandomDigits_SkipsBytesThatWouldBias(t *testing.T) {
	// 250..255 must be skipped, not folded onto 0..5.
	src := bytes.NewReader(append(bytes.Repeat([]byte{255, 250, 253}, 10), 3, 17, 249, 0, 99, 101, 42, 42, 42, 42, 42, 42, 42, 42, 42, 42))
	s, err := RandomDigits(src, 6)
	if err != nil {
		t.Fatal(err)
	}
	if s != "379091" {
		t.Fatalf("got %q, want 379091", s)
	}
}

func TestRandomDigits_Uniform(t *testing.T) {
	const draws = 200000
	s, err := RandomDigits(rand.Reader, draws)
	if err != nil {
		t.Fatal(err)
	}
	var counts [10]int
	for i := 0; i < len(s); i++ {
		counts[s[i]-'0']++
	}
	// Chi-square with 9 degrees of freedom; 27.88 is the 0.999 quantile, so
	// a fair source fails this about once in a thousand runs.
	exp := float64(draws) / 10
	chi := 0.0
	for _, c := range counts {
		d := float64(c) - exp
		chi += d * d / exp
	}
	if chi > 27.88 || math.IsNaN(chi) {
		t.Fatalf("digits look biased: counts %v, chi² %.1f", counts, chi)
	}
}

func TestRandomDigits_Errors(t *testing.T) {
	if _, err := RandomDigits(failingReader{}, 6); ErrorCode(err) != EINTERNAL {
		t.Fatalf("failing reader: %v", err)
	}
	if _, err := RandomDigits(bytes.NewReader([]byte{1, 2}), 6); ErrorCode(err) != EINTERNAL {
		t.Fatalf("short reader: %v", err)
	}
	if _, err := RandomDigits(rand.Reader, 0); ErrorCode(err) != EINTERNAL {
		t.Fatalf("n=0: %v", err)
	}
}

func TestRandomToken(t *testing.T) {
	s, err := RandomToken(rand.Reader, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 43 || strings.ContainsAny(s, "=+/") {
		t.Fatalf("token %q is not 43 chars of unpadded base64url", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("decode: %v, %d bytes", err, len(b))
	}
	if s2, _ := RandomToken(rand.Reader, 32); s2 == s {
		t.Fatal("two tokens alike")
	}
	if _, err := RandomToken(failingReader{}, 16); ErrorCode(err) != EINTERNAL {
		t.Fatalf("failing reader: %v", err)
	}
	if _, err := RandomToken(rand.Reader, 0); ErrorCode(err) != EINTERNAL {
		t.Fatalf("nbytes=0: %v", err)
	}
}

func TestNewID(t *testing.T) {
	id, err := NewID(bytes.NewReader(make([]byte, 16)), "shr_")
	if err != nil {
		t.Fatal(err)
	}
	if id != "shr_"+strings.Repeat("a", 26) {
		t.Fatalf("id of zero bytes = %q", id)
	}
	id, err = NewID(rand.Reader, "otp_")
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(id, "otp_")
	if !ok || len(rest) != 26 {
		t.Fatalf("id %q: want otp_ and 26 chars", id)
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			t.Fatalf("id %q has %q outside lowercase base32", id, c)
		}
	}
	if _, err := NewID(failingReader{}, "x_"); ErrorCode(err) != EINTERNAL {
		t.Fatalf("failing reader: %v", err)
	}
}

func TestNewTimeID(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	// Ids sort as strings (byte order) by their time, whatever their random
	// part: the smallest random part of a later millisecond sorts after the
	// largest of the one before, across every character boundary of the time.
	prev := ""
	for _, d := range []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 31 * time.Millisecond, 32 * time.Millisecond,
		time.Second, time.Hour, 24 * time.Hour, 365 * 24 * time.Hour, 30 * 365 * 24 * time.Hour} {
		lo, err := NewTimeID(bytes.NewReader(make([]byte, 10)), at.Add(d), "vw_")
		if err != nil {
			t.Fatal(err)
		}
		hi, err := NewTimeID(bytes.NewReader(bytes.Repeat([]byte{0xff}, 10)), at.Add(d), "vw_")
		if err != nil {
			t.Fatal(err)
		}
		if !(prev < lo && lo < hi) {
			t.Fatalf("at +%v: %q, %q after %q: not in time order", d, lo, hi, prev)
		}
		prev = hi
	}
	id, err := NewTimeID(rand.Reader, at, "shr_")
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(id, "shr_")
	if !ok || len(rest) != 26 {
		t.Fatalf("id %q: want shr_ and 26 chars", id)
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			t.Fatalf("id %q has %q outside lowercase base32", id, c)
		}
	}
	other, _ := NewTimeID(rand.Reader, at, "shr_")
	if other == id {
		t.Fatalf("two ids of the same millisecond are equal: %q", id)
	}
	if _, err := NewTimeID(failingReader{}, at, "x_"); ErrorCode(err) != EINTERNAL {
		t.Fatalf("failing reader: %v", err)
	}
}
