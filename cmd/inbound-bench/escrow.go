// The escrow benchmark (`inbound-bench escrow`, scripts/bench-escrow.sh):
// escrow movements per second on a real PostgreSQL. Each client loops:
// create a payment (a hold), then confirm it (a release) or, one time in
// ten, refund it; each of those is one movement, through escrow.Service,
// the production path (gorm, the ledger, the outbox event, one transaction
// each). Mode "uniform" pays random merchants, "hot" pays one merchant.
// With -rate, the clients together are limited to that many movements per
// second (for the latency at 80 % of the peak). It checks the ledger and
// the escrow reconciliation afterwards.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/webhook"
	"github.com/inbound-gateway/inbound/prepaid"
)

type escrowConfig struct {
	url       string
	clients   int
	duration  time.Duration
	visitors  int
	merchants int
	shards    int
	rate      float64
	modes     []string
}

const partner = "ptn_bench"

func runEscrow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("escrow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c escrowConfig
	var modes string
	fs.StringVar(&c.url, "db", getenv("ESCROWBENCH_DATABASE_URL"), "postgres:// URL of a scratch database")
	fs.IntVar(&c.clients, "clients", 32, "concurrent clients (and pool connections)")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "measured time per mode")
	fs.IntVar(&c.visitors, "visitors", 2000, "funded visitors paying")
	fs.IntVar(&c.merchants, "merchants", 1000, "merchants of the uniform mode")
	fs.IntVar(&c.shards, "shards", 16, "payable shards per merchant")
	fs.Float64Var(&c.rate, "rate", 0, "movements per second for all clients together (0: as fast as possible)")
	fs.StringVar(&modes, "modes", "uniform,hot", "comma-separated: uniform, hot")
	verify := fs.Bool("verify", true, "verify the ledger and escrow after the run (reads every entry)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the measured runs to this file")
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
	o := escrow.DefaultOptions()
	o.PayableShards = c.shards
	wh := webhook.New(d, nil, slog.New(slog.DiscardHandler), webhook.Options{})
	s, err := escrow.New(d, l, prepaid.NewStore(d), wh, o)
	if err != nil {
		return err
	}
	start := time.Now()
	vis, mers, err := setupEscrow(ctx, d, l, s, c)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(stderr, "setup: %d visitors, %d merchants in %s\n", len(vis), len(mers), time.Since(start).Round(time.Millisecond))
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, mode := range c.modes {
		if err := checkpoint(ctx, d); err != nil {
			return err
		}
		r, err := measureEscrow(ctx, s, c, mode, vis, mers)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "escrow mode=%s clients=%d duration=%s rate=%.0f movements=%d tps=%.1f p50_ms=%.2f p99_ms=%.2f refused=%d errors=%d\n",
			mode, c.clients, c.duration, c.rate, r.ok, float64(r.ok)/r.elapsed.Seconds(), ms(r.p50), ms(r.p99), r.refused, r.errors)
		if r.errors > 0 {
			fmt.Fprintf(stderr, "first error: %v\n", r.firstErr)
		}
	}
	if !*verify {
		// A seeded database (inbound seed) is verified once on its own:
		// verify reads every entry, minutes at 10 M of them.
		fmt.Fprintln(stderr, "verify: skipped (-verify=false)")
		return nil
	}
	breaks, err := l.Verify(ctx)
	if err != nil {
		return err
	}
	if len(breaks) > 0 {
		return fmt.Errorf("ledger invariants broken after the run: %v", breaks)
	}
	rec, err := s.EscrowHeld(ctx)
	if err != nil {
		return err
	}
	if !rec.Balanced() {
		return fmt.Errorf("escrow reconciliation broken: %+v", rec)
	}
	fmt.Fprintf(stderr, "verify: ledger balanced; escrow held %s = open payments (%d)\n", rec.LedgerHeld, rec.OpenPayments)
	return nil
}

// setup opens and funds the visitors and creates the merchants; the first
// merchant is the hot one.
func setupEscrow(ctx context.Context, d *db.DB, l *ledger.Ledger, s *escrow.Service, c escrowConfig) ([]string, []string, error) {
	network, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: "network:bench:CNY", Currency: money.CNY, Kind: ledger.Asset, Slots: 64})
	if err != nil {
		return nil, nil, err
	}
	pre := prepaid.NewStore(d)
	vis := make([]string, c.visitors)
	mers := make([]string, c.merchants)
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
				if i >= c.visitors+c.merchants {
					return
				}
				var err error
				if i < c.visitors {
					vis[i], err = fundVisitor(ctx, d, l, pre, network.ID)
				} else {
					var m escrow.Merchant
					m, err = s.CreateMerchant(ctx, partner, escrow.MerchantInput{Name: "bench", MCC: "5812"})
					mers[i-c.visitors] = m.ID
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
	return vis, mers, first
}

func fundVisitor(ctx context.Context, d *db.DB, l *ledger.Ledger, pre *prepaid.Store, network string) (string, error) {
	vis := ids.New(ids.Visitor)
	if err := d.Transact(ctx, func(tx *db.Tx) error {
		_, err := pre.OpenTx(tx, vis, partner, time.Now(), 3650*24*time.Hour)
		return err
	}); err != nil {
		return "", err
	}
	a, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: prepaid.LedgerCode(vis), Currency: money.CNY,
		Kind: ledger.Liability, Owner: vis, NoNegative: true, Slots: 1})
	if err != nil {
		return "", err
	}
	_, err = l.Post(ctx, ledger.Batch{Reference: "bench:fund:" + vis,
		Ops: []ledger.Op{ledger.Move(network, a.ID, money.New(100_000_000_00, money.CNY))}})
	return vis, err
}

func measureEscrow(ctx context.Context, s *escrow.Service, c escrowConfig, mode string, vis, mers []string) (result, error) {
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
	// With a rate, each client starts its movements on its own fixed
	// schedule (open loop would need more clients than connections).
	var interval time.Duration
	if c.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(c.clients) / c.rate)
	}
	run := fmt.Sprintf("%s-%d-%d", mode, c.clients, time.Now().UnixNano())
	start := time.Now()
	for w := range c.clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w))) //nolint:gosec // benchmark workload choice, not a secret
			var lat []time.Duration
			next := time.Now().Add(time.Duration(r.Int64N(int64(interval) + 1)))
			timed := func(f func() error) bool {
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						select {
						case <-ctx.Done():
							return false
						case <-time.After(d):
						}
					}
					next = next.Add(interval)
				}
				t0 := time.Now()
				err := f()
				switch {
				case err == nil:
					ok.Add(1)
					lat = append(lat, time.Since(t0))
					return true
				case ctx.Err() != nil:
				case errors.Is(err, escrow.ErrInsufficientFunds):
					ref.Add(1)
				default:
					if failed.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
				}
				return false
			}
			for i := 0; ctx.Err() == nil; i++ {
				mer := mers[0]
				if mode == "uniform" {
					mer = mers[r.IntN(len(mers))]
				}
				var p escrow.Payment
				if !timed(func() error {
					var err error
					p, err = s.Create(ctx, partner, escrow.PaymentInput{VisitorID: vis[r.IntN(len(vis))], MerchantID: mer,
						Amount: money.New(int64(100+r.IntN(100000)), money.CNY), OutTradeNo: fmt.Sprintf("%s-%d-%d", run, w, i)})
					return err
				}) {
					continue
				}
				if i%10 == 9 {
					timed(func() error { _, err := s.Refund(ctx, partner, p.ID, nil, "bench"); return err })
				} else {
					timed(func() error { _, err := s.Confirm(ctx, partner, p.ID); return err })
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
