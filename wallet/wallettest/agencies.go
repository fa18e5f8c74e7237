package wallettest

import (
	"context"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// agencyTests are the conformance cases of the agency store.
var agencyTests = []struct {
	name string
	fn   func(t *testing.T, s *logged)
}{
	{"Agency_RegisterReadListAndRollKeys", testAgencyRegister},
	{"Agency_KeyConflictsAndCompromise", testAgencyKeyConflicts},
	{"KeyCompromises_KeepTheEarliest", testKeyCompromises},
}

func testAgencyRegister(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.CreateClient(ctx, wallet.Client{ID: "gov-1", Name: "Agency", Kind: "gov", SecretHash: "h", CreatedAt: t0}))
	a := wallet.Agency{OrganisationID: "gov-1", Endpoint: "http://127.0.0.1:9/x", TimeZone: "Asia/Almaty", Calendar: "kz", CreatedAt: t0, UpdatedAt: t0}
	sig := wallet.AgencyKey{KID: "s1", OrganisationID: "gov-1", Use: wallet.KeyUseSig, JWK: `{"kid":"s1"}`, CreatedAt: t0}
	enc := wallet.AgencyKey{KID: "e1", OrganisationID: "gov-1", Use: wallet.KeyUseEnc, JWK: `{"kid":"e1"}`, CreatedAt: t0}
	wantCode(t, s.RegisterAgency(ctx, wallet.Agency{OrganisationID: "nobody", Endpoint: "x", TimeZone: "UTC", Calendar: "kz", CreatedAt: t0, UpdatedAt: t0}, nil), wallet.ENOTFOUND)
	must(t, s.RegisterAgency(ctx, a, []wallet.AgencyKey{sig, enc}))
	must(t, s.RegisterAgency(ctx, a, []wallet.AgencyKey{sig, enc})) // twice: harmless
	got, err := s.Agency(ctx, "gov-1")
	must(t, err)
	stored := a
	stored.CreatedAt, stored.UpdatedAt = us(t0), us(t0)
	equal(t, "agency", got, stored)
	_, err = s.Agency(ctx, "gov-2")
	wantCode(t, err, wallet.ENOTFOUND)

	// Re-registration with a new signing key: endpoint replaced, old key retired, enc untouched.
	later := t0.Add(time.Hour)
	a2 := a
	a2.Endpoint, a2.UpdatedAt, a2.CreatedAt = "http://127.0.0.1:9/y", later, later
	sig2 := wallet.AgencyKey{KID: "s2", OrganisationID: "gov-1", Use: wallet.KeyUseSig, JWK: `{"kid":"s2"}`, CreatedAt: later}
	must(t, s.RegisterAgency(ctx, a2, []wallet.AgencyKey{sig2, enc}))
	got, err = s.Agency(ctx, "gov-1")
	must(t, err)
	equal(t, "endpoint", got.Endpoint, a2.Endpoint)
	equal(t, "created stays", got.CreatedAt, us(t0))
	equal(t, "updated", got.UpdatedAt, us(later))
	list, err := s.Agencies(ctx)
	must(t, err)
	equal(t, "agencies", len(list), 1)

	keys, err := s.AgencyKeys(ctx, "gov-1")
	must(t, err)
	equal(t, "keys", len(keys), 3)
	byKID := map[string]wallet.AgencyKey{}
	for _, k := range keys {
		byKID[k.KID] = k
	}
	equal(t, "s1 retired", byKID["s1"].RetiredAt, usp(later))
	equal(t, "s2 current", byKID["s2"].RetiredAt, (*time.Time)(nil))
	equal(t, "e1 current", byKID["e1"].RetiredAt, (*time.Time)(nil))
	k, err := s.AgencyKey(ctx, "s2")
	must(t, err)
	equal(t, "s2", k, wallet.AgencyKey{KID: "s2", OrganisationID: "gov-1", Use: wallet.KeyUseSig, JWK: `{"kid":"s2"}`, CreatedAt: us(later)})
}

