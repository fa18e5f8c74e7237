package exchange

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"encoding/json"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/wallet"
)

// JWS "typ" values: what a signature is, so that one kind cannot be passed
// off as another.
const (
	TypItem     = "qujat-item+jws"     // an operator's signature over one item's digest
	TypManifest = "qujat-manifest+jws" // the centre's seal over a package's manifest
	TypReceipt  = "qujat-receipt+jws"  // a receipt or rejection (either side)
	TypMessage  = "qujat-message+jws"  // an agency's status, result or key notice; a centre's notice
)

// Item kinds.
const (
	KindApplication = "application"
	KindScan        = "scan"
	KindDuplicate   = "duplicate"
)

// ItemClaims is what an operator signs for one item: the item's digest
// and what it is, in one case. The item's bytes travel beside it.
type ItemClaims struct {
	CaseID      string    `json:"case_id"`
	ItemID      string    `json:"item_id"`
	Kind        string    `json:"kind"`
	Title       string    `json:"title"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	SignedAt    time.Time `json:"signed_at"`
	Operator    string    `json:"operator"`
}

// Item is one entry of a manifest: the claims and the operator's JWS of
// them.
type Item struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Title       string `json:"title"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Signature   string `json:"signature"`
}

// Party names an organisation.
type Party struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Operator is who signed the items, with the public key that verifies them
// (covered by the centre's seal, so an agency needs nothing else).
type Operator struct {
	ID   string          `json:"id"`
	Name string          `json:"name"`
	Key  json.RawMessage `json:"jwk"`
}

// Manifest is the sealed description of a package.
type Manifest struct {
	Type         string    `json:"type"` // "package"
	PackageID    string    `json:"package_id"`
	CaseID       string    `json:"case_id"`
	Service      string    `json:"service"`
	Centre       Party     `json:"centre"`
	Agency       Party     `json:"agency"`
	Applicant    Applicant `json:"applicant"`
	Operator     Operator  `json:"operator"`
	SentAt       time.Time `json:"sent_at"`
	DayOfSending string    `json:"day_of_sending"`
	Items        []Item    `json:"items"`
	// ReplyKey is the centre's encryption key for results (its kid).
	ReplyKey string `json:"reply_key"`
}

// Applicant is the citizen the case is for.
type Applicant struct {
	IIN  string `json:"iin"`
	Name string `json:"name,omitempty"`
}

// Package is the plaintext of the JWE sent to an agency: the sealed
// manifest and each item's exact bytes.
type Package struct {
	Manifest string            `json:"manifest"`
	Contents map[string][]byte `json:"contents"` // item id → bytes (base64 in JSON)
}

// Content is one item to put in a package with its signature made.
type Content struct {
	Item  Item
	Bytes []byte
}

// SignItem makes the operator's JWS over the item's claims.
func SignItem(c ItemClaims, operatorKey wallet.IssuerKey) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "exchange: item claims")
	}
	return Sign(b, operatorKey, TypItem)
}

// SealPackage seals m with the centre's key (after filling in the items)
// and encrypts the package for the agency's key. It returns the manifest
// JWS and the JWE, the exact bytes to keep and to send.
func SealPackage(m Manifest, contents []Content, centreKey wallet.IssuerKey, agencyKey jose.JSONWebKey) (manifestJWS, jwe string, err error) {
	m.Type = "package"
	m.Items = make([]Item, 0, len(contents))
	p := Package{Contents: map[string][]byte{}}
	for _, c := range contents {
		if Digest(c.Bytes) != c.Item.SHA256 {
			return "", "", wallet.Errorf(wallet.EINTERNAL, "exchange: item %s bytes are not those signed", c.Item.ID)
		}
		m.Items = append(m.Items, c.Item)
		p.Contents[c.Item.ID] = c.Bytes
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", "", wallet.Wrap(wallet.EINTERNAL, err, "exchange: manifest")
	}
	if manifestJWS, err = Sign(b, centreKey, TypManifest); err != nil {
		return "", "", err
	}
	p.Manifest = manifestJWS
	pb, err := json.Marshal(p)
	if err != nil {
		return "", "", wallet.Wrap(wallet.EINTERNAL, err, "exchange: package")
	}
	jwe, err = Encrypt(pb, agencyKey, "qujat-package+json")
	return manifestJWS, jwe, err
}

// Opened is a package as an agency reads it.
type Opened struct {
	Manifest    Manifest
	ManifestJWS string
	Contents    map[string][]byte
	// ItemProblems names the items whose bytes or operator signature do
	// not hold (item id → reason); the manifest itself verified.
	ItemProblems map[string]string
}

