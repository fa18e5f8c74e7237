package historylog

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/qujat/qujat/wallet"
)

// LeafVersion is the first byte of every leaf this package writes. A
// future, different encoding takes another version byte.
const LeafVersion = 1

// Limits of a leaf.
const (
	SaltSize       = 16 // bytes of random salt
	MaxParties     = 16 // parties of one event
	MaxKindLength  = 64 // bytes of an event kind
	PseudonymBytes = 32 // bytes of a pseudonym (HMAC-SHA256)
)

// Party is one subject of an event, as the leaf holds it.
type Party struct {
	// Subject is the pseudonym of the subject: lowercase hex of
	// HMAC-SHA256(subject key, subject), 64 characters.
	Subject string
	// Seq is the number of this event in the subject's chain: 1, 2, ...
	Seq int64
	// Prev is the log index of the subject's previous event, -1 for the first.
	Prev int64
}

// Leaf is one leaf of the log, decoded. Its binary form (MarshalBinary,
// version 1) is, with integers big-endian:
//
//	1 byte     version (1)
//	16 bytes   salt
//	8 bytes    event time, unix microseconds UTC (signed)
//	1 byte     length k of the kind (1..64), then k bytes of kind ([a-z0-9_])
//	32 bytes   payload commitment: SHA-256(salt ‖ payload)
//	1 byte     number p of parties (1..16), then p times:
//	  32 bytes   pseudonym
//	  8 bytes    seq (≥ 1)
//	  8 bytes    prev (signed; -1, or an index below the leaf's own)
//
// Nothing follows. The encoding is canonical: ParseLeaf accepts exactly
// the bytes MarshalBinary produces, so that a leaf has one hash.
type Leaf struct {
	Salt        [SaltSize]byte
	Kind        string
	At          time.Time // UTC, microseconds
	PayloadHash [sha256.Size]byte
	Parties     []Party
}

