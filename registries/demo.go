package registries

import (
	"context"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/wallet"
)

// The demo registry of licences (development only, beside the demo
// registry's citizens): a state body, one of the demo citizens as its
// official, and the registry they keep.
const (
	DemoCode         = "licences"
	DemoName         = "Licences (demo)"
	DemoOrganisation = "Licensing Committee (demo)"
	// DemoOfficialIIN is Olzhas Smagulov of the demo registry: his sign-in
	// codes go to the phone the demo registry lists for him.
	DemoOfficialIIN  = wallet.IIN("790808391306")
	DemoOfficialName = "Olzhas Smagulov"
)

// SeedDemo makes the demo registry of licences unless it exists: a gov
// client, the official (a staff member with their signing key) and the
// registry. It reports whether it made them. EINVALID if the official's
// IIN is already someone's staff record; store errors as they are.
func (s *Service) SeedDemo(ctx context.Context, clients *consent.Service) (bool, error) {
	if _, err := s.Store.Registry(ctx, DemoCode); err == nil {
		return false, nil
	} else if !wallet.IsCode(err, wallet.ENOTFOUND) {
		return false, err
	}
	org, _, err := clients.CreateClient(ctx, DemoOrganisation, consent.KindGov, []wallet.DocumentType{wallet.IDCard})
	if err != nil {
		return false, err
	}
	if _, err := s.Staff.Create(ctx, org.ID, DemoOfficialIIN, DemoOfficialName, wallet.RoleOfficial); err != nil {
		return false, err
	}
	if _, err := s.Create(ctx, DemoCode, DemoName, org.ID, wallet.Licence); err != nil {
		return false, err
	}
	return true, nil
}
