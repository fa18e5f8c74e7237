// Package extracts prints extracts of citizens' documents: a one-page PDF
// with the document's display form in the reader's language (kk, ru or
// en: labels from the locale catalogue), the holder, the issuer or the
// official who signed it, the version and its hash, the time of printing
// and a QR code that checks it. For a hosted registry's record the QR
// opens the published version's page (/r/{code}/{number}/versions/{v});
// for any other document it opens /e/{id}, a public page keyed by the
// extract's unguessable id that shows only what a reader of the extract
// needs. Making an extract is an event in the owner's history. The fonts
// (DejaVu Sans, with every Kazakh letter) are embedded in the binary.
package extracts

import (
	"context"
	"crypto/rand"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/locale"
	"github.com/qujat/qujat/registries"
	"github.com/qujat/qujat/wallet"
)

// Service makes extracts and answers their check pages. Store, Changes,
// Documents and Directory are required; Registries, if set, gives hosted
// records their published pages; Now and Rand default to time.Now and
// crypto/rand.
type Service struct {
	Store      wallet.Store
	Changes    wallet.Committer
	Documents  *wallet.DocumentService
	Registries *registries.Service
	Directory  wallet.Directory
	Now        func() time.Time
	Rand       io.Reader
	// PublicURL is the service's public base URL, the QR codes' prefix.
	PublicURL string
}

// Made is an extract just made: its PDF and what it records.
type Made struct {
	Extract wallet.Extract
	URL     string // what its QR code opens
	PDF     []byte
}

// Make prints an extract of doc (which the caller may read: authorize
// first) in lang, by caller (the owner or a guardian), and records it with
// the owner's extract_made event. Its QR code's URL starts with base, or
// PublicURL if base is empty. EUNAVAILABLE; EINTERNAL if the PDF cannot
// be made (nothing is recorded then).
func (s *Service) Make(ctx context.Context, caller wallet.IIN, doc wallet.Document, lang locale.Lang, base string) (Made, error) {
	if base == "" {
		base = s.PublicURL
	}
	stored, err := s.Store.Document(ctx, doc.ID)
	if err != nil {
		return Made{}, err
	}
	now := s.now()
	id, err := wallet.NewID(s.rand(), "ext_")
	if err != nil {
		return Made{}, err
	}
	e := wallet.Extract{ID: id, DocumentID: doc.ID, OwnerIIN: doc.SubjectIIN, Version: stored.Latest.Version,
		Hash: stored.Latest.Hash, Lang: string(lang), MadeBy: string(caller), CreatedAt: now}
	holder := string(doc.SubjectIIN)
	if c, err := s.Directory.Citizen(ctx, doc.SubjectIIN); err == nil {
		holder = c.Name
	}
	f := form{
		Lang: lang, Title: locale.Title(lang, doc.Type), Number: doc.Number, Holder: holder, HolderIIN: string(doc.SubjectIIN),
		Issuer: s.issuerName(ctx, doc.Issuer), IssuedAt: doc.IssuedAt, ValidUntil: doc.ValidUntil, Status: doc.Status,
		Fields: doc.Fields, Type: doc.Type, Version: e.Version, Hash: e.Hash, PrintedAt: now,
	}
	url := base + "/e/" + id
	if code, ok := registries.CodeOfSource(doc.Source); ok {
		if c, ok := registries.ClaimsOf(doc.JWS); ok && c.Registry == code {
			url = base + registries.VersionPath(code, c.Number, c.Version)
			f.SignedBy, f.Issuer, f.Registry = c.SignedBy.Name, c.Organisation.Name, c.RegistryName
			// The hash printed is the published version's, as its page shows it.
			if s.Registries != nil {
				p, err := s.Registries.Published(ctx, code, c.Number, c.Version)
				if err != nil && !wallet.IsCode(err, wallet.ENOTFOUND) {
					return Made{}, err
				}
				if err == nil {
					f.Hash, e.Hash = p.Hash, p.Hash
				}
			}
		}
	}
	f.URL = url
	pdf, err := render(f)
	if err != nil {
		return Made{}, err
	}
	ev, err := s.event(caller, e)
	if err != nil {
		return Made{}, err
	}
	if _, err := s.Changes.Commit(ctx, wallet.Change{Ops: []wallet.Op{wallet.CreateExtract{Extract: e}}, Events: []wallet.Event{ev}}); err != nil {
		return Made{}, err
	}
	return Made{Extract: e, URL: url, PDF: pdf}, nil
}

