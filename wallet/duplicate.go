package wallet

import (
	"context"
	"time"
)

// Duplicate states.
const (
	DuplicateAwaitingConsent = "awaiting_consent"
	DuplicateCertified       = "certified"
	DuplicatePurged          = "purged"
)

// Duplicate is an electronic duplicate of a citizen's paper document, made
// by an operator of a service centre with the citizen's consent and
// certified by the operator's own signature. The scan's bytes are in the
// blob store under BlobID; after the purge only this record (the
// tombstone: id, type, holder, SHA-256, dates) is left.
type Duplicate struct {
	ID          string // "dup_…"
	OwnerIIN    IIN
	Type        string // a code of the duplicate types list (locale)
	Number      string
	IssuedOn    string // YYYY-MM-DD
	IssuedBy    string
	BlobID      string
	ContentType string // application/pdf, image/jpeg or image/png
	Size        int64
	SHA256      string // hex of the scan's bytes
	OperatorID  string // the staff member who made it
	CentreID    string // the service centre they act for
	Status      string
	ChallengeID string // the consent code's challenge
	CreatedAt   time.Time
	ExpiresAt   time.Time // consent must be given before then
	CertifiedAt *time.Time
	RetainUntil *time.Time
	JWS         string // the certification, signed with the operator's key
	PurgedAt    *time.Time
}

// DuplicateStore reads duplicates; they are written by wallet.Change
// (CreateDuplicate, CertifyDuplicate).
type DuplicateStore interface {
	// Duplicate returns one duplicate. ENOTFOUND.
	Duplicate(ctx context.Context, id string) (Duplicate, error)
	// DuplicatesOfOwner returns the citizen's duplicates, newest first.
	DuplicatesOfOwner(ctx context.Context, owner IIN) ([]Duplicate, error)
	// DuplicatesDue returns up to limit certified duplicates whose
	// retention ended at or before at, oldest retain_until first.
	DuplicatesDue(ctx context.Context, at time.Time, limit int) ([]Duplicate, error)
	// DuplicatesOfCentre returns the duplicates made at the centre, of
	// owner if owner is not empty, newest first.
	DuplicatesOfCentre(ctx context.Context, centreID string, owner IIN) ([]Duplicate, error)
}

// Blob is bytes kept exactly as received, with their digest.
type Blob struct {
	ID          string
	ContentType string
	SHA256      string // hex
	Data        []byte
	CreatedAt   time.Time
}

// BlobStore keeps bytes that must stay unchanged (scans). Blobs carry no
// history of their own: the record that names a blob (a duplicate) does,
// and is written after the blob; a blob no record names is never shown.
type BlobStore interface {
	// PutBlob stores a blob. ECONFLICT if the id exists; EINVALID without
	// an id.
	PutBlob(ctx context.Context, b Blob) error
	// Blob returns a blob with its bytes. ENOTFOUND (deleted blobs too).
	Blob(ctx context.Context, id string) (Blob, error)
	// DeleteBlob deletes a blob's bytes for good. Deleting a missing blob
	// is not an error.
	DeleteBlob(ctx context.Context, id string) error
}

// CreateDuplicate stores a new duplicate awaiting consent. ECONFLICT if the
// id exists.
type CreateDuplicate struct{ Duplicate Duplicate }

// CertifyDuplicate certifies a duplicate awaiting consent: its status
// becomes certified with the certification time, the end of retention and
// the JWS. ENOTFOUND if there is no such duplicate; ECONFLICT if it is not
// awaiting consent (nothing is written).
type CertifyDuplicate struct {
	ID          string
	At          time.Time
	RetainUntil time.Time
	JWS         string
}

// PurgeDuplicate marks a certified duplicate whose retention ended at or
// before At as purged at At: the record stays as the tombstone. Its bytes
// are deleted from the blob store by the purger, before this commits.
// ENOTFOUND if there is no such duplicate; ECONFLICT if it is not
// certified or not due (nothing is written).
type PurgeDuplicate struct {
	ID string
	At time.Time
}

func (PurgeDuplicate) What() string   { return "purge duplicate" }
func (CreateDuplicate) What() string  { return "create duplicate" }
func (CertifyDuplicate) What() string { return "certify duplicate" }

// Duplicate event kinds and the staff actor kind.
const (
	EventDuplicateRequested = "duplicate_requested"
	EventDuplicateCertified = "duplicate_certified"
	EventDuplicateReleased  = "duplicate_released"
	EventDuplicatePurged    = "duplicate_purged"

	ActorStaff = "staff"
	// ChannelDuplicate is the channel of a duplicate's release to a state body.
	ChannelDuplicate = "duplicate"
)
