package cases

import (
	"context"
	"crypto"
	"encoding/json"
	"time"

	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/wallet"
)

// MaxInbound is the largest message the inbound endpoint reads (a result
// with its document, base64 and encrypted).
const MaxInbound = 16 << 20

// statusRank orders the statuses a case moves through; an agency's status
// never moves a case back.
var statusRank = map[string]int{
	wallet.CaseDraft: 0, wallet.CaseQueued: 1, wallet.CaseDelivered: 2, wallet.CaseRejected: 2,
	wallet.CaseRegistered: 3, wallet.CaseInProgress: 4, wallet.CaseResultReceived: 5, wallet.CaseIssued: 6,
}

// Answer is the centre's signed answer to an inbound message: a receipt
// (Accepted) or a rejection with its reason.
type Answer struct {
	JWS      string
	Accepted bool
	Reason   string
}

// Inbound takes an agency's message (a JWS, or a JWE holding one): it is
// decrypted, its signature verified with the agency's registered key, and
// its effect committed with the message and the answer kept, in one change
// with the citizen's event. The answer is the centre's signed receipt, or a
// signed rejection naming the reason (exchange.Reason…). The same message
// again gets the same answer; the same message id with other bytes is a
// replay. Errors are only for failures of the centre itself
// (EUNAVAILABLE, EINTERNAL): nothing was stored and the agency tries again.
func (s *Service) Inbound(ctx context.Context, body string) (Answer, error) {
	now := s.now()
	digest := exchange.Digest([]byte(body))
	var issuerOfKey string
	m, jws, kid, err := exchange.ReadMessage(body, s.Keys.DecryptionKey, func(kid string) (crypto.PublicKey, error) {
		k, err := s.Store.AgencyKey(ctx, kid)
		if wallet.IsCode(err, wallet.ENOTFOUND) || (err == nil && k.Use != wallet.KeyUseSig) {
			return nil, &exchange.Rejected{Reason: exchange.ReasonUnknownKey, Detail: "key " + kid + " is not a registered agency signing key"}
		}
		if err != nil {
			return nil, err
		}
		issuerOfKey = k.OrganisationID
		return s.agencyKeyResolver(ctx, k.OrganisationID, now)(kid)
	})
	if err != nil {
		if e := wallet.AsError(err); e != nil && (e.Code == wallet.EUNAVAILABLE || e.Code == wallet.EINTERNAL) {
			return Answer{}, err
		}
		return s.rejection(exchange.Receipt{Of: "message", ID: m.MessageID, Digest: digest, Reason: exchange.ReasonOf(err), ReceivedAt: now})
	}
	_ = jws
	if m.Issuer != issuerOfKey {
		return s.rejection(exchange.Receipt{Of: "message", ID: m.MessageID, Digest: digest, Reason: exchange.ReasonBadSignature, ReceivedAt: now})
	}
	key := m.Issuer + ":" + m.MessageID
	if kept, err := s.Store.ExchangeMessage(ctx, "in", key); err == nil {
		if kept.Digest == digest {
			return Answer{JWS: kept.Answer, Accepted: true}, nil
		}
		return s.rejection(exchange.Receipt{Of: "message", ID: m.MessageID, Digest: digest, Reason: exchange.ReasonReplay, ReceivedAt: now})
	} else if !wallet.IsCode(err, wallet.ENOTFOUND) {
		return Answer{}, err
	}
	if m.Type == exchange.MessageKeyCompromised {
		return s.keyNotice(ctx, m, key, body, digest, kid, now)
	}
	c, err := s.Store.Case(ctx, m.CaseID)
	if wallet.IsCode(err, wallet.ENOTFOUND) || (err == nil && (c.AgencyID != m.Issuer || c.Status == wallet.CaseDraft)) {
		return s.rejection(exchange.Receipt{Of: "message", ID: m.MessageID, CaseID: m.CaseID, Digest: digest, Reason: exchange.ReasonUnknownCase, ReceivedAt: now})
	} else if err != nil {
		return Answer{}, err
	}
	if m.PackageID != "" && m.PackageID != c.PackageID {
		return s.rejection(exchange.Receipt{Of: "message", ID: m.MessageID, CaseID: m.CaseID, Digest: digest, Reason: exchange.ReasonUnknownCase, ReceivedAt: now})
	}
	receipt := exchange.Receipt{Of: "message", ID: m.MessageID, CaseID: c.ID, Digest: digest, Status: exchange.StatusAccepted, ReceivedAt: now}
	answer, err := s.signReceipt(receipt)
	if err != nil {
		return Answer{}, err
	}
	verified, _ := json.Marshal(map[string]any{"signed_by": kid, "issuer": m.Issuer, "valid": true, "encrypted": exchange.IsJWE(body), "checked_at": now})
	kept := wallet.RecordExchange{Message: wallet.ExchangeMessage{Direction: "in", MessageID: key, CaseID: c.ID, Kind: m.Type,
		Digest: digest, Body: body, Answer: answer, Verified: string(verified), At: now}}
	var (
		ops    = []wallet.Op{kept}
		events []wallet.Event
	)
	switch m.Type {
	case exchange.MessageStatus:
		ev, err := s.event(wallet.EventCaseStatus, c, now, map[string]string{"status": m.Status, "message": m.MessageID})
		if err != nil {
			return Answer{}, err
		}
		events = append(events, ev)
		ops = append(ops, wallet.UpdateCase{ID: c.ID, Update: func(c wallet.Case) (wallet.Case, error) {
			c.Events = append(c.Events, wallet.CaseEvent{Seq: len(c.Events) + 1, Status: m.Status, At: m.At.UTC(), Note: m.Note, MessageID: m.MessageID})
			// A queued case waits for its receipt (the deliverer settles
			// it and takes the furthest status then).
			if r, known := statusRank[m.Status]; known && c.Status != wallet.CaseQueued && m.Status != wallet.CaseIssued && m.Status != wallet.CaseResultReceived && r > statusRank[c.Status] {
				c.Status = m.Status
			}
			c.UpdatedAt = now
			return c, nil
		}})
	case exchange.MessageResult:
		// The result lands in the citizen's wallet with the agency's own
		// signature over it, in the same change as the case's result.
		doc, err := s.resultDocument(ctx, c, m, now)
		if err != nil {
			if e := wallet.AsError(err); e != nil && (e.Code == wallet.EUNAVAILABLE || e.Code == wallet.EINTERNAL) {
				return Answer{}, err
			}
			return s.rejection(exchange.Receipt{Of: "message", ID: m.MessageID, CaseID: c.ID, Digest: digest, Reason: exchange.ReasonOf(err), ReceivedAt: now})
		}
		if doc.op != nil {
			ops = append(ops, doc.op)
		}
		blobID := c.ID + "/result/" + m.MessageID
		if err := s.Store.PutBlob(ctx, wallet.Blob{ID: blobID, ContentType: m.Result.ContentType, SHA256: m.Result.SHA256, Data: m.Result.Content, CreatedAt: now}); err != nil && !wallet.IsCode(err, wallet.ECONFLICT) {
			return Answer{}, err
		}
		docID, err := wallet.NewID(s.rand(), "res_")
		if err != nil {
			return Answer{}, err
		}
		ev, err := s.event(wallet.EventCaseResult, c, now, map[string]string{"document": docID, "sha256": m.Result.SHA256, "message": m.MessageID,
			"wallet_document": doc.document})
		if err != nil {
			return Answer{}, err
		}
		events = append(events, ev)
		res := &wallet.CaseResult{DocumentID: docID, Title: m.Result.Title, ContentType: m.Result.ContentType, SHA256: m.Result.SHA256,
			BlobID: blobID, JWS: jws, MessageID: m.MessageID, ReceivedAt: now,
			WalletDocument: doc.document, Registry: doc.registry, Record: doc.record}
		ops = append(ops, wallet.UpdateCase{ID: c.ID, Update: func(c wallet.Case) (wallet.Case, error) {
			if c.Result != nil {
				return c, wallet.Errorf(wallet.ECONFLICT, "the case has a result already")
			}
			c.Result = res
			if c.Status != wallet.CaseQueued && statusRank[c.Status] < statusRank[wallet.CaseResultReceived] {
				c.Status = wallet.CaseResultReceived
			}
			c.Events = append(c.Events, wallet.CaseEvent{Seq: len(c.Events) + 1, Status: wallet.CaseResultReceived, At: m.At.UTC(), Note: m.Result.Title, MessageID: m.MessageID})
			c.UpdatedAt = now
			return c, nil
		}})
	}
	if _, err := s.Changes.Commit(ctx, wallet.Change{Ops: ops, Events: events}); err != nil {
		if wallet.IsCode(err, wallet.ECONFLICT) {
			// The same message committed meanwhile (a concurrent
			// redelivery): answer as kept; a second result is refused.
			if kept, kerr := s.Store.ExchangeMessage(ctx, "in", key); kerr == nil {
				if kept.Digest == digest {
					return Answer{JWS: kept.Answer, Accepted: true}, nil
				}
				return s.rejection(exchange.Receipt{Of: "message", ID: m.MessageID, CaseID: c.ID, Digest: digest, Reason: exchange.ReasonReplay, ReceivedAt: now})
			}
			return s.rejection(exchange.Receipt{Of: "message", ID: m.MessageID, CaseID: c.ID, Digest: digest, Reason: exchange.ReasonReplay, ReceivedAt: now})
		}
		return Answer{}, err
	}
	return Answer{JWS: answer, Accepted: true}, nil
}

