package wallet

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// VersionHash returns the hash of a version, which chains it to the one
// before:
//
//	Hash = lowercase hex( SHA-256( prev || 0x00 || content || 0x00 || jws ) )
//
// where prev is the previous version's Hash as its lowercase hex text (the
// empty string for version 1), content the canonical JSON of the version's
// content and jws its compact JWS, all as bytes. The separators cannot be
// confused with data: hex, JSON text and compact JWS never contain 0x00.
// The document id and the version number are covered through the JWS, whose
// jti claim is "<document id>:<version>"; CreatedAt is not covered.
func VersionHash(prev string, content []byte, jws string) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{0})
	h.Write(content)
	h.Write([]byte{0})
	h.Write([]byte(jws))
	return hex.EncodeToString(h.Sum(nil))
}

// ChainError says where a version chain breaks.
type ChainError struct {
	Position int    // index in the slice given to VerifyChain
	Version  int    // the version number found there
	Problem  string // what is wrong
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("version chain broken at version %d (position %d): %s", e.Version, e.Position, e.Problem)
}

// VerifyChain checks the versions of one document, oldest first: all of the
// same document, numbered 1..n without gaps, version 1 with no PrevHash,
// every other PrevHash equal to the Hash before it, and every Hash as
// VersionHash recomputes it. It returns EINTERNAL wrapping a *ChainError
// that names the first bad version, or nil (also for no versions).
//
// What the chain alone cannot show: versions missing from the end. A chain
// cut after version k is a valid chain of k versions, so the head (latest
// hash) must be anchored elsewhere, in the history log. Anyone able to
// rewrite the last version's content, JWS and Hash together is likewise not
// caught here; its JWS signature is what betrays it (see Verifier).
func VerifyChain(versions []Version) error {
	prev := ""
	for i, v := range versions {
		bad := func(format string, args ...any) error {
			ce := &ChainError{Position: i, Version: v.Version, Problem: fmt.Sprintf(format, args...)}
			return Wrap(EINTERNAL, ce, "document history is damaged")
		}
		switch {
		case v.DocumentID != versions[0].DocumentID:
			return bad("belongs to document %q, not %q", v.DocumentID, versions[0].DocumentID)
		case v.Version != i+1:
			return bad("numbered %d where %d was expected", v.Version, i+1)
		case v.PrevHash != prev:
			return bad("prev_hash %q does not match the hash %q of the version before", v.PrevHash, prev)
		}
		if h := VersionHash(v.PrevHash, v.Content, v.JWS); h != v.Hash {
			return bad("hash %q does not match its recomputed hash %q", v.Hash, h)
		}
		prev = v.Hash
	}
	return nil
}
