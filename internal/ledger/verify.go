package ledger

import (
	"context"
	"fmt"
	"slices"
)

// Rules that Verify checks, as they appear in Break.Rule.
const (
	// RuleBalanced: per currency, posted debits equal posted credits and
	// pending debits equal pending credits.
	RuleBalanced = "balanced"
	// RuleNoNegative: no constrained account has a negative available
	// balance (holds included).
	RuleNoNegative = "no_negative"
	// RuleStoredEqualsEntries: every account's stored counters equal the
	// sums recomputed from its transfers.
	RuleStoredEqualsEntries = "stored_equals_entries"
	// RuleOpenHolds: the open-holds queue holds exactly the unresolved holds.
	RuleOpenHolds = "open_holds"
	// RuleCurrency: every transfer's accounts exist and share its currency.
	RuleCurrency = "currency"
	// RuleCheckpoint: the latest checkpoint's sums equal the transfers up
	// to it (checked by VerifyFull only).
	RuleCheckpoint = "checkpoint"
)

// Break is one violated invariant.
type Break struct {
	Rule     string
	Currency string // for RuleBalanced
	Account  string // account code, or a transfer or hold id
	Detail   string
}

// String is one line for logs and for `inbound ledger verify`.
func (b Break) String() string {
	return fmt.Sprintf("%s %s%s: %s", b.Rule, b.Currency, b.Account, b.Detail)
}

// Verify checks every ledger invariant over one consistent snapshot and
// returns what is broken, in a stable order; none means the ledger is sound.
// It reads every account and balance row; the entries it sums are those
// after the latest checkpoint (see Checkpoint), added to the checkpoint's
// sums. It is meant for tests, reconciliation and `inbound ledger verify`,
// not for a request path.
func (l *Ledger) Verify(ctx context.Context) ([]Break, error) { return l.verify(ctx, false) }

// VerifyFull is Verify recomputing every sum from every transfer, ignoring
// checkpoints, and checking that the latest checkpoint equals the
// transfers up to it: what `inbound ledger verify -full` runs, now and
// then, so that a checkpoint is not trusted for ever.
func (l *Ledger) VerifyFull(ctx context.Context) ([]Break, error) { return l.verify(ctx, true) }

func (l *Ledger) verify(ctx context.Context, full bool) ([]Break, error) {
	var out []Break
	err := l.tx.snapshot(ctx, func(s store) error {
		out = nil
		from, err := s.lastCheckpoint(ctx)
		if err != nil {
			return err
		}
		if full && from > 0 {
			bad, err := checkpointBreaks(s, from)
			if err != nil {
				return err
			}
			out = append(out, bad...)
		}
		if full {
			from = 0
		}
		accounts, err := s.allAccounts(ctx)
		if err != nil {
			return err
		}
		stored, err := s.storedSums(ctx)
		if err != nil {
			return err
		}
		entries, err := s.entrySums(ctx, from)
		if err != nil {
			return err
		}
		perCurrency := map[string]counters{}
		known := map[string]bool{}
		for _, a := range accounts {
			known[a.ID] = true
			c := stored[a.ID]
			perCurrency[a.Currency.Code()] = perCurrency[a.Currency.Code()].add(c)
			if a.NoNegative && c.available(a.Kind) < 0 {
				out = append(out, Break{Rule: RuleNoNegative, Account: a.Code,
					Detail: fmt.Sprintf("available %d", c.available(a.Kind))})
			}
			if e := entries[a.ID]; e != c {
				out = append(out, Break{Rule: RuleStoredEqualsEntries, Account: a.Code,
					Detail: fmt.Sprintf("stored %+v, entries %+v", c, e)})
			}
		}
		for id := range stored {
			if !known[id] {
				out = append(out, Break{Rule: RuleStoredEqualsEntries, Account: id, Detail: "balance of an unknown account"})
			}
		}
		for id := range entries {
			if !known[id] {
				out = append(out, Break{Rule: RuleStoredEqualsEntries, Account: id, Detail: "transfers of an unknown account"})
			}
		}
		for cur, c := range perCurrency {
			if c.debitsPosted != c.creditsPosted || c.debitsPending != c.creditsPending {
				out = append(out, Break{Rule: RuleBalanced, Currency: cur,
					Detail: fmt.Sprintf("posted debits %d credits %d, pending debits %d credits %d",
						c.debitsPosted, c.creditsPosted, c.debitsPending, c.creditsPending)})
			}
		}
		missing, orphans, err := s.holdMismatches(ctx)
		if err != nil {
			return err
		}
		for _, id := range missing {
			out = append(out, Break{Rule: RuleOpenHolds, Account: id, Detail: "unresolved hold not in the open-holds queue"})
		}
		for _, id := range orphans {
			out = append(out, Break{Rule: RuleOpenHolds, Account: id, Detail: "queued hold is not an unresolved hold"})
		}
		foreign, err := s.foreignTransfers(ctx, from)
		if err != nil {
			return err
		}
		for _, id := range foreign {
			out = append(out, Break{Rule: RuleCurrency, Account: id, Detail: "transfer account missing or in another currency"})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: verify: %w", err)
	}
	slices.SortFunc(out, func(a, b Break) int {
		if a.String() < b.String() {
			return -1
		}
		if a.String() > b.String() {
			return 1
		}
		return 0
	})
	return out, nil
}

// checkpointBreaks compares checkpoint seq's stored sums with the sums
// recomputed from the transfers up to it.
func checkpointBreaks(s store, seq int64) ([]Break, error) {
	stored, err := s.entrySumsOfCheckpoint(seq)
	if err != nil {
		return nil, err
	}
	recomputed, err := s.postedSumsUpTo(seq)
	if err != nil {
		return nil, err
	}
	var out []Break
	for id, c := range recomputed {
		if stored[id] != c {
			out = append(out, Break{Rule: RuleCheckpoint, Account: id,
				Detail: fmt.Sprintf("checkpoint %d holds %+v, transfers up to it %+v", seq, stored[id], c)})
		}
	}
	for id, c := range stored {
		if _, ok := recomputed[id]; !ok && c != (counters{}) {
			out = append(out, Break{Rule: RuleCheckpoint, Account: id,
				Detail: fmt.Sprintf("checkpoint %d holds %+v for an account without transfers up to it", seq, c)})
		}
	}
	return out, nil
}
