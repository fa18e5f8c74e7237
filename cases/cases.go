// Package cases carries citizens' applications from service centres to
// agencies: an operator opens a case, attaches documents (scans, or the
// citizen's electronic duplicates), each signed with the operator's own
// key, and sends it; the package (the items, a manifest sealed with the
// centre's exchange key, encrypted for the agency) is delivered from a
// durable outbox (Deliverer) until the agency's signed receipt comes back;
// the agency's statuses and signed result arrive at the inbound endpoint
// (Inbound). Every state change is an event of the citizen's history,
// committed with the case through wallet.Change. The protocol itself is
// integrations/exchange.
package cases

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/qujat/qujat/calendar"
	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/duplicates"
	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
)

// Limits of a case.
const (
	MaxItems        = 20       // documents a case carries besides the application
	MaxFields       = 50       // application fields
	MaxFieldValue   = 2000     // characters of one field
	MaxDocument     = 10 << 20 // one attached document
	KeepAfterIssue  = 366 * 24 * time.Hour
	EventAttached   = "case_document_attached"
	applicationItem = "application"
)

// Service runs cases. Store, Changes, Staff, Keys, Calendars and Directory
// are required; Now and Rand default to time.Now and crypto/rand.
type Service struct {
	Store     wallet.Store
	Changes   wallet.Committer
	Staff     *staff.Service
	Keys      *exchange.CentreKeys
	Calendars *calendar.Set
	Directory wallet.Directory
	Now       func() time.Time
	Rand      io.Reader
	// Kick, if set, is called when a case is queued (wakes the deliverer).
	Kick func()
}

// Opening is what an operator gives to open a case.
type Opening struct {
	IIN         wallet.IIN
	Service     string
	Agency      string
	Application map[string]string
}

func operatorOf(a staff.Acting) error {
	if a.Member.Role != wallet.RoleOperator || a.Organisation.Kind != consent.KindServiceCentre {
		return wallet.Errorf(wallet.EFORBIDDEN, "only an operator of a service centre handles cases")
	}
	return nil
}

func text(name, v string, max int) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", wallet.Errorf(wallet.EINVALID, "%s is required", name)
	case !utf8.ValidString(v) || utf8.RuneCountInString(v) > max:
		return "", wallet.Errorf(wallet.EINVALID, "%s must be at most %d characters of UTF-8", name, max)
	case strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) >= 0:
		return "", wallet.Errorf(wallet.EINVALID, "%s must not contain control characters", name)
	}
	return v, nil
}

// Open opens a draft case for a citizen with an agency, with the
// application signed by the operator as its first item (the citizen's
// case_opened event). EFORBIDDEN for anyone but an operator of a service
// centre; EINVALID for a bad IIN or one the registry does not know, a
// missing service, an agency not registered, bad application fields;
// EUNAVAILABLE.
func (s *Service) Open(ctx context.Context, by staff.Acting, in Opening) (wallet.Case, error) {
	if err := operatorOf(by); err != nil {
		return wallet.Case{}, err
	}
	iin, err := wallet.ParseIIN(string(in.IIN))
	if err != nil {
		return wallet.Case{}, err
	}
	service, err := text("service", in.Service, 200)
	if err != nil {
		return wallet.Case{}, err
	}
	if len(in.Application) > MaxFields {
		return wallet.Case{}, wallet.Errorf(wallet.EINVALID, "application: at most %d fields", MaxFields)
	}
	fields := map[string]string{}
	for k, v := range in.Application {
		if _, err := text("application field name", k, 100); err != nil {
			return wallet.Case{}, err
		}
		if utf8.RuneCountInString(v) > MaxFieldValue || !utf8.ValidString(v) {
			return wallet.Case{}, wallet.Errorf(wallet.EINVALID, "application field %q: at most %d characters of UTF-8", k, MaxFieldValue)
		}
		fields[k] = v
	}
	if in.Agency == "" {
		return wallet.Case{}, wallet.Errorf(wallet.EINVALID, "agency is required")
	}
	if _, err := s.Store.Agency(ctx, in.Agency); wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.Case{}, wallet.Errorf(wallet.EINVALID, "no agency %q is registered for the exchange", in.Agency)
	} else if err != nil {
		return wallet.Case{}, err
	}
	citizen, err := s.Directory.Citizen(ctx, iin)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.Case{}, wallet.Errorf(wallet.EINVALID, "no citizen with this IIN is registered")
	} else if err != nil {
		return wallet.Case{}, err
	}
	id, err := wallet.NewID(s.rand(), "case_")
	if err != nil {
		return wallet.Case{}, err
	}
	now := s.now()
	c := wallet.Case{ID: id, OwnerIIN: iin, CentreID: by.Organisation.ID, OperatorID: by.Member.ID, AgencyID: in.Agency,
		Service: service, Application: fields, Status: wallet.CaseDraft, CreatedAt: now, UpdatedAt: now}
	app, err := json.Marshal(struct {
		CaseID    string             `json:"case_id"`
		Service   string             `json:"service"`
		Agency    string             `json:"agency"`
		Centre    string             `json:"centre"`
		Applicant exchange.Applicant `json:"applicant"`
		Fields    map[string]string  `json:"fields"`
		At        time.Time          `json:"at"`
	}{id, service, in.Agency, by.Organisation.ID, exchange.Applicant{IIN: string(iin), Name: citizen.Name}, fields, now})
	if err != nil {
		return wallet.Case{}, wallet.Wrap(wallet.EINTERNAL, err, "application")
	}
	item, err := s.signItem(ctx, by, c, applicationItem, exchange.KindApplication, "Application: "+service, "application/json", app, "")
	if err != nil {
		return wallet.Case{}, err
	}
	c.Items = []wallet.CaseItem{item}
	ev, err := s.event(wallet.EventCaseOpened, c, now, map[string]string{"service": service, "agency": in.Agency})
	if err != nil {
		return wallet.Case{}, err
	}
	if _, err := s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateCase{Case: c}}, Events: []wallet.Event{ev}}); err != nil {
		return wallet.Case{}, err
	}
	return c, nil
}

