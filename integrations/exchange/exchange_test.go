package exchange

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/wallet"
)

type party struct {
	sig wallet.IssuerKey
	enc *ecdsa.PrivateKey
}

func newParty(t *testing.T, name string) party {
	t.Helper()
	s, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return party{sig: wallet.IssuerKey{KID: name + "-sig", Issuer: name, Alg: wallet.AlgES256, Key: s}, enc: e}
}

func (p party) encJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &p.enc.PublicKey, KeyID: p.sig.Issuer + "-enc", Use: "enc"}
}

func (p party) decrypt(kid string) (*ecdsa.PrivateKey, bool) {
	if kid != p.sig.Issuer+"-enc" {
		return nil, false
	}
	return p.enc, true
}

func (p party) resolve(kid string) (crypto.PublicKey, error) {
	if kid != p.sig.KID {
		return nil, &Rejected{Reason: ReasonUnknownKey}
	}
	return p.sig.Key.Public(), nil
}

func operator(t *testing.T) (wallet.IssuerKey, json.RawMessage) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: "op-1", Use: "sig", Algorithm: "EdDSA"})
	if err != nil {
		t.Fatal(err)
	}
	return wallet.IssuerKey{KID: "op-1", Issuer: "stf_1", Alg: wallet.AlgEdDSA, Key: priv}, j
}

func buildPackage(t *testing.T, centre, agency party, tamper func(*Manifest, []Content)) string {
	t.Helper()
	opKey, opJWK := operator(t)
	at := time.Date(2026, 2, 14, 9, 0, 0, 0, time.UTC)
	var contents []Content
	for i, body := range [][]byte{[]byte(`{"name":"Aigerim"}`), []byte("%PDF-1.4 scan")} {
		id, kind, ct := "application", KindApplication, "application/json"
		if i == 1 {
			id, kind, ct = "doc_1", KindScan, "application/pdf"
		}
		c := ItemClaims{CaseID: "case_1", ItemID: id, Kind: kind, Title: id, ContentType: ct, Size: int64(len(body)), SHA256: Digest(body), SignedAt: at, Operator: "stf_1"}
		sig, err := SignItem(c, opKey)
		if err != nil {
			t.Fatal(err)
		}
		contents = append(contents, Content{Item: Item{ID: id, Kind: kind, Title: id, ContentType: ct, Size: c.Size, SHA256: c.SHA256, Signature: sig}, Bytes: body})
	}
	m := Manifest{PackageID: "pkg_1", CaseID: "case_1", Service: "address-registration", Centre: Party{ID: "psc-1"}, Agency: Party{ID: "gov-1"},
		Applicant: Applicant{IIN: "900101300012"}, Operator: Operator{ID: "stf_1", Name: "Op", Key: opJWK}, SentAt: at, DayOfSending: "2026-02-14"}
	if tamper != nil {
		tamper(&m, contents)
	}
	_, jwe, err := SealPackage(m, contents, centre.sig, agency.encJWK())
	if err != nil {
		t.Fatal(err)
	}
	return jwe
}

func TestPackage_SealedForTheAgencyOpensAndEveryItemVerifies(t *testing.T) {
	centre, agency := newParty(t, "centre"), newParty(t, "agency")
	jwe := buildPackage(t, centre, agency, nil)
	if !IsJWE(jwe) || strings.Contains(jwe, "Aigerim") {
		t.Fatal("not an opaque JWE")
	}
	o, err := OpenPackage(jwe, agency.decrypt, centre.resolve)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.ItemProblems) != 0 || len(o.Manifest.Items) != 2 || string(o.Contents["doc_1"]) != "%PDF-1.4 scan" {
		t.Fatalf("%+v", o)
	}
	// Only the agency opens it.
	other := newParty(t, "agency")
	if _, err := OpenPackage(jwe, other.decrypt, centre.resolve); ReasonOf(err) != ReasonDecryption {
		t.Fatalf("other agency: %v", err)
	}
	// A seal by someone else is refused.
	if _, err := OpenPackage(jwe, agency.decrypt, newParty(t, "centre").resolve); ReasonOf(err) != ReasonBadSignature {
		t.Fatalf("other centre key: %v", err)
	}
	if _, err := OpenPackage(jwe, agency.decrypt, agency.resolve); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("unknown kid: %v", err)
	}
	if _, err := OpenPackage("a.b.c", agency.decrypt, centre.resolve); ReasonOf(err) != ReasonBadRequest {
		t.Fatalf("garbage: %v", err)
	}
}

