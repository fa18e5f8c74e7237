package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/qujat/qujat/consent"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
)

// runClients registers and manages organisation clients of the integration
// API: `qujat clients create --name … --kind bank|insurer|gov|service_centre
// --document-types id_card,passport`, `qujat clients list`,
// `qujat clients disable --id …`. The secret is printed once and kept only
// as a hash. It uses the same configuration (QUJAT_DATABASE_URL,
// QUJAT_DATA_DIR) as the service.
func runClients(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	const (
		create  = "qujat clients create --name NAME --kind bank|insurer|gov|service_centre [--document-types T1,T2] [flags]"
		list    = "qujat clients list [flags]"
		disable = "qujat clients disable --id ID [flags]"
	)
	if len(args) == 0 {
		return usageError{"usage: " + create + " | " + list + " | " + disable}
	}
	sub, rest := args[0], args[1:]
	var fs *flag.FlagSet
	switch {
	case sub == "create":
		fs = newFlagSet("clients create", create+"\nregister an organisation client; its secret is printed once", stdout)
	case sub == "list":
		fs = newFlagSet("clients list", list+"\nlist the organisation clients", stdout)
	case sub == "disable":
		fs = newFlagSet("clients disable", disable+"\nrefuse the client's calls from now on", stdout)
	case isHelpArg(sub):
		sub, rest = "", args
		fs = newFlagSet("clients", create+"\n       "+list+"\n       "+disable, stdout)
	default:
		return usageError{fmt.Sprintf("clients: unknown subcommand %q (see qujat clients --help)", sub)}
	}
	var name, kind, types, id *string
	if sub == "create" || sub == "" {
		name = fs.String("name", "", "organisation name (create)")
		kind = fs.String("kind", "", "bank, insurer, gov or service_centre (create)")
		types = fs.String("document-types", "", "comma-separated document types it is admitted for (create)")
	}
	if sub == "disable" || sub == "" {
		id = fs.String("id", "", "client id (disable)")
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
	pepper, err := keyfiles.LoadOrCreateSecret(filepath.Join(cfg.DataDir, "keys", "pepper.key"), 32)
	if err != nil {
		return fmt.Errorf("pepper: %w", err)
	}
	svc := &consent.Service{Store: st, Hasher: wallet.NewHasher(pepper), Now: time.Now}
	switch sub {
	case "create":
		var ts []wallet.DocumentType
		for _, t := range strings.Split(*types, ",") {
			if t = strings.TrimSpace(t); t != "" {
				ts = append(ts, wallet.DocumentType(t))
			}
		}
		cl, secret, err := svc.CreateClient(ctx, *name, *kind, ts)
		if err != nil {
			return fmt.Errorf("%s", wallet.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "client_id:     %s\nclient_secret: %s\n", cl.ID, secret)
		fmt.Fprintln(stdout, "The secret is shown only now; Qujat keeps only its hash.")
		return nil
	case "list":
		cls, err := svc.Clients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tKIND\tDOCUMENT TYPES\tCREATED\tSTATE")
		for _, c := range cls {
			state := "active"
			if c.DisabledAt != nil {
				state = "disabled " + c.DisabledAt.Format(time.DateOnly)
			}
			ts := make([]string, len(c.DocumentTypes))
			for i, t := range c.DocumentTypes {
				ts[i] = string(t)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Kind, strings.Join(ts, ","), c.CreatedAt.Format(time.DateOnly), state)
		}
		return tw.Flush()
	case "disable":
		if *id == "" && fs.NArg() == 0 {
			return usageError{"clients disable: --id is required"}
		}
		if err := svc.DisableClient(ctx, *id); err != nil {
			return fmt.Errorf("%s", wallet.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "client %s disabled; its calls are refused from now on\n", *id)
		return nil
	default:
		return usageError{fmt.Sprintf("clients: unknown subcommand %q", sub)}
	}
}
