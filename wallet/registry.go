package wallet

import (
	"context"
	"time"
)

// Hosted registries: a state body that keeps no registry system of its own
// keeps its records in Qujat. A record's published versions are the legal
// fact: each is signed by an official with their own key, hash-chained to
// the one before and anchored by a leaf of the history log; none is ever
// changed or deleted.

// Registry version states as stored. A published version that a later one
// replaced is shown as superseded (RegistrySuperseded): that is derived,
// never written, so a published row is never updated.
const (
	RegistryDraft      = "draft"
	RegistryPublished  = "published"
	RegistryRevoked    = "revoked"
	RegistrySuperseded = "superseded"
)

// Holder kinds of a registry record.
const (
	HolderCitizen  = "iin" // a citizen, by IIN
	HolderBusiness = "bin" // a legal entity, by BIN
)

// Registry is a hosted registry: settings, registered by an administrator
// (qujat registries create), written by plain Store methods.
type Registry struct {
	Code           string // "licences": the URL's /r/{code}/…
	Name           string
	OrganisationID string // the gov client whose officials keep it
	DocumentType   DocumentType
	CreatedAt      time.Time
}

// RegistryRecord is one record of a hosted registry: who holds it. Its
// content is in its versions.
type RegistryRecord struct {
	Registry   string
	Number     string
	HolderKind string // HolderCitizen or HolderBusiness
	HolderID   string // the IIN or the BIN
	HolderName string
	CreatedBy  string // the official who made the first draft
	CreatedAt  time.Time
}

// RegistryVersion is one version of a record. A draft has no signature and
// no hash; a signed version (published or revoked) has its JWS, the
// canonical content that the JWS signs, and Hash = VersionHash(PrevHash,
// Content, JWS), PrevHash being the Hash of the signed version before.
type RegistryVersion struct {
	Registry   string
	Number     string
	Version    int
	Status     string            // RegistryDraft, RegistryPublished or RegistryRevoked
	Fields     map[string]string // the record's content
	ValidUntil *time.Time
	Reason     string // why it was revoked
	CreatedBy  string // staff id
	CreatedAt  time.Time
	SignedBy   string // staff id; "" for a draft
	SignerName string
	SignedAt   *time.Time
	Content    []byte // canonical JSON signed by JWS; nil for a draft
	JWS        string
	PrevHash   string
	Hash       string
}

// Signed reports whether the version is signed (published or revoked).
func (v RegistryVersion) Signed() bool { return v.Status != RegistryDraft }

// Extract is a printed extract of a document: which version it shows, for
// its public check page /e/{ID}.
type Extract struct {
	ID         string // "ext_…", at least 128 random bits
	DocumentID string
	OwnerIIN   IIN
	Version    int
	Hash       string
	Lang       string
	MadeBy     string // the citizen who asked (the owner or a guardian)
	CreatedAt  time.Time
}

// RegistryStore keeps hosted registries (settings) and reads their records
// and extracts, which are written through Change.
type RegistryStore interface {
	// CreateRegistry stores a new registry. ECONFLICT if the code exists.
	CreateRegistry(ctx context.Context, r Registry) error
	// Registry returns one registry. ENOTFOUND.
	Registry(ctx context.Context, code string) (Registry, error)
	// Registries returns every registry, by code.
	Registries(ctx context.Context) ([]Registry, error)
	// RegistryRecord returns a record with all its versions, oldest first.
	// ENOTFOUND.
	RegistryRecord(ctx context.Context, code, number string) (RegistryRecord, []RegistryVersion, error)
	// Extract returns one extract. ENOTFOUND.
	Extract(ctx context.Context, id string) (Extract, error)
}

// CreateRegistryRecord stores a new record of an existing registry (its
// first version follows as an AppendRegistryVersion). ECONFLICT if the
// number exists in the registry; ENOTFOUND if there is no such registry.
type CreateRegistryRecord struct{ Record RegistryRecord }

// AppendRegistryVersion stores the next version of a record: a draft, or a
// signed version (a revocation). ECONFLICT, nothing written, unless
// Version.Version is one more than the record's last version, the last
// version is signed and not revoked, and, for a signed version, PrevHash is
// the Hash of the last version ("" for version 1).
type AppendRegistryVersion struct{ Version RegistryVersion }

// SignRegistryVersion publishes a draft: its status becomes Status
// (published), with its signer, time, content, JWS and hashes. ECONFLICT,
// nothing written, if the version is not a draft or PrevHash is not the
// Hash of the version before ("" for version 1); ENOTFOUND if there is no
// such version.
type SignRegistryVersion struct{ Version RegistryVersion }

// CreateExtract stores an extract. ECONFLICT if the id exists.
type CreateExtract struct{ Extract Extract }

func (CreateRegistryRecord) What() string  { return "create registry record" }
func (AppendRegistryVersion) What() string { return "append registry version" }
func (SignRegistryVersion) What() string   { return "sign registry version" }
func (CreateExtract) What() string         { return "create extract" }

// Event kinds of hosted registries and extracts. Draft events belong to no
// citizen's history (SubjectIIN empty, the official is the party); a
// publication or a revocation of a citizen's record is in their history.
const (
	EventRegistryDraft     = "registry_draft"
	EventRegistryPublished = "registry_published"
	EventRegistryRevoked   = "registry_revoked"
	EventExtractMade       = "extract_made"
)

// Check refuses a version that a store must not write: EINVALID for a
// missing registry or number, a version below 1, an unknown status, a draft
// with a signature or a signed version without its signer, time, content,
// JWS or hash.
func (v RegistryVersion) Check(what string) error {
	bad := func(why string) error { return Errorf(EINVALID, "%s: %s", what, why) }
	switch {
	case v.Registry == "" || v.Number == "":
		return bad("registry and number are required")
	case v.Version < 1 || v.Version > 1<<30:
		return bad("the version is out of range")
	}
	switch v.Status {
	case RegistryDraft:
		if v.JWS != "" || v.Hash != "" || v.SignedAt != nil || v.Content != nil {
			return bad("a draft is not signed")
		}
	case RegistryPublished, RegistryRevoked:
		if v.JWS == "" || v.Hash == "" || v.SignedAt == nil || len(v.Content) == 0 || v.SignedBy == "" {
			return bad("a signed version needs its signer, time, content, JWS and hash")
		}
	default:
		return bad("unknown status " + v.Status)
	}
	return nil
}
