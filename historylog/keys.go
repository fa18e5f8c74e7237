package historylog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
	"golang.org/x/mod/sumdb/note"
)

// Key files in the data directory.
const (
	// SigningKeyFile holds the checkpoint signing key: one line, a note
	// signer key ("PRIVATE+KEY+<origin>+<hash>+<base64>"), as
	// note.GenerateKey writes it. Mode 0600.
	SigningKeyFile = "log-signing.key"
	// SubjectKeyFile holds the 32-byte subject HMAC key as hex. Mode 0600.
	SubjectKeyFile = "log-subject.key"
)

// Keys are the log's keys: the checkpoint signer (whose key name is the
// origin), its public verifier, and the key of the subjects' pseudonyms.
type Keys struct {
	Origin      string
	Signer      note.Signer
	Verifier    note.Verifier
	VerifierKey string // "<origin>+<hex key hash>+<base64 of 0x01 ‖ public key>"
	SubjectKey  []byte
}

// NewKeys returns fresh keys for origin, drawn from r (crypto/rand if nil),
// kept in memory only: for tests. EINVALID for an origin a note key cannot
// be named (empty, or with '+' or spaces); EINTERNAL if r fails.
func NewKeys(origin string, r io.Reader) (Keys, error) {
	if r == nil {
		r = rand.Reader
	}
	if err := checkOrigin(origin); err != nil {
		return Keys{}, err
	}
	skey, _, err := note.GenerateKey(r, origin)
	if err != nil {
		return Keys{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: cannot generate a signing key")
	}
	sk := make([]byte, 32)
	if _, err := io.ReadFull(r, sk); err != nil {
		return Keys{}, wallet.Wrap(wallet.EINTERNAL, err, "random source failed")
	}
	return keysFrom(origin, skey, sk)
}

// LoadOrCreateKeys returns the log's keys kept in dir (SigningKeyFile and
// SubjectKeyFile), creating each file that is missing with a new key, mode
// 0600, as on a first start. A file is written under a temporary name and
// linked into place, so two processes starting at once agree on one key and
// a crash leaves no half-written file; an existing file is never replaced.
// Production mounts the same files. EINVALID for a bad origin, or a signing
// key named for another origin; EINTERNAL if a file cannot be read or
// written or is damaged.
func LoadOrCreateKeys(dir, origin string) (Keys, error) {
	if err := checkOrigin(origin); err != nil {
		return Keys{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Keys{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: cannot create the key directory")
	}
	path := filepath.Join(dir, SigningKeyFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		skey, _, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			return Keys{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: cannot generate a signing key")
		}
		if err := createFile(path, []byte(skey+"\n")); err != nil {
			return Keys{}, err
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Keys{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: cannot read "+SigningKeyFile)
	}
	sk, err := keyfiles.LoadOrCreateSecret(filepath.Join(dir, SubjectKeyFile), 32)
	if err != nil {
		return Keys{}, err
	}
	return keysFrom(origin, string(bytes.TrimSpace(b)), sk)
}

// LoadKeys returns the log's keys kept in dir, as LoadOrCreateKeys does, but
// never creates anything: for tools that only read, such as an audit.
// ENOTFOUND if a key file is missing; otherwise as LoadOrCreateKeys.
func LoadKeys(dir, origin string) (Keys, error) {
	if err := checkOrigin(origin); err != nil {
		return Keys{}, err
	}
	b, err := os.ReadFile(filepath.Join(dir, SigningKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Keys{}, wallet.Errorf(wallet.ENOTFOUND, "history log: no %s in %s", SigningKeyFile, dir)
	}
	if err != nil {
		return Keys{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: cannot read "+SigningKeyFile)
	}
	sk, err := keyfiles.LoadSecret(filepath.Join(dir, SubjectKeyFile), 32)
	if wallet.ErrorCode(err) == wallet.ENOTFOUND {
		return Keys{}, wallet.Errorf(wallet.ENOTFOUND, "history log: no %s in %s", SubjectKeyFile, dir)
	}
	if err != nil {
		return Keys{}, err
	}
	return keysFrom(origin, string(bytes.TrimSpace(b)), sk)
}

// keysFrom builds Keys from a note signer key and a subject key.
func keysFrom(origin, skey string, subjectKey []byte) (Keys, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return Keys{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: the signing key is damaged")
	}
	if signer.Name() != origin {
		return Keys{}, wallet.Errorf(wallet.EINVALID, "history log: the signing key is named %q, not the origin %q", signer.Name(), origin)
	}
	// A note signer key does not carry its public key: derive it from the
	// seed (the last field, base64 of 0x01 ‖ 32-byte seed).
	// (The name has no '+', the base64 may.)
	fields := strings.SplitN(skey, "+", 5)
	if len(fields) != 5 {
		return Keys{}, wallet.Errorf(wallet.EINTERNAL, "history log: the signing key is damaged")
	}
	raw, err := base64.StdEncoding.DecodeString(fields[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return Keys{}, wallet.Errorf(wallet.EINTERNAL, "history log: the signing key is damaged")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return Keys{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: verifier key")
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return Keys{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: verifier key")
	}
	if verifier.KeyHash() != signer.KeyHash() {
		return Keys{}, wallet.Errorf(wallet.EINTERNAL, "history log: the signing key is damaged")
	}
	if len(subjectKey) < 32 {
		return Keys{}, wallet.Errorf(wallet.EINVALID, "history log: the subject key needs 32 bytes")
	}
	return Keys{Origin: origin, Signer: signer, Verifier: verifier, VerifierKey: vkey,
		SubjectKey: append([]byte(nil), subjectKey...)}, nil
}

// checkOrigin accepts what a note key may be named (and a checkpoint's
// first line may hold): valid UTF-8, not empty, no '+', no white space and
// no control characters.
func checkOrigin(origin string) error {
	if origin == "" || !utf8.ValidString(origin) || strings.Contains(origin, "+") ||
		strings.ContainsFunc(origin, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return wallet.Errorf(wallet.EINVALID, "history log: invalid origin %q: no '+', spaces or control characters", origin)
	}
	return nil
}

// createFile writes data to a temporary file (mode 0600) beside path,
// syncs it and links it to path. If path exists it is left alone and nil
// returned.
func createFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "history log: cannot write "+filepath.Base(path))
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return wallet.Wrap(wallet.EINTERNAL, err, "history log: cannot write "+filepath.Base(path))
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // make the new name durable; best effort
		d.Close()
	}
	return nil
}
