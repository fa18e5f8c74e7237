package wallet

import (
	"context"
	"time"
)

// Store is the durable store: PostgreSQL in production, SQLite in the
// embedded default. Both pass the suite in wallet/wallettest.
type Store interface {
	DocumentStore
	SessionStore
	ShareStore
	ViewStore
	ClientStore
	ConsentStore
	EventStore
	IdempotencyStore
	OutboxStore
	PreferenceStore
	NotificationStore
	StaffStore
	DuplicateStore
	BlobStore
	RegistryStore
	AgencyStore
	CaseStore
	KeyCompromiseStore
	// Ping checks the store is reachable. EUNAVAILABLE otherwise.
	Ping(ctx context.Context) error
	Close() error
}

// RefreshToken is one opaque refresh token, kept only as a hash. Tokens of one
// sign-in form a family: each rotation adds the next token to it.
type RefreshToken struct {
	ID        string
	FamilyID  string
	Subject   IIN
	Hash      string // hex HMAC-SHA256 of the token
	CreatedAt time.Time
	ExpiresAt time.Time
	RotatedAt *time.Time // set when exchanged for the next token
	RevokedAt *time.Time // set when the family was revoked
}

// SessionStore keeps refresh tokens.
type SessionStore interface {
	// CreateRefreshToken stores a new token. ECONFLICT if the id or hash exists.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RefreshTokenByHash returns the token with that hash. ENOTFOUND.
	RefreshTokenByHash(ctx context.Context, hash string) (RefreshToken, error)
	// RotateRefreshToken marks oldID rotated at `at` and stores next, in one
	// transaction. ECONFLICT if oldID was already rotated or revoked (so that
	// two concurrent rotations cannot both succeed); ENOTFOUND if no such token.
	RotateRefreshToken(ctx context.Context, oldID string, next RefreshToken, at time.Time) error
	// RevokeRefreshFamily revokes every token of the family. Idempotent.
	RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) error
}

// Share is a grant of temporary access to one document. The token and the
// short code live in the short-lived store; this is the durable record.
type Share struct {
	ID         string
	DocumentID string
	OwnerIIN   IIN // the document's subject
	CreatedBy  IIN // who opened it: the owner, or a guardian of the owner
	MaxViews   int
	Views      int // views released so far
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
}

// Share states.
const (
	ShareActive  = "active"
	ShareExpired = "expired"
	ShareRevoked = "revoked"
	ShareUsed    = "used"
)

// State returns the share's state at now.
func (s Share) State(now time.Time) string {
	switch {
	case s.RevokedAt != nil:
		return ShareRevoked
	case s.Views >= s.MaxViews:
		return ShareUsed
	case !now.Before(s.ExpiresAt):
		return ShareExpired
	default:
		return ShareActive
	}
}

// ShareStore reads share grants; they are written by wallet.Change
// (CreateShare, RevokeShare, RedeemShare).
type ShareStore interface {
	// Share returns one share. ENOTFOUND.
	Share(ctx context.Context, id string) (Share, error)
	// Shares returns the shares opened by or for the citizen (CreatedBy or
	// OwnerIIN equal to iin), newest first.
	Shares(ctx context.Context, iin IIN) ([]Share, error)
}

// Viewer kinds and view channels.
const (
	ViewerCitizen      = "citizen"
	ViewerOrganisation = "organisation"
	ViewerGuardian     = "guardian"

	ChannelQR        = "qr"
	ChannelShortCode = "short_code"
	ChannelConsent   = "consent"
	ChannelGuardian  = "guardian"
)

// View is one release of a document to someone other than its owner. It is
// shown in the owner's history and in the viewer's.
type View struct {
	ID           string
	DocumentID   string
	DocumentType DocumentType
	OwnerIIN     IIN
	ViewerKind   string // ViewerCitizen, ViewerOrganisation or ViewerGuardian
	ViewerID     string // an IIN or an organisation client id
	Channel      string
	ShareID      string // set for qr and short_code views
	ConsentID    string // set for consent views
	SharedBy     IIN    // the guardian who opened the share, if not the owner
	At           time.Time
	LogIndex     int64 // index in the history log; -1 if not logged
}

