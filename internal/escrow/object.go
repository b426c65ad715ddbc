package escrow

import "time"

// Object is the payment as the API shows it (docs/API.md) and as the
// payment.* webhook events carry it, so that both always agree.
func (p Payment) Object() map[string]any {
	o := map[string]any{
		"id":                 p.ID,
		"object":             "payment",
		"status":             string(p.Status),
		"visitor_id":         p.VisitorID,
		"merchant_id":        p.MerchantID,
		"amount":             p.Amount,
		"held":               p.Held,
		"released":           p.Released,
		"refunded":           p.Refunded,
		"fee":                p.Fee,
		"out_trade_no":       p.OutTradeNo,
		"description":        p.Description,
		"auto_release_after": p.AutoReleaseAfter.String(),
		"auto_release_at":    p.AutoReleaseAt.Format(time.RFC3339),
		"created_at":         p.CreatedAt.Format(time.RFC3339),
	}
	if p.ReleasedAt != nil {
		o["released_at"] = p.ReleasedAt.Format(time.RFC3339)
	}
	if p.DisputedAt != nil {
		d := map[string]any{"reason": p.DisputeReason, "created_at": p.DisputedAt.Format(time.RFC3339)}
		if p.ResolvedAt != nil {
			d["outcome"] = string(p.Resolution)
			d["resolved_at"] = p.ResolvedAt.Format(time.RFC3339)
		}
		o["dispute"] = d
	}
	return o
}

// Object is the refund as the API shows it, with the payment after it.
func (r Refund) Object() map[string]any {
	return map[string]any{
		"id":         r.ID,
		"object":     "refund",
		"payment_id": r.PaymentID,
		"amount":     r.Amount,
		"source":     r.Source,
		"reason":     r.Reason,
		"created_at": r.CreatedAt.Format(time.RFC3339),
		"payment":    r.Payment.Object(),
	}
}

// Object is the merchant as the API shows it.
func (m Merchant) Object() map[string]any {
	return map[string]any{
		"id":         m.ID,
		"object":     "merchant",
		"name":       m.Name,
		"mcc":        m.MCC,
		"balance":    m.Balance,
		"created_at": m.CreatedAt.Format(time.RFC3339),
	}
}
