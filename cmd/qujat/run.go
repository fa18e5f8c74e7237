package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	var a auditFailed
	if errors.As(err, &a) {
		return 3
	}
	return 1
}

const usage = `usage: qujat <command> [flags]

commands:
  serve          run the HTTP service (embedded default without configuration)
  migrate        apply database migrations and exit
  keys           list or rotate the issuers' signing keys
  clients        register, list and disable organisation clients
  audit verify   check the history log: tree, checkpoints, subjects' chains
  registry-sim   serve the demo registry over the source registry protocol
  bench          load a running service on this machine and measure its servers
  version        print the version
`

// run is the whole program: main only wires signals to ctx.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout)
	case "keys":
		return runKeys(ctx, rest, getenv, stdout)
	case "audit":
		return runAudit(ctx, rest, getenv, stdout)
	case "clients":
		return runClients(ctx, rest, getenv, stdout)
	case "registry-sim":
		return runRegistrySim(ctx, rest, getenv, stdout)
	case "bench":
		return runBench(ctx, rest, getenv, stdout)
	case "version":
		fmt.Fprintln(stdout, "qujat", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stdout, usage)
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev-" + s.Value[:12]
			}
		}
	}
	return v
}
