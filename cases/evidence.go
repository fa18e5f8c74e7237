package cases

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
)

// Check is one signature or digest of a case checked again from the
// stored bytes.
type Check struct {
	What   string `json:"what"`
	KID    string `json:"kid,omitempty"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Evidence is everything kept of a case with every check made again: the
// bytes as sent and received, and what they prove.
type Evidence struct {
	Case       wallet.Case              `json:"case"`
	Messages   []wallet.ExchangeMessage `json:"messages"`
	Checks     []Check                  `json:"checks"`
	Valid      bool                     `json:"valid"`
	CheckedAt  time.Time                `json:"checked_at"`
	ItemsBytes map[string]string        `json:"items_sha256"` // item id → SHA-256 of the stored bytes
}

// Verify checks again, from the stored bytes with the keys as they were,
// every signature and digest of a case: each item's bytes and operator
// signature, the centre's seal on the manifest, the package sent, the
// agency's receipt, every message received (decrypted again where it was
// encrypted) and the centre's answer to it, and the result's bytes.
// ENOTFOUND; EUNAVAILABLE.
func (s *Service) Verify(ctx context.Context, caseID string) (Evidence, error) {
	c, err := s.Store.Case(ctx, caseID)
	if err != nil {
		return Evidence{}, err
	}
	msgs, err := s.Store.ExchangeMessages(ctx, caseID)
	if err != nil {
		return Evidence{}, err
	}
	_ = s.Keys.Reload()
	ev := Evidence{Case: c, Messages: msgs, CheckedAt: s.now(), ItemsBytes: map[string]string{}}
	add := func(what, kid string, err error) {
		ch := Check{What: what, KID: kid, OK: err == nil}
		if err != nil {
			ch.Detail = err.Error()
		}
		ev.Checks = append(ev.Checks, ch)
	}
	centreKey := func(kid string) (crypto.PublicKey, error) {
		k, err := s.Keys.VerificationKey(kid)
		if err != nil {
			return nil, &exchange.Rejected{Reason: exchange.ReasonUnknownKey, Detail: kid}
		}
		return k.Key, nil
	}
	// The manifest (sealed by the centre) names the operator's key.
	var (
		manifest exchange.Manifest
		opKey    *jose.JSONWebKey
	)
	if c.ManifestJWS != "" {
		sig, err := exchange.Verify(c.ManifestJWS, centreKey)
		if err == nil {
			err = json.Unmarshal(sig.Payload, &manifest)
		}
		if err == nil && (manifest.PackageID != c.PackageID || manifest.CaseID != c.ID || len(manifest.Items) != len(c.Items)) {
			err = fmt.Errorf("the manifest names another package or other items")
		}
		if err == nil {
			var k jose.JSONWebKey
			if k, err = exchange.ParsePublicJWK(manifest.Operator.Key, wallet.KeyUseSig); err == nil {
				opKey = &k
			}
		}
		add("manifest sealed by the centre", sig.KID, err)
	}
	if opKey == nil {
		// A draft: the operator's current key.
		if k, err := s.Staff.Signer(c.OperatorID); err == nil {
			opKey = &jose.JSONWebKey{Key: k.Key.Public(), KeyID: k.KID}
		}
	}
	for i, it := range c.Items {
		blob, err := s.Store.Blob(ctx, it.BlobID)
		if err == nil {
			ev.ItemsBytes[it.ID] = exchange.Digest(blob.Data)
			if ev.ItemsBytes[it.ID] != it.SHA256 {
				err = fmt.Errorf("the stored bytes are not those signed")
			}
		}
		add("item "+it.ID+" bytes", "", err)
		if opKey == nil {
			add("item "+it.ID+" operator signature", "", fmt.Errorf("no operator key"))
			continue
		}
		sig, err := exchange.Verify(it.Signature, func(kid string) (crypto.PublicKey, error) {
			if kid != opKey.KeyID {
				return nil, &exchange.Rejected{Reason: exchange.ReasonUnknownKey, Detail: kid}
			}
			return opKey.Key, nil
		})
		if err == nil {
			var claims exchange.ItemClaims
			if err = json.Unmarshal(sig.Payload, &claims); err == nil && (claims.SHA256 != it.SHA256 || claims.CaseID != c.ID || claims.ItemID != it.ID) {
				err = fmt.Errorf("the signed claims are not the item's")
			}
		}
		if err == nil && c.ManifestJWS != "" && i < len(manifest.Items) && manifest.Items[i].Signature != it.Signature {
			err = fmt.Errorf("the manifest carries another signature")
		}
		add("item "+it.ID+" operator signature", sig.KID, err)
	}
	for _, m := range msgs {
		var err error
		if exchange.Digest([]byte(m.Body)) != m.Digest {
			err = fmt.Errorf("the kept bytes are not those received or sent")
		}
		switch {
		case err != nil:
			add(m.Direction+" "+m.Kind+" "+m.MessageID, "", err)
		case m.Direction == "out":
			add("package "+m.MessageID+" as sent", "", nil)
		case m.Kind == "receipt":
			r, kid, err := exchange.VerifyReceipt(m.Body, s.agencyKeyResolver(ctx, c.AgencyID, m.At))
			if err == nil && r.ID != c.PackageID {
				err = fmt.Errorf("the receipt is for another package")
			}
			add("agency's receipt of "+c.PackageID, kid, err)
		default:
			_, _, kid, err := exchange.ReadMessage(m.Body, s.Keys.DecryptionKey, s.agencyKeyResolver(ctx, c.AgencyID, m.At))
			add("agency's "+m.Kind+" "+m.MessageID, kid, err)
			if m.Answer != "" {
				_, akid, aerr := exchange.VerifyReceipt(m.Answer, centreKey)
				add("centre's receipt of "+m.MessageID, akid, aerr)
			}
		}
	}
	if r := c.Result; r != nil {
		blob, err := s.Store.Blob(ctx, r.BlobID)
		if err == nil && exchange.Digest(blob.Data) != r.SHA256 {
			err = fmt.Errorf("the stored result is not the one signed")
		}
		add("result document bytes", "", err)
	}
	ev.Valid = true
	for _, ch := range ev.Checks {
		ev.Valid = ev.Valid && ch.OK
	}
	return ev, nil
}

// EvidenceFor is Verify for an operator of the case's centre. ENOTFOUND,
// EFORBIDDEN.
func (s *Service) EvidenceFor(ctx context.Context, by staff.Acting, caseID string) (Evidence, error) {
	if _, err := s.ofCentre(ctx, by, caseID); err != nil {
		return Evidence{}, err
	}
	return s.Verify(ctx, caseID)
}
