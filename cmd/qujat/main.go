// Command qujat is the Qujat service and its operator tools: serve, migrate,
// keys, clients, registry-sim, version.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "qujat:", err)
		os.Exit(exitCode(err))
	}
}
