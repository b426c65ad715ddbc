package seed

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"
)

// columns of each table a chunk copies, in foreign-key order.
var columns = []struct {
	table string
	cols  []string
}{
	{"visitors", []string{"id", "partner_id", "status", "tier", "reasons", "surname", "given_names", "nationality", "sex",
		"date_of_birth", "document_type", "document_format", "issuing_state", "number_sealed", "number_index", "number_masked",
		"expires_on", "created_at", "updated_at"}},
	{"visitor_history", []string{"visitor_id", "status", "reasons", "actor", "note", "created_at"}},
	{"cards", []string{"id", "partner_id", "visitor_id", "status", "network", "bin", "last4", "exp_month", "exp_year",
		"issuer_country", "currency", "pan_sealed", "fingerprint", "holder_name_score", "created_at", "updated_at"}},
	{"prepaid_accounts", []string{"id", "visitor_id", "partner_id", "status", "profile", "currency", "ledger_code", "opened_at", "expires_at"}},
	{"ledger_accounts", []string{"id", "code", "currency", "kind", "owner", "no_negative", "slots", "created_at"}},
	{"ledger_balances", []string{"account_id", "slot", "debits_posted", "credits_posted"}},
	{"ledger_operations", []string{"reference", "fingerprint", "created_at"}},
	{"ledger_transfers", []string{"id", "reference", "kind", "debit_account_id", "credit_account_id", "amount", "currency",
		"debit_balance_after", "credit_balance_after", "created_at"}},
	{"network_calls", []string{"id", "kind", "network", "mti", "stan", "rrn", "amount_minor", "currency", "card_id", "reference",
		"original_id", "state", "response_code", "auth_code", "decline_code", "challenge_id", "attempts", "created_at", "updated_at"}},
	{"prepaid_loads", []string{"id", "partner_id", "visitor_id", "account_id", "card_id", "quote_id", "status", "network",
		"charged_currency", "charged_minor", "buy_minor", "credited_minor", "fee_minor", "usd_minor", "call_id", "response_code",
		"auth_code", "stan", "rrn", "decline_code", "created_at", "updated_at"}},
	{"escrow_payments", []string{"id", "partner_id", "visitor_id", "merchant_id", "currency", "amount", "held", "released",
		"refunded", "fee", "status", "out_trade_no", "description", "auto_release_after_ns", "auto_release_at", "due_at",
		"escrow_account_id", "visitor_account_id", "dispute_reason", "disputed_at", "released_at", "created_at", "updated_at"}},
	{"escrow_refunds", []string{"id", "payment_id", "partner_id", "currency", "amount", "source", "reason", "created_by", "created_at"}},
	{"events", []string{"id", "partner_id", "type", "body", "created_at", "fanned_out"}},
	{"webhook_deliveries", []string{"event_id", "endpoint_id", "status", "attempts", "next_attempt_at", "last_status_code",
		"last_error", "created_at"}},
	{"audit_log", []string{"id", "actor_id", "actor_role", "action", "target", "reason", "request_id", "before_state",
		"after_state", "created_at"}},
}

// writeChunk generates chunk index and writes it in one transaction.
func (w *worker) writeChunk(ctx context.Context, pool *pgxpool.Pool, index int) (counts, error) {
	c := &chunk{index: index, rows: map[string][][]any{}, newBal: map[string]*bal{},
		payable: map[string]*bal{}, hot: map[string]*bal{}}
	from := index * w.o.Chunk
	to := min(from+w.o.Chunk, w.o.Visitors)
	for i := from; i < to; i++ {
		w.visitor(c, i)
	}
	for _, id := range c.newOrder {
		b := c.newBal[id]
		c.add("ledger_balances", id, int32(0), b.debits, b.credits)
		delete(w.class, id) // the worker's map must not grow with the seed
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// A chunk lost in a crash is simply not there (every chunk is whole
		// or absent), so its commit need not wait for the WAL flush.
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
		if w.o.SkipForeignKeyChecks {
			if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
				return fmt.Errorf("skip foreign-key checks (needs a superuser): %w", err)
			}
		}
		// Single-slot payables first, in id order (every chunk takes its
		// locks in one order); their running balances start from the
		// stored one, and the transfers' sequence numbers are drawn under
		// those locks, as Post does.
		if err := w.applyPayables(ctx, tx, c); err != nil {
			return err
		}
		for _, t := range columns {
			if t.table == "ledger_transfers" {
				c.rows[t.table] = transferRows(c.transfers)
			}
			rows := c.rows[t.table]
			if len(rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.table}, t.cols, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.table, err)
			}
		}
		// Hot accounts last, on this chunk's slot.
		return applyDeltas(ctx, tx, c.hot, int32(c.index%hotSlots))
	})
	if err != nil {
		return counts{}, fmt.Errorf("chunk %d: %w", index, err)
	}
	return c.n, nil
}

// applyPayables adds the chunk's payable deltas and fills in the running
// balances of the transfers that touch them.
func (w *worker) applyPayables(ctx context.Context, tx pgx.Tx, c *chunk) error {
	running := map[string]int64{}
	for _, id := range sortedKeys(c.payable) {
		d := c.payable[id]
		var debits, credits int64
		err := tx.QueryRow(ctx, `UPDATE ledger_balances SET debits_posted = debits_posted + $1, credits_posted = credits_posted + $2
			WHERE account_id = $3 AND slot = 0 RETURNING debits_posted, credits_posted`, d.debits, d.credits, id).Scan(&debits, &credits)
		if err != nil {
			return fmt.Errorf("payable %s: %w", id, err)
		}
		running[id] = (credits - d.credits) - (debits - d.debits)
	}
	for k := range c.transfers {
		t := &c.transfers[k]
		if v, ok := running[t.debit]; ok {
			v -= t.amount
			running[t.debit], t.debitAfter = v, &v
		}
		if v, ok := running[t.credit]; ok {
			v += t.amount
			running[t.credit] = v
			vv := v
			t.creditAfter = &vv
		}
	}
	return nil
}

func applyDeltas(ctx context.Context, tx pgx.Tx, deltas map[string]*bal, slot int32) error {
	for _, id := range sortedKeys(deltas) {
		d := deltas[id]
		tag, err := tx.Exec(ctx, `UPDATE ledger_balances SET debits_posted = debits_posted + $1, credits_posted = credits_posted + $2
			WHERE account_id = $3 AND slot = $4`, d.debits, d.credits, id, slot)
		if err != nil {
			return fmt.Errorf("hot account %s: %w", id, err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("hot account %s has no slot %d", id, slot)
		}
	}
	return nil
}

func sortedKeys(m map[string]*bal) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func transferRows(ts []transfer) [][]any {
	out := make([][]any, len(ts))
	for k, t := range ts {
		var da, ca any
		if t.debitAfter != nil {
			da = *t.debitAfter
		}
		if t.creditAfter != nil {
			ca = *t.creditAfter
		}
		out[k] = []any{t.id, t.ref, "posted", t.debit, t.credit, t.amount, t.cur, da, ca, t.at}
	}
	return out
}

// newBar is a progress bar with rate and ETA on w (nil: a silent one).
func newBar(w io.Writer, total int) *progressbar.ProgressBar {
	if w == nil {
		w = io.Discard
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("seeding visitors"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("visitors"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(500*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}
