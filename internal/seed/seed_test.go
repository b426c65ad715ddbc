package seed_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/keys"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/recon"
	"github.com/inbound-gateway/inbound/internal/seed"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/kyc"
	"github.com/inbound-gateway/inbound/prepaid"
)

func TestSeedRefusesSQLite(t *testing.T) {
	b := testenv.Embedded(t)
	v, err := vault.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	_, err = seed.Run(context.Background(), b.DB, "", v, seed.Options{Visitors: 10})
	if !errors.Is(err, seed.ErrSQLite) {
		t.Fatalf("Run on SQLite = %v, want ErrSQLite", err)
	}
}

// TestSeedIsValid seeds a small PostgreSQL database and checks it the way
// production would: ledger verify, escrow held against open payments,
// settlement reconciliation against the card network's files, a staff
// look-up by passport, and the row counts the options promise.
func TestSeedIsValid(t *testing.T) {
	if !testenv.HasReal() {
		t.Skip("needs PostgreSQL (INBOUND_TEST_DATABASE_URL); TestSeedRefusesSQLite covers the embedded default")
	}
	ctx := context.Background()
	url, d := testenv.FreshPostgres(t, os.Getenv(testenv.DatabaseURLVar))
	mk, err := vault.ParseKey(vault.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Open(ctx, d, mk, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const visitors = 230 // not a multiple of the chunk: the last chunk is short
	now := time.Now().UTC()
	res, err := seed.Run(ctx, d, url, v, seed.Options{Visitors: visitors, Workers: 2, Chunk: 50, Days: 20, CardnetDir: dir, Now: now})
	if err != nil {
		t.Fatal(err)
	}

	count := func(q string) int64 {
		t.Helper()
		var n int64
		if err := d.SQL().QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	declined := int64((visitors + 2) / 4) // i % 4 == 1
	for q, want := range map[string]int64{
		"SELECT COUNT(*) FROM visitors":                                 visitors,
		"SELECT COUNT(*) FROM cards":                                    visitors,
		"SELECT COUNT(*) FROM prepaid_accounts":                         visitors,
		"SELECT COUNT(*) FROM prepaid_loads WHERE status = 'succeeded'": visitors,
		"SELECT COUNT(*) FROM prepaid_loads WHERE status = 'failed'":    declined,
		"SELECT COUNT(*) FROM network_calls":                            visitors + declined,
		"SELECT COUNT(*) FROM escrow_payments":                          visitors,
		"SELECT COUNT(DISTINCT status) FROM escrow_payments":            5,
		"SELECT COUNT(*) FROM ledger_transfers":                         res.Transfers,
		"SELECT COUNT(*) FROM ledger_operations":                        res.Operations,
		"SELECT COUNT(*) FROM events":                                   res.Events,
		"SELECT COUNT(*) FROM webhook_deliveries":                       res.Events,
		"SELECT COUNT(*) FROM audit_log":                                (visitors + 3) / 4,
		"SELECT COUNT(*) FROM escrow_refunds":                           res.Refunds,
		// Every entry on a single-slot account carries its running balance.
		`SELECT COUNT(*) FROM ledger_transfers t JOIN ledger_accounts a ON a.id = t.credit_account_id
			WHERE a.slots = 1 AND t.credit_balance_after IS NULL`: 0,
		`SELECT COUNT(*) FROM ledger_transfers t JOIN ledger_accounts a ON a.id = t.debit_account_id
			WHERE a.slots = 1 AND t.debit_balance_after IS NULL`: 0,
		// ... and the last one equals the stored balance (all of them are
		// liabilities: credits less debits).
		`SELECT COUNT(*) FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id
			JOIN LATERAL (SELECT CASE WHEN t.debit_account_id = a.id THEN t.debit_balance_after ELSE t.credit_balance_after END AS after
				FROM ledger_transfers t WHERE t.debit_account_id = a.id OR t.credit_account_id = a.id ORDER BY t.seq DESC LIMIT 1) l ON TRUE
			WHERE a.slots = 1 AND l.after <> b.credits_posted - b.debits_posted`: 0,
	} {
		if got := count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	if res.Visitors != visitors || res.Entries() < 12*visitors {
		t.Errorf("result %+v: want %d visitors and at least 12 entries each", res, visitors)
	}

	breaks, err := ledger.New(d).Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range breaks {
		t.Errorf("ledger verify: %s", b)
	}

	es, err := escrow.New(d, ledger.New(d), nil, nil, escrow.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	held, err := es.EscrowHeld(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if held.LedgerHeld != held.PaymentsHeld || len(held.Mismatches) > 0 || held.OpenPayments == 0 {
		t.Errorf("escrow reconciliation: %+v", held)
	}

	// Settlement: every seeded day reconciles against the simulator
	// serving the files the seed wrote, over HTTP as in production.
	eng, err := cardnet.Open(cardnet.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	srv := httptest.NewServer(cardnet.NewHandler(eng))
	t.Cleanup(srv.Close)
	reports := recon.HTTPReports{BaseURL: srv.URL}
	store := prepaid.NewStore(d)
	rs, err := recon.New(recon.Deps{Ledger: ledger.New(d), Escrow: es, Prepaid: store, Reports: reports})
	if err != nil {
		t.Fatal(err)
	}
	var checked, lines int
	for day := now.AddDate(0, 0, -30); !day.After(now); day = day.AddDate(0, 0, 1) {
		day = recon.DayOf(day)
		res, err := rs.Run(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range res.Breaks {
			t.Errorf("%s: %s %s", day.Format(time.DateOnly), b.Rule, b.Detail)
		}
		loads, unloads, err := store.SettledBetween(ctx, day, day.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := reports.Settlement(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		network, err := recon.NetworkSide(rep)
		if err != nil {
			t.Fatal(err)
		}
		checked += len(loads) + len(unloads)
		lines += len(network)
	}
	if checked != visitors || lines != visitors {
		t.Errorf("reconciled %d loads against %d settlement lines, want %d each", checked, lines, visitors)
	}

	// A staff look-up by passport finds the seeded visitor, whose sealed
	// number opens to the same document number.
	state, number := seed.Passport(117)
	found, err := kyc.NewStore(d, kyc.Hooks{}).FindByDocumentIndex(ctx, kyc.DocumentIndex(v, state, number))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("look-up of seeded passport %s %s found %d visitors", state, number, len(found))
	}
	var sealed string
	if err := d.SQL().QueryRowContext(ctx, "SELECT number_sealed FROM visitors WHERE id = $1", found[0].ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if plain, err := v.Open("passport", sealed); err != nil || string(plain) != number {
		t.Errorf("sealed passport opens to %q, %v; want %q", plain, err, number)
	}
}