// signItem keeps the item's bytes in the blob store and signs its claims
// with the operator's key.
func (s *Service) signItem(ctx context.Context, by staff.Acting, c wallet.Case, itemID, kind, title, contentType string, b []byte, dupID string) (wallet.CaseItem, error) {
	key, err := s.operatorSigner(ctx, by.Member.ID)
	if err != nil {
		return wallet.CaseItem{}, err
	}
	now := s.now()
	claims := exchange.ItemClaims{CaseID: c.ID, ItemID: itemID, Kind: kind, Title: title, ContentType: contentType,
		Size: int64(len(b)), SHA256: exchange.Digest(b), SignedAt: now, Operator: by.Member.ID}
	sig, err := exchange.SignItem(claims, key)
	if err != nil {
		return wallet.CaseItem{}, err
	}
	blobID := c.ID + "/" + itemID
	// The bytes first: an item never names bytes that are not there (a
	// blob no case names is never shown).
	if err := s.Store.PutBlob(ctx, wallet.Blob{ID: blobID, ContentType: contentType, SHA256: claims.SHA256, Data: b, CreatedAt: now}); err != nil {
		return wallet.CaseItem{}, err
	}
	return wallet.CaseItem{ID: itemID, Kind: kind, Title: title, ContentType: contentType, Size: claims.Size, SHA256: claims.SHA256,
		BlobID: blobID, DuplicateID: dupID, Signature: sig, SignedAt: now}, nil
}

// ofCentre returns the case if the operator's centre opened it; ENOTFOUND
// otherwise (another centre's case is not revealed).
func (s *Service) ofCentre(ctx context.Context, by staff.Acting, id string) (wallet.Case, error) {
	if err := operatorOf(by); err != nil {
		return wallet.Case{}, err
	}
	c, err := s.Store.Case(ctx, id)
	if err != nil {
		return wallet.Case{}, err
	}
	if c.CentreID != by.Organisation.ID {
		return wallet.Case{}, wallet.Errorf(wallet.ENOTFOUND, "case: not found")
	}
	return c, nil
}

// Get returns a case of the operator's centre. ENOTFOUND, EFORBIDDEN.
func (s *Service) Get(ctx context.Context, by staff.Acting, id string) (wallet.Case, error) {
	return s.ofCentre(ctx, by, id)
}

// Attachment is a document to attach: a scan's bytes with a title, or one
// of the citizen's certified duplicates.
type Attachment struct {
	Title       string
	Bytes       []byte
	DuplicateID string
}

