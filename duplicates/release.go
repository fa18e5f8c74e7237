package duplicates

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/wallet"
)

// Basis length bounds, in characters.
const (
	MinBasis = 3
	MaxBasis = 500
)

// OfOwner returns the citizen's own duplicates, newest first. EUNAVAILABLE.
func (s *Service) OfOwner(ctx context.Context, owner wallet.IIN) ([]wallet.Duplicate, error) {
	return s.Store.DuplicatesOfOwner(ctx, owner)
}

// OwnersDuplicate returns one of the citizen's own duplicates. ENOTFOUND
// for another citizen's, so that nobody learns which ids exist.
func (s *Service) OwnersDuplicate(ctx context.Context, owner wallet.IIN, id string) (wallet.Duplicate, error) {
	d, err := s.Store.Duplicate(ctx, id)
	if err != nil {
		return wallet.Duplicate{}, err
	}
	if d.OwnerIIN != owner {
		return wallet.Duplicate{}, wallet.Errorf(wallet.ENOTFOUND, "duplicate: not found")
	}
	return d, nil
}

// OwnersScan returns the scan of one of the citizen's own duplicates,
// byte for byte. ENOTFOUND for another citizen's; EEXPIRED once purged;
// EUNAVAILABLE.
func (s *Service) OwnersScan(ctx context.Context, owner wallet.IIN, id string) (wallet.Duplicate, wallet.Blob, error) {
	d, err := s.OwnersDuplicate(ctx, owner, id)
	if err != nil {
		return wallet.Duplicate{}, wallet.Blob{}, err
	}
	return s.scanOf(ctx, d)
}

func (s *Service) scanOf(ctx context.Context, d wallet.Duplicate) (wallet.Duplicate, wallet.Blob, error) {
	if d.Status == wallet.DuplicatePurged {
		return wallet.Duplicate{}, wallet.Blob{}, wallet.Errorf(wallet.EEXPIRED, "the duplicate's retention ended; its scan was deleted")
	}
	b, err := s.Store.Blob(ctx, d.BlobID)
	if wallet.IsCode(err, wallet.ENOTFOUND) {
		return wallet.Duplicate{}, wallet.Blob{}, wallet.Errorf(wallet.EEXPIRED, "the duplicate's scan was deleted")
	}
	if err != nil {
		return wallet.Duplicate{}, wallet.Blob{}, err
	}
	return d, b, nil
}

// stateBody refuses every organisation but a state body (client kind gov):
// duplicates are never given to third parties.
func stateBody(c wallet.Client) error {
	if c.Kind != consent.KindGov {
		return wallet.Errorf(wallet.EFORBIDDEN, "duplicates are issued only to their owner and to state bodies")
	}
	return nil
}

// checkBasis checks the stated basis of a state body's request: the
// service the owner applied for.
func checkBasis(basis string) (string, error) {
	basis = strings.TrimSpace(basis)
	n := utf8.RuneCountInString(basis)
	switch {
	case basis == "":
		return "", wallet.Errorf(wallet.EINVALID, "basis is required: the service the owner applied for")
	case !utf8.ValidString(basis) || n < MinBasis || n > MaxBasis:
		return "", wallet.Errorf(wallet.EINVALID, "basis must be %d to %d characters", MinBasis, MaxBasis)
	case strings.IndexFunc(basis, unicode.IsControl) >= 0:
		return "", wallet.Errorf(wallet.EINVALID, "basis must not contain control characters")
	}
	return basis, nil
}

// ForStateBody returns a citizen's certified duplicates (metadata) to a
// state body that states its basis. EFORBIDDEN for an organisation of any
// other kind; EINVALID for a bad IIN or a missing or bad basis;
// EUNAVAILABLE.
func (s *Service) ForStateBody(ctx context.Context, body wallet.Client, owner wallet.IIN, basis string) ([]wallet.Duplicate, error) {
	if err := stateBody(body); err != nil {
		return nil, err
	}
	iin, err := wallet.ParseIIN(string(owner))
	if err != nil {
		return nil, err
	}
	if _, err := checkBasis(basis); err != nil {
		return nil, err
	}
	ds, err := s.Store.DuplicatesOfOwner(ctx, iin)
	if err != nil {
		return nil, err
	}
	out := ds[:0]
	for _, d := range ds {
		if d.Status != wallet.DuplicateAwaitingConsent {
			out = append(out, d)
		}
	}
	return out, nil
}

// ScanForStateBody releases a duplicate's scan to a state body that states
// its basis. The release is a view in both histories (viewer the body,
// channel duplicate) and a duplicate_released event of the owner's naming
// the body and the basis, committed before the bytes are returned.
//
// EFORBIDDEN for an organisation of any other kind; EINVALID for a missing
// or bad basis; ENOTFOUND if there is no such certified duplicate;
// EEXPIRED once purged; EUNAVAILABLE.
func (s *Service) ScanForStateBody(ctx context.Context, body wallet.Client, id, basis string) (wallet.Duplicate, wallet.Blob, wallet.View, error) {
	if err := stateBody(body); err != nil {
		return wallet.Duplicate{}, wallet.Blob{}, wallet.View{}, err
	}
	basis, err := checkBasis(basis)
	if err != nil {
		return wallet.Duplicate{}, wallet.Blob{}, wallet.View{}, err
	}
	d, err := s.Store.Duplicate(ctx, id)
	if err != nil {
		return wallet.Duplicate{}, wallet.Blob{}, wallet.View{}, err
	}
	if d.Status == wallet.DuplicateAwaitingConsent {
		return wallet.Duplicate{}, wallet.Blob{}, wallet.View{}, wallet.Errorf(wallet.ENOTFOUND, "duplicate: not found")
	}
	d, b, err := s.scanOf(ctx, d)
	if err != nil {
		return wallet.Duplicate{}, wallet.Blob{}, wallet.View{}, err
	}
	at := s.now()
	viewID, err := wallet.NewTimeID(s.rand(), at, "vw_")
	if err != nil {
		return wallet.Duplicate{}, wallet.Blob{}, wallet.View{}, err
	}
	v := wallet.View{
		ID: viewID, DocumentID: d.ID, DocumentType: wallet.DocumentType(d.Type), OwnerIIN: d.OwnerIIN,
		ViewerKind: wallet.ViewerOrganisation, ViewerID: body.ID, Channel: wallet.ChannelDuplicate, At: at, LogIndex: -1,
	}
	released, err := s.event(wallet.EventDuplicateReleased, d, at)
	if err != nil {
		return wallet.Duplicate{}, wallet.Blob{}, wallet.View{}, err
	}
	released.ActorKind, released.ActorID = wallet.ViewerOrganisation, body.ID
	released.Details["body"], released.Details["basis"], released.Details["view"] = body.Name, basis, v.ID
	idx, err := s.Changes.Commit(ctx, wallet.Change{Events: []wallet.Event{released}, Views: []wallet.View{v}})
	if err != nil {
		return wallet.Duplicate{}, wallet.Blob{}, wallet.View{}, err
	}
	if len(idx) == 2 {
		v.LogIndex = idx[1]
	}
	return d, b, v, nil
}
