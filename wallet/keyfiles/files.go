package keyfiles

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/qujat/qujat/wallet"
)

// LoadOrCreateEd25519 returns the Ed25519 private key in the PKCS#8 PEM file
// at path, creating the file (mode 0600) with a new key if there is none.
// Two processes starting at once agree on one key: the file is never
// replaced once it exists. EINTERNAL if the file cannot be read or written,
// or holds something other than an Ed25519 key.
func LoadOrCreateEd25519(path string) (ed25519.PrivateKey, error) {
	load := func() (ed25519.PrivateKey, error) {
		k, err := readPrivateKey(path)
		if err != nil {
			return nil, err
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, wallet.Errorf(wallet.EINTERNAL, "%s does not hold an Ed25519 key", filepath.Base(path))
		}
		return ek, nil
	}
	if _, err := os.Stat(path); err == nil {
		return load()
	}
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot generate a key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot encode a private key")
	}
	if err := createFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, err
	}
	return load()
}

// LoadOrCreateSecret returns the secret kept at path as hex text (one line),
// creating the file (mode 0600) with n random bytes if there is none. The
// hex text is what an operator hands to the other party (e.g. the SMS
// gateway); the returned bytes are the decoded secret. Like
// LoadOrCreateEd25519 it never replaces an existing file. EINVALID if n < 16;
// EINTERNAL if the file cannot be read or written, is not hex, or holds a
// secret shorter than n bytes.
func LoadOrCreateSecret(path string, n int) ([]byte, error) {
	if n < 16 {
		return nil, wallet.Errorf(wallet.EINVALID, "a secret needs at least 16 bytes")
	}
	if _, err := os.Stat(path); err == nil {
		return LoadSecret(path, n)
	}
	s := make([]byte, n)
	if _, err := rand.Read(s); err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "random source failed")
	}
	if err := createFile(path, []byte(hex.EncodeToString(s)+"\n")); err != nil {
		return nil, err
	}
	return LoadSecret(path, n)
}

// LoadSecret returns the secret of at least n bytes kept at path as hex
// text, as LoadOrCreateSecret writes it, and never creates the file.
// ENOTFOUND if there is no file; EINTERNAL if it cannot be read, is not
// hex, or holds fewer than n bytes.
func LoadSecret(path string, n int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, wallet.Errorf(wallet.ENOTFOUND, "no %s", filepath.Base(path))
	}
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot read "+filepath.Base(path))
	}
	s, err := hex.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, filepath.Base(path)+" is not hex")
	}
	if len(s) < n {
		return nil, wallet.Errorf(wallet.EINTERNAL, "%s holds %d bytes, want at least %d", filepath.Base(path), len(s), n)
	}
	return s, nil
}

// readPrivateKey reads a PKCS#8 PEM private key.
func readPrivateKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot read key file "+filepath.Base(path))
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, wallet.Errorf(wallet.EINTERNAL, "%s is not a PKCS#8 PEM private key", filepath.Base(path))
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, filepath.Base(path)+" is not a PKCS#8 private key")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, wallet.Errorf(wallet.EINTERNAL, "%s holds an unusable key", filepath.Base(path))
	}
	return s, nil
}

// createFile puts data at path, mode 0600, unless a file is already there
// (then it returns nil and leaves that file alone).
func createFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "cannot create the directory of "+filepath.Base(path))
	}
	if err := writeFileAtomic(path, data, false); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// writeFileAtomic writes data to a temporary file (mode 0600) in path's
// directory, syncs it and puts it at path. With replace, an existing file
// is replaced (rename). Without, an existing file is kept and an error
// matching fs.ErrExist returned (a hard link, which fails if the name
// exists; rename where the file system has no hard links).
func writeFileAtomic(path string, data []byte, replace bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "cannot write "+filepath.Base(path))
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
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "cannot write "+filepath.Base(path))
	}
	if replace {
		err = os.Rename(tmp, path)
	} else {
		err = os.Link(tmp, path)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			// No hard links on this file system: rename, which could replace
			// a file created this very instant by another process.
			err = os.Rename(tmp, path)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if err != nil {
		return wallet.Wrap(wallet.EINTERNAL, err, "cannot put "+filepath.Base(path)+" in place")
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the new name durable; best effort
		d.Close()
	}
	return nil
}
