// Package keyfiles keeps keys in files of a directory: the issuers' document
// signing keys (a wallet.KeyRing), the service's own token key and secrets.
// It is the embedded default and the way mounted key files are read; a KMS
// may take its place later behind the same wallet.KeyRing.
//
// Layout of a key ring directory:
//
//	<dir>/issuers/index.json           which kid is current for each issuer
//	<dir>/issuers/<issuer>/<kid>.pem   PKCS#8 private keys, mode 0600
//
// Every key file found is published; the ones the index does not name as
// current are retired. Files are written to a temporary name and then put
// in place, so that a crash leaves either the old or the new file.
package keyfiles

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/qujat/qujat/wallet"
)

// KeyRing is a wallet.KeyRing kept in a directory. It is safe for
// concurrent use; one process at a time should rotate its keys.
type KeyRing struct {
	dir string

	mu      sync.RWMutex
	current map[string]string // issuer → kid
	keys    map[string]entry  // kid → key
}

var _ wallet.KeyRing = (*KeyRing)(nil)

type entry struct {
	pub    wallet.PublicKey // Retired is filled in on the way out
	signer crypto.Signer
}

// index is the JSON index file.
type index struct {
	Issuers map[string]indexIssuer `json:"issuers"`
}

type indexIssuer struct {
	Current string                `json:"current"`
	Keys    map[string]indexedKey `json:"keys"` // kid → facts not in the key file
}

type indexedKey struct {
	CreatedAt time.Time `json:"created_at"`
}

// Open opens the key ring in dir, creating the directory if needed, and
// gives each of issuers that has no current key a new key for alg (EdDSA if
// alg is ""), as on a first start. EINVALID for a bad issuer name or
// algorithm; EINTERNAL if the files cannot be read or written or a key
// file is damaged.
func Open(dir string, issuers []string, alg string) (*KeyRing, error) {
	if alg == "" {
		alg = wallet.AlgEdDSA
	}
	if err := checkAlg(alg); err != nil {
		return nil, err
	}
	for _, is := range issuers {
		if err := checkIssuer(is); err != nil {
			return nil, err
		}
	}
	r := &KeyRing{dir: dir}
	if err := os.MkdirAll(r.issuersDir(), 0o700); err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot create the key directory")
	}
	if err := r.load(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, is := range issuers {
		if _, ok := r.current[is]; ok {
			continue
		}
		if _, err := r.addKey(is, alg); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Rotate makes a new key for alg (EdDSA if "") the issuer's current key and
// returns its kid. The old keys stay published, retired, so that documents
// they signed still verify. An issuer without keys gets its first one.
// EINVALID for a bad issuer name or algorithm; EINTERNAL on file errors.
func (r *KeyRing) Rotate(issuer, alg string) (string, error) {
	if alg == "" {
		alg = wallet.AlgEdDSA
	}
	if err := checkAlg(alg); err != nil {
		return "", err
	}
	if err := checkIssuer(issuer); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addKey(issuer, alg)
}

// Signer returns the issuer's current key. ENOTFOUND for an unknown issuer.
func (r *KeyRing) Signer(issuer string) (wallet.IssuerKey, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	kid, ok := r.current[issuer]
	if !ok {
		return wallet.IssuerKey{}, wallet.Errorf(wallet.ENOTFOUND, "no signing key for issuer %q", issuer)
	}
	e := r.keys[kid]
	return wallet.IssuerKey{KID: kid, Issuer: issuer, Alg: e.pub.Alg, Key: e.signer}, nil
}

// PublicKeys returns every key, current and retired, by issuer then age.
func (r *KeyRing) PublicKeys() []wallet.PublicKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]wallet.PublicKey, 0, len(r.keys))
	for kid := range r.keys {
		out = append(out, r.publicKey(kid))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Issuer != b.Issuer {
			return a.Issuer < b.Issuer
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.KID < b.KID
	})
	return out
}

// PublicKey returns the key with that kid, current or retired.
func (r *KeyRing) PublicKey(kid string) (wallet.PublicKey, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.keys[kid]; !ok {
		return wallet.PublicKey{}, false
	}
	return r.publicKey(kid), true
}

// PrivateKey returns the private key with that kid, current or retired:
// for keys that decrypt (an exchange encryption key) rather than sign, where
// a message made for a retired key must still be read.
func (r *KeyRing) PrivateKey(kid string) (crypto.Signer, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.keys[kid]
	if !ok {
		return nil, false
	}
	return e.signer, true
}

func (r *KeyRing) publicKey(kid string) wallet.PublicKey {
	p := r.keys[kid].pub
	p.Retired = r.current[p.Issuer] != kid
	return p
}

func (r *KeyRing) issuersDir() string { return filepath.Join(r.dir, "issuers") }
func (r *KeyRing) indexPath() string  { return filepath.Join(r.issuersDir(), "index.json") }

