package sources

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Request signing headers (see PROTOCOL.md).
const (
	HeaderDate      = "X-Qujat-Date"
	HeaderSignature = "X-Qujat-Signature"
)

// MaxClockSkew is how far a request's date may be from the registry's clock.
const MaxClockSkew = 5 * time.Minute

const signaturePrefix = "sha256="

// Signature returns the X-Qujat-Signature value of a request:
// "sha256=" and the hex HMAC-SHA256 under secret of METHOD "\n" PATH "\n" DATE,
// where PATH is the escaped URL path without the query.
func Signature(secret, method, path, date string) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, method, path, date))
}

func mac(secret, method, path, date string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(method + "\n" + path + "\n" + date))
	return h.Sum(nil)
}

// SignRequest sets the date and signature headers of r, dated now.
func SignRequest(r *http.Request, secret string, now time.Time) {
	date := now.UTC().Format(time.RFC3339)
	r.Header.Set(HeaderDate, date)
	r.Header.Set(HeaderSignature, Signature(secret, r.Method, r.URL.EscapedPath(), date))
}

// VerifyRequest checks the signature of r under secret and that its date is
// within MaxClockSkew of now. The signature is compared in constant time.
// It returns EUNAUTHORIZED, saying why, if the request is not acceptable; an
// empty secret accepts nothing.
func VerifyRequest(r *http.Request, secret string, now time.Time) error {
	if secret == "" {
		return wallet.Errorf(wallet.EUNAUTHORIZED, "the registry has no secret configured")
	}
	date, sig := r.Header.Get(HeaderDate), r.Header.Get(HeaderSignature)
	if date == "" || sig == "" {
		return wallet.Errorf(wallet.EUNAUTHORIZED, "missing %s or %s", HeaderDate, HeaderSignature)
	}
	at, err := time.Parse(time.RFC3339, date)
	if err != nil {
		return wallet.Errorf(wallet.EUNAUTHORIZED, "%s is not an RFC 3339 time", HeaderDate)
	}
	if d := now.Sub(at); d > MaxClockSkew || d < -MaxClockSkew {
		return wallet.Errorf(wallet.EUNAUTHORIZED, "%s is more than %s off the registry's clock", HeaderDate, MaxClockSkew)
	}
	got, err := hex.DecodeString(strings.TrimPrefix(sig, signaturePrefix))
	if !strings.HasPrefix(sig, signaturePrefix) || err != nil ||
		!hmac.Equal(got, mac(secret, r.Method, r.URL.EscapedPath(), date)) {
		return wallet.Errorf(wallet.EUNAUTHORIZED, "wrong signature")
	}
	return nil
}