// event is the owner's extract_made event, acted by the owner or their
// guardian.
func (s *Service) event(caller wallet.IIN, e wallet.Extract) (wallet.Event, error) {
	id, err := wallet.NewTimeID(s.rand(), e.CreatedAt, "evt_")
	if err != nil {
		return wallet.Event{}, err
	}
	kind := wallet.ViewerCitizen
	if caller != e.OwnerIIN {
		kind = wallet.ViewerGuardian
	}
	return wallet.Event{ID: id, Kind: wallet.EventExtractMade, SubjectIIN: e.OwnerIIN, ActorKind: kind, ActorID: string(caller),
		ObjectID: e.ID, Details: map[string]string{"document_id": e.DocumentID, "version": strconv.Itoa(e.Version), "lang": e.Lang},
		At: e.CreatedAt, LogIndex: -1}, nil
}

// issuerName names an issuing authority (an integrated registry's issuer,
// or a hosted registry's organisation); its id if unknown.
func (s *Service) issuerName(ctx context.Context, id string) string {
	for _, i := range sources.Issuers() {
		if i.ID == id {
			return i.Name
		}
	}
	if c, err := s.Store.Client(ctx, id); err == nil {
		return c.Name
	}
	return id
}

// Check is what an extract's public page shows: only what its reader
// needs, the holder's name masked.
type Check struct {
	DocumentType wallet.DocumentType `json:"document_type"`
	Title        string              `json:"title"`
	Number       string              `json:"number"`
	Holder       struct {
		Name string `json:"name"`
	} `json:"holder"`
	Issuer         string    `json:"issuer"`
	IssuedAt       time.Time `json:"issued_at"`
	Version        int       `json:"version"`
	Hash           string    `json:"hash"`
	CurrentVersion int       `json:"current_version"`
	// Status is the document's now (valid, expired, revoked), or
	// superseded when a newer version replaced the extract's.
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// Check answers an extract's public page in lang. ENOTFOUND for an unknown
// id (or one not of the form ext_…).
func (s *Service) Check(ctx context.Context, id string, lang locale.Lang) (Check, error) {
	if !strings.HasPrefix(id, "ext_") || len(id) > 64 {
		return Check{}, wallet.Errorf(wallet.ENOTFOUND, "extract: not found")
	}
	e, err := s.Store.Extract(ctx, id)
	if err != nil {
		return Check{}, err
	}
	doc, err := s.Documents.Document(ctx, e.DocumentID)
	if err != nil {
		return Check{}, err
	}
	out := Check{DocumentType: doc.Type, Title: locale.Title(lang, doc.Type), Number: doc.Number,
		Issuer: s.issuerName(ctx, doc.Issuer), IssuedAt: doc.IssuedAt, Version: e.Version, Hash: e.Hash,
		CurrentVersion: doc.Version, Status: doc.Status, CreatedAt: e.CreatedAt}
	if e.Version != doc.Version {
		out.Status = wallet.RegistrySuperseded
	}
	name := string(doc.SubjectIIN)
	if c, err := s.Directory.Citizen(ctx, doc.SubjectIIN); err == nil {
		name = c.Name
	}
	out.Holder.Name = Mask(name)
	return out, nil
}

// Mask keeps the first letter of each word of a name and hides the rest:
// "Aidos Nurlanov" → "A**** N*******".
func Mask(name string) string {
	words := strings.Fields(name)
	for i, w := range words {
		r, size := utf8.DecodeRuneInString(w)
		words[i] = string(r) + strings.Repeat("*", utf8.RuneCountInString(w[size:]))
	}
	return strings.Join(words, " ")
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
