package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/qujat/qujat/cases"
	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
)

// runExchange is `qujat exchange verify --case ID`: every signature and
// digest kept for the case, checked again from the stored bytes with the
// keys as they were; exit 3 when one does not hold.
func runExchange(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	const verify = "qujat exchange verify --case ID [flags]"
	if len(args) == 0 {
		return usageError{"usage: " + verify}
	}
	sub, rest := args[0], args[1:]
	if isHelpArg(sub) {
		sub, rest = "verify", args
	}
	if sub != "verify" {
		return usageError{fmt.Sprintf("exchange: unknown subcommand %q (see qujat exchange --help)", sub)}
	}
	fs := newFlagSet("exchange verify", verify+"\ncheck again every signature and digest kept for a case (items, seal, package, receipts, messages, result)", stdout)
	id := fs.String("case", "", "the case's id (case_…)")
	cfg, err := loadConfig(getenv, fs, rest)
	if err != nil {
		return err
	}
	if *id == "" {
		return usageError{"exchange verify: --case is required"}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := exchange.OpenCentreKeys(filepath.Join(cfg.DataDir, "keys"))
	if err != nil {
		return err
	}
	staffKeys, err := openStaffKeys(cfg)
	if err != nil {
		return err
	}
	calendars, err := openCalendars(cfg)
	if err != nil {
		return err
	}
	svc := &cases.Service{Store: st, Keys: keys, Staff: &staff.Service{Store: st, Keys: staffKeys}, Calendars: calendars, Now: time.Now}
	ev, err := svc.Verify(ctx, *id)
	if err != nil {
		return fmt.Errorf("%s", wallet.ErrorMessage(err))
	}
	c := ev.Case
	fmt.Fprintf(stdout, "case %s (%s) of %s to %s, package %s\n", c.ID, c.Status, c.OwnerIIN, c.AgencyID, c.PackageID)
	for _, ch := range ev.Checks {
		mark := "ok  "
		if !ch.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(stdout, "  %s %s", mark, ch.What)
		if ch.KID != "" {
			fmt.Fprintf(stdout, " (key %s)", ch.KID)
		}
		if ch.Detail != "" {
			fmt.Fprintf(stdout, ": %s", ch.Detail)
		}
		fmt.Fprintln(stdout)
	}
	if !ev.Valid {
		fmt.Fprintf(stdout, "FAIL: %d checks, not all hold\n", len(ev.Checks))
		return auditFailed{errors.New("a kept signature or digest of the case does not verify")}
	}
	fmt.Fprintf(stdout, "OK: %d checks hold\n", len(ev.Checks))
	return nil
}
