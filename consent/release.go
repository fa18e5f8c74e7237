package consent

import (
	"context"
	"slices"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Released is one document released under a consent and the view that
// records it in both parties' histories.
type Released struct {
	Document wallet.Document
	View     wallet.View
}

// clientConsent returns the consent if it is the client's. ENOTFOUND for a
// missing consent and for another client's, alike.
func (s *Service) clientConsent(ctx context.Context, clientID, id string) (wallet.Consent, error) {
	notFound := wallet.Errorf(wallet.ENOTFOUND, "no such consent")
	if id == "" {
		return wallet.Consent{}, notFound
	}
	c, err := s.Store.Consent(ctx, id)
	switch {
	case wallet.IsCode(err, wallet.ENOTFOUND):
		return wallet.Consent{}, notFound
	case err != nil:
		return wallet.Consent{}, err
	case c.ClientID != clientID:
		return wallet.Consent{}, notFound
	}
	return c, nil
}

// Get returns one of the client's consents with its effective status.
// EUNAUTHORIZED if the client is unknown or disabled; ENOTFOUND if there is
// no such consent or it is another client's; EUNAVAILABLE.
func (s *Service) Get(ctx context.Context, clientID, id string) (wallet.Consent, error) {
	if _, err := s.activeClient(ctx, clientID); err != nil {
		return wallet.Consent{}, err
	}
	c, err := s.clientConsent(ctx, clientID, id)
	if err != nil {
		return wallet.Consent{}, err
	}
	return withStatus(c, s.now()), nil
}

// ConsentsByClient returns the client's consents, newest first, with their
// effective status. EUNAUTHORIZED if the client is unknown or disabled;
// EUNAVAILABLE.
func (s *Service) ConsentsByClient(ctx context.Context, clientID string) ([]wallet.Consent, error) {
	if _, err := s.activeClient(ctx, clientID); err != nil {
		return nil, err
	}
	cs, err := s.Store.ConsentsOfClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for i := range cs {
		cs[i] = withStatus(cs[i], now)
	}
	return cs, nil
}

// Release returns the citizen's documents of the types a live grant covers,
// each with the view that records its release. Every view is durably
// recorded before anything is returned; if one cannot be, nothing is
// released. The grant is read again after the views are recorded, so that a
// revocation that committed before then is honoured (see the package doc for
// the window this leaves). A grant that covers types the citizen has no
// document of releases what there is, possibly nothing.
//
// It returns EUNAUTHORIZED if the client is unknown or disabled; ENOTFOUND
// if there is no such consent or it is another client's; EEXPIRED if the
// request or the grant has expired or the grant was revoked; ECONFLICT if the
// request is still pending ("not granted yet") or was denied; EUNAVAILABLE
// if a store or the documents cannot be reached (then nothing is released).
func (s *Service) Release(ctx context.Context, clientID, id string) ([]Released, error) {
	if _, err := s.activeClient(ctx, clientID); err != nil {
		return nil, err
	}
	c, err := s.clientConsent(ctx, clientID, id)
	if err != nil {
		return nil, err
	}
	if err := releasable(c, s.now()); err != nil {
		return nil, err
	}
	docs, err := s.Documents.Documents(ctx, c.SubjectIIN)
	if err != nil {
		return nil, err
	}
	var covered []wallet.Document
	for _, d := range docs {
		if d.SubjectIIN == c.SubjectIIN && slices.Contains(c.DocumentTypes, d.Type) {
			covered = append(covered, d)
		}
	}
	// Read the grant once more right before the views: the documents may
	// have taken a while.
	if err := s.stillReleasable(ctx, c.ID); err != nil {
		return nil, err
	}
	out := make([]Released, 0, len(covered))
	views := make([]wallet.View, 0, len(covered))
	at := s.now()
	for _, d := range covered {
		vid, err := wallet.NewTimeID(s.rand(), at, "vw_")
		if err != nil {
			return nil, err
		}
		views = append(views, wallet.View{
			ID:           vid,
			DocumentID:   d.ID,
			DocumentType: d.Type,
			OwnerIIN:     c.SubjectIIN,
			ViewerKind:   wallet.ViewerOrganisation,
			ViewerID:     c.ClientID,
			Channel:      wallet.ChannelConsent,
			ConsentID:    c.ID,
			At:           at,
			LogIndex:     -1,
		})
	}
	if len(views) > 0 {
		// All the release's views in one change: all recorded, with their
		// leaves, or none.
		indexes, err := s.Changes.Commit(ctx, wallet.Change{Views: views})
		if err != nil {
			return nil, err
		}
		for i := range views {
			views[i].LogIndex = indexes[i]
			out = append(out, Released{Document: covered[i], View: views[i]})
		}
	}
	// The views are durable; release only if the grant still stands now.
	if err := s.stillReleasable(ctx, c.ID); err != nil {
		return nil, err
	}
	return out, nil
}

// stillReleasable reads the consent again and checks it still releases.
func (s *Service) stillReleasable(ctx context.Context, id string) error {
	c, err := s.Store.Consent(ctx, id)
	if err != nil {
		return err
	}
	return releasable(c, s.now())
}

// releasable says whether c releases documents at now.
func releasable(c wallet.Consent, now time.Time) error {
	switch Status(c, now) {
	case wallet.ConsentGranted:
		return nil
	case wallet.ConsentExpired:
		return wallet.Errorf(wallet.EEXPIRED, "consent has expired")
	case wallet.ConsentRevoked:
		return wallet.Errorf(wallet.EEXPIRED, "consent was revoked")
	case wallet.ConsentDenied:
		return wallet.Errorf(wallet.ECONFLICT, "consent was denied")
	default:
		return wallet.Errorf(wallet.ECONFLICT, "consent not granted yet")
	}
}

// ViewsByClient returns the documents the client has been released, newest
// first (its side of the history). It does not check that the client is
// active, so that an administrator can read a disabled client's history.
// EUNAVAILABLE.
func (s *Service) ViewsByClient(ctx context.Context, clientID string) ([]wallet.View, error) {
	return s.Store.ViewsByViewer(ctx, wallet.ViewerOrganisation, clientID)
}
