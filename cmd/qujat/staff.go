package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
)

// openStaffKeys opens the staff members' signing keys: a key ring of its
// own under the data directory, kept like the issuer keys, in which each
// staff member is an "issuer".
func openStaffKeys(cfg Config) (*keyfiles.KeyRing, error) {
	ring, err := keyfiles.Open(filepath.Join(cfg.DataDir, "keys", "staff"), nil, "")
	if err != nil {
		return nil, fmt.Errorf("staff keys: %w", err)
	}
	return ring, nil
}

// runStaff registers and manages staff members: `qujat staff create
// --organisation ID --iin IIN --name NAME --role operator|official`,
// `qujat staff list`, `qujat staff disable --id …`. Each new staff member
// gets a signing key of their own, generated and kept like the issuer keys.
// It uses the same configuration (QUJAT_DATABASE_URL, QUJAT_DATA_DIR) as
// the service.
func runStaff(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	const (
		create  = "qujat staff create --organisation CLIENT_ID --iin IIN --name NAME --role operator|official [flags]"
		list    = "qujat staff list [flags]"
		disable = "qujat staff disable --id STAFF_ID [flags]"
	)
	if len(args) == 0 {
		return usageError{"usage: " + create + " | " + list + " | " + disable}
	}
	sub, rest := args[0], args[1:]
	var fs *flag.FlagSet
	switch {
	case sub == "create":
		fs = newFlagSet("staff create", create+"\nregister a staff member of a service centre (operator) or a state body (official) and make their signing key", stdout)
	case sub == "list":
		fs = newFlagSet("staff list", list+"\nlist the staff members", stdout)
	case sub == "disable":
		fs = newFlagSet("staff disable", disable+"\nrefuse the staff member's sign-in and tokens from now on; their key is published as retired", stdout)
	case isHelpArg(sub):
		sub, rest = "", args
		fs = newFlagSet("staff", create+"\n       "+list+"\n       "+disable, stdout)
	default:
		return usageError{fmt.Sprintf("staff: unknown subcommand %q (see qujat staff --help)", sub)}
	}
	var org, iin, name, role, id *string
	if sub == "create" || sub == "" {
		org = fs.String("organisation", "", "client id of the service centre or state body (create)")
		iin = fs.String("iin", "", "the staff member's IIN; codes go to the phone the registry lists for it (create)")
		name = fs.String("name", "", "the staff member's full name (create)")
		role = fs.String("role", "", "operator (service_centre) or official (gov) (create)")
	}
	if sub == "disable" || sub == "" {
		id = fs.String("id", "", "staff id (disable)")
	}
	cfg, err := loadConfig(getenv, fs, rest)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	var svc *staff.Service
	if sub == "create" {
		keys, err := openStaffKeys(cfg)
		if err != nil {
			return err
		}
		svc = &staff.Service{Store: st, Keys: keys, Now: time.Now}
	} else {
		svc = &staff.Service{Store: st, Now: time.Now}
	}
	switch sub {
	case "create":
		m, err := svc.Create(ctx, *org, wallet.IIN(*iin), *name, *role)
		if err != nil {
			return fmt.Errorf("%s", wallet.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "staff_id: %s\nkey_id:   %s\n", m.ID, m.KeyID)
		return nil
	case "list":
		ms, err := svc.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tORGANISATION\tIIN\tKEY\tCREATED\tSTATE")
		for _, m := range ms {
			state := "active"
			if m.DisabledAt != nil {
				state = "disabled " + m.DisabledAt.Format(time.DateOnly)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Name, m.Role, m.OrganisationID, m.IIN, m.KeyID, m.CreatedAt.Format(time.DateOnly), state)
		}
		return tw.Flush()
	case "disable":
		if *id == "" {
			return usageError{"staff disable: --id is required"}
		}
		if err := svc.Disable(ctx, *id); err != nil {
			return fmt.Errorf("%s", wallet.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "staff member %s disabled; their sign-in and tokens are refused from now on\n", *id)
		return nil
	default:
		return usageError{fmt.Sprintf("staff: unknown subcommand %q", sub)}
	}
}