func testAgencyKeyConflicts(t *testing.T, s *logged) {
	ctx := context.Background()
	for _, id := range []string{"gov-1", "gov-2"} {
		must(t, s.CreateClient(ctx, wallet.Client{ID: id, Name: "Agency", Kind: "gov", SecretHash: "h", CreatedAt: t0}))
	}
	a := wallet.Agency{OrganisationID: "gov-1", Endpoint: "x", TimeZone: "Asia/Almaty", Calendar: "kz", CreatedAt: t0, UpdatedAt: t0}
	must(t, s.RegisterAgency(ctx, a, []wallet.AgencyKey{{KID: "s1", OrganisationID: "gov-1", Use: wallet.KeyUseSig, JWK: `{"kid":"s1"}`, CreatedAt: t0}}))
	// Same kid, other material: refused, and nothing of that registration stays.
	a.Endpoint = "changed"
	wantCode(t, s.RegisterAgency(ctx, a, []wallet.AgencyKey{{KID: "s1", OrganisationID: "gov-1", Use: wallet.KeyUseSig, JWK: `{"kid":"s1","x":"other"}`, CreatedAt: t0}}), wallet.ECONFLICT)
	got, err := s.Agency(ctx, "gov-1")
	must(t, err)
	equal(t, "endpoint unchanged", got.Endpoint, "x")
	// Same kid for another agency: refused.
	b := wallet.Agency{OrganisationID: "gov-2", Endpoint: "y", TimeZone: "Europe/Moscow", Calendar: "ru", CreatedAt: t0, UpdatedAt: t0}
	wantCode(t, s.RegisterAgency(ctx, b, []wallet.AgencyKey{{KID: "s1", OrganisationID: "gov-2", Use: wallet.KeyUseSig, JWK: `{"kid":"s1"}`, CreatedAt: t0}}), wallet.ECONFLICT)

	wantCode(t, s.MarkAgencyKeyCompromised(ctx, "none", t0), wallet.ENOTFOUND)
	at := t0.Add(2 * time.Hour)
	must(t, s.MarkAgencyKeyCompromised(ctx, "s1", at))
	must(t, s.MarkAgencyKeyCompromised(ctx, "s1", at.Add(time.Hour))) // later: the earlier stays
	k, err := s.AgencyKey(ctx, "s1")
	must(t, err)
	equal(t, "compromised", k.CompromisedAt, usp(at))
	must(t, s.MarkAgencyKeyCompromised(ctx, "s1", t0)) // earlier: it moves back
	k, err = s.AgencyKey(ctx, "s1")
	must(t, err)
	equal(t, "compromised earlier", k.CompromisedAt, usp(t0))
}

func testKeyCompromises(t *testing.T, s *logged) {
	ctx := context.Background()
	list, err := s.KeyCompromises(ctx)
	must(t, err)
	equal(t, "none", len(list), 0)
	wantCode(t, s.MarkKeyCompromised(ctx, wallet.KeyCompromise{At: t0, RecordedAt: t0}), wallet.EINVALID)
	at := t0.Add(time.Hour)
	must(t, s.MarkKeyCompromised(ctx, wallet.KeyCompromise{KID: "k1", At: at, RecordedAt: t0}))
	must(t, s.MarkKeyCompromised(ctx, wallet.KeyCompromise{KID: "k1", At: at.Add(time.Hour), RecordedAt: t0, Replacement: "k2"})) // later: the earlier stays
	must(t, s.MarkKeyCompromised(ctx, wallet.KeyCompromise{KID: "k1", At: at.Add(-time.Minute), RecordedAt: t0, Replacement: "k3"}))
	list, err = s.KeyCompromises(ctx)
	must(t, err)
	equal(t, "one", len(list), 1)
	equal(t, "kept", list[0], wallet.KeyCompromise{KID: "k1", At: us(at.Add(-time.Minute)), RecordedAt: us(t0), Replacement: "k2"})
}
