package cases

import (
	"context"
	"time"

	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/wallet"
)

// resultDocument checks the agency's signature over its result (ResultClaims,
// against the agency's registered keys at now) and the claims against the
// case and the document that came with them, and returns the citizen's
// wallet document of it: its content made from the claims, its JWS the
// agency's signature; or, for a result that is a hosted registry's record,
// nothing to write (the record is in the wallet since its publication) and
// the record's wallet document. A *exchange.Rejected names what is wrong.
func (s *Service) resultDocument(ctx context.Context, c wallet.Case, m exchange.Message, now time.Time) (resultLanding, error) {
	claims, _, err := exchange.ReadResult(m.Result.Signature, s.agencyKeyResolver(ctx, c.AgencyID, now))
	if err != nil {
		return resultLanding{}, err
	}
	if claims.Issuer != m.Issuer || claims.CaseID != c.ID || claims.Holder != string(c.OwnerIIN) ||
		claims.SHA256 != m.Result.SHA256 || claims.ContentType != m.Result.ContentType {
		return resultLanding{}, &exchange.Rejected{Reason: exchange.ReasonBadRequest,
			Detail: "the result's signature is for another case, holder or document"}
	}
	if claims.Registry != "" || claims.Record != "" {
		return s.recordResult(ctx, c, claims)
	}
	content, err := s.resultContent(ctx, c, claims)
	if err != nil {
		return resultLanding{}, err
	}
	b, err := content.Canonical()
	if err != nil {
		return resultLanding{}, err
	}
	id := content.ID()
	next, prev := 1, ""
	cur, err := s.Store.Document(ctx, id)
	switch {
	case err == nil:
		next, prev = cur.Latest.Version+1, cur.Latest.Hash
	case !wallet.IsCode(err, wallet.ENOTFOUND):
		return resultLanding{}, err
	}
	v := wallet.Version{DocumentID: id, Version: next, Content: b, JWS: m.Result.Signature, PrevHash: prev,
		Hash: wallet.VersionHash(prev, b, m.Result.Signature), CreatedAt: now}
	d := wallet.StoredDocument{ID: id, SubjectIIN: content.SubjectIIN, Type: content.Type, Source: content.Source, FetchedAt: now, Latest: v}
	return resultLanding{op: wallet.AppendVersion{Document: d, Version: v}, document: id}, nil
}

// resultLanding is where a result lands in the citizen's wallet: the op
// that writes it (nil for a registry record, written when published) and
// the wallet document's id.
type resultLanding struct {
	op               wallet.Op
	document         string
	registry, record string
}

// recordResult checks a result that is a record of a registry Qujat hosts
// for the agency: the registry is the agency's, the record is the
// applicant's and published (signed, not revoked). The citizen's wallet
// holds it since its publication.
func (s *Service) recordResult(ctx context.Context, c wallet.Case, claims exchange.ResultClaims) (resultLanding, error) {
	refuse := func(why string) (resultLanding, error) {
		return resultLanding{}, &exchange.Rejected{Reason: exchange.ReasonBadRequest, Detail: why}
	}
	reg, err := s.Store.Registry(ctx, claims.Registry)
	if wallet.IsCode(err, wallet.ENOTFOUND) || (err == nil && reg.OrganisationID != c.AgencyID) {
		return refuse("the result names a registry that Qujat does not host for the agency")
	} else if err != nil {
		return resultLanding{}, err
	}
	rec, versions, err := s.Store.RegistryRecord(ctx, claims.Registry, claims.Record)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return refuse("the result names a record the registry does not hold")
	} else if err != nil {
		return resultLanding{}, err
	}
	if rec.HolderKind != wallet.HolderCitizen || rec.HolderID != string(c.OwnerIIN) {
		return refuse("the result's record is another holder's")
	}
	var last *wallet.RegistryVersion
	for i := range versions {
		if versions[i].Signed() {
			last = &versions[i]
		}
	}
	if last == nil || last.Status != wallet.RegistryPublished {
		return refuse("the result's record is not published (a draft, or revoked)")
	}
	return resultLanding{document: wallet.DocumentID(c.OwnerIIN, reg.DocumentType, rec.Number), registry: reg.Code, record: rec.Number}, nil
}

