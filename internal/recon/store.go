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
