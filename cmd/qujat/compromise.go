package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/qujat/qujat/cases"
	"github.com/qujat/qujat/integrations/exchange"
	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/staff"
	"github.com/qujat/qujat/wallet"
	"github.com/qujat/qujat/wallet/keyfiles"
)

// runKeysCompromise is `qujat keys compromise --kid KID [--at TIME]`: the
// key (an issuer's, a staff member's or an exchange key) is recorded as
// compromised from that time, its holder gets a new key, and every
// registered agency gets a signed notice. A running service reads the new
// key when it next meets the compromised one.
func runKeysCompromise(ctx context.Context, cfg Config, kid, atFlag string, stdout io.Writer) error {
	if kid == "" {
		return usageError{"keys compromise: --kid is required"}
	}
	at := time.Now().UTC()
	if atFlag != "" {
		t, err := time.Parse(time.RFC3339, atFlag)
		if err != nil {
			return usageError{fmt.Sprintf("keys compromise: --at %q is not an RFC 3339 time", atFlag)}
		}
		at = t.UTC()
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	keysDir := filepath.Join(cfg.DataDir, "keys")
	ids := make([]string, 0, 3)
	for _, is := range sources.Issuers() {
		ids = append(ids, is.ID)
	}
	issuers, err := keyfiles.Open(keysDir, ids, cfg.DocumentKeyAlg)
	if err != nil {
		return err
	}
	staffKeys, err := openStaffKeys(cfg)
	if err != nil {
		return err
	}
	exKeys, err := exchange.OpenCentreKeys(keysDir)
	if err != nil {
		return err
	}
	var holder, replacement string
	switch {
	case exKeys.Owns(kid):
		use := wallet.KeyUseEnc
		if _, err := exKeys.VerificationKey(kid); err == nil {
			use = wallet.KeyUseSig
		}
		holder = "the centres' exchange key (" + use + ")"
		replacement, err = exKeys.Rotate(use)
	default:
		if k, ok := staffKeys.PublicKey(kid); ok {
			holder = "staff member " + k.Issuer
			replacement, err = staffKeys.Rotate(k.Issuer, k.Alg)
		} else if k, ok := issuers.PublicKey(kid); ok {
			holder = "issuer " + k.Issuer
			replacement, err = issuers.Rotate(k.Issuer, k.Alg)
		} else {
			return usageError{fmt.Sprintf("keys compromise: no key %q among the issuers', staff's and exchange keys", kid)}
		}
	}
	if err != nil {
		return err
	}
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.MarkKeyCompromised(ctx, wallet.KeyCompromise{KID: kid, At: at, RecordedAt: time.Now().UTC(), Replacement: replacement}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key %s of %s is compromised from %s; replaced by %s\n", kid, holder, at.Format(time.RFC3339), replacement)
	calendars, err := openCalendars(cfg)
	if err != nil {
		return err
	}
	if err := exKeys.Reload(); err != nil {
		return err
	}
	svc := &cases.Service{Store: st, Keys: exKeys, Staff: &staff.Service{Store: st, Keys: staffKeys}, Calendars: calendars, Now: time.Now}
	results, err := svc.NoticeAgencies(ctx, kid, at, replacement, nil)
	if err != nil {
		return err
	}
	for _, r := range results {
		state := "told"
		if !r.OK {
			state = "NOT told"
		}
		fmt.Fprintf(stdout, "  agency %s %s: %s\n", r.Agency, state, r.Detail)
	}
	return nil
}
