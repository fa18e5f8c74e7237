package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/qujat/qujat/cases"
	"github.com/qujat/qujat/wallet"
)

// runAgencies registers agencies for the exchange: `qujat agencies register
// --organisation ID --endpoint URL --signing-key FILE --encryption-key FILE
// --time-zone ZONE --calendar kz|ru` (public JWKs; the agency keeps its
// private keys) and `qujat agencies list`. It uses the same configuration
// as the service.
func runAgencies(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	const (
		register = "qujat agencies register --organisation ID --endpoint URL --signing-key FILE --encryption-key FILE --time-zone ZONE --calendar kz|ru [flags]"
		list     = "qujat agencies list [flags]"
	)
	if len(args) == 0 {
		return usageError{"usage: " + register + " | " + list}
	}
	sub, rest := args[0], args[1:]
	var fs *flag.FlagSet
	switch {
	case sub == "register":
		fs = newFlagSet("agencies register", register+"\nregister (or update) an agency's endpoint and public keys for the exchange of cases", stdout)
	case sub == "list":
		fs = newFlagSet("agencies list", list+"\nlist the agencies and their keys", stdout)
	case isHelpArg(sub):
		sub, rest = "", args
		fs = newFlagSet("agencies", register+"\n       "+list, stdout)
	default:
		return usageError{fmt.Sprintf("agencies: unknown subcommand %q (see qujat agencies --help)", sub)}
	}
	var org, endpoint, sigFile, encFile, zone, cal *string
	if sub != "list" {
		org = fs.String("organisation", "", "the agency's client id (a client of kind gov)")
		endpoint = fs.String("endpoint", "", "URL where the agency takes packages")
		sigFile = fs.String("signing-key", "", "file with the agency's public signing key (JWK: EC P-256 or Ed25519)")
		encFile = fs.String("encryption-key", "", "file with the agency's public encryption key (JWK: EC P-256)")
		zone = fs.String("time-zone", "Asia/Almaty", "the agency's IANA time zone (its days of receipt)")
		cal = fs.String("calendar", "kz", "the agency's production calendar: kz or ru")
	}
	cfg, err := loadConfig(getenv, fs, rest)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if sub == "register" {
		var missing []string
		for name, v := range map[string]string{"--organisation": *org, "--endpoint": *endpoint, "--signing-key": *sigFile, "--encryption-key": *encFile} {
			if v == "" {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return usageError{fmt.Sprintf("agencies register: %v required", missing)}
		}
	}
	calendars, err := openCalendars(cfg)
	if err != nil {
		return err
	}
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	ag := &cases.Agencies{Store: st, Calendars: calendars, Now: time.Now}
	switch sub {
	case "register":
		sig, err := os.ReadFile(*sigFile)
		if err != nil {
			return fmt.Errorf("--signing-key: %w", err)
		}
		enc, err := os.ReadFile(*encFile)
		if err != nil {
			return fmt.Errorf("--encryption-key: %w", err)
		}
		a, keys, err := ag.Register(ctx, cases.Registration{OrganisationID: *org, Endpoint: *endpoint, SigningKey: sig, EncryptionKey: enc, TimeZone: *zone, Calendar: *cal})
		if err != nil {
			return fmt.Errorf("%s", wallet.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "agency:         %s\nendpoint:       %s\ntime zone:      %s (calendar %s)\nsigning key:    %s\nencryption key: %s\n",
			a.OrganisationID, a.Endpoint, a.TimeZone, a.Calendar, keys[0].KID, keys[1].KID)
		return nil
	default:
		list, err := st.Agencies(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "AGENCY\tENDPOINT\tZONE\tCALENDAR\tKEY\tUSE\tSTATE")
		for _, a := range list {
			keys, err := st.AgencyKeys(ctx, a.OrganisationID)
			if err != nil {
				return err
			}
			for _, k := range keys {
				state := "current"
				switch {
				case k.CompromisedAt != nil:
					state = "compromised " + k.CompromisedAt.Format(time.RFC3339)
				case k.RetiredAt != nil:
					state = "retired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.OrganisationID, a.Endpoint, a.TimeZone, a.Calendar, k.KID, k.Use, state)
			}
		}
		return tw.Flush()
	}
}
