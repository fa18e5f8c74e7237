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
		list   = "qujat keys list [flags]"
		rotate = "qujat keys rotate --issuer ID [--alg EdDSA|ES256] [flags]"
	)
	if len(args) == 0 {
		return usageError{"usage: " + list + " | " + rotate}
	}
	sub, rest := args[0], args[1:]
	var fs *flag.FlagSet
	switch {
	case sub == "list":
		fs = newFlagSet("keys list", list+"\nlist the issuers' signing keys, current and retired", stdout)
	case sub == "rotate":
		fs = newFlagSet("keys rotate", rotate+"\ngive an issuer a new signing key; older keys stay published", stdout)
	case isHelpArg(sub):
		sub, rest = "", args
		fs = newFlagSet("keys", list+"\n       "+rotate, stdout)
	default:
		return usageError{fmt.Sprintf("keys: unknown subcommand %q (see qujat keys --help)", sub)}
	}
	var issuer, alg *string
	if sub != "list" {
		issuer = fs.String("issuer", "", "issuer id (kz-mia, kz-moj, kz-edu)")
		alg = fs.String("alg", "", "algorithm of the new key: EdDSA or ES256 (default QUJAT_DOCUMENT_KEY_ALG)")
	}
	cfg, err := loadConfig(getenv, fs, rest)
	if err != nil {
		return err
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
