package registries

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/qujat/qujat/wallet"
)

// state is a record's published state: its current (last signed) version
// and its status now.
type state struct {
	current wallet.RegistryVersion
	status  string // valid, expired or revoked
	signed  []wallet.RegistryVersion
}

// stateOf returns the record's state at now; current.Version is 0 when no
// version is signed.
func stateOf(versions []wallet.RegistryVersion, now time.Time) state {
	var st state
	for _, v := range versions {
		if v.Signed() {
			st.current = v
			st.signed = append(st.signed, v)
		}
	}
	switch {
	case st.current.Version == 0:
	case st.current.Status == wallet.RegistryRevoked:
		st.status = wallet.StatusRevoked
	case st.current.ValidUntil != nil && st.current.ValidUntil.Before(now):
		st.status = wallet.StatusExpired
	default:
		st.status = wallet.StatusValid
	}
	return st
}

// VersionStatus is the status of one signed version now: the current
// version's is the record's (valid, expired, revoked); an older one is
// superseded.
func (st state) versionStatus(v wallet.RegistryVersion) string {
	if v.Version == st.current.Version {
		return st.status
	}
	return wallet.RegistrySuperseded
}

// PublicVersion is one signed version in the list of a published record.
type PublicVersion struct {
	Version  int       `json:"version"`
	Status   string    `json:"status"`
	SignedAt time.Time `json:"signed_at"`
	Hash     string    `json:"hash"`
	PrevHash string    `json:"prev_hash"`
	URL      string    `json:"url"`
}

// PublicRegistry names a registry on its published pages.
type PublicRegistry struct {
	Code         string `json:"code"`
	Name         string `json:"name"`
	Organisation string `json:"organisation"`
	DocumentType string `json:"document_type"`
}

// Published is a record as anyone may see it: one signed version (the
// current one, or an archived one), the record's state now, and every
// signed version. Drafts are never in it.
type Published struct {
	Registry PublicRegistry `json:"registry"`
	Number   string         `json:"number"`
	Status   string         `json:"status"` // of the version shown: valid|expired|revoked, or superseded
	Version  int            `json:"version"`
	Holder   struct {
		Name string `json:"name"`
	} `json:"holder"`
	Fields     map[string]string `json:"fields"`
	ValidUntil *time.Time        `json:"valid_until"`
	Reason     string            `json:"reason,omitempty"`
	SignedAt   time.Time         `json:"signed_at"`
	SignedBy   struct {
		Name string `json:"name"`
	} `json:"signed_by"`
	JWS      string `json:"jws"`
	Hash     string `json:"hash"`
	PrevHash string `json:"prev_hash"`
	// RecordStatus and CurrentVersion are the record's now, whichever
	// version is shown; CurrentURL is where the current version is.
	RecordStatus   string `json:"record_status"`
	CurrentVersion int    `json:"current_version"`
	CurrentURL     string `json:"current_url"`
	// Checked says the shown version's signature verifies with the
	// official's published key and the hash chain up to it is intact.
	Checked  bool            `json:"checked"`
	Versions []PublicVersion `json:"versions"`
	// DocumentType is the registry's document type (for titles and labels).
	DocumentType wallet.DocumentType `json:"-"`
}

// Published returns the record's current signed version for anyone; with
// version > 0, that signed version (archived ones too). ENOTFOUND if there
// is no such registry, record or signed version (a draft is never shown).
func (s *Service) Published(ctx context.Context, code, number string, version int) (Published, error) {
	notFound := wallet.Errorf(wallet.ENOTFOUND, "record: not found")
	if !codePattern.MatchString(code) || number == "" || len(number) > 64 {
		return Published{}, notFound
	}
	reg, err := s.Store.Registry(ctx, code)
	if err != nil {
		return Published{}, err
	}
	rec, versions, err := s.Store.RegistryRecord(ctx, code, number)
	if err != nil {
		return Published{}, err
	}
	st := stateOf(versions, s.now())
	if st.current.Version == 0 {
		return Published{}, notFound
	}
	shown := st.current
	if version > 0 {
		found := false
		for _, v := range st.signed {
			if v.Version == version {
				shown, found = v, true
			}
		}
		if !found {
			return Published{}, notFound
		}
	}
	orgName := reg.OrganisationID
	if org, err := s.Store.Client(ctx, reg.OrganisationID); err == nil {
		orgName = org.Name
	}
	p := Published{
		Registry: PublicRegistry{Code: reg.Code, Name: reg.Name, Organisation: orgName, DocumentType: string(reg.DocumentType)},
		Number:   rec.Number, Status: st.versionStatus(shown), Version: shown.Version, Fields: shown.Fields,
		ValidUntil: shown.ValidUntil, Reason: shown.Reason, SignedAt: *shown.SignedAt, JWS: shown.JWS, Hash: shown.Hash,
		PrevHash: shown.PrevHash, RecordStatus: st.status, CurrentVersion: st.current.Version,
		CurrentURL: s.PublicURL + RecordPath(reg.Code, rec.Number), DocumentType: reg.DocumentType,
	}
	p.Holder.Name = rec.HolderName
	p.SignedBy.Name = shown.SignerName
	for _, v := range st.signed {
		p.Versions = append(p.Versions, PublicVersion{Version: v.Version, Status: st.versionStatus(v), SignedAt: *v.SignedAt,
			Hash: v.Hash, PrevHash: v.PrevHash, URL: s.PublicURL + VersionPath(reg.Code, rec.Number, v.Version)})
	}
	p.Checked = s.check(st.signed, shown)
	return p, nil
}

// check verifies the signed versions up to shown: each chained to the one
// before, its hash recomputed, its JWS signed by the official it names
// with exactly the stored content.
func (s *Service) check(signed []wallet.RegistryVersion, shown wallet.RegistryVersion) bool {
	prev := ""
	for _, v := range signed {
		if v.PrevHash != prev || wallet.VersionHash(v.PrevHash, v.Content, v.JWS) != v.Hash {
			return false
		}
		prev = v.Hash
		if v.Version == shown.Version {
			claims, reason := s.parse(v.JWS)
			if reason != "" {
				return false
			}
			b, err := json.Marshal(claims.Record)
			return err == nil && bytes.Equal(b, v.Content)
		}
	}
	return false
}
