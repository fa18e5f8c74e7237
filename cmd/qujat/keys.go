package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/qujat/qujat/integrations/sources"
	"github.com/qujat/qujat/wallet/keyfiles"
)

// runKeys manages the issuers' signing keys: `qujat keys list` and
// `qujat keys rotate --issuer kz-mia [--alg ES256]`. Old public keys stay
// published so older documents still verify; a running service picks up a
// rotated key when restarted.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	const (
		list       = "qujat keys list [flags]"
		rotate     = "qujat keys rotate --issuer ID [--alg EdDSA|ES256] [flags]"
		compromise = "qujat keys compromise --kid KID [--at RFC3339] [flags]"
	)
	if len(args) == 0 {
		return usageError{"usage: " + list + " | " + rotate + " | " + compromise}
	}
	sub, rest := args[0], args[1:]
	var fs *flag.FlagSet
	switch {
	case sub == "list":
		fs = newFlagSet("keys list", list+"\nlist the issuers' signing keys, current and retired", stdout)
	case sub == "rotate":
		fs = newFlagSet("keys rotate", rotate+"\ngive an issuer a new signing key; older keys stay published", stdout)
	case sub == "compromise":
		fs = newFlagSet("keys compromise", compromise+"\nmark any of Qujat's keys (issuer, staff, exchange) compromised from that time, make its replacement and tell every agency", stdout)
	case isHelpArg(sub):
		sub, rest = "", args
		fs = newFlagSet("keys", list+"\n       "+rotate+"\n       "+compromise, stdout)
	default:
		return usageError{fmt.Sprintf("keys: unknown subcommand %q (see qujat keys --help)", sub)}
	}
	var issuer, alg, kid, at *string
	if sub == "compromise" || sub == "" {
		kid = fs.String("kid", "", "the compromised key's kid (compromise)")
		at = fs.String("at", "", "from when it is compromised, RFC 3339 (compromise; default now)")
	}
	if sub != "list" && sub != "compromise" {
		issuer = fs.String("issuer", "", "issuer id (kz-mia, kz-moj, kz-edu)")
		alg = fs.String("alg", "", "algorithm of the new key: EdDSA or ES256 (default QUJAT_DOCUMENT_KEY_ALG)")
	}
	cfg, err := loadConfig(getenv, fs, rest)
	if err != nil {
		return err
	}
	if sub == "compromise" {
		return runKeysCompromise(ctx, cfg, *kid, *at, stdout)
	}
	ids := make([]string, 0, 3)
	for _, is := range sources.Issuers() {
		ids = append(ids, is.ID)
	}
	ring, err := keyfiles.Open(filepath.Join(cfg.DataDir, "keys"), ids, cfg.DocumentKeyAlg)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		for _, k := range ring.PublicKeys() {
			state := "current"
			if k.Retired {
				state = "retired"
			}
			fmt.Fprintf(stdout, "%-8s %-32s %-6s %s %s\n", k.Issuer, k.KID, k.Alg, k.CreatedAt.Format("2006-01-02"), state)
		}
		return nil
	case "rotate":
		if *issuer == "" {
			return usageError{"keys rotate: --issuer is required"}
		}
		if *alg == "" {
			*alg = cfg.DocumentKeyAlg
		}
		kid, err := ring.Rotate(*issuer, *alg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "issuer %s now signs with %s (%s); older keys stay published\n", *issuer, kid, *alg)
		return nil
	default:
		return usageError{fmt.Sprintf("keys: unknown subcommand %q", sub)}
	}
}
