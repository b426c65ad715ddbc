// Command inbound-bench measures the money paths on a real PostgreSQL, for
// the scripts under scripts/ (docs/BENCHMARKS.md):
//
//	inbound-bench ledger [flags]   ledger transfers per second (scripts/bench-ledger.sh)
//	inbound-bench escrow [flags]   escrow movements per second (scripts/bench-escrow.sh)
//
// Each creates its data in the database it is given, which should be a
// scratch database, prints one line per mode, and checks the invariants
// afterwards. The harness (scratch database, checkpoint, latency
// percentiles) is shared; each subcommand keeps its own workload.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
)

const usage = "usage: inbound-bench ledger|escrow [flags] (-h for the flags of one)"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "inbound-bench:", err)
		os.Exit(1)
	}
}

// run dispatches to a benchmark.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "ledger":
		return runLedger(ctx, args[1:], getenv, stdout, stderr)
	case "escrow":
		return runEscrow(ctx, args[1:], getenv, stdout, stderr)
	}
	return fmt.Errorf("unknown benchmark %q; %s", args[0], usage)
}

// openScratch opens and migrates the scratch database of a run, with a
// connection per client and two to spare.
func openScratch(ctx context.Context, url string, clients int) (*db.DB, error) {
	if !strings.HasPrefix(url, "postgres://") {
		return nil, errors.New("-db must be a postgres:// URL")
	}
	d, err := db.Open(ctx, db.Options{URL: url, MaxOpenConns: clients + 2})
	if err != nil {
		return nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// checkpoint flushes the server's dirty pages before a measured mode, so
// one mode's writes do not slow the next.
func checkpoint(ctx context.Context, d *db.DB) error {
	return d.Gorm.WithContext(ctx).Exec("CHECKPOINT").Error
}

// result is one measured mode.
type result struct {
	ok, refused, errors int64
	elapsed             time.Duration
	p50, p99            time.Duration
	firstErr            error
}

// newResult sums a mode's counts and takes the percentiles of its
// latencies (sorted in place).
func newResult(ok, refused, failed int64, elapsed time.Duration, firstErr error, latencies []time.Duration) result {
	res := result{ok: ok, refused: refused, errors: failed, elapsed: elapsed, firstErr: firstErr}
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		res.p50, res.p99 = latencies[n/2], latencies[n*99/100]
	}
	return res
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