func TestPackage_ItemProblemsAreNamedPerItem(t *testing.T) {
	centre, agency := newParty(t, "centre"), newParty(t, "agency")
	// The manifest claims another digest for the scan than its signature: the
	// operator's signature no longer matches the item.
	jwe := buildPackage(t, centre, agency, func(m *Manifest, cs []Content) {
		cs[1].Bytes = []byte("%PDF-1.4 other")
		cs[1].Item.SHA256 = Digest(cs[1].Bytes)
		cs[1].Item.Size = int64(len(cs[1].Bytes))
	})
	o, err := OpenPackage(jwe, agency.decrypt, centre.resolve)
	if err != nil {
		t.Fatal(err)
	}
	if o.ItemProblems["doc_1"] != ReasonOperatorSignature || o.ItemProblems["application"] != "" {
		t.Fatalf("%v", o.ItemProblems)
	}
	// A signature made by another operator key than the manifest names.
	jwe = buildPackage(t, centre, agency, func(m *Manifest, cs []Content) {
		_, other := operator(t)
		m.Operator.Key = other
	})
	o, err = OpenPackage(jwe, agency.decrypt, centre.resolve)
	if err != nil {
		t.Fatal(err)
	}
	if o.ItemProblems["doc_1"] != ReasonOperatorSignature || o.ItemProblems["application"] != ReasonOperatorSignature {
		t.Fatalf("%v", o.ItemProblems)
	}
}

func TestSealPackage_RefusesBytesThatAreNotThoseSigned(t *testing.T) {
	centre, agency := newParty(t, "centre"), newParty(t, "agency")
	_, _, err := SealPackage(Manifest{PackageID: "p", CaseID: "c"}, []Content{{Item: Item{ID: "x", SHA256: Digest([]byte("a"))}, Bytes: []byte("b")}}, centre.sig, agency.encJWK())
	if wallet.ErrorCode(err) != wallet.EINTERNAL {
		t.Fatalf("%v", err)
	}
}

func TestReceipt_SignedAndVerified(t *testing.T) {
	agency := newParty(t, "agency")
	at := time.Date(2026, 2, 14, 9, 0, 0, 0, time.UTC)
	r := Receipt{Of: "package", ID: "pkg_1", CaseID: "case_1", Digest: Digest([]byte("x")), Status: StatusRejected,
		Reason: "items", Items: []ItemReason{{ID: "doc_1", Reason: "illegible"}}, Issuer: "gov-1", ReceivedAt: at, DayOfReceipt: "2026-02-16"}
	jws, err := SignReceipt(r, agency.sig)
	if err != nil {
		t.Fatal(err)
	}
	got, kid, err := VerifyReceipt(jws, agency.resolve)
	if err != nil || kid != "agency-sig" {
		t.Fatal(err)
	}
	r.Type = "receipt"
	if got.Items[0] != r.Items[0] || got.Status != r.Status || !got.ReceivedAt.Equal(at) || got.DayOfReceipt != "2026-02-16" {
		t.Fatalf("%+v", got)
	}
	// One changed byte of the payload: bad signature.
	parts := strings.Split(jws, ".")
	parts[1] = parts[1][:len(parts[1])-2] + flip(parts[1][len(parts[1])-2:])
	if _, _, err := VerifyReceipt(strings.Join(parts, "."), agency.resolve); ReasonOf(err) != ReasonBadSignature && ReasonOf(err) != ReasonBadRequest {
		t.Fatalf("tampered: %v", err)
	}
	// A message is not a receipt.
	msg, _ := SignMessage(Message{Type: MessageStatus, MessageID: "m", Issuer: "gov-1", CaseID: "c", Status: "registered", At: at}, agency.sig, nil)
	if _, _, err := VerifyReceipt(msg, agency.resolve); ReasonOf(err) != ReasonBadRequest {
		t.Fatalf("typ confusion: %v", err)
	}
}

