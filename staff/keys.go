package staff

import (
	"context"
	"encoding/json"
	"time"

	"github.com/qujat/qujat/wallet"
)

// Key statuses as published.
const (
	KeyActive      = "active"      // signs now
	KeyRetired     = "retired"     // signs nothing new; what it signed verifies
	KeyCompromised = "compromised" // nothing it signed from CompromisedAt is to be trusted (`qujat keys compromise`)
)

// PublishedKey is one staff member's public key with who holds it.
type PublishedKey struct {
	wallet.JWK
	StaffID      string `json:"staff_id"`
	Name         string `json:"name"`
	Organisation string `json:"organisation"`
	Role         string `json:"role"`
	Status       string `json:"status"`
	// CompromisedAt is set when the key is compromised: what it signed
	// from then on is refused.
	CompromisedAt *time.Time `json:"compromised_at,omitempty"`
}

// PublicKeys returns every staff member's keys, current and retired, by
// staff member (oldest first) then key age. A key is active while it is
// its holder's current key and the holder is active; otherwise retired; a
// key declared compromised (`qujat keys compromise`) is compromised.
// EUNAVAILABLE; EINTERNAL if the key store cannot be read.
func (s *Service) PublicKeys(ctx context.Context) ([]PublishedKey, error) {
	if s.Keys == nil {
		return []PublishedKey{}, nil
	}
	reads := s.Published
	if reads == nil {
		reads = s.Store
	}
	members, err := reads.Staff(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if _, ok := s.Keys.PublicKey(m.KeyID); !ok {
			// Made by another process (`qujat staff create`): read again.
			if err := s.Keys.Reload(); err != nil {
				return nil, err
			}
			break
		}
	}
	compromised := map[string]time.Time{}
	list, err := s.Store.KeyCompromises(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range list {
		compromised[k.KID] = k.At
	}
	byOwner := map[string][]wallet.PublicKey{}
	for _, k := range s.Keys.PublicKeys() {
		byOwner[k.Issuer] = append(byOwner[k.Issuer], k)
	}
	out := []PublishedKey{}
	for _, m := range members {
		keys := byOwner[m.ID]
		if len(keys) == 0 {
			continue
		}
		b, err := wallet.JWKS(keys)
		if err != nil {
			return nil, err
		}
		var set struct {
			Keys []wallet.JWK `json:"keys"`
		}
		if err := json.Unmarshal(b, &set); err != nil {
			return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot read key set")
		}
		for i, j := range set.Keys {
			status := KeyActive
			if keys[i].Retired || m.DisabledAt != nil {
				status = KeyRetired
			}
			var since *time.Time
			if at, ok := compromised[keys[i].KID]; ok {
				status, since = KeyCompromised, &at
			}
			out = append(out, PublishedKey{
				JWK: j, StaffID: m.ID, Name: m.Name, Organisation: m.OrganisationID, Role: m.Role, Status: status, CompromisedAt: since,
			})
		}
	}
	return out, nil
}
