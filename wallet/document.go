package wallet

import (
	"context"
	"time"
)

// DocumentType names a kind of document.
type DocumentType string

const (
	IDCard              DocumentType = "id_card"
	Passport            DocumentType = "passport"
	DrivingLicence      DocumentType = "driving_licence"
	VehicleRegistration DocumentType = "vehicle_registration"
	BirthCertificate    DocumentType = "birth_certificate"
	MarriageCertificate DocumentType = "marriage_certificate"
	Diploma             DocumentType = "diploma"
	// Licence is kept in a hosted registry (package registries), not read
	// from an integrated one.
	Licence DocumentType = "licence"
	// ServiceResult is an agency's signed result of a public service,
	// received with a case (package cases), not read from a registry.
	ServiceResult DocumentType = "service_result"
)

// DocumentTypes lists every known type, in display order.
var DocumentTypes = []DocumentType{IDCard, Passport, DrivingLicence, VehicleRegistration, BirthCertificate, MarriageCertificate, Diploma}

// HostedTypes lists the types that hosted registries keep (package
// registries): no integrated registry answers them.
var HostedTypes = []DocumentType{Licence}

// ResultSourcePrefix begins the source of every agency's result in a wallet
// ("agency:{organisation id}"): stored when the result arrives, not fetched
// by Refresh.
const ResultSourcePrefix = "agency:"

// Valid reports whether t is a known type.
func (t DocumentType) Valid() bool {
	for _, k := range DocumentTypes {
		if k == t {
			return true
		}
	}
	return false
}

// Document statuses.
const (
	StatusValid   = "valid"
	StatusExpired = "expired"
	StatusRevoked = "revoked"
)

// Record is what one source registry holds about one document of a subject.
type Record struct {
	Source     string            `json:"source"`    // the registry it came from
	Type       DocumentType      `json:"type"`      // what it becomes
	Number     string            `json:"number"`    // registry's own number, unique per type
	Issuer     string            `json:"issuer"`    // issuing authority id (signs the document)
	Subject    IIN               `json:"subject"`   // whose document it is
	Fields     map[string]string `json:"fields"`    // type-specific content
	IssuedAt   time.Time         `json:"issued_at"` // a date
	ValidUntil *time.Time        `json:"valid_until,omitempty"`
	Revoked    bool              `json:"revoked,omitempty"`
}

// Source is one integrated source registry.
type Source interface {
	// Name identifies the source ("population", "transport", ...).
	Name() string
	// Records returns the records that this registry holds for iin (none is
	// not an error). EUNAVAILABLE if the registry cannot be reached or answers
	// garbage.
	Records(ctx context.Context, iin IIN) ([]Record, error)
}

// StoredDocument is a document as kept by the Store: what it is and its
// latest version.
type StoredDocument struct {
	ID         string
	SubjectIIN IIN
	Type       DocumentType
	Source     string
	FetchedAt  time.Time // last time its source answered for the subject
	Latest     Version
}

// Version is one immutable version of a document. Versions are append-only
// and hash-chained: Hash covers PrevHash, Content and JWS.
type Version struct {
	DocumentID string
	Version    int    // 1, 2, ...
	Content    []byte // canonical JSON of the document content
	JWS        string // compact JWS over the content, signed by the issuer
	PrevHash   string // hex; "" for version 1
	Hash       string // hex SHA-256
	CreatedAt  time.Time
	// LogIndex is the index of the version's leaf in the history log,
	// which anchors the chain's head; -1 if it has none.
	LogIndex int64
}

// DocumentStore reads documents and their versions; versions are written
// by wallet.Change (AppendVersion), each with its leaf.
type DocumentStore interface {
	// MarkFetched records that source answered for subject at t, for every
	// document of that subject from that source.
	MarkFetched(ctx context.Context, subject IIN, source string, t time.Time) error
	// Documents returns the subject's documents with their latest versions,
	// ordered by type then id.
	Documents(ctx context.Context, subject IIN) ([]StoredDocument, error)
	// Document returns one document with its latest version. ENOTFOUND.
	Document(ctx context.Context, id string) (StoredDocument, error)
	// Versions returns all versions of a document, oldest first. ENOTFOUND
	// if the document does not exist.
	Versions(ctx context.Context, id string) ([]Version, error)
}
