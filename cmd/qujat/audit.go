package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/history"
)

// auditFailed is a log that failed its audit (exit code 3, distinct from
// usage and other errors).
type auditFailed struct{ err error }

func (a auditFailed) Error() string { return a.err.Error() }

// runAudit is `qujat audit verify [--verifier-key KEY]`: it recomputes the
// history log's tree from the stored leaves and checks every checkpoint's
// signature and root, the consistency between successive checkpoints and
// every subject's chain, then every view, event and document version
// against its leaf and every document's version chain (history.Audit). It
// exits 3 naming the first bad index, row or document.
func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageError{"usage: qujat audit verify [--verifier-key KEY]"}
	}
	fs := newFlagSet("audit verify", "qujat audit verify [--verifier-key KEY] [flags]\ncheck the history log (tree, checkpoints, subjects' chains) and every history row and document chain against it", stdout)
	vkey := fs.String("verifier-key", "", "the log's published note verifier key (default: the one in the data directory)")
	cfg, err := loadConfig(getenv, fs, args[1:])
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *vkey == "" {
		// Read only: an audit never creates keys.
		keys, err := historylog.LoadKeys(filepath.Join(cfg.DataDir, "keys"), cfg.LogOrigin)
		if wallet.IsCode(err, wallet.ENOTFOUND) {
			return fmt.Errorf("history log keys: %s; audit verify creates no keys: point --data-dir (QUJAT_DATA_DIR) at the service's data directory or give --verifier-key", wallet.ErrorMessage(err))
		}
		if err != nil {
			return fmt.Errorf("history log keys: %w", err)
		}
		*vkey = keys.VerifierKey
	}
	if cfg.DatabaseURL == "" {
		// Read only: an audit never creates the database either.
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "qujat.db")); err != nil {
			return fmt.Errorf("no database in %s (%v); audit verify creates none: point --data-dir (QUJAT_DATA_DIR) at the service's data directory", cfg.DataDir, err)
		}
	}
	st, where, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := history.Audit(ctx, st, *vkey)
	var (
		ae *historylog.AuditError
		re *history.RowError
	)
	switch {
	case errors.As(err, &ae):
		fmt.Fprintf(stdout, "FAIL: %v\n", ae)
		return auditFailed{ae}
	case errors.As(err, &re):
		fmt.Fprintf(stdout, "FAIL: %v\n", re)
		return auditFailed{re}
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "OK: history log in %s verified\n", where)
	fmt.Fprintf(stdout, "  leaves %d, root %s\n  checkpoints %d, subjects %d, payloads %d (erased %d)\n",
		rep.Log.Size, base64.StdEncoding.EncodeToString(rep.Log.Root[:]), rep.Log.Checkpoints, rep.Log.Subjects, rep.Log.Payloads, rep.Log.ErasedPayloads)
	fmt.Fprintf(stdout, "  views %d, events %d, document versions %d in %d documents: each with its leaf, each leaf with its row, every chain intact\n",
		rep.Views, rep.Events, rep.Versions, rep.Documents)
	return nil
}
