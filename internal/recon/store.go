package recon

import (
	"context"
	"fmt"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/db"
)

// LedgerSide lists the day's succeeded loads (captures) and unloads
// (refunds): the ones whose ledger batch was posted, since a load turns
// succeeded in the same transaction as its credit.
func LedgerSide(ctx context.Context, d *db.DB, day time.Time) ([]Movement, error) {
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	var loads []struct {
		ID, Network, STAN, RRN, ChargedCurrency string
		ChargedMinor                            int64
	}
	if err := d.WithContext(ctx).Raw(`SELECT id, network, stan, rrn, charged_currency, charged_minor FROM prepaid_loads
		WHERE status = 'succeeded' AND created_at >= ? AND created_at < ? ORDER BY id`, from, to).Scan(&loads).Error; err != nil {
		return nil, fmt.Errorf("recon: loads: %w", err)
	}
	var unloads []struct {
		ID, Network, STAN, RRN, RefundCurrency string
		RefundMinor                            int64
	}
	if err := d.WithContext(ctx).Raw(`SELECT id, network, stan, rrn, refund_currency, refund_minor FROM prepaid_unloads
		WHERE status = 'succeeded' AND refund_minor > 0 AND created_at >= ? AND created_at < ? ORDER BY id`, from, to).Scan(&unloads).Error; err != nil {
		return nil, fmt.Errorf("recon: unloads: %w", err)
	}
	out := make([]Movement, 0, len(loads)+len(unloads))
	for _, l := range loads {
		out = append(out, Movement{Kind: cardnet.LineCapture, Network: l.Network, STAN: l.STAN, RRN: l.RRN, Minor: l.ChargedMinor, Currency: l.ChargedCurrency, Object: l.ID})
	}
	for _, u := range unloads {
		out = append(out, Movement{Kind: cardnet.LineRefund, Network: u.Network, STAN: u.STAN, RRN: u.RRN, Minor: u.RefundMinor, Currency: u.RefundCurrency, Object: u.ID})
	}
	return out, nil
}

// RuleRefundExceedsCapture: a card got back more than it paid in.
const RuleRefundExceedsCapture = "refund_exceeds_capture"

// CardRefunds checks that refunds to a card never exceed captures from it:
// per card and currency, the refunds of succeeded unloads against the
// captures of succeeded loads, all days together. Unload keeps every card
// within that room, so any break is a bug or a row changed by hand; the
// network would refuse such a refund against the capture anyway.
func CardRefunds(ctx context.Context, d *db.DB) ([]Break, error) {
	var rows []struct {
		CardID, Currency   string
		Refunded, Captured int64
	}
	// The captures are summed per refunded card through prepaid_loads_card
	// (card_id, status), not aggregated over every load ever made: the
	// refunded cards are few, the loads are the largest table but one.
	err := d.WithContext(ctx).Raw(`SELECT card_id, currency, refunded, captured FROM (
		SELECT u.card_id, u.currency, u.refunded,
		       COALESCE((SELECT SUM(l.charged_minor) FROM prepaid_loads l
		                 WHERE l.card_id = u.card_id AND l.status = 'succeeded' AND l.charged_currency = u.currency), 0) AS captured
		FROM (SELECT card_id, refund_currency AS currency, SUM(refund_minor) AS refunded FROM prepaid_unloads
		      WHERE status = 'succeeded' AND refund_minor > 0 GROUP BY card_id, refund_currency) u) r
		WHERE refunded > captured
		ORDER BY card_id, currency`).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("recon: card refunds: %w", err)
	}
	out := make([]Break, 0, len(rows))
	for _, r := range rows {
		out = append(out, Break{Check: "card_refunds", Rule: RuleRefundExceedsCapture, Currency: r.Currency, Object: r.CardID,
			Detail: fmt.Sprintf("card %s got back %d %s (minor units) but paid in %d", r.CardID, r.Refunded, r.Currency, r.Captured)})
	}
	return out, nil
}
