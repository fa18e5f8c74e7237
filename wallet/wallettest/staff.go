package wallettest

import (
	"context"
	"testing"
	"time"

	"github.com/qujat/qujat/wallet"
)

// staffTests are the conformance cases of the staff store.
var staffTests = []struct {
	name string
	fn   func(t *testing.T, s *logged)
}{
	{"Staff_CreateReadListDisable", testStaff},
	{"Staff_OneActiveRecordPerIIN", testStaffOneActivePerIIN},
}

func testStaff(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.CreateClient(ctx, wallet.Client{ID: "psc-1", Name: "Centre", Kind: "service_centre", SecretHash: "h", CreatedAt: t0}))
	op := wallet.StaffMember{ID: "stf_a", OrganisationID: "psc-1", IIN: alice, Name: "Aigerim", Role: wallet.RoleOperator, KeyID: "k1", CreatedAt: t0.Add(time.Minute)}
	other := wallet.StaffMember{ID: "stf_b", OrganisationID: "psc-1", IIN: bob, Name: "Bolat", Role: wallet.RoleOperator, KeyID: "k2", CreatedAt: t0}
	must(t, s.CreateStaff(ctx, op))
	must(t, s.CreateStaff(ctx, other))
	wantCode(t, s.CreateStaff(ctx, wallet.StaffMember{ID: "stf_a", OrganisationID: "psc-1", IIN: carol, Name: "x", Role: wallet.RoleOperator, KeyID: "k3", CreatedAt: t0}), wallet.ECONFLICT)
	wantCode(t, s.CreateStaff(ctx, wallet.StaffMember{ID: "stf_c", OrganisationID: "nobody", IIN: carol, Name: "x", Role: wallet.RoleOperator, KeyID: "k3", CreatedAt: t0}), wallet.ENOTFOUND)

	stored := func(m wallet.StaffMember) wallet.StaffMember {
		m.CreatedAt = us(m.CreatedAt)
		if m.DisabledAt != nil {
			m.DisabledAt = usp(*m.DisabledAt)
		}
		return m
	}
	got, err := s.StaffMember(ctx, "stf_a")
	must(t, err)
	equal(t, "staff member", got, stored(op))
	got, err = s.ActiveStaffByIIN(ctx, alice)
	must(t, err)
	equal(t, "by IIN", got, stored(op))
	list, err := s.Staff(ctx)
	must(t, err)
	equal(t, "staff", list, []wallet.StaffMember{stored(other), stored(op)})

	_, err = s.StaffMember(ctx, "stf_none")
	wantCode(t, err, wallet.ENOTFOUND)
	wantCode(t, s.DisableStaff(ctx, "stf_none", t0), wallet.ENOTFOUND)

	at := t0.Add(time.Hour)
	must(t, s.DisableStaff(ctx, "stf_a", at))
	must(t, s.DisableStaff(ctx, "stf_a", at.Add(time.Hour)))
	got, err = s.StaffMember(ctx, "stf_a")
	must(t, err)
	equal(t, "disabled at", got.DisabledAt, usp(at))
	_, err = s.ActiveStaffByIIN(ctx, alice)
	wantCode(t, err, wallet.ENOTFOUND)
}

func testStaffOneActivePerIIN(t *testing.T, s *logged) {
	ctx := context.Background()
	must(t, s.CreateClient(ctx, wallet.Client{ID: "psc-1", Name: "Centre", Kind: "service_centre", SecretHash: "h", CreatedAt: t0}))
	must(t, s.CreateClient(ctx, wallet.Client{ID: "gov-1", Name: "Ministry", Kind: "gov", SecretHash: "h", CreatedAt: t0}))
	first := wallet.StaffMember{ID: "stf_1", OrganisationID: "psc-1", IIN: alice, Name: "A", Role: wallet.RoleOperator, KeyID: "k1", CreatedAt: t0}
	must(t, s.CreateStaff(ctx, first))
	second := wallet.StaffMember{ID: "stf_2", OrganisationID: "gov-1", IIN: alice, Name: "A", Role: wallet.RoleOfficial, KeyID: "k2", CreatedAt: t0}
	wantCode(t, s.CreateStaff(ctx, second), wallet.ECONFLICT)
	must(t, s.DisableStaff(ctx, "stf_1", t0))
	must(t, s.CreateStaff(ctx, second))
	got, err := s.ActiveStaffByIIN(ctx, alice)
	must(t, err)
	equal(t, "active", got.ID, "stf_2")
}