// OpenPackage decrypts a package with the agency's keys, verifies the
// centre's seal with centreKey (resolving the centre's published signing
// keys) and each item: its bytes against its digest and its claims against
// the operator's signature. A *Rejected for the package as a whole
// (decryption, the seal); problems of single items are in ItemProblems.
func OpenPackage(jwe string, agencyKey func(kid string) (*ecdsa.PrivateKey, bool), centreKey func(kid string) (crypto.PublicKey, error)) (Opened, error) {
	plain, _, err := Decrypt(jwe, agencyKey)
	if err != nil {
		return Opened{}, err
	}
	var p Package
	if err := strictJSON(plain, &p); err != nil || p.Manifest == "" {
		return Opened{}, reject(ReasonBadRequest, "the package is not {manifest, contents}")
	}
	sig, err := Verify(p.Manifest, centreKey)
	if err != nil {
		return Opened{}, err
	}
	if sig.Typ != TypManifest {
		return Opened{}, reject(ReasonBadRequest, "the manifest's typ is %q", sig.Typ)
	}
	var m Manifest
	if err := strictJSON(sig.Payload, &m); err != nil || m.Type != "package" || m.PackageID == "" || m.CaseID == "" {
		return Opened{}, reject(ReasonBadRequest, "the manifest is not a package's")
	}
	o := Opened{Manifest: m, ManifestJWS: p.Manifest, Contents: p.Contents, ItemProblems: map[string]string{}}
	opKey, err := ParsePublicJWK(m.Operator.Key, wallet.KeyUseSig)
	for _, it := range m.Items {
		b, ok := p.Contents[it.ID]
		switch {
		case !ok:
			o.ItemProblems[it.ID] = "missing"
			continue
		case Digest(b) != it.SHA256 || int64(len(b)) != it.Size:
			o.ItemProblems[it.ID] = ReasonDigestMismatch
			continue
		case err != nil:
			o.ItemProblems[it.ID] = ReasonOperatorSignature
			continue
		}
		if prob := checkItem(it, m, opKey); prob != "" {
			o.ItemProblems[it.ID] = prob
		}
	}
	for id := range p.Contents {
		if !hasItem(m.Items, id) {
			o.ItemProblems[id] = "not_in_manifest"
		}
	}
	return o, nil
}

func hasItem(items []Item, id string) bool {
	for _, it := range items {
		if it.ID == id {
			return true
		}
	}
	return false
}

// checkItem verifies an item's operator signature and that its claims are
// the manifest's. "" when it holds.
func checkItem(it Item, m Manifest, opKey jose.JSONWebKey) string {
	s, err := Verify(it.Signature, func(kid string) (crypto.PublicKey, error) {
		if kid != opKey.KeyID {
			return nil, reject(ReasonUnknownKey, "item signed by %s, manifest names %s", kid, opKey.KeyID)
		}
		return opKey.Key, nil
	})
	if err != nil || s.Typ != TypItem {
		return ReasonOperatorSignature
	}
	var c ItemClaims
	if err := json.Unmarshal(s.Payload, &c); err != nil {
		return ReasonOperatorSignature
	}
	if c.CaseID != m.CaseID || c.ItemID != it.ID || c.SHA256 != it.SHA256 || c.Size != it.Size ||
		c.ContentType != it.ContentType || c.Kind != it.Kind || c.Operator != m.Operator.ID {
		return ReasonOperatorSignature
	}
	return ""
}

// ItemReason is why one item was refused.
type ItemReason struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Receipt statuses.
const (
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
)

// Receipt is the signed answer to a package or a message, either way: the
// receiver's acknowledgement of exactly those bytes (Digest of what it
// received), or its refusal with a reason (and per item for a package).
type Receipt struct {
	Type         string       `json:"type"` // "receipt"
	Of           string       `json:"of"`   // "package" or "message"
	ID           string       `json:"id"`   // the package id or message id
	CaseID       string       `json:"case_id,omitempty"`
	Digest       string       `json:"sha256"` // of the body received (the JWE or JWS text)
	Status       string       `json:"status"` // accepted or rejected
	Reason       string       `json:"reason,omitempty"`
	Items        []ItemReason `json:"items,omitempty"`
	Issuer       string       `json:"issuer"` // organisation id of who signs
	ReceivedAt   time.Time    `json:"received_at"`
	DayOfReceipt string       `json:"day_of_receipt,omitempty"`
}

// SignReceipt signs r.
func SignReceipt(r Receipt, key wallet.IssuerKey) (string, error) {
	r.Type = "receipt"
	b, err := json.Marshal(r)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "exchange: receipt")
	}
	return Sign(b, key, TypReceipt)
}

// VerifyReceipt checks a receipt's signature with resolve and reads it.
// A *Rejected.
func VerifyReceipt(jws string, resolve func(kid string) (crypto.PublicKey, error)) (Receipt, string, error) {
	s, err := Verify(jws, resolve)
	if err != nil {
		return Receipt{}, "", err
	}
	if s.Typ != TypReceipt {
		return Receipt{}, s.KID, reject(ReasonBadRequest, "not a receipt (typ %q)", s.Typ)
	}
	var r Receipt
	if err := strictJSON(s.Payload, &r); err != nil || r.Type != "receipt" || (r.Status != StatusAccepted && r.Status != StatusRejected) {
		return Receipt{}, s.KID, reject(ReasonBadRequest, "not a receipt")
	}
	return r, s.KID, nil
}

