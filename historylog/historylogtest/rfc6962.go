package historylogtest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/bits"
)

// This file is an RFC 6962 / RFC 9162 verifier written out from the RFC,
// independent of tlog, so that the suite checks the log's proofs against
// the standard and not only against the library that made them.

// rfcLeafHash is SHA-256(0x00 ‖ leaf).
func rfcLeafHash(leaf []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(leaf)
	return h.Sum(nil)
}

// rfcNodeHash is SHA-256(0x01 ‖ left ‖ right).
func rfcNodeHash(left, right []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(left)
	h.Write(right)
	return h.Sum(nil)
}

// rfcRoot computes the Merkle tree hash of leaves (RFC 6962 §2.1).
func rfcRoot(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return rfcLeafHash(leaves[0])
	}
	k := 1 << (bits.Len(uint(len(leaves)-1)) - 1) // largest power of 2 < n
	return rfcNodeHash(rfcRoot(leaves[:k]), rfcRoot(leaves[k:]))
}

var errRFCProof = errors.New("rfc6962: proof does not verify")

// rfcVerifyInclusion is RFC 9162 §2.1.3.2.
func rfcVerifyInclusion(leafIndex, treeSize int64, leafHash []byte, path [][]byte, root []byte) error {
	if leafIndex >= treeSize {
		return errRFCProof
	}
	fn, sn := leafIndex, treeSize-1
	r := leafHash
	for _, p := range path {
		if sn == 0 {
			return errRFCProof
		}
		if fn&1 == 1 || fn == sn {
			r = rfcNodeHash(p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = rfcNodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || !bytes.Equal(r, root) {
		return errRFCProof
	}
	return nil
}

// rfcVerifyConsistency is RFC 9162 §2.1.4.2.
func rfcVerifyConsistency(size1, size2 int64, root1, root2 []byte, path [][]byte) error {
	if size1 > size2 {
		return errRFCProof
	}
	if size1 == size2 {
		if len(path) != 0 || !bytes.Equal(root1, root2) {
			return errRFCProof
		}
		return nil
	}
	if size1 == 0 || len(path) == 0 {
		return errRFCProof
	}
	if size1&(size1-1) == 0 { // a power of 2: the first root is the path's start
		path = append([][]byte{root1}, path...)
	}
	fn, sn := size1-1, size2-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		if sn == 0 {
			return errRFCProof
		}
		if fn&1 == 1 || fn == sn {
			fr = rfcNodeHash(c, fr)
			sr = rfcNodeHash(c, sr)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			sr = rfcNodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || !bytes.Equal(fr, root1) || !bytes.Equal(sr, root2) {
		return errRFCProof
	}
	return nil
}