// keyNotice marks an agency's own key compromised from the time it says
// (signed by one of its keys, not the one compromised after that time).
func (s *Service) keyNotice(ctx context.Context, m exchange.Message, key, body, digest, kid string, now time.Time) (Answer, error) {
	k, err := s.Store.AgencyKey(ctx, m.KID)
	if wallet.IsCode(err, wallet.ENOTFOUND) || (err == nil && k.OrganisationID != m.Issuer) {
		return s.rejection(exchange.Receipt{Of: "message", ID: m.MessageID, Digest: digest, Reason: exchange.ReasonUnknownKey, ReceivedAt: now})
	} else if err != nil {
		return Answer{}, err
	}
	if err := s.Store.MarkAgencyKeyCompromised(ctx, m.KID, m.CompromisedAt.UTC()); err != nil {
		return Answer{}, err
	}
	answer, err := s.signReceipt(exchange.Receipt{Of: "message", ID: m.MessageID, Digest: digest, Status: exchange.StatusAccepted, ReceivedAt: now})
	if err != nil {
		return Answer{}, err
	}
	return Answer{JWS: answer, Accepted: true}, nil
}

func (s *Service) signReceipt(r exchange.Receipt) (string, error) {
	key, err := s.Keys.Signer()
	if err != nil {
		return "", err
	}
	r.Issuer = "qujat"
	return exchange.SignReceipt(r, key)
}

// rejection signs a refusal.
func (s *Service) rejection(r exchange.Receipt) (Answer, error) {
	r.Status = exchange.StatusRejected
	jws, err := s.signReceipt(r)
	if err != nil {
		return Answer{}, err
	}
	return Answer{JWS: jws, Reason: r.Reason}, nil
}
