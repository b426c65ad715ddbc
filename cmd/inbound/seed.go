package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/inbound-gateway/inbound/internal/config"
	"github.com/inbound-gateway/inbound/internal/seed"
)

// seedCmd runs `inbound seed`: synthetic visitors, cards, loads, payments
// and their ledger, audit and webhook rows, for measurements at scale
// (internal/seed, docs/BENCHMARKS.md). PostgreSQL only.
func seedCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inbound seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o seed.Options
	fs.IntVar(&o.Visitors, "visitors", 10000, "visitors to write (about 12 ledger entries each)")
	fs.IntVar(&o.Workers, "workers", 3, "chunks written at once, each on its own connection")
	fs.IntVar(&o.Chunk, "chunk", 1000, "visitors per transaction")
	fs.IntVar(&o.Days, "days", 365, "days of history the visitors are spread over")
	fs.IntVar(&o.Merchants, "merchants", 0, "escrow merchants (default visitors/10000, 1 to 200)")
	seedValue := fs.Uint64("seed", 1, "seed of the amounts and states")
	fs.StringVar(&o.CardnetDir, "cardnet-data", "", "write the card network simulator's settlement files here (its -data dir), so reconciliation of seeded days is clean")
	fs.BoolVar(&o.SkipForeignKeyChecks, "skip-fk-checks", false, "skip the per-row foreign-key triggers while copying (superuser only; about twice as fast)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("seed: unexpected argument %q", fs.Arg(0))
	}
	o.Seed = *seedValue
	if !*quiet {
		o.Progress = stderr
	}
	if cfg.Embedded() {
		return seed.ErrSQLite
	}
	mk, err := masterKey(cfg, log)
	if err != nil {
		return err
	}
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	v, err := openVault(ctx, cfg, d, mk)
	if err != nil {
		return err
	}
	res, err := seed.Run(ctx, d, cfg.DatabaseURL, v, o)
	if err != nil {
		return err
	}
	if res.Visitors == 0 {
		return errors.New("seed: nothing written")
	}
	fmt.Fprintf(stdout, "seeded %d visitors, %d cards, %d loads, %d payments (%d refunds), %d ledger accounts, "+
		"%d transfers (%d ledger entries), %d events and deliveries, %d audit rows in %s; partner %s\n",
		res.Visitors, res.Cards, res.Loads, res.Payments, res.Refunds, res.Accounts, res.Transfers, res.Entries(),
		res.Events, res.Audit, res.Elapsed.Round(1e9), res.PartnerID)
	return nil
}