// Attach adds a document to a draft case, signed by the operator (the
// citizen's case_document_attached event). ENOTFOUND (another centre's
// case, an unknown duplicate or one of another citizen); ECONFLICT once
// the case is sent or full; EINVALID for an empty, oversized or unknown
// kind of file (PDF, JPEG, PNG by content), a missing title, a duplicate
// not certified.
func (s *Service) Attach(ctx context.Context, by staff.Acting, caseID string, a Attachment) (wallet.CaseItem, error) {
	c, err := s.ofCentre(ctx, by, caseID)
	if err != nil {
		return wallet.CaseItem{}, err
	}
	if c.Status != wallet.CaseDraft {
		return wallet.CaseItem{}, wallet.Errorf(wallet.ECONFLICT, "the case is %s: documents are attached to drafts only", c.Status)
	}
	if len(c.Items) > MaxItems {
		return wallet.CaseItem{}, wallet.Errorf(wallet.ECONFLICT, "a case carries at most %d documents", MaxItems)
	}
	var (
		b           []byte
		kind, title string
		contentType string
	)
	if a.DuplicateID != "" {
		d, err := s.Store.Duplicate(ctx, a.DuplicateID)
		if err != nil || d.OwnerIIN != c.OwnerIIN {
			return wallet.CaseItem{}, wallet.Errorf(wallet.ENOTFOUND, "duplicate: not found")
		}
		if d.Status != wallet.DuplicateCertified {
			return wallet.CaseItem{}, wallet.Errorf(wallet.EINVALID, "the duplicate is %s, not certified", d.Status)
		}
		blob, err := s.Store.Blob(ctx, d.BlobID)
		if err != nil {
			return wallet.CaseItem{}, err
		}
		b, kind, contentType = blob.Data, exchange.KindDuplicate, d.ContentType
		title = "Duplicate " + d.Type + " " + d.Number
		if a.Title != "" {
			if title, err = text("title", a.Title, 200); err != nil {
				return wallet.CaseItem{}, err
			}
		}
	} else {
		if title, err = text("title", a.Title, 200); err != nil {
			return wallet.CaseItem{}, err
		}
		if len(a.Bytes) == 0 {
			return wallet.CaseItem{}, wallet.Errorf(wallet.EINVALID, "the file is empty")
		}
		if len(a.Bytes) > MaxDocument {
			return wallet.CaseItem{}, wallet.Errorf(wallet.EINVALID, "the file is larger than 10 MiB")
		}
		ct, ok := duplicates.ScanType(a.Bytes)
		if !ok {
			return wallet.CaseItem{}, wallet.Errorf(wallet.EINVALID, "the file is not a PDF, JPEG or PNG")
		}
		b, kind, contentType = a.Bytes, exchange.KindScan, ct
	}
	itemID, err := wallet.NewID(s.rand(), "doc_")
	if err != nil {
		return wallet.CaseItem{}, err
	}
	item, err := s.signItem(ctx, by, c, itemID, kind, title, contentType, b, a.DuplicateID)
	if err != nil {
		return wallet.CaseItem{}, err
	}
	now := s.now()
	ev, err := s.event(EventAttached, c, now, map[string]string{"item": itemID, "kind": kind, "sha256": item.SHA256})
	if err != nil {
		return wallet.CaseItem{}, err
	}
	_, err = s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.UpdateCase{ID: c.ID, Update: func(c wallet.Case) (wallet.Case, error) {
		if c.Status != wallet.CaseDraft {
			return c, wallet.Errorf(wallet.ECONFLICT, "the case is %s: documents are attached to drafts only", c.Status)
		}
		if len(c.Items) > MaxItems {
			return c, wallet.Errorf(wallet.ECONFLICT, "a case carries at most %d documents", MaxItems)
		}
		c.Items = append(c.Items, item)
		c.UpdatedAt = now
		return c, nil
	}}}, Events: []wallet.Event{ev}})
	if err != nil {
		_ = s.Store.DeleteBlob(context.WithoutCancel(ctx), item.BlobID)
		return wallet.CaseItem{}, err
	}
	return item, nil
}

