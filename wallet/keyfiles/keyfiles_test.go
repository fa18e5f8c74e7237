package keyfiles_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
)

func content(t *testing.T, issuer string) wallet.DocumentContent {
	t.Helper()
	var subject wallet.IIN
	for serial := 1; subject == ""; serial++ {
		subject, _ = wallet.MakeIIN(time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), false, serial)
	}
	c, err := wallet.ContentFromRecord(wallet.Record{
		Source: "population", Type: wallet.IDCard, Number: "1", Issuer: issuer, Subject: subject,
		IssuedAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sign(t *testing.T, r wallet.KeyRing, c wallet.DocumentContent) string {
	t.Helper()
	k, err := r.Signer(c.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := wallet.SignDocument(k, c, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

var kidPattern = regexp.MustCompile(`^[a-z0-9._-]+-\d{8}-[0-9a-f]{4}$`)

func TestOpen_FirstStartMakesOneKeyPerIssuerAndReopenKeepsThem(t *testing.T) {
	dir := t.TempDir()
	r, err := keyfiles.Open(dir, []string{"mvd", "minjust"}, "")
	if err != nil {
		t.Fatal(err)
	}
	pks := r.PublicKeys()
	if len(pks) != 2 {
		t.Fatalf("%d keys", len(pks))
	}
	for _, pk := range pks {
		if !kidPattern.MatchString(pk.KID) || !strings.HasPrefix(pk.KID, pk.Issuer+"-") || pk.Alg != wallet.AlgEdDSA || pk.Retired || pk.CreatedAt.IsZero() {
			t.Fatalf("key %+v", pk)
		}
		path := filepath.Join(dir, "issuers", pk.Issuer, pk.KID+".pem")
		if m := mode(t, path); m != 0o600 {
			t.Fatalf("%s has mode %v", filepath.Base(path), m)
		}
		b, _ := os.ReadFile(path)
		if !bytes.HasPrefix(b, []byte("-----BEGIN PRIVATE KEY-----")) {
			t.Fatalf("not PKCS#8 PEM: %.40s", b)
		}
	}
	if m := mode(t, filepath.Join(dir, "issuers", "index.json")); m != 0o600 {
		t.Fatalf("index mode %v", m)
	}
	jws := sign(t, r, content(t, "mvd"))

	again, err := keyfiles.Open(dir, []string{"mvd", "minjust"}, "")
	if err != nil {
		t.Fatal(err)
	}
	pks2 := again.PublicKeys()
	if len(pks2) != 2 || pks2[0].KID != pks[0].KID || pks2[1].KID != pks[1].KID || !pks2[0].CreatedAt.Equal(pks[0].CreatedAt) {
		t.Fatalf("reopened: %+v, first: %+v", pks2, pks)
	}
	v := &wallet.Verifier{Keys: again}
	if res := v.Verify(context.Background(), jws); !res.Valid {
		t.Fatalf("%+v", res)
	}
	// A new issuer on a later start gets its key; the others keep theirs.
	third, err := keyfiles.Open(dir, []string{"mvd", "minjust", "minedu"}, wallet.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := third.Signer("minedu"); err != nil || k.Alg != wallet.AlgES256 {
		t.Fatalf("%+v %v", k, err)
	}
	if k, _ := third.Signer("mvd"); k.KID != pks[1].KID { // by issuer: minjust, mvd
		t.Fatalf("mvd key changed: %s", k.KID)
	}
}

func TestRotate_OldDocumentsStillVerifyAndNewOnesUseTheNewKey(t *testing.T) {
	dir := t.TempDir()
	r, err := keyfiles.Open(dir, []string{"mvd"}, wallet.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, _ := r.Signer("mvd")
	old := sign(t, r, content(t, "mvd"))

	newKID, err := r.Rotate("mvd", wallet.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	if newKID == oldKey.KID || !kidPattern.MatchString(newKID) {
		t.Fatalf("kid %s after %s", newKID, oldKey.KID)
	}
	fresh := sign(t, r, content(t, "mvd"))
	cur, _ := r.Signer("mvd")
	if cur.KID != newKID || cur.Alg != wallet.AlgES256 {
		t.Fatalf("current %+v", cur)
	}
	if pk, ok := r.PublicKey(oldKey.KID); !ok || !pk.Retired {
		t.Fatalf("old key %+v %v", pk, ok)
	}

	// After a restart, from the files alone.
	reopened, err := keyfiles.Open(dir, []string{"mvd"}, wallet.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := reopened.Signer("mvd"); k.KID != newKID {
		t.Fatalf("current after restart %s, want %s", k.KID, newKID)
	}
	v := &wallet.Verifier{Keys: reopened}
	for name, jws := range map[string]string{"old": old, "new": fresh} {
		if res := v.Verify(context.Background(), jws); !res.Valid {
			t.Fatalf("%s document: %+v", name, res)
		}
	}
	if kidOf(t, fresh) != newKID || kidOf(t, old) != oldKey.KID {
		t.Fatal("documents name the wrong kids")
	}

	// Both keys are published, and an independent library verifies both
	// documents against the published set.
	jwks, err := wallet.JWKS(reopened.PublicKeys())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d published keys", len(set.Keys))
	}
	for _, jws := range []string{old, fresh} {
		sig, err := jose.ParseSigned(jws, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		keys := set.Key(sig.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatal("kid not published")
		}
		if _, err := sig.Verify(keys[0]); err != nil {
			t.Fatal(err)
		}
	}
}

func kidOf(t *testing.T, jws string) string {
	t.Helper()
	sig, err := jose.ParseSigned(jws, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return sig.Signatures[0].Header.KeyID
}

func TestKeyRing_Errors(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"", "..", ".hidden", "a/b", "MVD", strings.Repeat("a", 65)} {
		if _, err := keyfiles.Open(dir, []string{bad}, ""); !wallet.IsCode(err, wallet.EINVALID) {
			t.Errorf("issuer %q: %v", bad, err)
		}
	}
	if _, err := keyfiles.Open(dir, []string{"mvd"}, "HS256"); !wallet.IsCode(err, wallet.EINVALID) {
		t.Errorf("HS256: %v", err)
	}
	r, err := keyfiles.Open(dir, []string{"mvd"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Signer("minjust"); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Errorf("unknown issuer: %v", err)
	}
	if _, ok := r.PublicKey("nope"); ok {
		t.Error("unknown kid found")
	}
	if _, err := r.Rotate("mvd", "RS256"); !wallet.IsCode(err, wallet.EINVALID) {
		t.Errorf("RS256: %v", err)
	}
	// A damaged key file is an error, not a silently missing key.
	k, _ := r.Signer("mvd")
	os.WriteFile(filepath.Join(dir, "issuers", "mvd", k.KID+".pem"), []byte("junk"), 0o600)
	if _, err := keyfiles.Open(dir, []string{"mvd"}, ""); !wallet.IsCode(err, wallet.EINTERNAL) {
		t.Errorf("damaged key file: %v", err)
	}
}

func TestRotate_Concurrent(t *testing.T) {
	r, err := keyfiles.Open(t.TempDir(), []string{"mvd"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Rotate("mvd", ""); err != nil {
				t.Error(err)
			}
			_ = r.PublicKeys()
			_, _ = r.Signer("mvd")
		}()
	}
	wg.Wait()
	if n := len(r.PublicKeys()); n != 9 {
		t.Fatalf("%d keys", n)
	}
}

func TestLoadOrCreateEd25519_CreatesOnceThenLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "token.pem")
	k1, err := keyfiles.LoadOrCreateEd25519(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, path); m != 0o600 {
		t.Fatalf("mode %v", m)
	}
	k2, err := keyfiles.LoadOrCreateEd25519(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) || len(k1) != ed25519.PrivateKeySize {
		t.Fatal("key changed between loads")
	}
	// Concurrent first starts agree on one key.
	path2 := filepath.Join(t.TempDir(), "token.pem")
	keys := make([]ed25519.PrivateKey, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := keyfiles.LoadOrCreateEd25519(path2)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !k.Equal(keys[0]) {
			t.Fatal("concurrent creators got different keys")
		}
	}
	// Another kind of key in the file is refused.
	ec := filepath.Join(t.TempDir(), "ec.pem")
	r, _ := keyfiles.Open(filepath.Dir(ec), []string{"x"}, wallet.AlgES256)
	kid := r.PublicKeys()[0].KID
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(ec), "issuers", "x", kid+".pem"))
	os.WriteFile(ec, b, 0o600)
	if _, err := keyfiles.LoadOrCreateEd25519(ec); !wallet.IsCode(err, wallet.EINTERNAL) {
		t.Fatalf("P-256 key accepted as Ed25519: %v", err)
	}
}

func TestLoadOrCreateSecret_CreatesOnceThenLoads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sms-inbound.secret")
	s1, err := keyfiles.LoadOrCreateSecret(path, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) != 32 || bytes.Equal(s1, make([]byte, 32)) {
		t.Fatalf("secret %x", s1)
	}
	if m := mode(t, path); m != 0o600 {
		t.Fatalf("mode %v", m)
	}
	s2, err := keyfiles.LoadOrCreateSecret(path, 32)
	if err != nil || !bytes.Equal(s1, s2) {
		t.Fatalf("secret changed: %v", err)
	}
	other, _ := keyfiles.LoadOrCreateSecret(filepath.Join(dir, "pepper"), 32)
	if bytes.Equal(other, s1) {
		t.Fatal("two secrets are equal")
	}
	if _, err := keyfiles.LoadOrCreateSecret(path, 64); !wallet.IsCode(err, wallet.EINTERNAL) {
		t.Fatalf("a shorter secret than asked for: %v", err)
	}
	if _, err := keyfiles.LoadOrCreateSecret(filepath.Join(dir, "tiny"), 8); !wallet.IsCode(err, wallet.EINVALID) {
		t.Fatalf("8 bytes: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "bad"), []byte("not hex\n"), 0o600)
	if _, err := keyfiles.LoadOrCreateSecret(filepath.Join(dir, "bad"), 16); !wallet.IsCode(err, wallet.EINTERNAL) {
		t.Fatalf("not hex: %v", err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("left %s", e.Name())
		}
	}
}

func TestLoadSecret_ReadsAndNeverCreates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pepper.key")
	if _, err := keyfiles.LoadSecret(path, 32); !wallet.IsCode(err, wallet.ENOTFOUND) {
		t.Fatalf("a missing secret: %v, want %s", err, wallet.ENOTFOUND)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("LoadSecret created %v", entries)
	}
	s1, err := keyfiles.LoadOrCreateSecret(path, 32)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := keyfiles.LoadSecret(path, 32)
	if err != nil || !bytes.Equal(s1, s2) {
		t.Fatalf("LoadSecret = %x, %v; want what LoadOrCreateSecret wrote", s2, err)
	}
	if _, err := keyfiles.LoadSecret(path, 64); !wallet.IsCode(err, wallet.EINTERNAL) {
		t.Fatalf("a shorter secret than asked for: %v", err)
	}
}