// resultContent is the wallet content of a result: what the agency signed,
// with the case's service and the agency's name. It is made the same way
// when the document is stored and when its signature is checked.
func (s *Service) resultContent(ctx context.Context, c wallet.Case, claims exchange.ResultClaims) (wallet.DocumentContent, error) {
	fields := map[string]string{"service": c.Service, "title": claims.Title, "case": c.ID, "sha256": claims.SHA256, "agency": c.AgencyID}
	if org, err := s.Store.Client(ctx, c.AgencyID); err == nil {
		fields["agency"] = org.Name
	} else if !wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.DocumentContent{}, err
	}
	if d, ok := claims.Fields["decision"]; ok {
		fields["decision"] = d
	}
	var until *time.Time
	if claims.ValidUntil != nil {
		u := claims.ValidUntil.UTC().Truncate(time.Second)
		until = &u
	}
	return wallet.DocumentContent{
		Type: wallet.ServiceResult, Title: claims.Title, SubjectIIN: wallet.IIN(claims.Holder), Issuer: claims.Issuer,
		Number: claims.Number, Fields: fields, IssuedAt: claims.IssuedAt.UTC().Truncate(time.Second), ValidUntil: until,
		Source: wallet.ResultSourcePrefix + claims.Issuer,
	}, nil
}

// VerifyResult checks a result document as POST /v1/verify does for the
// service's own documents: the agency's signature with its registered key,
// the document in the citizen's wallet (unknown_document if Qujat never
// received it), the key not compromised at or before the result was
// received, and the document's status now.
func (s *Service) VerifyResult(ctx context.Context, jws string) wallet.VerifyResult {
	kid, _, err := exchange.HeaderKID(jws)
	if err != nil || kid == "" {
		return wallet.VerifyResult{Reason: wallet.ReasonMalformed}
	}
	key, err := s.Store.AgencyKey(ctx, kid)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND) || (err == nil && key.Use != wallet.KeyUseSig):
		return wallet.VerifyResult{Reason: wallet.ReasonUnknownKey}
	case err != nil:
		return wallet.VerifyResult{Reason: wallet.ReasonStatusUnavailable}
	}
	// The compromise is judged below against the time of receipt, which
	// Qujat recorded; issued_at is the agency's word.
	claims, _, err := exchange.ReadResult(jws, s.agencyKeyResolver(ctx, key.OrganisationID, time.Time{}))
	if err != nil {
		if wallet.AsError(err) != nil {
			return wallet.VerifyResult{Reason: wallet.ReasonStatusUnavailable}
		}
		switch exchange.ReasonOf(err) {
		case exchange.ReasonUnknownKey:
			return wallet.VerifyResult{Reason: wallet.ReasonUnknownKey}
		case exchange.ReasonBadSignature:
			return wallet.VerifyResult{Reason: wallet.ReasonBadSignature}
		}
		return wallet.VerifyResult{Reason: wallet.ReasonMalformed}
	}
	if claims.Issuer != key.OrganisationID {
		return wallet.VerifyResult{Reason: wallet.ReasonBadSignature}
	}
	id := wallet.DocumentID(wallet.IIN(claims.Holder), wallet.ServiceResult, claims.Number)
	res := wallet.VerifyResult{Issuer: claims.Issuer, DocumentID: id}
	doc, err := s.Store.Document(ctx, id)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		res.Reason = wallet.ReasonUnknownDocument
		return res
	} else if err != nil {
		res.Reason = wallet.ReasonStatusUnavailable
		return res
	}
	versions, err := s.Store.Versions(ctx, id)
	if err != nil {
		res.Reason = wallet.ReasonStatusUnavailable
		return res
	}
	var signed *wallet.Version
	for i := range versions {
		if versions[i].JWS == jws {
			signed = &versions[i]
		}
	}
	if signed == nil {
		res.Reason = wallet.ReasonUnknownDocument
		return res
	}
	res.Version = signed.Version
	res.Superseded = signed.Version < doc.Latest.Version
	if key.CompromisedAt != nil && !signed.CreatedAt.Before(*key.CompromisedAt) {
		res.Reason = wallet.ReasonKeyCompromised
		return res
	}
	view, err := wallet.DocumentView(doc, s.now())
	if err != nil {
		res.Reason = wallet.ReasonStatusUnavailable
		return res
	}
	res.Status = view.Status
	switch view.Status {
	case wallet.StatusRevoked:
		res.Reason = wallet.ReasonRevoked
	case wallet.StatusExpired:
		res.Reason = wallet.ReasonExpired
	default:
		res.Valid = true
	}
	return res
}
