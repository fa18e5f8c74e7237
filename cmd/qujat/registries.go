package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/qujat/qujat/registries"
	"github.com/qujat/qujat/wallet"
)

// runRegistries registers hosted registries: `qujat registries create
// --code CODE --name NAME --organisation GOV_CLIENT_ID --document-type TYPE`
// and `qujat registries list`. A registry is a setting, like a client: its
// records are kept by the organisation's officials through the API. It uses
// the same configuration (QUJAT_DATABASE_URL, QUJAT_DATA_DIR) as the service.
func runRegistries(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	const (
		create = "qujat registries create --code CODE --name NAME --organisation GOV_CLIENT_ID --document-type TYPE [flags]"
		list   = "qujat registries list [flags]"
	)
	if len(args) == 0 {
		return usageError{"usage: " + create + " | " + list}
	}
	sub, rest := args[0], args[1:]
	var fs = newFlagSet("registries", create+"\n       "+list, stdout)
	switch {
	case sub == "create":
		fs = newFlagSet("registries create", create+"\nregister a hosted registry kept by the officials of a state body (a gov client)", stdout)
	case sub == "list":
		fs = newFlagSet("registries list", list+"\nlist the hosted registries", stdout)
	case isHelpArg(sub):
		sub, rest = "", args
	default:
		return usageError{fmt.Sprintf("registries: unknown subcommand %q (see qujat registries --help)", sub)}
	}
	var code, name, org, typ *string
	if sub == "create" || sub == "" {
		code = fs.String("code", "", "the registry's code, in its public URLs /r/CODE/NUMBER: 2 to 32 of a-z, 0-9 and '-' (create)")
		name = fs.String("name", "", "the registry's name (create)")
		org = fs.String("organisation", "", "client id of the state body (kind gov) whose officials keep it (create)")
		typ = fs.String("document-type", "", fmt.Sprintf("the type of document its records are, one of %v (create)", wallet.HostedTypes))
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
	svc := &registries.Service{Store: st, Now: time.Now}
	switch sub {
	case "create":
		r, err := svc.Create(ctx, *code, *name, *org, wallet.DocumentType(*typ))
		if err != nil {
			return fmt.Errorf("%s", wallet.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "registry: %s\nrecords:  /r/%s/{number}\n", r.Code, r.Code)
		return nil
	case "list":
		rs, err := svc.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tNAME\tORGANISATION\tDOCUMENT TYPE\tCREATED")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Code, r.Name, r.OrganisationID, r.DocumentType, r.CreatedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	}
	return nil
}
