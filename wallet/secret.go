package wallet

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
	"strings"
	"sync"
	"time"
)

// Hash domains: the purpose argument of Hasher.Hash. A secret hashed for one
// purpose never matches the same secret hashed for another, so a short code
// cannot stand in for an OTP, nor a share token for a refresh token.
const (
	SecretOTP          = "otp"
	SecretRefreshToken = "refresh"
	SecretShareToken   = "share-token"
	SecretShortCode    = "short-code"
	SecretClientSecret = "client-secret"
)

// Hasher turns secrets (OTPs, tokens, short codes, client secrets) into the
// hex HMAC-SHA256 that the stores keep. The key is the server's pepper, which
// lives outside the stores: a copy of a store alone does not let anyone test
// guesses of six-digit codes offline. A Hasher is safe for concurrent use.
type Hasher struct {
	macs *MACs
}

// NewHasher returns a Hasher keyed by pepper (copied). It panics if pepper is
// empty: an unkeyed hash of a six-digit code protects nothing, and a missing
// pepper is a wiring bug that must not reach production quietly.
func NewHasher(pepper []byte) *Hasher {
	if len(pepper) == 0 {
		panic("wallet: NewHasher with an empty pepper")
	}
	return &Hasher{macs: NewMACs(pepper)}
}

// Hash returns the lowercase hex HMAC-SHA256 of purpose ‖ 0x00 ‖ secret.
// purpose is one of the Secret… constants (or another fixed name); it must
// not contain a NUL byte, which would make the split ambiguous, and Hash
// panics if it does.
func (h *Hasher) Hash(purpose, secret string) string {
	if strings.IndexByte(purpose, 0) >= 0 {
		panic("wallet: hash purpose contains a NUL byte")
	}
	return h.macs.Hex(purpose, "\x00", secret)
}

// MACs computes lowercase hex HMAC-SHA256 under one key, reusing keyed
// states and their buffers: making a keyed HMAC costs two SHA-256 states
// and the key schedule, and hashes are made on every redemption, sign-in
// and log leaf. It is safe for concurrent use.
type MACs struct {
	pool sync.Pool // of *keyedMAC
}

// keyedMAC is a keyed HMAC state with a buffer for its input and output.
type keyedMAC struct {
	mac hash.Hash
	buf []byte
}

// NewMACs returns MACs under key (copied).
func NewMACs(key []byte) *MACs {
	key = append([]byte(nil), key...)
	m := &MACs{}
	m.pool.New = func() any { return &keyedMAC{mac: hmac.New(sha256.New, key)} }
	return m
}

// Hex returns the lowercase hex HMAC-SHA256 of the parts, concatenated.
func (m *MACs) Hex(parts ...string) string {
	k := m.pool.Get().(*keyedMAC)
	defer m.pool.Put(k)
	k.mac.Reset()
	b := k.buf[:0]
	for _, p := range parts {
		b = append(b, p...)
	}
	k.mac.Write(b)
	b = k.mac.Sum(b[:0])
	b = hex.AppendEncode(b, b[:sha256.Size])
	k.buf = b
	return string(b[sha256.Size:])
}

// Equal reports whether two hashes are the same, in time that does not depend
// on where they differ (only on their lengths, which are public).
func (h *Hasher) Equal(hashA, hashB string) bool {
	return subtle.ConstantTimeCompare([]byte(hashA), []byte(hashB)) == 1
}

// RandomDigits returns n decimal digits drawn uniformly from r (crypto/rand
// in production). Each digit comes from one random byte; bytes of 250 and
// above are thrown away, so every digit has probability exactly 1/10 (a plain
// byte%10 would favour 0–5). It returns EINTERNAL if n < 1 or r fails.
func RandomDigits(r io.Reader, n int) (string, error) {
	if n < 1 {
		return "", Errorf(EINTERNAL, "random digits: n must be positive")
	}
	out := make([]byte, 0, n)
	// On average 250/256 of the bytes are kept; ask for a little more.
	buf := make([]byte, n+n/8+4)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", Wrap(EINTERNAL, err, "random source failed")
		}
		for _, b := range buf {
			if b >= 250 {
				continue
			}
			out = append(out, '0'+b%10)
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// RandomToken returns nbytes random bytes from r as unpadded base64url (the
// alphabet safe in URLs and QR codes). Use at least 16 bytes for anything
// that grants access. It returns EINTERNAL if nbytes < 1 or r fails.
func RandomToken(r io.Reader, nbytes int) (string, error) {
	if nbytes < 1 {
		return "", Errorf(EINTERNAL, "random token: nbytes must be positive")
	}
	b := make([]byte, nbytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", Wrap(EINTERNAL, err, "random source failed")
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns prefix followed by 16 random bytes from r in lowercase
// unpadded base32 (26 characters), e.g. "shr_mfrggzdfmztwq2lknnwg23tpoa".
// IDs are opaque and unguessable, so a leaked or guessed sequence number
// never reveals another object. It returns EINTERNAL if r fails.
func NewID(r io.Reader, prefix string) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", Wrap(EINTERNAL, err, "random source failed")
	}
	return prefix + idEncoding.EncodeToString(b), nil
}

// timeIDEncoding has idEncoding's 32 characters in ascending byte order, so
// that ids made by NewTimeID sort by their time as strings (in PostgreSQL's
// C collation and SQLite's BINARY one alike).
var timeIDEncoding = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)

// NewTimeID returns prefix followed by 16 bytes in lowercase unpadded
// base32 (26 characters, the characters NewID uses): the first 6 bytes are
// at's Unix time in milliseconds, big-endian, the other 10 random from r.
// Ids of rows that are only ever added (shares, views, events) are made this
// way so that their index inserts land at the index's end, not on any page
// of it: a table of hundreds of millions of them then costs an insert what
// an empty one does. They stay unguessable (80 random bits) but tell when
// they were made, so they are not for anything that grants access alone
// (a share's token carries its own secret). It returns EINTERNAL if r fails.
func NewTimeID(r io.Reader, at time.Time, prefix string) (string, error) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.UnixMilli())<<16)
	if _, err := io.ReadFull(r, b[6:]); err != nil {
		return "", Wrap(EINTERNAL, err, "random source failed")
	}
	return prefix + timeIDEncoding.EncodeToString(b[:]), nil
}