func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestMessage_StatusSignedResultSignedAndEncrypted(t *testing.T) {
	centre, agency := newParty(t, "centre"), newParty(t, "agency")
	at := time.Date(2026, 2, 16, 9, 0, 0, 0, time.UTC)
	st := Message{Type: MessageStatus, MessageID: "m1", Issuer: "gov-1", CaseID: "case_1", PackageID: "pkg_1", Status: "registered", At: at}
	body, err := SignMessage(st, agency.sig, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, jws, kid, err := ReadMessage(body, centre.decrypt, agency.resolve)
	if err != nil || m.Status != "registered" || jws != body || kid != "agency-sig" {
		t.Fatalf("%+v %v", m, err)
	}
	doc := []byte("%PDF result")
	res := Message{Type: MessageResult, MessageID: "m2", Issuer: "gov-1", CaseID: "case_1", At: at,
		Result: &Result{Title: "Certificate", ContentType: "application/pdf", Content: doc, SHA256: Digest(doc)}}
	enc := centre.encJWK()
	// Without the agency's own signature over the document, a result is refused.
	unsigned, _ := SignMessage(res, agency.sig, &enc)
	if _, _, _, err := ReadMessage(unsigned, centre.decrypt, agency.resolve); ReasonOf(err) != ReasonBadRequest {
		t.Fatalf("a result without its document's signature: %v", err)
	}
	claims := ResultClaims{Issuer: "gov-1", CaseID: "case_1", Holder: "880412310009", Number: "R-1", Title: "Certificate",
		ContentType: "application/pdf", SHA256: Digest(doc), IssuedAt: at}
	if res.Result.Signature, err = SignResult(claims, agency.sig); err != nil || !IsResultJWS(res.Result.Signature) || IsResultJWS(body) {
		t.Fatalf("result signature: %v", err)
	}
	if got, kid, err := ReadResult(res.Result.Signature, agency.resolve); err != nil || kid != "agency-sig" || got.Holder != claims.Holder ||
		got.SHA256 != claims.SHA256 || !got.IssuedAt.Equal(at) || got.Type != "result" {
		t.Fatalf("read result: %+v %v", got, err)
	}
	if _, _, err := ReadResult(body, agency.resolve); ReasonOf(err) != ReasonBadRequest {
		t.Fatalf("a status read as a result signature: %v", err)
	}
	// The resolver's own failure is its error, not a refusal of the
	// message: the receiver answers "try again", not a signed rejection.
	down := func(string) (crypto.PublicKey, error) { return nil, wallet.Errorf(wallet.EUNAVAILABLE, "store down") }
	if _, err := Verify(body, down); !wallet.IsCode(err, wallet.EUNAVAILABLE) || ReasonOf(err) == ReasonUnknownKey {
		t.Fatalf("a resolver that is down: %v", err)
	}
	if _, _, err := ReadResult(res.Result.Signature, down); !wallet.IsCode(err, wallet.EUNAVAILABLE) {
		t.Fatalf("a result read while the resolver is down: %v", err)
	}
	claims.Holder = ""
	partial, _ := SignResult(claims, agency.sig)
	if _, _, err := ReadResult(partial, agency.resolve); ReasonOf(err) != ReasonBadRequest {
		t.Fatalf("a result signature without its holder: %v", err)
	}
	body, err = SignMessage(res, agency.sig, &enc)
	if err != nil || !IsJWE(body) {
		t.Fatal(err)
	}
	m, jws, _, err = ReadMessage(body, centre.decrypt, agency.resolve)
	if err != nil || string(m.Result.Content) != string(doc) || IsJWE(jws) {
		t.Fatalf("%+v %v", m, err)
	}
	// A result in clear is refused; so is one with a wrong digest; and one signed by another key.
	clear, _ := SignMessage(res, agency.sig, nil)
	if _, _, _, err := ReadMessage(clear, centre.decrypt, agency.resolve); ReasonOf(err) != ReasonBadRequest {
		t.Fatalf("clear result: %v", err)
	}
	bad := res
	bad.Result = &Result{Title: "x", ContentType: "application/pdf", Content: doc, SHA256: Digest([]byte("other"))}
	b, _ := SignMessage(bad, agency.sig, &enc)
	if _, _, _, err := ReadMessage(b, centre.decrypt, agency.resolve); ReasonOf(err) != ReasonBadRequest {
		t.Fatalf("digest: %v", err)
	}
	impostor := newParty(t, "agency")
	b, _ = SignMessage(res, impostor.sig, &enc)
	if _, _, _, err := ReadMessage(b, centre.decrypt, agency.resolve); ReasonOf(err) != ReasonBadSignature {
		t.Fatalf("impostor: %v", err)
	}
	unknownType := st
	unknownType.Type = "gossip"
	b, _ = SignMessage(unknownType, agency.sig, nil)
	if _, _, _, err := ReadMessage(b, centre.decrypt, agency.resolve); ReasonOf(err) != ReasonBadRequest {
		t.Fatalf("type: %v", err)
	}
}

func TestParsePublicJWK(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ed, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	mk := func(k any, kid, use string) []byte {
		b, err := json.Marshal(jose.JSONWebKey{Key: k, KeyID: kid, Use: use})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	k, err := ParsePublicJWK(mk(&ec.PublicKey, "", ""), wallet.KeyUseEnc)
	if err != nil || k.KeyID == "" || k.Algorithm != "ECDH-ES+A256KW" {
		t.Fatalf("%v %+v", err, k)
	}
	if k, err := ParsePublicJWK(mk(ed, "e1", "sig"), wallet.KeyUseSig); err != nil || k.KeyID != "e1" || k.Algorithm != "EdDSA" {
		t.Fatalf("%v", err)
	}
	for name, c := range map[string]struct {
		b   []byte
		use string
	}{
		"private":         {mk(ec, "k", ""), wallet.KeyUseSig},
		"private ed25519": {mk(edPriv, "k", ""), wallet.KeyUseSig},
		"P-384":           {mk(&ec384.PublicKey, "k", ""), wallet.KeyUseSig},
		"ed25519 for enc": {mk(ed, "k", ""), wallet.KeyUseEnc},
		"use disagrees":   {mk(&ec.PublicKey, "k", "enc"), wallet.KeyUseSig},
		"not json":        {[]byte("{"), wallet.KeyUseSig},
		"symmetric":       {mk([]byte("0123456789abcdef"), "k", ""), wallet.KeyUseSig},
	} {
		if _, err := ParsePublicJWK(c.b, c.use); wallet.ErrorCode(err) != wallet.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCentreKeys_PublishedAndDecryptAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	ck, err := OpenCentreKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ck.EncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	jwe, err := Encrypt([]byte("hello"), enc, "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ck.Rotate(wallet.KeyUseEnc); err != nil {
		t.Fatal(err)
	}
	// Reopened (another process): the retired key still opens what was sent to it.
	ck2, err := OpenCentreKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Decrypt(jwe, ck2.DecryptionKey)
	if err != nil || string(b) != "hello" {
		t.Fatalf("%v", err)
	}
	sig, _ := ck2.Signer()
	if _, ok := ck2.DecryptionKey(sig.KID); ok {
		t.Fatal("the signing key must not decrypt")
	}
	pub := ck2.Published(func(kid string) *time.Time {
		if kid == sig.KID {
			at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			return &at
		}
		return nil
	})
	if len(pub) != 3 {
		t.Fatalf("%d keys", len(pub))
	}
	out, err := json.Marshal(map[string]any{"keys": pub})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{`"use":"enc"`, `"use":"sig"`, `"status":"retired"`, `"status":"compromised"`, `"alg":"ECDH-ES+A256KW"`, `"alg":"ES256"`} {
		if !strings.Contains(s, want) {
			t.Errorf("no %s in %s", want, s)
		}
	}
	if strings.Contains(s, `"d":`) {
		t.Fatal("private key published")
	}
	var rej *Rejected
	if _, _, err := Decrypt(jwe, newParty(t, "x").decrypt); !errors.As(err, &rej) {
		t.Fatal(err)
	}
}
