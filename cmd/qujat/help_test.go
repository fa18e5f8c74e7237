package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelp_EveryCommandPrintsItsFlagsAndSucceeds runs each command with -h
// and --help: it must print its usage and every flag it takes to stdout,
// succeed, and create nothing (no data directory, no keys).
func TestHelp_EveryCommandPrintsItsFlagsAndSucceeds(t *testing.T) {
	common := []string{"addr", "data-dir"}
	cases := []struct {
		args  []string
		flags []string
	}{
		{[]string{"serve"}, common},
		{[]string{"migrate"}, common},
		{[]string{"keys"}, append([]string{"issuer", "alg", "kid", "at"}, common...)},
		{[]string{"keys", "compromise"}, append([]string{"kid", "at"}, common...)},
		{[]string{"keys", "list"}, common},
		{[]string{"keys", "rotate"}, append([]string{"issuer", "alg"}, common...)},
		{[]string{"clients"}, append([]string{"name", "kind", "document-types", "id"}, common...)},
		{[]string{"clients", "create"}, append([]string{"name", "kind", "document-types"}, common...)},
		{[]string{"clients", "list"}, common},
		{[]string{"clients", "disable"}, append([]string{"id"}, common...)},
		{[]string{"staff"}, append([]string{"organisation", "iin", "name", "role", "id"}, common...)},
		{[]string{"staff", "create"}, append([]string{"organisation", "iin", "name", "role"}, common...)},
		{[]string{"staff", "list"}, common},
		{[]string{"staff", "disable"}, append([]string{"id"}, common...)},
		{[]string{"duplicates", "purge"}, common},
		{[]string{"audit"}, append([]string{"verifier-key"}, common...)},
		{[]string{"audit", "verify"}, append([]string{"verifier-key"}, common...)},
		{[]string{"registry-sim"}, []string{"addr", "secret", "latency", "fail-rate", "fail", "garbage"}},
		{[]string{"bench"}, []string{"url", "duration", "concurrency", "phases", "json", "database-url",
			"redis-url", "sqlite", "pool", "citizens", "no-baselines"}},
		{[]string{"agencies"}, append([]string{"organisation", "endpoint", "signing-key", "encryption-key", "time-zone", "calendar"}, common...)},
		{[]string{"agencies", "register"}, append([]string{"organisation", "endpoint", "signing-key", "encryption-key", "time-zone", "calendar"}, common...)},
		{[]string{"agencies", "list"}, common},
		{[]string{"calendar"}, append([]string{"calendar", "at", "time-zone"}, common...)},
		{[]string{"calendar", "receipt-day"}, append([]string{"calendar", "at", "time-zone"}, common...)},
		{[]string{"agency-sim"}, []string{"addr", "keys", "qujat", "state", "delay", "reject-rate", "tamper-result", "slow", "drop-after", "calendar", "time-zone"}},
		{[]string{"agency-sim", "keygen"}, []string{"out"}},
		{[]string{"exchange"}, append([]string{"case"}, common...)},
		{[]string{"exchange", "verify"}, append([]string{"case"}, common...)},
		{[]string{"version"}, nil},
		{[]string{"help"}, nil},
	}
	for _, c := range cases {
		for _, h := range []string{"--help", "-h"} {
			args := append(append([]string(nil), c.args...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				dir := t.TempDir()
				env := map[string]string{
					"QUJAT_DATA_DIR":       filepath.Join(dir, "data"),
					"QUJAT_SOURCES_SECRET": "a-secret-help-must-not-print",
					"QUJAT_DATABASE_URL":   "postgres://qujat:a-password-help-must-not-print@127.0.0.1:1/none",
				}
				var out bytes.Buffer
				if err := run(context.Background(), args, func(k string) string { return env[k] }, &out); err != nil {
					t.Fatalf("%v (exit %d)\n%s", err, exitCode(err), out.String())
				}
				got := out.String()
				if !strings.HasPrefix(got, "usage: qujat") {
					t.Errorf("no usage line:\n%s", got)
				}
				for _, f := range c.flags {
					if !strings.Contains(got, "  -"+f+" ") && !strings.Contains(got, "  -"+f+"\n") {
						t.Errorf("flag -%s is not listed:\n%s", f, got)
					}
				}
				if strings.Contains(got, "must-not-print") {
					t.Errorf("the help prints a secret from the environment:\n%s", got)
				}
				if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
					t.Errorf("help created %v (%v)", entries, err)
				}
			})
		}
	}
}

// TestHelp_MistakesAreStillUsageErrors: a flag that does not exist or a
// subcommand that does not exist exits 2, naming it.
func TestHelp_MistakesAreStillUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--no-such-flag"},
		{"keys", "frobnicate"},
		{"clients", "frobnicate"},
		{"keys", "list", "--issuer", "kz-mia"}, // rotate's flag
		{"audit", "verify", "extra"},
		{"bench", "--no-such-flag"},
		{"registry-sim", "--no-such-flag"},
		{"version", "--no-such-flag"},
	} {
		dir := t.TempDir()
		err := run(context.Background(), args, func(k string) string {
			if k == "QUJAT_DATA_DIR" {
				return filepath.Join(dir, "data")
			}
			return ""
		}, &bytes.Buffer{})
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%q: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%q created %v", args, entries)
		}
	}
}