// Message types sent to a centre's inbound endpoint (and notices sent by a
// centre to agencies).
const (
	MessageStatus         = "status"
	MessageResult         = "result"
	MessageKeyCompromised = "key_compromised"
)

// Result is the agency's result document inside a result message.
type Result struct {
	Title        string          `json:"title"`
	DocumentType string          `json:"document_type,omitempty"`
	Number       string          `json:"number,omitempty"`
	ContentType  string          `json:"content_type"`
	Content      []byte          `json:"content"` // base64 in JSON
	SHA256       string          `json:"sha256"`
	Fields       json.RawMessage `json:"fields,omitempty"`
	// Signature is the agency's own signature over the document
	// (ResultClaims, typ TypResult): what the citizen's wallet keeps.
	Signature string `json:"signature"`
}

// Message is an agency's status event, result or key notice (or a
// centre's key notice to an agency).
type Message struct {
	Type      string    `json:"type"`
	MessageID string    `json:"message_id"`
	Issuer    string    `json:"issuer"` // organisation id of the sender
	CaseID    string    `json:"case_id,omitempty"`
	PackageID string    `json:"package_id,omitempty"`
	Status    string    `json:"status,omitempty"`
	Note      string    `json:"note,omitempty"`
	At        time.Time `json:"at"`
	Result    *Result   `json:"result,omitempty"`
	// Key notices: the kid compromised from CompromisedAt, and its replacement.
	KID           string          `json:"kid,omitempty"`
	CompromisedAt *time.Time      `json:"compromised_at,omitempty"`
	Replacement   json.RawMessage `json:"replacement,omitempty"`
}

// SignMessage signs m; encryptTo (for results) also encrypts the JWS to
// the receiver's key, giving a JWE.
func SignMessage(m Message, key wallet.IssuerKey, encryptTo *jose.JSONWebKey) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "exchange: message")
	}
	jws, err := Sign(b, key, TypMessage)
	if err != nil || encryptTo == nil {
		return jws, err
	}
	return Encrypt([]byte(jws), *encryptTo, "JWT")
}

// ReadMessage opens an inbound body (a JWS, or a JWE holding one), checks
// the signature with resolve and reads the message. It returns the inner
// JWS (what was signed, to keep) and its kid. A *Rejected.
func ReadMessage(body string, decrypt func(kid string) (*ecdsa.PrivateKey, bool), resolve func(kid string) (crypto.PublicKey, error)) (Message, string, string, error) {
	jws := body
	if IsJWE(body) {
		plain, _, err := Decrypt(body, decrypt)
		if err != nil {
			return Message{}, "", "", err
		}
		jws = string(plain)
	}
	s, err := Verify(jws, resolve)
	if err != nil {
		kid, _, _ := HeaderKID(jws)
		return Message{}, jws, kid, err
	}
	if s.Typ != TypMessage {
		return Message{}, jws, s.KID, reject(ReasonBadRequest, "not a message (typ %q)", s.Typ)
	}
	var m Message
	if err := strictJSON(s.Payload, &m); err != nil || m.MessageID == "" || m.Issuer == "" || m.At.IsZero() {
		return Message{}, jws, s.KID, reject(ReasonBadRequest, "not a message: type, message_id, issuer and at are required")
	}
	switch m.Type {
	case MessageStatus:
		if m.CaseID == "" || m.Status == "" {
			return Message{}, jws, s.KID, reject(ReasonBadRequest, "a status names its case and status")
		}
	case MessageResult:
		if m.CaseID == "" || m.Result == nil || len(m.Result.Content) == 0 || Digest(m.Result.Content) != m.Result.SHA256 {
			return Message{}, jws, s.KID, reject(ReasonBadRequest, "a result names its case and carries its document with its SHA-256")
		}
		if m.Result.Signature == "" {
			return Message{}, jws, s.KID, reject(ReasonBadRequest, "a result carries the agency's signature over its document (typ %s)", TypResult)
		}
		if !IsJWE(body) {
			return Message{}, jws, s.KID, reject(ReasonBadRequest, "a result must be encrypted to the centre")
		}
	case MessageKeyCompromised:
		if m.KID == "" || m.CompromisedAt == nil {
			return Message{}, jws, s.KID, reject(ReasonBadRequest, "a key notice names the kid and compromised_at")
		}
	default:
		return Message{}, jws, s.KID, reject(ReasonBadRequest, "unknown message type %q", m.Type)
	}
	return m, jws, s.KID, nil
}

// strictJSON decodes b into v refusing unknown fields and trailing data.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return wallet.Errorf(wallet.EINVALID, "trailing data")
	}
	return nil
}