// Send seals the case's package for its agency and queues it for delivery
// (the citizen's case_sent event): the manifest of the signed items sealed
// with the centre's key, everything encrypted to the agency's current
// encryption key, kept exactly as it will be sent. ENOTFOUND; ECONFLICT if
// the case is not a draft (sending twice sends once); EINVALID if the
// agency has no usable key; EUNAVAILABLE.
func (s *Service) Send(ctx context.Context, by staff.Acting, caseID string) (wallet.Case, error) {
	c, err := s.ofCentre(ctx, by, caseID)
	if err != nil {
		return wallet.Case{}, err
	}
	if c.Status != wallet.CaseDraft {
		return c, wallet.Errorf(wallet.ECONFLICT, "the case is %s already", c.Status)
	}
	agency, err := s.Store.Agency(ctx, c.AgencyID)
	if err != nil {
		return wallet.Case{}, err
	}
	encKey, _, err := currentKey(ctx, s.Store, c.AgencyID, wallet.KeyUseEnc)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.Case{}, wallet.Errorf(wallet.EINVALID, "agency %s has no usable encryption key", c.AgencyID)
	} else if err != nil {
		return wallet.Case{}, err
	}
	opKey, err := s.operatorSigner(ctx, by.Member.ID)
	if err != nil {
		return wallet.Case{}, err
	}
	// Items signed with a key compromised since are not sent: the operator
	// attaches them again (a new case) with the replacement key.
	cs, err := s.compromises(ctx)
	if err != nil {
		return wallet.Case{}, err
	}
	for _, it := range c.Items {
		if kid := itemKID(it.Signature); compromisedBy(cs, kid, s.now()) {
			return wallet.Case{}, errKeyCompromised("item "+it.ID+"'s", kid)
		}
	}
	opJWK, err := json.Marshal(jose.JSONWebKey{Key: opKey.Key.Public(), KeyID: opKey.KID, Use: wallet.KeyUseSig, Algorithm: opKey.Alg})
	if err != nil {
		return wallet.Case{}, wallet.Wrap(wallet.EINTERNAL, err, "operator key")
	}
	centreKey, err := s.centreSigner(ctx)
	if err != nil {
		return wallet.Case{}, err
	}
	replyKey, err := s.Keys.EncryptionKey()
	if err != nil {
		return wallet.Case{}, err
	}
	citizen, err := s.Directory.Citizen(ctx, c.OwnerIIN)
	if err != nil && !wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.Case{}, err
	}
	contents := make([]exchange.Content, 0, len(c.Items))
	for _, it := range c.Items {
		blob, err := s.Store.Blob(ctx, it.BlobID)
		if err != nil {
			return wallet.Case{}, err
		}
		contents = append(contents, exchange.Content{Item: exchange.Item{ID: it.ID, Kind: it.Kind, Title: it.Title, ContentType: it.ContentType,
			Size: it.Size, SHA256: it.SHA256, Signature: it.Signature}, Bytes: blob.Data})
	}
	now := s.now()
	loc, _ := time.LoadLocation(agency.TimeZone)
	daySent := calendar.DateOf(now, loc).String()
	pkgID, err := wallet.NewID(s.rand(), "pkg_")
	if err != nil {
		return wallet.Case{}, err
	}
	m := exchange.Manifest{PackageID: pkgID, CaseID: c.ID, Service: c.Service,
		Centre: exchange.Party{ID: by.Organisation.ID, Name: by.Organisation.Name}, Agency: exchange.Party{ID: c.AgencyID},
		Applicant: exchange.Applicant{IIN: string(c.OwnerIIN), Name: citizen.Name},
		Operator:  exchange.Operator{ID: by.Member.ID, Name: by.Member.Name, Key: opJWK},
		SentAt:    now, DayOfSending: daySent, ReplyKey: replyKey.KeyID}
	manifest, jwe, err := exchange.SealPackage(m, contents, centreKey, encKey)
	if err != nil {
		return wallet.Case{}, err
	}
	verified, _ := json.Marshal(map[string]any{"sealed_by": centreKey.KID, "encrypted_to": encKey.KeyID, "items": len(contents)})
	ev, err := s.event(wallet.EventCaseSent, c, now, map[string]string{"package": pkgID, "agency": c.AgencyID, "day_of_sending": daySent})
	if err != nil {
		return wallet.Case{}, err
	}
	var out wallet.Case
	_, err = s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{
		wallet.UpdateCase{ID: c.ID, Result: &out, Update: func(c wallet.Case) (wallet.Case, error) {
			if c.Status != wallet.CaseDraft {
				return c, wallet.Errorf(wallet.ECONFLICT, "the case is %s already", c.Status)
			}
			c.Status, c.PackageID, c.ManifestJWS, c.SentAt, c.DayOfSending, c.UpdatedAt = wallet.CaseQueued, pkgID, manifest, &now, daySent, now
			c.Events = append(c.Events, wallet.CaseEvent{Seq: len(c.Events) + 1, Status: wallet.CaseQueued, At: now})
			return c, nil
		}},
		wallet.RecordExchange{Message: wallet.ExchangeMessage{Direction: "out", MessageID: pkgID, CaseID: c.ID, Kind: "package",
			Digest: exchange.Digest([]byte(jwe)), Body: jwe, Verified: string(verified), At: now}},
	}, Events: []wallet.Event{ev}})
	if err != nil {
		return wallet.Case{}, err
	}
	if s.Kick != nil {
		s.Kick()
	}
	return out, nil
}

