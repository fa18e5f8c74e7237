// Package registries keeps hosted registries: a state body that has no
// registry system of its own keeps its records in Qujat. Its officials
// (staff with role official of that gov organisation) make a record as a
// draft, publish it with a JWS signed by their own key, amend it (a new
// draft, then signed: the version before becomes superseded) and revoke it
// (a new signed version with status revoked and a reason). Signed versions
// are never changed: each is hash-chained to the one before and its
// publication is a leaf of the history log. A record held by a citizen is
// in their wallet too, as one more source, with its status current at
// once.
package registries

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
)

// Limits of what an official writes.
const (
	MaxFields     = 32
	MaxFieldValue = 500
	MaxName       = 200
	MaxReason     = 500
)

// Service keeps hosted registries. Store, Changes, Staff and Directory are
// required; Now and Rand default to time.Now and crypto/rand.
type Service struct {
	Store     wallet.Store
	Changes   wallet.Committer
	Staff     *staff.Service
	Directory wallet.Directory
	Now       func() time.Time
	Rand      io.Reader
	// PublicURL is the service's public base URL: the published pages are
	// PublicURL/r/{code}/{number}.
	PublicURL string
}

var codePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,31}$`)

// text checks a short free-text field.
func text(name, v string, max int) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", wallet.Errorf(wallet.EINVALID, "%s is required", name)
	case !utf8.ValidString(v) || utf8.RuneCountInString(v) > max:
		return "", wallet.Errorf(wallet.EINVALID, "%s must be at most %d characters of UTF-8", name, max)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return "", wallet.Errorf(wallet.EINVALID, "%s must not contain control characters", name)
	}
	return v, nil
}

// Create registers a hosted registry (an administrator's act: a setting,
// without history). EINVALID for a bad code (2 to 32 of a-z, 0-9 and '-'),
// a missing name, a document type that is not hosted, an organisation that
// is not an enabled gov client; ECONFLICT if the code exists; EUNAVAILABLE.
func (s *Service) Create(ctx context.Context, code, name, organisationID string, typ wallet.DocumentType) (wallet.Registry, error) {
	if !codePattern.MatchString(code) {
		return wallet.Registry{}, wallet.Errorf(wallet.EINVALID, "code must be 2 to 32 characters of a-z, 0-9 and '-', starting with a letter or digit")
	}
	name, err := text("name", name, MaxName)
	if err != nil {
		return wallet.Registry{}, err
	}
	if !slices.Contains(wallet.HostedTypes, typ) {
		return wallet.Registry{}, wallet.Errorf(wallet.EINVALID, "document type must be one of %v", wallet.HostedTypes)
	}
	org, err := s.Store.Client(ctx, organisationID)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return wallet.Registry{}, wallet.Errorf(wallet.EINVALID, "no organisation %q", organisationID)
	case err != nil:
		return wallet.Registry{}, err
	case org.Kind != consent.KindGov:
		return wallet.Registry{}, wallet.Errorf(wallet.EINVALID, "the organisation is a %s client, not gov", org.Kind)
	case org.DisabledAt != nil:
		return wallet.Registry{}, wallet.Errorf(wallet.EINVALID, "the organisation is disabled")
	}
	r := wallet.Registry{Code: code, Name: name, OrganisationID: org.ID, DocumentType: typ, CreatedAt: s.now()}
	if err := s.Store.CreateRegistry(ctx, r); err != nil {
		return wallet.Registry{}, err
	}
	return r, nil
}

// List returns every registry.
func (s *Service) List(ctx context.Context) ([]wallet.Registry, error) {
	return s.Store.Registries(ctx)
}

// Holder names who holds a record: a citizen by IIN, or a legal entity by
// BIN and name.
type Holder struct {
	IIN  string `json:"iin,omitempty"`
	BIN  string `json:"bin,omitempty"`
	Name string `json:"name,omitempty"`
}

// Draft is what an official writes: a new record's holder (ignored when
// amending), its fields and its end of validity.
type Draft struct {
	Holder     Holder
	Fields     map[string]string
	ValidUntil *time.Time
	// IdempotencyKey, if set (a new record only), makes a retry of the
	// same request answer the record the first one made, for 24 hours.
	IdempotencyKey string
}

// registryFor returns the registry and refuses anyone but an official of
// its organisation: EFORBIDDEN (another body's official, an operator);
// ENOTFOUND if there is no such registry.
func (s *Service) registryFor(ctx context.Context, by staff.Acting, code string) (wallet.Registry, error) {
	if by.Member.Role != wallet.RoleOfficial || by.Organisation.Kind != consent.KindGov {
		return wallet.Registry{}, wallet.Errorf(wallet.EFORBIDDEN, "only an official of a state body keeps a registry")
	}
	reg, err := s.Store.Registry(ctx, code)
	if err != nil {
		return wallet.Registry{}, err
	}
	if reg.OrganisationID != by.Organisation.ID {
		return wallet.Registry{}, wallet.Errorf(wallet.EFORBIDDEN, "this registry is kept by another organisation")
	}
	return reg, nil
}

// fields checks a record's fields: 1 to MaxFields, each a field the
// catalogue labels for the registry's document type, with a value of 1 to
// MaxFieldValue characters.
func fields(t wallet.DocumentType, in map[string]string) (map[string]string, error) {
	if len(in) == 0 || len(in) > MaxFields {
		return nil, wallet.Errorf(wallet.EINVALID, "fields must have 1 to %d entries", MaxFields)
	}
	known := locale.Fields(t)
	out := make(map[string]string, len(in))
	for k, v := range in {
		if !slices.Contains(known, k) {
			return nil, wallet.Errorf(wallet.EINVALID, "unknown field %q (a %s has %s)", k, t, strings.Join(known, ", "))
		}
		v, err := text("field "+k, v, MaxFieldValue)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (s *Service) validUntil(v *time.Time) (*time.Time, error) {
	if v == nil {
		return nil, nil
	}
	t := v.UTC().Truncate(time.Second)
	if !t.After(s.now()) {
		return nil, wallet.Errorf(wallet.EINVALID, "valid_until must be in the future")
	}
	return &t, nil
}

var binPattern = regexp.MustCompile(`^[0-9]{12}$`)

// holder checks a new record's holder: exactly one of an IIN of a
// registered citizen (the name is the registry's) or a BIN with a name.
func (s *Service) holder(ctx context.Context, h Holder) (kind, id, name string, err error) {
	switch {
	case h.IIN != "" && h.BIN != "":
		return "", "", "", wallet.Errorf(wallet.EINVALID, "holder is either {iin} or {bin, name}")
	case h.IIN != "":
		iin, err := wallet.ParseIIN(h.IIN)
		if err != nil {
			return "", "", "", err
		}
		c, err := s.Directory.Citizen(ctx, iin)
		if wallet.IsCode(err, wallet.ENOTFOUND) {
			return "", "", "", wallet.Errorf(wallet.EINVALID, "no citizen with this IIN is registered")
		}
		if err != nil {
			return "", "", "", err
		}
		return wallet.HolderCitizen, string(iin), c.Name, nil
	case h.BIN != "":
		if !binPattern.MatchString(h.BIN) {
			return "", "", "", wallet.Errorf(wallet.EINVALID, "bin must be 12 digits")
		}
		name, err := text("holder name", h.Name, MaxName)
		if err != nil {
			return "", "", "", err
		}
		return wallet.HolderBusiness, h.BIN, name, nil
	}
	return "", "", "", wallet.Errorf(wallet.EINVALID, "holder is required: {iin} or {bin, name}")
}

// number is a new record number: ten random digits.
func (s *Service) number() (string, error) {
	var b [8]byte
	if _, err := io.ReadFull(s.rand(), b[:]); err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "random source failed")
	}
	return fmt.Sprintf("%010d", binary.BigEndian.Uint64(b[:])%10_000_000_000), nil
}

// event is a registry event acted by the official: in the holder's history
// when subject is set, else in no citizen's.
func (s *Service) event(kind string, by staff.Acting, subject wallet.IIN, code, number string, details map[string]string, at time.Time) (wallet.Event, error) {
	id, err := wallet.NewTimeID(s.rand(), at, "evt_")
	if err != nil {
		return wallet.Event{}, err
	}
	d := map[string]string{"registry": code, "number": number}
	for k, v := range details {
		d[k] = v
	}
	return wallet.Event{ID: id, Kind: kind, SubjectIIN: subject, ActorKind: wallet.ActorStaff, ActorID: by.Member.ID,
		ObjectID: code + "/" + number, Details: d, At: at, LogIndex: -1}, nil
}

// CreateRecord makes a new record as a draft (version 1), seen only by the
// registry's staff. EFORBIDDEN unless the caller is an official of the
// registry's organisation; ENOTFOUND if there is no such registry;
// EINVALID for a bad holder, fields or valid_until; EUNAVAILABLE.
func (s *Service) CreateRecord(ctx context.Context, by staff.Acting, code string, in Draft) (wallet.RegistryRecord, wallet.RegistryVersion, error) {
	reg, err := s.registryFor(ctx, by, code)
	if err != nil {
		return wallet.RegistryRecord{}, wallet.RegistryVersion{}, err
	}
	kind, id, name, err := s.holder(ctx, in.Holder)
	if err != nil {
		return wallet.RegistryRecord{}, wallet.RegistryVersion{}, err
	}
	f, err := fields(reg.DocumentType, in.Fields)
	if err != nil {
		return wallet.RegistryRecord{}, wallet.RegistryVersion{}, err
	}
	until, err := s.validUntil(in.ValidUntil)
	if err != nil {
		return wallet.RegistryRecord{}, wallet.RegistryVersion{}, err
	}
	now := s.now()
	var idem *wallet.SaveIdempotency
	if in.IdempotencyKey != "" {
		// A retry with the key answers the record its first request made.
		hash, err := requestHash(code, kind, id, name, f, until)
		if err != nil {
			return wallet.RegistryRecord{}, wallet.RegistryVersion{}, err
		}
		caller := "staff:" + by.Member.ID
		if rec, v, ok, err := s.replay(ctx, reg.Code, caller, in.IdempotencyKey, hash); ok || err != nil {
			return rec, v, err
		}
		idem = &wallet.SaveIdempotency{At: now, Record: wallet.IdempotencyRecord{Caller: caller, Key: in.IdempotencyKey,
			RequestHash: hash, CreatedAt: now, ExpiresAt: now.Add(wallet.IdempotencyKeyTTL)}}
	}
	for attempt := 0; ; attempt++ {
		number, err := s.number()
		if err != nil {
			return wallet.RegistryRecord{}, wallet.RegistryVersion{}, err
		}
		rec := wallet.RegistryRecord{Registry: reg.Code, Number: number, HolderKind: kind, HolderID: id, HolderName: name,
			CreatedBy: by.Member.ID, CreatedAt: now}
		v := wallet.RegistryVersion{Registry: reg.Code, Number: number, Version: 1, Status: wallet.RegistryDraft, Fields: f,
			ValidUntil: until, CreatedBy: by.Member.ID, CreatedAt: now}
		ev, err := s.event(wallet.EventRegistryDraft, by, "", reg.Code, number, map[string]string{"version": "1"}, now)
		if err != nil {
			return wallet.RegistryRecord{}, wallet.RegistryVersion{}, err
		}
		ops := []wallet.Op{wallet.CreateRegistryRecord{Record: rec}, wallet.AppendRegistryVersion{Version: v}}
		if idem != nil {
			idem.Record.Outcome = []byte(number)
			ops = append(ops, *idem)
		}
		_, err = s.Changes.Commit(ctx, wallet.Change{Ops: ops, Events: []wallet.Event{ev}})
		if wallet.IsCode(err, wallet.ECONFLICT) && idem != nil {
			// Another request with the key may have made the record.
			if rec, v, ok, rerr := s.replay(ctx, reg.Code, idem.Record.Caller, idem.Record.Key, idem.Record.RequestHash); ok || rerr != nil {
				return rec, v, rerr
			}
		}
		if wallet.IsCode(err, wallet.ECONFLICT) && attempt < 3 {
			continue // the number was taken: draw another
		}
		if err != nil {
			return wallet.RegistryRecord{}, wallet.RegistryVersion{}, err
		}
		return rec, v, nil
	}
}

// requestHash identifies a record's creation request, for its
// Idempotency-Key.
func requestHash(code, kind, id, name string, fields map[string]string, until *time.Time) (string, error) {
	b, err := json.Marshal([]any{"create registry record", code, kind, id, name, fields, until})
	if err != nil {
		return "", wallet.Wrap(wallet.EINTERNAL, err, "cannot encode the request")
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// replay answers a creation request again from its Idempotency-Key's
// outcome (the record's number): ok with the record and its first version
// if the key has one; EIDEMPOTENCY if the key was used for another request.
func (s *Service) replay(ctx context.Context, code, caller, key, hash string) (wallet.RegistryRecord, wallet.RegistryVersion, bool, error) {
	stored, err := s.Store.Idempotency(ctx, caller, key, s.now())
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return wallet.RegistryRecord{}, wallet.RegistryVersion{}, false, nil
	case err != nil:
		return wallet.RegistryRecord{}, wallet.RegistryVersion{}, false, err
	case stored.RequestHash != hash:
		return wallet.RegistryRecord{}, wallet.RegistryVersion{}, false, wallet.Errorf(wallet.EIDEMPOTENCY,
			"this Idempotency-Key was used with another request; use a new key for a new request")
	}
	rec, versions, err := s.Store.RegistryRecord(ctx, code, string(stored.Outcome))
	if err != nil {
		return wallet.RegistryRecord{}, wallet.RegistryVersion{}, false, err
	}
	return rec, versions[0], true, nil
}

// Amend adds a draft of the next version, with the fields and end of
// validity given (they replace the published ones when it is signed).
// ECONFLICT if a draft is pending (sign it first) or the record is
// revoked; otherwise as CreateRecord, and ENOTFOUND for no such record.
func (s *Service) Amend(ctx context.Context, by staff.Acting, code, number string, in Draft) (wallet.RegistryVersion, error) {
	reg, err := s.registryFor(ctx, by, code)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	_, versions, err := s.Store.RegistryRecord(ctx, reg.Code, number)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	last := versions[len(versions)-1]
	switch last.Status {
	case wallet.RegistryDraft:
		return wallet.RegistryVersion{}, wallet.Errorf(wallet.ECONFLICT, "version %d is a draft: sign it before amending", last.Version)
	case wallet.RegistryRevoked:
		return wallet.RegistryVersion{}, wallet.Errorf(wallet.ECONFLICT, "the record is revoked")
	}
	f, err := fields(reg.DocumentType, in.Fields)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	until, err := s.validUntil(in.ValidUntil)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	now := s.now()
	v := wallet.RegistryVersion{Registry: reg.Code, Number: number, Version: last.Version + 1, Status: wallet.RegistryDraft,
		Fields: f, ValidUntil: until, CreatedBy: by.Member.ID, CreatedAt: now}
	ev, err := s.event(wallet.EventRegistryDraft, by, "", reg.Code, number, map[string]string{"version": fmt.Sprint(v.Version)}, now)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	if _, err := s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.AppendRegistryVersion{Version: v}}, Events: []wallet.Event{ev}}); err != nil {
		return wallet.RegistryVersion{}, err
	}
	return v, nil
}

// Sign publishes the record's pending draft: a JWS signed with the
// official's own key over the version's content, chained to the signed
// version before (which becomes superseded). The publication, its leaf,
// the holder's event and (for a citizen) the wallet's new version of the
// document are one change. ECONFLICT if there is no draft to sign;
// EINTERNAL if the official has no key; as Amend otherwise.
func (s *Service) Sign(ctx context.Context, by staff.Acting, code, number string) (wallet.RegistryVersion, error) {
	reg, err := s.registryFor(ctx, by, code)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	rec, versions, err := s.Store.RegistryRecord(ctx, reg.Code, number)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	last := versions[len(versions)-1]
	if last.Status != wallet.RegistryDraft {
		return wallet.RegistryVersion{}, wallet.Errorf(wallet.ECONFLICT, "there is no draft to sign")
	}
	v, err := s.signed(by, reg, rec, versions, last, wallet.RegistryPublished)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	if err := s.commitSigned(ctx, by, reg, rec, versions, v, wallet.SignRegistryVersion{Version: v}, wallet.EventRegistryPublished); err != nil {
		return wallet.RegistryVersion{}, err
	}
	return v, nil
}

// Revoke publishes a new signed version with status revoked, the content
// of the last signed version and the reason (3 to MaxReason characters).
// Nothing follows a revocation. ECONFLICT if a draft is pending or the
// record is revoked already; as Sign otherwise.
func (s *Service) Revoke(ctx context.Context, by staff.Acting, code, number, reason string) (wallet.RegistryVersion, error) {
	reg, err := s.registryFor(ctx, by, code)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	reason, err = text("reason", reason, MaxReason)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	if utf8.RuneCountInString(reason) < 3 {
		return wallet.RegistryVersion{}, wallet.Errorf(wallet.EINVALID, "reason must be 3 to %d characters", MaxReason)
	}
	rec, versions, err := s.Store.RegistryRecord(ctx, reg.Code, number)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	last := versions[len(versions)-1]
	switch last.Status {
	case wallet.RegistryDraft:
		return wallet.RegistryVersion{}, wallet.Errorf(wallet.ECONFLICT, "version %d is a draft: sign it before revoking", last.Version)
	case wallet.RegistryRevoked:
		return wallet.RegistryVersion{}, wallet.Errorf(wallet.ECONFLICT, "the record is revoked already")
	}
	now := s.now()
	next := wallet.RegistryVersion{Registry: reg.Code, Number: number, Version: last.Version + 1, Fields: last.Fields,
		ValidUntil: last.ValidUntil, Reason: reason, CreatedBy: by.Member.ID, CreatedAt: now}
	v, err := s.signed(by, reg, rec, versions, next, wallet.RegistryRevoked)
	if err != nil {
		return wallet.RegistryVersion{}, err
	}
	if err := s.commitSigned(ctx, by, reg, rec, versions, v, wallet.AppendRegistryVersion{Version: v}, wallet.EventRegistryRevoked); err != nil {
		return wallet.RegistryVersion{}, err
	}
	return v, nil
}

// commitSigned commits a signed version with its event and, for a citizen's
// record, the wallet document's next version.
func (s *Service) commitSigned(ctx context.Context, by staff.Acting, reg wallet.Registry, rec wallet.RegistryRecord,
	versions []wallet.RegistryVersion, v wallet.RegistryVersion, op wallet.Op, kind string) error {
	var subject wallet.IIN
	ops := []wallet.Op{op}
	if rec.HolderKind == wallet.HolderCitizen {
		subject = wallet.IIN(rec.HolderID)
		mirror, err := s.walletVersion(ctx, reg, rec, versions, v)
		if err != nil {
			return err
		}
		ops = append(ops, mirror)
	}
	ev, err := s.event(kind, by, subject, reg.Code, rec.Number, map[string]string{
		"version": fmt.Sprint(v.Version), "hash": v.Hash, "prev_hash": v.PrevHash, "document_type": string(reg.DocumentType),
	}, *v.SignedAt)
	if err != nil {
		return err
	}
	_, err = s.Changes.Commit(ctx, wallet.Change{Ops: ops, Events: []wallet.Event{ev}})
	return err
}

// walletVersion is the citizen's wallet document of a record at its new
// signed version v: its content as the wallet shows it, signed by the
// official's JWS, chained to the document's versions before.
func (s *Service) walletVersion(ctx context.Context, reg wallet.Registry, rec wallet.RegistryRecord,
	versions []wallet.RegistryVersion, v wallet.RegistryVersion) (wallet.Op, error) {
	issued := *v.SignedAt
	for _, p := range versions {
		if p.Signed() && p.SignedAt != nil {
			issued = *p.SignedAt
			break
		}
	}
	c := wallet.DocumentContent{
		Type: reg.DocumentType, Title: reg.DocumentType.Title(), SubjectIIN: wallet.IIN(rec.HolderID), Issuer: reg.OrganisationID,
		Number: rec.Number, Fields: v.Fields, IssuedAt: issued, ValidUntil: v.ValidUntil,
		Revoked: v.Status == wallet.RegistryRevoked, Source: Source(reg.Code),
	}
	content, err := c.Canonical()
	if err != nil {
		return nil, err
	}
	id := c.ID()
	next, prev := 1, ""
	cur, err := s.Store.Document(ctx, id)
	switch {
	case err == nil:
		next, prev = cur.Latest.Version+1, cur.Latest.Hash
	case !wallet.IsCode(err, wallet.ENOTFOUND):
		return nil, err
	}
	wv := wallet.Version{DocumentID: id, Version: next, Content: content, JWS: v.JWS, PrevHash: prev,
		Hash: wallet.VersionHash(prev, content, v.JWS), CreatedAt: *v.SignedAt}
	d := wallet.StoredDocument{ID: id, SubjectIIN: c.SubjectIIN, Type: c.Type, Source: c.Source, FetchedAt: *v.SignedAt, Latest: wv}
	return wallet.AppendVersion{Document: d, Version: wv}, nil
}

// Source is the wallet source name of a hosted registry's documents.
func Source(code string) string { return wallet.HostedSourcePrefix + code }

// CodeOfSource returns the registry code of a wallet source name, if it is
// a hosted registry's.
func CodeOfSource(source string) (string, bool) {
	return strings.CutPrefix(source, wallet.HostedSourcePrefix)
}

// Record returns a record with all its versions, drafts too, to an
// official of the registry's organisation. EFORBIDDEN for anyone else;
// ENOTFOUND.
func (s *Service) Record(ctx context.Context, by staff.Acting, code, number string) (wallet.Registry, wallet.RegistryRecord, []wallet.RegistryVersion, error) {
	reg, err := s.registryFor(ctx, by, code)
	if err != nil {
		return wallet.Registry{}, wallet.RegistryRecord{}, nil, err
	}
	rec, versions, err := s.Store.RegistryRecord(ctx, reg.Code, number)
	if err != nil {
		return wallet.Registry{}, wallet.RegistryRecord{}, nil, err
	}
	return reg, rec, versions, nil
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