// PayloadCommitment returns SHA-256(salt ‖ payload), the commitment a leaf
// holds to its payload. The salt keeps a short payload from being guessed
// from its hash.
func PayloadCommitment(salt [SaltSize]byte, payload []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(salt[:])
	h.Write(payload)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// CheckPayload reports whether payload is the one the leaf commits to.
func (l Leaf) CheckPayload(payload []byte) bool {
	c := PayloadCommitment(l.Salt, payload)
	return subtle.ConstantTimeCompare(c[:], l.PayloadHash[:]) == 1
}

// HasParty reports whether the pseudonym (as Log.Pseudonym gives it) is one
// of the leaf's parties.
func (l Leaf) HasParty(pseudonym string) bool {
	for _, p := range l.Parties {
		if subtle.ConstantTimeCompare([]byte(p.Subject), []byte(pseudonym)) == 1 {
			return true
		}
	}
	return false
}

// MarshalBinary encodes the leaf (see Leaf). EINVALID if a field is out of
// its range.
func (l Leaf) MarshalBinary() ([]byte, error) {
	if err := checkKind(l.Kind); err != nil {
		return nil, err
	}
	if len(l.Parties) < 1 || len(l.Parties) > MaxParties {
		return nil, wallet.Errorf(wallet.EINVALID, "history log: a leaf has 1 to %d parties, not %d", MaxParties, len(l.Parties))
	}
	b := make([]byte, 0, 1+SaltSize+8+1+len(l.Kind)+sha256.Size+1+len(l.Parties)*(PseudonymBytes+16))
	b = append(b, LeafVersion)
	b = append(b, l.Salt[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(l.At.UnixMicro()))
	b = append(b, byte(len(l.Kind)))
	b = append(b, l.Kind...)
	b = append(b, l.PayloadHash[:]...)
	b = append(b, byte(len(l.Parties)))
	seen := make(map[string]bool, len(l.Parties))
	for _, p := range l.Parties {
		if !isPseudonym(p.Subject) {
			return nil, wallet.Errorf(wallet.EINVALID, "history log: a party's pseudonym must be %d lowercase hex characters", 2*PseudonymBytes)
		}
		if seen[p.Subject] {
			return nil, wallet.Errorf(wallet.EINVALID, "history log: a party appears twice in one leaf")
		}
		seen[p.Subject] = true
		if p.Seq < 1 || p.Prev < -1 || (p.Seq == 1) != (p.Prev == -1) {
			return nil, wallet.Errorf(wallet.EINVALID, "history log: party with seq %d and prev %d", p.Seq, p.Prev)
		}
		b = appendPseudonym(b, p.Subject)
		b = binary.BigEndian.AppendUint64(b, uint64(p.Seq))
		b = binary.BigEndian.AppendUint64(b, uint64(p.Prev))
	}
	return b, nil
}

// isPseudonym reports whether s is a pseudonym as leaves hold it:
// 2*PseudonymBytes lowercase hex characters.
func isPseudonym(s string) bool {
	if len(s) != 2*PseudonymBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// appendPseudonym appends the bytes of pseudonym s (isPseudonym) to b.
func appendPseudonym(b []byte, s string) []byte {
	nibble := func(c byte) byte {
		if c <= '9' {
			return c - '0'
		}
		return c - 'a' + 10
	}
	for i := 0; i+1 < len(s); i += 2 {
		b = append(b, nibble(s[i])<<4|nibble(s[i+1]))
	}
	return b
}

// ParseLeaf decodes a leaf. EINVALID if b is not a canonical version 1 leaf.
func ParseLeaf(b []byte) (Leaf, error) {
	bad := func(why string) (Leaf, error) {
		return Leaf{}, wallet.Errorf(wallet.EINVALID, "history log: malformed leaf: %s", why)
	}
	var l Leaf
	if len(b) < 1 || b[0] != LeafVersion {
		return bad("unknown version")
	}
	b = b[1:]
	if len(b) < SaltSize+8+1 {
		return bad("too short")
	}
	copy(l.Salt[:], b)
	b = b[SaltSize:]
	l.At = time.UnixMicro(int64(binary.BigEndian.Uint64(b))).UTC()
	b = b[8:]
	k := int(b[0])
	b = b[1:]
	if len(b) < k+sha256.Size+1 {
		return bad("too short")
	}
	l.Kind = string(b[:k])
	if checkKind(l.Kind) != nil {
		return bad("bad kind")
	}
	b = b[k:]
	copy(l.PayloadHash[:], b)
	b = b[sha256.Size:]
	n := int(b[0])
	b = b[1:]
	if n < 1 || n > MaxParties {
		return bad("bad number of parties")
	}
	if len(b) != n*(PseudonymBytes+16) {
		return bad("wrong length")
	}
	l.Parties = make([]Party, n)
	for i := range l.Parties {
		l.Parties[i] = Party{
			Subject: hex.EncodeToString(b[:PseudonymBytes]),
			Seq:     int64(binary.BigEndian.Uint64(b[PseudonymBytes:])),
			Prev:    int64(binary.BigEndian.Uint64(b[PseudonymBytes+8:])),
		}
		b = b[PseudonymBytes+16:]
	}
	// Canonical: the fields re-encode to the same bytes (this also checks
	// the parties' ranges and that none appears twice).
	if _, err := l.MarshalBinary(); err != nil {
		return bad(wallet.ErrorMessage(err))
	}
	return l, nil
}

// checkKind accepts 1..64 bytes of [a-z0-9_].
func checkKind(kind string) error {
	if len(kind) < 1 || len(kind) > MaxKindLength {
		return wallet.Errorf(wallet.EINVALID, "history log: an event kind has 1 to %d characters", MaxKindLength)
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return wallet.Errorf(wallet.EINVALID, "history log: event kind %q: only a-z, 0-9 and _", kind)
		}
	}
	return nil
}
