package escrow

import (
	"context"
	"fmt"

	"github.com/inbound-gateway/inbound/internal/money"
)

// HeldFor is what the visitor has in escrow now: the held amounts of the
// visitor's payments. The prepaid account view shows it as held (the money
// left the prepaid account when the payment was made).
func (s *Service) HeldFor(ctx context.Context, visitorID string) (money.Amount, error) {
	var n struct{ N int64 }
	err := s.d.WithContext(ctx).Raw(`SELECT COALESCE(SUM(held), 0) AS n FROM escrow_payments WHERE visitor_id = ? AND held > 0`, visitorID).
		Scan(&n).Error
	if err != nil {
		return money.Amount{}, fmt.Errorf("escrow: held for visitor: %w", err)
	}
	return money.New(n.N, money.CNY), nil
}
