// The ledger benchmark (`inbound-bench ledger`, scripts/bench-ledger.sh):
// the ledger's transfers per second on a real PostgreSQL. A fixed number
// of clients post one-transfer batches for a fixed time, either between
// random constrained accounts ("uniform") or from random accounts into one
// hot account ("hot"). It prints one line per mode and checks the
// ledger's invariants afterwards.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
)

type ledgerConfig struct {
	url      string
	clients  int
	duration time.Duration
	accounts int
	slots    int
	modes    []string
}

func runLedger(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ledger", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c ledgerConfig
	var modes string
	fs.StringVar(&c.url, "db", getenv("LEDGERBENCH_DATABASE_URL"), "postgres:// URL of a scratch database")
	fs.IntVar(&c.clients, "clients", 32, "concurrent clients (and pool connections)")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "measured time per mode")
	fs.IntVar(&c.accounts, "accounts", 10000, "constrained accounts to spend from")
	fs.IntVar(&c.slots, "slots", 64, "balance slots of the hot account and the funding account")
	fs.StringVar(&modes, "modes", "uniform,hot", "comma-separated: uniform, hot")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.modes = strings.Split(modes, ",")
	d, err := openScratch(ctx, c.url, c.clients)
	if err != nil {
		return err
	}
	defer d.Close()
	l := ledger.New(d)
	start := time.Now()
	accts, hot, err := setupLedger(ctx, l, c)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(stderr, "setup: %d accounts in %s\n", len(accts), time.Since(start).Round(time.Millisecond))
	for _, mode := range c.modes {
		if err := checkpoint(ctx, d); err != nil {
			return err
		}
		r, err := measureLedger(ctx, l, c, mode, accts, hot)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ledger mode=%s clients=%d duration=%s transfers=%d tps=%.1f p50_ms=%.2f p99_ms=%.2f refused=%d errors=%d\n",
			mode, c.clients, c.duration, r.ok, float64(r.ok)/r.elapsed.Seconds(), ms(r.p50), ms(r.p99), r.refused, r.errors)
		if r.errors > 0 {
			fmt.Fprintf(stderr, "first error: %v\n", r.firstErr)
		}
	}
	breaks, err := l.Verify(ctx)
	if err != nil {
		return err
	}
	if len(breaks) > 0 {
		return fmt.Errorf("ledger invariants broken after the run: %v", breaks)
	}
	fmt.Fprintln(stderr, "verify: ledger balanced, no negative constrained account, balances equal entries")
	return nil
}

// setup creates the accounts once (EnsureAccount is idempotent) and funds
// every constrained account far beyond what a run can spend.
func setupLedger(ctx context.Context, l *ledger.Ledger, c ledgerConfig) ([]string, string, error) {
	network, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: "network:bench:CNY", Currency: money.CNY, Kind: ledger.Asset, Slots: c.slots})
	if err != nil {
		return nil, "", err
	}
	hot, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: "merchant:bench_hot:payable", Currency: money.CNY, Kind: ledger.Liability, Slots: c.slots})
	if err != nil {
		return nil, "", err
	}
	ids := make([]string, c.accounts)
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		mu    sync.Mutex
		first error
	)
	for range c.clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= c.accounts {
					return
				}
				a, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: fmt.Sprintf("visitor:bench_%d:prepaid", i),
					Currency: money.CNY, Kind: ledger.Liability, NoNegative: true})
				if err == nil {
					ids[i] = a.ID
					_, err = l.Post(ctx, ledger.Batch{Reference: "bench:fund:" + a.ID,
						Ops: []ledger.Op{ledger.Move(network.ID, a.ID, money.New(100_000_000_00, money.CNY))}})
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return ids, hot.ID, first
}

func measureLedger(ctx context.Context, l *ledger.Ledger, c ledgerConfig, mode string, accts []string, hot string) (result, error) {
	if mode != "uniform" && mode != "hot" {
		return result{}, fmt.Errorf("unknown mode %q", mode)
	}
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	var (
		wg        sync.WaitGroup
		ok, ref   atomic.Int64
		failed    atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		firstErr  error
	)
	run := fmt.Sprintf("%s:%d:%d", mode, c.clients, time.Now().UnixNano())
	start := time.Now()
	for w := range c.clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w))) //nolint:gosec // benchmark workload choice, not a secret
			var lat []time.Duration
			for i := 0; ctx.Err() == nil; i++ {
				src := accts[r.IntN(len(accts))]
				dst := hot
				if mode == "uniform" {
					for dst = accts[r.IntN(len(accts))]; dst == src; dst = accts[r.IntN(len(accts))] {
					}
				}
				t0 := time.Now()
				_, err := l.Post(ctx, ledger.Batch{Reference: fmt.Sprintf("bench:%s:%d:%d", run, w, i),
					Ops: []ledger.Op{ledger.Move(src, dst, money.New(int64(1+r.IntN(10000)), money.CNY))}})
				switch {
				case err == nil:
					ok.Add(1)
					lat = append(lat, time.Since(t0))
				case ctx.Err() != nil:
					// The run ended mid-transfer: not a failure.
				case errors.Is(err, ledger.ErrInsufficientFunds):
					ref.Add(1)
				default:
					if failed.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
				}
			}
			mu.Lock()
			latencies = append(latencies, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return newResult(ok.Load(), ref.Load(), failed.Load(), time.Since(start), firstErr, latencies), nil
}
