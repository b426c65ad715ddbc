package prepaid

import (
	"context"
	"fmt"
	"time"
)

// The reads reconciliation needs (internal/recon): what the gateway says
// moved at the card networks, from the loads and unloads tables.

// Settled is one succeeded load (a capture at the network) or unload (a
// refund to the card), as the network's settlement report should show it.
type Settled struct {
	ID       string // load_... or unl_...
	Network  string
	STAN     string
	RRN      string
	Currency string // the card's currency: what the network moved
	Minor    int64
}

// SettledBetween lists the loads and the unloads that succeeded with
// money at the network (an unload refunding 0 sent nothing) and were
// created in [from, to): a load turns succeeded in the transaction that
// credits it, so these are the ones the ledger holds.
func (s *Store) SettledBetween(ctx context.Context, from, to time.Time) (loads, unloads []Settled, err error) {
	var lr []loadRow
	if err := s.db.WithContext(ctx).Select("id", "network", "stan", "rrn", "charged_currency", "charged_minor").
		Where("status = ? AND created_at >= ? AND created_at < ?", string(LoadSucceeded), from, to).
		Order("id").Find(&lr).Error; err != nil {
		return nil, nil, fmt.Errorf("prepaid: settled loads: %w", err)
	}
	var ur []unloadRow
	if err := s.db.WithContext(ctx).Select("id", "network", "stan", "rrn", "refund_currency", "refund_minor").
		Where("status = ? AND refund_minor > 0 AND created_at >= ? AND created_at < ?", string(UnloadSucceeded), from, to).
		Order("id").Find(&ur).Error; err != nil {
		return nil, nil, fmt.Errorf("prepaid: settled unloads: %w", err)
	}
	loads = make([]Settled, len(lr))
	for i, r := range lr {
		loads[i] = Settled{ID: r.ID, Network: r.Network, STAN: r.STAN, RRN: r.RRN, Currency: r.ChargedCurrency, Minor: r.ChargedMinor}
	}
	unloads = make([]Settled, len(ur))
	for i, r := range ur {
		unloads[i] = Settled{ID: r.ID, Network: r.Network, STAN: r.STAN, RRN: r.RRN, Currency: r.RefundCurrency, Minor: r.RefundMinor}
	}
	return loads, unloads, nil
}

// CardOverRefund is a card that got back more than it paid in, in one
// currency (minor units, every day together).
type CardOverRefund struct {
	CardID   string
	Currency string
	Refunded int64
	Captured int64
}

// OverRefundedCards lists, per card and currency, where the refunds of
// succeeded unloads exceed the captures of succeeded loads. Unload keeps
// every card within that room, so any row is a bug or a row changed by
// hand.
func (s *Store) OverRefundedCards(ctx context.Context) ([]CardOverRefund, error) {
	var rows []CardOverRefund
	// The captures are summed per refunded card through prepaid_loads_card
	// (card_id, status), not aggregated over every load ever made: the
	// refunded cards are few, the loads are the largest table but one.
	err := s.db.WithContext(ctx).Raw(`SELECT card_id, currency, refunded, captured FROM (
		SELECT u.card_id, u.currency, u.refunded,
		       COALESCE((SELECT SUM(l.charged_minor) FROM prepaid_loads l
		                 WHERE l.card_id = u.card_id AND l.status = ? AND l.charged_currency = u.currency), 0) AS captured
		FROM (SELECT card_id, refund_currency AS currency, SUM(refund_minor) AS refunded FROM prepaid_unloads
		      WHERE status = ? AND refund_minor > 0 GROUP BY card_id, refund_currency) u) r
		WHERE refunded > captured
		ORDER BY card_id, currency`, string(LoadSucceeded), string(UnloadSucceeded)).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("prepaid: over-refunded cards: %w", err)
	}
	return rows, nil
}
