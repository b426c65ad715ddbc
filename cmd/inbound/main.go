// Command inbound runs the Inbound gateway: `inbound serve` (the default)
// starts the partner and admin APIs; `migrate`, `partners create` and
// `staff create` are operator tools. Settings come from INBOUND_* variables.
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
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "inbound:", err)
		os.Exit(1)
	}
}