// Issue records that the operator handed the result to the citizen (the
// citizen's case_issued event); from then the case is kept KeepAfterIssue.
// ENOTFOUND; ECONFLICT unless a result has been received.
func (s *Service) Issue(ctx context.Context, by staff.Acting, caseID string) (wallet.Case, error) {
	c, err := s.ofCentre(ctx, by, caseID)
	if err != nil {
		return wallet.Case{}, err
	}
	now := s.now()
	ev, err := s.event(wallet.EventCaseIssued, c, now, nil)
	if err != nil {
		return wallet.Case{}, err
	}
	var out wallet.Case
	_, err = s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.UpdateCase{ID: c.ID, Result: &out, Update: func(c wallet.Case) (wallet.Case, error) {
		if c.Status != wallet.CaseResultReceived {
			return c, wallet.Errorf(wallet.ECONFLICT, "the case is %s: only a received result is issued", c.Status)
		}
		keep := now.Add(KeepAfterIssue)
		c.Status, c.IssuedAt, c.RetainUntil, c.UpdatedAt = wallet.CaseIssued, &now, &keep, now
		c.Events = append(c.Events, wallet.CaseEvent{Seq: len(c.Events) + 1, Status: wallet.CaseIssued, At: now, Note: "issued by " + by.Member.ID})
		return c, nil
	}}}, Events: []wallet.Event{ev}})
	return out, err
}

// OfCitizen returns the citizen's cases, newest first.
func (s *Service) OfCitizen(ctx context.Context, iin wallet.IIN) ([]wallet.Case, error) {
	cs, err := s.Store.CasesOfOwner(ctx, iin)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].CreatedAt.After(cs[j].CreatedAt) })
	return cs, nil
}

// event is a history event of the case's owner.
func (s *Service) event(kind string, c wallet.Case, at time.Time, details map[string]string) (wallet.Event, error) {
	id, err := wallet.NewTimeID(s.rand(), at, "evt_")
	if err != nil {
		return wallet.Event{}, err
	}
	d := map[string]string{"centre": c.CentreID, "agency": c.AgencyID}
	for k, v := range details {
		d[k] = v
	}
	actorKind, actorID := wallet.ActorStaff, c.OperatorID
	switch kind {
	case wallet.EventCaseDelivered, wallet.EventCaseRejected, wallet.EventCaseStatus, wallet.EventCaseResult:
		actorKind, actorID = "organisation", c.AgencyID
	}
	return wallet.Event{ID: id, Kind: kind, SubjectIIN: c.OwnerIIN, ActorKind: actorKind, ActorID: actorID, ObjectID: c.ID,
		Details: d, At: at, LogIndex: -1}, nil
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}

// PublishedKeys are the centres' exchange keys as published.
func (s *Service) PublishedKeys(ctx context.Context) ([]exchange.PublishedKey, error) {
	_ = s.Keys.Reload()
	cs, err := s.compromises(ctx)
	if err != nil {
		return nil, err
	}
	return s.Keys.Published(func(kid string) *time.Time {
		if t, ok := cs[kid]; ok {
			return &t
		}
		return nil
	}), nil
}

// ResultOf returns the citizen's case result's exact bytes. ENOTFOUND for
// another citizen's case or one without a result.
func (s *Service) ResultOf(ctx context.Context, iin wallet.IIN, caseID string) (wallet.Blob, error) {
	c, err := s.Store.Case(ctx, caseID)
	if err != nil || c.OwnerIIN != iin || c.Result == nil {
		return wallet.Blob{}, wallet.Errorf(wallet.ENOTFOUND, "case result: not found")
	}
	return s.Store.Blob(ctx, c.Result.BlobID)
}
