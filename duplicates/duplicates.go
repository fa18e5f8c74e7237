// Package duplicates makes electronic duplicates of citizens' paper
// documents at service centres: an operator uploads the scan, the citizen
// consents with a code sent to their registered phone and tells it to the
// operator, and the duplicate is certified with a JWS signed by the
// operator's own key. Every step is a history event of the owner's,
// committed with its state through wallet.Change; the scan's bytes are in
// a wallet.BlobStore.
package duplicates

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/otp"
	"github.com/qujat/qujat/outbox"
	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
)

// otpPurpose is the purpose of a duplicate's consent code: it signs no one
// in and approves nothing else.
const otpPurpose = "duplicate-consent"

// Codes a citizen's phone receives per hour for duplicates: from one centre,
// and from all centres together.
const (
	CodesPerCentre = 5
	CodesPerPhone  = 10
)

// DefaultRetention is how long a certified duplicate is kept: three
// calendar years (Service.Retention replaces it, for tests).
const DefaultRetentionYears = 3

// Service makes and certifies duplicates. Store, Changes, Staff,
// Directory, OTP and Outbox are required; Now and Rand default to time.Now
// and crypto/rand.
type Service struct {
	Store wallet.Store
	// Published serves Verify's read of a duplicate's status, which may
	// lag (a replica); nil: Store.
	Published wallet.PublishedReads
	Changes   wallet.Committer
	Staff     *staff.Service
	Directory wallet.Directory
	OTP       *otp.Service
	Outbox    *outbox.Queue
	Now       func() time.Time
	Rand      io.Reader
	// Retention, if positive, replaces three calendar years
	// (QUJAT_DUPLICATE_RETENTION).
	Retention time.Duration
	// Language tells the language of a citizen's SMS.
	Language locale.OfCitizen
}

// Upload is what an operator sends with a scan.
type Upload struct {
	IIN      wallet.IIN
	Type     string
	Number   string
	IssuedOn string // YYYY-MM-DD
	IssuedBy string
	Scan     []byte
}

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

// operatorOf refuses anyone but an operator of a service centre.
func operatorOf(a staff.Acting) error {
	if a.Member.Role != wallet.RoleOperator || a.Organisation.Kind != consent.KindServiceCentre {
		return wallet.Errorf(wallet.EFORBIDDEN, "only an operator of a service centre makes duplicates")
	}
	return nil
}