// load reads the index and every key file.
func (r *KeyRing) load() error {
	idx, err := r.readIndex()
	if err != nil {
		return err
	}
	r.current = map[string]string{}
	r.keys = map[string]entry{}
	dirs, err := os.ReadDir(r.issuersDir())
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "cannot read the key directory")
	}
	for _, d := range dirs {
		if !d.IsDir() || checkIssuer(d.Name()) != nil {
			continue
		}
		issuer := d.Name()
		files, err := os.ReadDir(filepath.Join(r.issuersDir(), issuer))
		if err != nil {
			return wallet.Wrap(wallet.EINTERNAL, err, "cannot read the keys of "+issuer)
		}
		for _, f := range files {
			kid, ok := strings.CutSuffix(f.Name(), ".pem")
			if !ok || f.IsDir() {
				continue
			}
			path := filepath.Join(r.issuersDir(), issuer, f.Name())
			signer, err := readPrivateKey(path)
			if err != nil {
				return err
			}
			alg, err := wallet.KeyAlg(signer.Public())
			if err != nil {
				return wallet.Wrap(wallet.EINTERNAL, err, "unsupported key in "+f.Name())
			}
			created := idx.Issuers[issuer].Keys[kid].CreatedAt
			if created.IsZero() {
				if info, err := f.Info(); err == nil {
					created = info.ModTime().UTC()
				}
			}
			r.keys[kid] = entry{
				pub:    wallet.PublicKey{KID: kid, Issuer: issuer, Alg: alg, Key: signer.Public(), CreatedAt: created},
				signer: signer,
			}
		}
	}
	for issuer, ii := range idx.Issuers {
		if e, ok := r.keys[ii.Current]; ok && e.pub.Issuer == issuer {
			r.current[issuer] = ii.Current
		}
	}
	return nil
}

func (r *KeyRing) readIndex() (index, error) {
	idx := index{Issuers: map[string]indexIssuer{}}
	b, err := os.ReadFile(r.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return idx, wallet.Wrap(wallet.EINTERNAL, err, "cannot read the key index")
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, wallet.Wrap(wallet.EINTERNAL, err, "the key index is damaged")
	}
	if idx.Issuers == nil {
		idx.Issuers = map[string]indexIssuer{}
	}
	return idx, nil
}

// addKey makes a new current key for issuer. The key file is written
// before the index names it: a crash in between leaves a retired key that
// signed nothing, and the next start makes the issuer another one.
// The caller holds r.mu.
func (r *KeyRing) addKey(issuer, alg string) (string, error) {
	signer, err := generate(alg)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	dir := filepath.Join(r.issuersDir(), issuer)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "cannot create the key directory of "+issuer)
	}
	var kid string
	for {
		kid, err = newKID(issuer, now)
		if err != nil {
			return "", err
		}
		if _, taken := r.keys[kid]; !taken {
			break
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "cannot encode a private key")
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeFileAtomic(filepath.Join(dir, kid+".pem"), pemBytes, false); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", wallet.Wrap(wallet.ECONFLICT, err, "key "+kid+" was created by someone else meanwhile")
		}
		return "", err
	}
	r.keys[kid] = entry{
		pub:    wallet.PublicKey{KID: kid, Issuer: issuer, Alg: alg, Key: signer.Public(), CreatedAt: now},
		signer: signer,
	}
	prev, hadPrev := r.current[issuer]
	r.current[issuer] = kid
	if err := r.writeIndex(); err != nil {
		if hadPrev {
			r.current[issuer] = prev
		} else {
			delete(r.current, issuer)
		}
		return "", err
	}
	return kid, nil
}

// writeIndex writes the index from memory. The caller holds r.mu.
func (r *KeyRing) writeIndex() error {
	idx := index{Issuers: map[string]indexIssuer{}}
	for kid, e := range r.keys {
		ii := idx.Issuers[e.pub.Issuer]
		if ii.Keys == nil {
			ii.Keys = map[string]indexedKey{}
		}
		ii.Current = r.current[e.pub.Issuer]
		ii.Keys[kid] = indexedKey{CreatedAt: e.pub.CreatedAt}
		idx.Issuers[e.pub.Issuer] = ii
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "cannot encode the key index")
	}
	return writeFileAtomic(r.indexPath(), append(b, '\n'), true)
}

// newKID returns "<issuer>-<yyyymmdd>-<4 random hex>".
func newKID(issuer string, now time.Time) (string, error) {
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "random source failed")
	}
	return fmt.Sprintf("%s-%s-%s", issuer, now.Format("20060102"), hex.EncodeToString(b)), nil
}

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case wallet.AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot generate a key")
		}
		return k, nil
	case wallet.AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot generate a key")
		}
		return k, nil
	}
	return nil, wallet.Errorf(wallet.EINVALID, "unsupported signature algorithm %q", alg)
}

func checkAlg(alg string) error {
	if alg != wallet.AlgEdDSA && alg != wallet.AlgES256 {
		return wallet.Errorf(wallet.EINVALID, "unsupported signature algorithm %q (EdDSA or ES256)", alg)
	}
	return nil
}

// checkIssuer accepts issuer ids that are safe as a directory name and a
// kid prefix: 1 to 64 of a-z, 0-9, '.', '_' and '-', not starting with '.'.
func checkIssuer(s string) error {
	if len(s) == 0 || len(s) > 64 || s[0] == '.' {
		return wallet.Errorf(wallet.EINVALID, "bad issuer id %q", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return wallet.Errorf(wallet.EINVALID, "bad issuer id %q", s)
		}
	}
	return nil
}

// Reload reads the directory again, so that keys another process added
// (`qujat staff create` while the service runs) are seen. On an error the
// keys already loaded stay. EINTERNAL if the files cannot be read or a key
// file is damaged.
func (r *KeyRing) Reload() error {
	fresh := &KeyRing{dir: r.dir}
	if err := fresh.load(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.current, r.keys = fresh.current, fresh.keys
	return nil
}
