package wallet

import (
	"context"
	"time"
)

// PublishedReads are the wallet's reads behind what the service publishes
// to anyone: a signed document's or a duplicate's current status for
// /v1/verify and the web pages, and the staff whose keys are published.
// They tolerate lag: a streaming replica a moment behind the primary may
// serve them (wallet/postgres.Replica), and a revocation reaches them
// after that moment. Nothing that judges (a share's single use, a
// consent's state, limits, sign-in, idempotency, the log's append) reads
// through them: those read the Store, on the primary.
//
// Every Store is PublishedReads (the SQLite store serves them itself).
type PublishedReads interface {
	// Document is DocumentStore.Document. ENOTFOUND.
	Document(ctx context.Context, id string) (StoredDocument, error)
	// Duplicate is DuplicateStore.Duplicate. ENOTFOUND.
	Duplicate(ctx context.Context, id string) (Duplicate, error)
	// Staff is StaffStore.Staff.
	Staff(ctx context.Context) ([]StaffMember, error)
}

// PublishedDocuments answers a Verifier (Status, CurrentVersion) from
// PublishedReads.
type PublishedDocuments struct {
	Reads PublishedReads
	Now   func() time.Time
}

// Status is DocumentService.Status on the published reads. ENOTFOUND if
// there is no such document.
func (p PublishedDocuments) Status(ctx context.Context, id string) (string, error) {
	d, err := p.Reads.Document(ctx, id)
	if err != nil {
		return "", err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	v, err := DocumentView(d, now().UTC())
	if err != nil {
		return "", err
	}
	return v.Status, nil
}

// CurrentVersion is DocumentService.CurrentVersion on the published reads.
// ENOTFOUND if there is no such document.
func (p PublishedDocuments) CurrentVersion(ctx context.Context, id string) (int, error) {
	d, err := p.Reads.Document(ctx, id)
	if err != nil {
		return 0, err
	}
	return d.Latest.Version, nil
}
