// Package seed fills a PostgreSQL database with synthetic but valid data
// through the production schema, for measuring Inbound at scale
// (`inbound seed`, docs/BENCHMARKS.md, docs/SCALING.md).
//
// Every row is what the services themselves would have written:
// passports and PANs sealed by the vault under the same labels, with the
// same keyed indexes (so a staff look-up by passport finds a seeded
// visitor); ledger accounts with the specs the services use; every money
// movement a balanced ledger batch under the reference the service uses
// (load:<id>, pay:<id>:hold, pay:<id>:release, rfd:<id>), with the
// batch's fingerprint in ledger_operations and, on single-slot accounts,
// the exact running balance in the transfer rows. Afterwards `inbound
// ledger verify` is clean and, with the settlement files written for the
// card network simulator (Options.CardnetDir), so is reconciliation.
//
// Per visitor it writes one approved visitor (and its history row), one
// verified card, one prepaid account, one succeeded load (four transfers)
// and, for one visitor in four, a declined load; one escrow payment whose
// state rotates through held, released, refunded, partially refunded and
// disputed (one to four transfers); the outbox events of these with one
// delivered webhook each; and an audit row for one visitor in four. That is
// about 6.2 transfers per visitor, each of them two ledger entries (a
// debit and a credit): 1 M visitors give about 12 M entries.
//
// Rows go in with COPY (pgx CopyFrom), in chunks of visitors, each chunk
// one transaction, by several workers. A chunk adds its share to the hot
// (slotted) balance rows in the same transaction, on a slot of its own, so
// any committed prefix of the work is a consistent ledger: an interrupted
// seed leaves nothing that verify would flag. Merchant payable accounts
// are single-slot, like in production: a chunk updates their balance rows
// first (taking their locks) and then copies its transfers, so the stored
// running balances are exact, as Post makes them.
//
// Only PostgreSQL is supported: the embedded SQLite default is a
// single-writer development database, and Run refuses it.
package seed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/vault"
)

// ErrSQLite is what Run returns on the embedded default.
var ErrSQLite = errors.New("seed: needs PostgreSQL (set INBOUND_DATABASE_URL); " +
	"the embedded SQLite default is a single-writer development database and is not seeded")

// Options tune a seed.
type Options struct {
	// Visitors is how many visitors to write (the scale knob).
	Visitors int
	// Workers is how many chunks are written at once (default 3).
	Workers int
	// Chunk is how many visitors one transaction writes (default 1000).
	Chunk int
	// Days spreads the history over that many days before Now (default 365).
	Days int
	// Merchants is how many escrow merchants share the payments (default
	// Visitors/10000, at least 1, at most 200).
	Merchants int
	// First is the number of the first visitor (Passport, PAN and the
	// network trace numbers derive from it, and must not repeat). Default:
	// how many visitors the database has already, so a second seed adds
	// to the first.
	First int
	// Seed makes amounts and states reproducible (ids and sealed values are
	// random anyway).
	Seed uint64
	// CardnetDir, when set, receives the card network simulator's
	// settlement files (settlement-YYYY-MM-DD.json) of every seeded
	// capture, so `cardnet -data CardnetDir` answers reconciliation.
	CardnetDir string
	// SkipForeignKeyChecks writes each chunk with session_replication_role
	// = replica, which skips the per-row foreign-key triggers (as
	// pg_restore --disable-triggers does). The rows are generated
	// consistent, and the seed test runs with the checks on; this needs a
	// superuser and roughly halves the database's work per row.
	SkipForeignKeyChecks bool
	// Progress receives the progress bar (nil: none).
	Progress io.Writer
	// Now is the end of the seeded history (default time.Now).
	Now time.Time
}

func (o Options) withDefaults() (Options, error) {
	if o.Visitors < 1 {
		return o, fmt.Errorf("seed: visitors must be at least 1, not %d", o.Visitors)
	}
	if o.Visitors > maxVisitors {
		return o, fmt.Errorf("seed: visitors must be at most %d", maxVisitors)
	}
	if o.Workers <= 0 {
		o.Workers = 3
	}
	if o.Chunk <= 0 {
		o.Chunk = 1000
	}
	if o.Days <= 0 {
		o.Days = 365
	}
	if o.Merchants <= 0 {
		o.Merchants = min(max(o.Visitors/10000, 1), 200)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Microsecond)
	return o, nil
}

// maxVisitors keeps generated passport numbers and PANs within their digits.
const maxVisitors = 99_999_999

// Result counts what a seed wrote.
type Result struct {
	Visitors, Cards, Loads, Payments, Refunds int64
	Transfers, Operations, Accounts           int64
	Events, Deliveries, Audit, NetworkCalls   int64
	PartnerID                                 string
	Elapsed                                   time.Duration
}

// Entries is the number of ledger entries: each transfer is a debit entry
// and a credit entry.
func (r Result) Entries() int64 { return 2 * r.Transfers }

func (r *Result) add(c counts) {
	r.Visitors += c.visitors
	r.Cards += c.visitors
	r.Loads += c.loads
	r.NetworkCalls += c.loads
	r.Payments += c.visitors
	r.Refunds += c.refunds
	r.Transfers += c.transfers
	r.Operations += c.operations
	r.Accounts += c.accounts
	r.Events += c.events
	r.Deliveries += c.events
	r.Audit += c.audit
}

// Run seeds d (migrated already) through a pgx pool on url, sealing with v.
func Run(ctx context.Context, d *db.DB, url string, v *vault.Vault, o Options) (Result, error) {
	if d.Dialect != db.Postgres {
		return Result{}, ErrSQLite
	}
	o, err := o.withDefaults()
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return Result{}, fmt.Errorf("seed: connect: %w", err)
	}
	defer pool.Close()
	if o.First == 0 {
		var n int64
		if err := pool.QueryRow(ctx, "SELECT COUNT(*) FROM visitors").Scan(&n); err != nil {
			return Result{}, fmt.Errorf("seed: count visitors: %w", err)
		}
		o.First = int(n)
	}
	if o.First+o.Visitors > maxVisitors {
		return Result{}, fmt.Errorf("seed: at most %d visitors in all", maxVisitors)
	}
	fixed, err := setup(ctx, d, v, o)
	if err != nil {
		return Result{}, err
	}
	res := Result{PartnerID: fixed.partnerID}
	chunks := (o.Visitors + o.Chunk - 1) / o.Chunk
	bar := newBar(o.Progress, o.Visitors)
	work := make(chan int)
	done := make(chan counts)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for c := range chunks {
			select {
			case work <- c:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range o.Workers {
		g.Go(func() error {
			w := newWorker(v, o, fixed)
			for c := range work {
				n, err := w.writeChunk(gctx, pool, c)
				if err != nil {
					return err
				}
				select {
				case done <- n:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for n := range done {
			res.add(n)
			_ = bar.Add(int(n.visitors))
		}
	}()
	err = g.Wait()
	close(done)
	<-collected
	_ = bar.Finish()
	if err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	if o.CardnetDir != "" {
		if err := writeSettlement(ctx, pool, o.CardnetDir); err != nil {
			return res, err
		}
	}
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		return res, fmt.Errorf("seed: analyze: %w", err)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}
