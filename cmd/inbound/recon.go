package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/inbound-gateway/inbound/internal/config"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/recon"
	"github.com/inbound-gateway/inbound/prepaid"
)

// errReconBreaks is a reconciliation that found breaks: exit status 1.
var errReconBreaks = errors.New("recon: break(s) found")

// reconCmd runs `inbound recon [-day YYYY-MM-DD] [-cardnet URL]`: the same
// recon.Service as GET /admin/v1/reconciliation, straight on the database
// and the card network's settlement report. It prints every break and the
// count per rule, and fails (exit status 1) on any break.
func reconCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("recon", flag.ContinueOnError)
	dayFlag := fs.String("day", "", "settlement day (UTC) to match, YYYY-MM-DD (default today)")
	cardnetURL := fs.String("cardnet", cfg.CardnetURL, "base URL of the card network's settlement API (default INBOUND_CARDNET_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	day := recon.Today(now)
	if *dayFlag != "" {
		t, err := time.Parse(time.DateOnly, *dayFlag)
		if err != nil {
			return fmt.Errorf("recon: -day must be YYYY-MM-DD: %w", err)
		}
		day = t
	}
	if *cardnetURL == "" {
		return errors.New("recon: no card network: set INBOUND_CARDNET_URL or -cardnet " +
			"(the in-process simulator lives only inside `inbound serve`: use GET /admin/v1/reconciliation there)")
	}
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	l := ledger.New(d)
	accounts := prepaid.NewStore(d)
	// Only read here: no events are emitted.
	esc, err := escrow.New(d, l, accounts, nil, escrow.DefaultOptions())
	if err != nil {
		return err
	}
	svc, err := recon.New(recon.Deps{Ledger: l, Escrow: esc, Prepaid: accounts, Reports: recon.HTTPReports{BaseURL: *cardnetURL}})
	if err != nil {
		return err
	}
	res, err := svc.Run(ctx, day)
	if err != nil {
		return err
	}
	return printRecon(stdout, res)
}

// printRecon writes one line per break and one per rule; an error when
// there is any break.
func printRecon(w io.Writer, res recon.Result) error {
	date := res.Day.Format(time.DateOnly)
	if res.Clean() {
		fmt.Fprintf(w, "recon %s: clean (ledger invariants, escrow, settlement, card refunds)\n", date)
		return nil
	}
	for _, b := range res.Breaks {
		fmt.Fprintln(w, b.String())
	}
	for _, r := range res.ByRule() {
		fmt.Fprintf(w, "rule %s: %d %v\n", r.Rule, r.Count, r.Objects)
	}
	return fmt.Errorf("%w: %d on %s", errReconBreaks, len(res.Breaks), date)
}
