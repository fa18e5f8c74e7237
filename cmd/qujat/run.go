package main

import (
	"context"
	"errors"
	"flag"
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
  staff          register, list and disable staff (operators, officials) and their keys
  duplicates     purge the duplicates whose retention has ended
  registries     register and list hosted registries (kept by a state body's officials)
  audit verify   check the history log: tree, checkpoints, subjects' chains
  agencies       register and list agencies for the exchange of cases
  exchange       verify every signature kept for a case (exchange verify --case ID)
  calendar       the day of receipt from the production calendars (kz, ru)
  agency-sim     play an agency over the exchange protocol (keygen writes its keys)
  registry-sim   serve the demo registry over the source registry protocol
  bench          load a running service on this machine and measure its servers
  version        print the version

Each command prints its flags with -h or --help. The configuration comes from
QUJAT_* environment variables (see the README); --data-dir and --addr override two.
`

// run is the whole program: main only wires signals to ctx.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	err := runCommand(ctx, args, getenv, stdout)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func runCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
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
		// verify is audit's only subcommand: `audit -h` is its help.
		if len(rest) > 0 && isHelpArg(rest[0]) {
			rest = []string{"verify", rest[0]}
		}
		return runAudit(ctx, rest, getenv, stdout)
	case "clients":
		return runClients(ctx, rest, getenv, stdout)
	case "staff":
		return runStaff(ctx, rest, getenv, stdout)
	case "duplicates":
		return runDuplicates(ctx, rest, getenv, stdout)
	case "registries":
		return runRegistries(ctx, rest, getenv, stdout)
	case "agencies":
		return runAgencies(ctx, rest, getenv, stdout)
	case "exchange":
		return runExchange(ctx, rest, getenv, stdout)
	case "calendar":
		return runCalendar(ctx, rest, getenv, stdout)
	case "agency-sim":
		return runAgencySim(ctx, rest, getenv, stdout)
	case "registry-sim":
		return runRegistrySim(ctx, rest, getenv, stdout)
	case "bench":
		return runBench(ctx, rest, getenv, stdout)
	case "version":
		if err := parseFlags(newFlagSet("version", "qujat version\nprint the version", stdout), rest); err != nil {
			return err
		}
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

// errHelp is what a command returns once it has printed its usage for -h
// or --help: run answers it with success (exit 0).
var errHelp = errors.New("usage printed")

// isHelpArg reports whether a is a request for help in the place of a
// subcommand.
func isHelpArg(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// newFlagSet returns the flag set of `qujat name`. Its Usage prints to stdout
// "usage: " and synopsis (which may go on over more lines), then the flags.
func newFlagSet(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n", synopsis)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(fs.Output(), "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args into fs. -h or --help prints fs.Usage to fs's
// output (stdout) and returns errHelp. Any other mistake, and an argument
// left over, is a usageError, which main prints once, to stderr.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard) // flag would print its error and the usage on every mistake
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return errHelp
	}
	if err != nil {
		return usageError{fmt.Sprintf("%s: %v (see qujat %s --help)", fs.Name(), err, fs.Name())}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
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