// ViewStore reads view events; they are written with their leaves
// (wallet.Change).
type ViewStore interface {
	// ViewsOfOwner returns views of the owner's documents, newest first.
	ViewsOfOwner(ctx context.Context, owner IIN) ([]View, error)
	// ViewsByViewer returns what the viewer has viewed, newest first.
	ViewsByViewer(ctx context.Context, kind, id string) ([]View, error)
}

// Client is an organisation's information system admitted to the integration API.
type Client struct {
	ID            string
	Name          string
	Kind          string // bank, insurer, gov or service_centre
	DocumentTypes []DocumentType
	SecretHash    string // hex HMAC-SHA256 of the secret
	CreatedAt     time.Time
	DisabledAt    *time.Time
}

// ClientStore keeps organisation clients.
type ClientStore interface {
	// CreateClient stores a new client. ECONFLICT if the id exists.
	CreateClient(ctx context.Context, c Client) error
	// Client returns one client. ENOTFOUND.
	Client(ctx context.Context, id string) (Client, error)
	// Clients returns all clients, oldest first.
	Clients(ctx context.Context) ([]Client, error)
	// DisableClient sets DisabledAt if unset. ENOTFOUND.
	DisableClient(ctx context.Context, id string, at time.Time) error
}

// Consent methods and states.
const (
	ConsentOTP      = "otp"
	ConsentSMSReply = "sms_reply"
	ConsentApp      = "app"

	ConsentPending = "pending"
	ConsentGranted = "granted"
	ConsentDenied  = "denied"
	ConsentRevoked = "revoked"
	ConsentExpired = "expired"
)

// Consent is an organisation's request for a citizen's documents and the
// citizen's decision on it.
type Consent struct {
	ID               string
	ClientID         string
	SubjectIIN       IIN
	Phone            string // the registered phone the request was sent to
	DocumentTypes    []DocumentType
	Purpose          string
	Method           string
	Status           string // as stored: pending, granted, denied or revoked
	ValidFor         time.Duration
	CreatedAt        time.Time
	RequestExpiresAt time.Time  // a pending request expires then
	DecidedAt        *time.Time // granted or denied
	GrantExpiresAt   *time.Time // a grant expires then
	RevokedAt        *time.Time
	Revision         int // bumped on every update
}

// ConsentStore reads consent requests; they are written by wallet.Change
// (CreateConsent, UpdateConsent).
type ConsentStore interface {
	// Consent returns one request. ENOTFOUND.
	Consent(ctx context.Context, id string) (Consent, error)
	// ConsentsOfSubject returns the citizen's consents, newest first.
	ConsentsOfSubject(ctx context.Context, iin IIN) ([]Consent, error)
	// ConsentsOfClient returns the client's consents, newest first.
	ConsentsOfClient(ctx context.Context, clientID string) ([]Consent, error)
	// PendingConsentsByPhone returns pending requests of the given method
	// sent to phone, newest first.
	PendingConsentsByPhone(ctx context.Context, phone, method string) ([]Consent, error)
	// CountConsentsSince counts requests created at or after since, by the
	// client (if clientID != "") and for the subject (if iin != "").
	CountConsentsSince(ctx context.Context, clientID string, iin IIN, since time.Time) (int, error)
}

// Event is an entry of a citizen's or organisation's history other than a
// view: a share opened or revoked, codes voided, a consent decision.
type Event struct {
	ID         string
	Kind       string // see Event kinds
	SubjectIIN IIN    // whose history it belongs to
	ActorKind  string // citizen, organisation, guardian, system
	ActorID    string
	ObjectID   string // the share, consent or document concerned
	Details    map[string]string
	At         time.Time
	LogIndex   int64 // -1 if not logged
}

// Event kinds.
const (
	EventShareOpened      = "share_opened"
	EventShareRevoked     = "share_revoked"
	EventCodesVoided      = "codes_voided"
	EventConsentRequested = "consent_requested"
	EventConsentGranted   = "consent_granted"
	EventConsentDenied    = "consent_denied"
	EventConsentRevoked   = "consent_revoked"
)

// EventStore reads history events; they are written with their leaves
// (wallet.Change).
type EventStore interface {
	// Events returns the subject's events, newest first.
	Events(ctx context.Context, subject IIN) ([]Event, error)
}
