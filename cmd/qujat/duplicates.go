package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/qujat/qujat/duplicates"
	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
)

// runDuplicates is `qujat duplicates purge`: it purges once every
// duplicate whose retention has ended (the service's worker does the same
// every minute), each scan's bytes deleted and its tombstone and the
// owner's duplicate_purged event committed with their history.
func runDuplicates(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	const purge = "qujat duplicates purge [flags]"
	if len(args) == 0 {
		return usageError{"usage: " + purge}
	}
	sub, rest := args[0], args[1:]
	if isHelpArg(sub) {
		sub, rest = "purge", args
	}
	if sub != "purge" {
		return usageError{fmt.Sprintf("duplicates: unknown subcommand %q (see qujat duplicates --help)", sub)}
	}
	fs := newFlagSet("duplicates purge", purge+"\ndelete the scans of the duplicates whose retention has ended, keeping their tombstones", stdout)
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
	keys, err := historylog.LoadOrCreateKeys(filepath.Join(cfg.DataDir, "keys"), cfg.LogOrigin)
	if err != nil {
		return fmt.Errorf("history log keys: %w", err)
	}
	hlog, err := historylog.New(historylog.Config{Store: st, Keys: keys})
	if err != nil {
		return err
	}
	defer hlog.Close()
	svc := &duplicates.Service{Store: st, Changes: history.Recorder{Log: hlog}, Now: time.Now}
	n, err := svc.PurgeDue(ctx)
	if err != nil {
		return fmt.Errorf("purged %d, then: %s", n, wallet.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "purged %d duplicate(s)\n", n)
	return nil
}