// Request stores the scan, records the duplicate as awaiting the owner's
// consent (the owner's duplicate_requested event) and sends the owner a
// six-digit code by SMS, all in one change; the owner tells the code to the
// operator, who confirms it (Confirm).
//
// EFORBIDDEN if the caller is not an operator of a service centre;
// EINVALID for a bad IIN, an IIN the registry does not know, a type not on
// the list, a missing or bad number, date (YYYY-MM-DD, not in the future)
// or issuer, an empty scan, a scan over MaxScan or not a PDF, JPEG or PNG by
// its content (see ScanType); ERATELIMITED when the phone's budget is used
// up; EUNAVAILABLE.
func (s *Service) Request(ctx context.Context, by staff.Acting, in Upload) (wallet.Duplicate, error) {
	if err := operatorOf(by); err != nil {
		return wallet.Duplicate{}, err
	}
	iin, err := wallet.ParseIIN(string(in.IIN))
	if err != nil {
		return wallet.Duplicate{}, err
	}
	if _, ok := locale.DuplicateTitle(locale.EN, in.Type); !ok {
		return wallet.Duplicate{}, wallet.Errorf(wallet.EINVALID, "unknown document type %q (see GET /v1/duplicates/types)", in.Type)
	}
	number, err := text("number", in.Number, 64)
	if err != nil {
		return wallet.Duplicate{}, err
	}
	issuedBy, err := text("issued_by", in.IssuedBy, 200)
	if err != nil {
		return wallet.Duplicate{}, err
	}
	now := s.now()
	issued, err := time.Parse(time.DateOnly, in.IssuedOn)
	if err != nil || issued.After(now) {
		return wallet.Duplicate{}, wallet.Errorf(wallet.EINVALID, "issued_on must be a date (YYYY-MM-DD), not in the future")
	}
	if len(in.Scan) == 0 {
		return wallet.Duplicate{}, wallet.Errorf(wallet.EINVALID, "the scan is empty")
	}
	if len(in.Scan) > MaxScan {
		return wallet.Duplicate{}, wallet.Errorf(wallet.EINVALID, "the scan is larger than 10 MiB")
	}
	contentType, ok := ScanType(in.Scan)
	if !ok {
		return wallet.Duplicate{}, wallet.Errorf(wallet.EINVALID, "the scan is not a PDF, JPEG or PNG")
	}
	citizen, err := s.Directory.Citizen(ctx, iin)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.Duplicate{}, wallet.Errorf(wallet.EINVALID, "no citizen with this IIN is registered")
	}
	if err != nil {
		return wallet.Duplicate{}, err
	}
	id, err := wallet.NewID(s.rand(), "dup_")
	if err != nil {
		return wallet.Duplicate{}, err
	}
	sum := sha256.Sum256(in.Scan)
	d := wallet.Duplicate{
		ID: id, OwnerIIN: iin, Type: in.Type, Number: number, IssuedOn: issued.Format(time.DateOnly), IssuedBy: issuedBy,
		BlobID: id, ContentType: contentType, Size: int64(len(in.Scan)), SHA256: hex.EncodeToString(sum[:]),
		OperatorID: by.Member.ID, CentreID: by.Organisation.ID, Status: wallet.DuplicateAwaitingConsent, CreatedAt: now,
	}
	lang := s.Language.Of(ctx, iin)
	title, _ := locale.DuplicateTitle(lang, d.Type)
	budgets := []otp.Budget{{Name: "centre:" + d.CentreID, Limit: CodesPerCentre}, {Name: "all", Limit: CodesPerPhone}}
	ch, smsText, err := s.OTP.Issue(ctx, otpPurpose, d.ID, citizen.Phone, budgets, func(code string) string {
		return locale.Format(lang, "sms.duplicate.consent", map[string]string{"centre": by.Organisation.Name, "type": title, "code": code})
	})
	if err != nil {
		return wallet.Duplicate{}, err
	}
	undo := func() { _ = s.OTP.Cancel(context.WithoutCancel(ctx), otpPurpose, ch.ID) }
	d.ChallengeID, d.ExpiresAt = ch.ID, ch.ExpiresAt
	msg, err := s.Outbox.Message(otpPurpose, d.ID, citizen.Phone, smsText, ch.ExpiresAt)
	if err != nil {
		undo()
		return wallet.Duplicate{}, err
	}
	// The bytes first: a blob no duplicate names is never shown, while a
	// duplicate must never name bytes that are not there.
	if err := s.Store.PutBlob(ctx, wallet.Blob{ID: d.BlobID, ContentType: contentType, SHA256: d.SHA256, Data: in.Scan, CreatedAt: now}); err != nil {
		undo()
		return wallet.Duplicate{}, err
	}
	requested, err := s.event(wallet.EventDuplicateRequested, d, now)
	if err != nil {
		undo()
		return wallet.Duplicate{}, err
	}
	change := wallet.Change{
		Ops:    []wallet.Op{wallet.CreateDuplicate{Duplicate: d}, wallet.QueueMessage{Message: msg}},
		Events: []wallet.Event{requested},
	}
	if _, err := s.Changes.Commit(ctx, change); err != nil {
		undo()
		_ = s.Store.DeleteBlob(context.WithoutCancel(ctx), d.BlobID)
		return wallet.Duplicate{}, err
	}
	s.Outbox.Kicked()
	return d, nil
}

// event is a history event of the duplicate's owner, acted by its operator.
func (s *Service) event(kind string, d wallet.Duplicate, at time.Time) (wallet.Event, error) {
	id, err := wallet.NewTimeID(s.rand(), at, "evt_")
	if err != nil {
		return wallet.Event{}, err
	}
	return wallet.Event{
		ID: id, Kind: kind, SubjectIIN: d.OwnerIIN, ActorKind: wallet.ActorStaff, ActorID: d.OperatorID, ObjectID: d.ID,
		Details: map[string]string{"type": d.Type, "centre": d.CentreID, "sha256": d.SHA256}, At: at, LogIndex: -1,
	}, nil
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
