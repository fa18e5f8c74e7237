// Package agencysim plays an agency over the exchange protocol, for
// development and tests (`qujat agency-sim`): it takes packages, answers
// each with a signed receipt (the same one again for a package it has),
// and after a delay sends the centre two statuses and a signed, encrypted
// result, each until the centre's signed receipt comes back. Faults can be
// injected: rejecting a share of packages, tampering with a result's
// signature, answering slowly, dropping the connection after processing.
package agencysim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/wallet"
)

// Keys are the simulator's private keys: one signs, one decrypts.
type Keys struct {
	Sig    *ecdsa.PrivateKey
	SigKID string
	Enc    *ecdsa.PrivateKey
	EncKID string
}

// Files written by Keygen in its directory.
const (
	SigPrivate = "signing.pem"
	EncPrivate = "encryption.pem"
	SigPublic  = "signing.jwk.json"
	EncPublic  = "encryption.jwk.json"
)

// Keygen writes new private keys (0600) and their public JWKs into dir,
// refusing to replace existing ones, and returns the paths of the public
// JWK files.
func Keygen(dir string) (sigJWK, encJWK string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	for _, name := range []string{SigPrivate, EncPrivate} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return "", "", fmt.Errorf("%s exists already: keys are never replaced", filepath.Join(dir, name))
		}
	}
	for _, f := range []struct{ priv, pub, use string }{{SigPrivate, SigPublic, wallet.KeyUseSig}, {EncPrivate, EncPublic, wallet.KeyUseEnc}} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", "", err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f.priv), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return "", "", err
		}
		pub, err := publicJWK(k, f.use)
		if err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f.pub), append(pub, '\n'), 0o644); err != nil {
			return "", "", err
		}
	}
	return filepath.Join(dir, SigPublic), filepath.Join(dir, EncPublic), nil
}

func publicJWK(k *ecdsa.PrivateKey, use string) ([]byte, error) {
	j := jose.JSONWebKey{Key: &k.PublicKey, Use: use}
	kid, err := kidOf(k)
	if err != nil {
		return nil, err
	}
	j.KeyID = kid
	if use == wallet.KeyUseEnc {
		j.Algorithm = "ECDH-ES+A256KW"
	} else {
		j.Algorithm = "ES256"
	}
	return json.MarshalIndent(j, "", "  ")
}

// kidOf is the key's RFC 7638 thumbprint, as exchange.ParsePublicJWK names
// a JWK without a kid.
func kidOf(k *ecdsa.PrivateKey) (string, error) {
	j := jose.JSONWebKey{Key: &k.PublicKey}
	tp, err := j.Thumbprint(cryptoSHA256)
	if err != nil {
		return "", err
	}
	return b64(tp), nil
}

// LoadKeys reads the private keys Keygen wrote.
func LoadKeys(dir string) (*Keys, error) {
	read := func(name string) (*ecdsa.PrivateKey, string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, "", err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, "", fmt.Errorf("%s: no PEM block", name)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, "", fmt.Errorf("%s: not an EC key", name)
		}
		kid, err := kidOf(ek)
		return ek, kid, err
	}
	sig, sigKID, err := read(SigPrivate)
	if err != nil {
		return nil, err
	}
	enc, encKID, err := read(EncPrivate)
	if err != nil {
		return nil, err
	}
	return &Keys{Sig: sig, SigKID: sigKID, Enc: enc, EncKID: encKID}, nil
}
