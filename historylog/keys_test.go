package historylog_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/note"
)

func TestLoadOrCreateKeys_FirstStartThenReload(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k, err := historylog.LoadOrCreateKeys(dir, "qujat.test/log")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{historylog.SigningKeyFile, historylog.SubjectKeyFile} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, info.Mode().Perm())
		}
	}
	if len(k.SubjectKey) != 32 || !strings.HasPrefix(k.VerifierKey, "qujat.test/log+") || k.Origin != "qujat.test/log" {
		t.Fatalf("keys %+v", k)
	}
	again, err := historylog.LoadOrCreateKeys(dir, "qujat.test/log")
	if err != nil {
		t.Fatal(err)
	}
	if again.VerifierKey != k.VerifierKey || string(again.SubjectKey) != string(k.SubjectKey) {
		t.Fatal("reloading gave other keys")
	}
	// What the signer signs, the published verifier key opens.
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, again.Signer)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(k.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOrCreateKeys_ConcurrentFirstStartsAgree(t *testing.T) {
	dir := t.TempDir()
	keys := make([]historylog.Keys, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if keys[i], err = historylog.LoadOrCreateKeys(dir, "qujat.test/log"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if k.VerifierKey != keys[0].VerifierKey || string(k.SubjectKey) != string(keys[0].SubjectKey) {
			t.Fatal("processes starting at once got different keys")
		}
	}
}

func TestLoadKeys_ReadsWhatLoadOrCreateKeysWroteAndCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if _, err := historylog.LoadKeys(dir, "qujat.test/log"); wallet.ErrorCode(err) != wallet.ENOTFOUND {
		t.Fatalf("no key directory: %v, want %s", err, wallet.ENOTFOUND)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("LoadKeys created the key directory (%v)", err)
	}
	created, err := historylog.LoadOrCreateKeys(dir, "qujat.test/log")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := historylog.LoadKeys(dir, "qujat.test/log")
	if err != nil {
		t.Fatal(err)
	}
	if loaded.VerifierKey != created.VerifierKey || string(loaded.SubjectKey) != string(created.SubjectKey) {
		t.Fatal("LoadKeys gave other keys than LoadOrCreateKeys")
	}
	if _, err := historylog.LoadKeys(dir, "another.origin"); wallet.ErrorCode(err) != wallet.EINVALID {
		t.Errorf("a key of another origin: %v, want %s", err, wallet.EINVALID)
	}
	// Each file missing alone is reported, and not made anew.
	for _, f := range []string{historylog.SubjectKeyFile, historylog.SigningKeyFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
		_, err := historylog.LoadKeys(dir, "qujat.test/log")
		if wallet.ErrorCode(err) != wallet.ENOTFOUND || !strings.Contains(err.Error(), f) {
			t.Errorf("without %s: %v, want %s naming it", f, err, wallet.ENOTFOUND)
		}
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("LoadKeys created %s", f)
		}
	}
}

func TestLoadOrCreateKeys_Errors(t *testing.T) {
	for _, origin := range []string{"", "a+b", "a b", "a\nb"} {
		_, err := historylog.LoadOrCreateKeys(t.TempDir(), origin)
		if wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("origin %q: %v, want %s", origin, err, wallet.EINVALID)
		}
	}
	dir := t.TempDir()
	if _, err := historylog.LoadOrCreateKeys(dir, "one.origin"); err != nil {
		t.Fatal(err)
	}
	_, err := historylog.LoadOrCreateKeys(dir, "another.origin")
	if wallet.ErrorCode(err) != wallet.EINVALID {
		t.Errorf("a key of another origin: %v, want %s", err, wallet.EINVALID)
	}
	if err := os.WriteFile(filepath.Join(dir, historylog.SigningKeyFile), []byte("PRIVATE+KEY+one.origin+00000000+AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = historylog.LoadOrCreateKeys(dir, "one.origin")
	if wallet.ErrorCode(err) != wallet.EINTERNAL {
		t.Errorf("a damaged key: %v, want %s", err, wallet.EINTERNAL)
	}
}
