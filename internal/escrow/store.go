package escrow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/prepaid"
)

type merchantRow struct {
	ID              string `gorm:"primaryKey"`
	PartnerID       string
	Name            string
	MCC             string `gorm:"column:mcc"`
	PayableAccounts string
	CreatedAt       time.Time
}

func (merchantRow) TableName() string { return "escrow_merchants" }

type paymentRow struct {
	ID                 string `gorm:"primaryKey"`
	PartnerID          string
	VisitorID          string
	MerchantID         string
	Currency           string
	Amount             int64
	Held               int64
	Released           int64
	Refunded           int64
	Fee                int64
	Status             string
	OutTradeNo         string
	Description        string
	AutoReleaseAfterNs int64
	AutoReleaseAt      time.Time
	DueAt              *time.Time
	EscrowAccountID    string
	VisitorAccountID   string
	DisputeReason      string
	DisputedAt         *time.Time
	Resolution         string
	ResolvedBy         string
	ResolutionReason   string
	ResolvedAt         *time.Time
	ReleasedAt         *time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

func (paymentRow) TableName() string { return "escrow_payments" }

type refundRow struct {
	ID        string `gorm:"primaryKey"`
	PaymentID string
	PartnerID string
	Currency  string
	Amount    int64
	Source    string
	Reason    string
	CreatedBy string
	CreatedAt time.Time
}

func (refundRow) TableName() string { return "escrow_refunds" }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r paymentRow) payment() (Payment, error) {
	c, err := money.LookupCurrency(r.Currency)
	if err != nil {
		return Payment{}, fmt.Errorf("escrow: payment %s: %w", r.ID, err)
	}
	return Payment{
		ID: r.ID, PartnerID: r.PartnerID, VisitorID: r.VisitorID, MerchantID: r.MerchantID,
		Amount: money.New(r.Amount, c), Held: money.New(r.Held, c), Released: money.New(r.Released, c),
		Refunded: money.New(r.Refunded, c), Fee: money.New(r.Fee, c), Status: Status(r.Status),
		OutTradeNo: r.OutTradeNo, Description: r.Description, AutoReleaseAfter: time.Duration(r.AutoReleaseAfterNs),
		AutoReleaseAt: r.AutoReleaseAt.UTC(), DisputeReason: r.DisputeReason, DisputedAt: utcPtr(r.DisputedAt),
		Resolution: Outcome(r.Resolution), ResolvedBy: r.ResolvedBy, ResolutionReason: r.ResolutionReason,
		ResolvedAt: utcPtr(r.ResolvedAt), ReleasedAt: utcPtr(r.ReleasedAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		escrowAccount: r.EscrowAccountID, visitorAccount: r.VisitorAccountID, dueAt: utcPtr(r.DueAt),
	}, nil
}

func rowOf(p Payment) paymentRow {
	return paymentRow{
		ID: p.ID, PartnerID: p.PartnerID, VisitorID: p.VisitorID, MerchantID: p.MerchantID,
		Currency: p.Amount.Currency().Code(), Amount: p.Amount.Minor(), Held: p.Held.Minor(),
		Released: p.Released.Minor(), Refunded: p.Refunded.Minor(), Fee: p.Fee.Minor(), Status: string(p.Status),
		OutTradeNo: p.OutTradeNo, Description: p.Description, AutoReleaseAfterNs: int64(p.AutoReleaseAfter),
		AutoReleaseAt: p.AutoReleaseAt, DueAt: p.dueAt, EscrowAccountID: p.escrowAccount,
		VisitorAccountID: p.visitorAccount, DisputeReason: p.DisputeReason, DisputedAt: p.DisputedAt,
		Resolution: string(p.Resolution), ResolvedBy: p.ResolvedBy, ResolutionReason: p.ResolutionReason,
		ResolvedAt: p.ResolvedAt, ReleasedAt: p.ReleasedAt, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

func insertMerchant(tx *gorm.DB, m Merchant) error {
	r := merchantRow{ID: m.ID, PartnerID: m.PartnerID, Name: m.Name, MCC: m.MCC,
		PayableAccounts: strings.Join(m.payable, " "), CreatedAt: m.CreatedAt}
	if err := tx.Create(&r).Error; err != nil {
		return fmt.Errorf("escrow: insert merchant: %w", err)
	}
	return nil
}

func merchantByID(ctx context.Context, tx *gorm.DB, id string) (Merchant, error) {
	var r merchantRow
	err := tx.Take(&r, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Merchant{}, fmt.Errorf("%w: merchant %s", ErrNotFound, id)
	}
	if err != nil {
		return Merchant{}, fmt.Errorf("escrow: merchant: %w", err)
	}
	return Merchant{ID: r.ID, PartnerID: r.PartnerID, Name: r.Name, MCC: r.MCC, CreatedAt: r.CreatedAt.UTC(),
		payable: strings.Fields(r.PayableAccounts)}, nil
}

// lockMerchant takes the merchant's row lock (tx carries FOR UPDATE).
func lockMerchant(ctx context.Context, tx *gorm.DB, id string) error {
	var r merchantRow
	if err := tx.Select("id").Take(&r, "id = ?", id).Error; err != nil {
		return fmt.Errorf("escrow: lock merchant %s: %w", id, err)
	}
	return nil
}

// insertPayment inserts p unless the partner's out_trade_no is taken; it
// reports whether it inserted.
func insertPayment(ctx context.Context, tx *gorm.DB, p Payment) (bool, error) {
	r := rowOf(p)
	res := tx.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "partner_id"}, {Name: "out_trade_no"}}, DoNothing: true}).Create(&r)
	if res.Error != nil {
		return false, fmt.Errorf("escrow: insert payment: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

func updatePayment(ctx context.Context, tx *gorm.DB, p Payment) error {
	r := rowOf(p)
	res := tx.Exec(`UPDATE escrow_payments SET held = ?, released = ?, refunded = ?, fee = ?,
		status = ?, due_at = ?, dispute_reason = ?, disputed_at = ?, resolution = ?, resolved_by = ?,
		resolution_reason = ?, resolved_at = ?, released_at = ?, updated_at = ? WHERE id = ?`,
		r.Held, r.Released, r.Refunded, r.Fee, r.Status, r.DueAt, r.DisputeReason, r.DisputedAt, r.Resolution,
		r.ResolvedBy, r.ResolutionReason, r.ResolvedAt, r.ReleasedAt, r.UpdatedAt, r.ID)
	if res.Error != nil {
		return fmt.Errorf("escrow: update payment: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("escrow: update payment %s: %d rows", p.ID, res.RowsAffected)
	}
	return nil
}

func paymentByOutTradeNo(ctx context.Context, tx *gorm.DB, partnerID, outTradeNo string) (Payment, bool, error) {
	var rs []paymentRow
	if err := tx.Where("partner_id = ? AND out_trade_no = ?", partnerID, outTradeNo).Limit(1).Find(&rs).Error; err != nil {
		return Payment{}, false, fmt.Errorf("escrow: payment by out_trade_no: %w", err)
	}
	if len(rs) == 0 {
		return Payment{}, false, nil
	}
	p, err := rs[0].payment()
	return p, err == nil, err
}

// paymentByID reads a payment; tx may carry a locking clause. partnerID ""
// reads any partner's.
func paymentByID(ctx context.Context, tx *gorm.DB, partnerID, id string) (Payment, error) {
	q := tx.Where("id = ?", id)
	if partnerID != "" {
		q = q.Where("partner_id = ?", partnerID)
	}
	var r paymentRow
	err := q.Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Payment{}, fmt.Errorf("%w: payment %s", ErrNotFound, id)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("escrow: payment: %w", err)
	}
	return r.payment()
}

func listPayments(ctx context.Context, tx *gorm.DB, partnerID string, f Filter) ([]Payment, bool, error) {
	q := tx.Where("partner_id = ?", partnerID)
	if f.VisitorID != "" {
		q = q.Where("visitor_id = ?", f.VisitorID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Cursor != "" {
		q = q.Where("id < ?", f.Cursor)
	}
	var rs []paymentRow
	if err := q.Order("id DESC").Limit(f.Limit + 1).Find(&rs).Error; err != nil {
		return nil, false, fmt.Errorf("escrow: list payments: %w", err)
	}
	more := len(rs) > f.Limit
	if more {
		rs = rs[:f.Limit]
	}
	out := make([]Payment, 0, len(rs))
	for _, r := range rs {
		p, err := r.payment()
		if err != nil {
			return nil, false, err
		}
		out = append(out, p)
	}
	return out, more, nil
}

// claimDue locks the most overdue payment due at now that no other
// transaction holds (tx carries FOR UPDATE SKIP LOCKED on PostgreSQL),
// leaving out payments of frozen visitors: a freeze stops every outflow,
// and a frozen payment at the head of the queue must not stop the others.
// Frozen payments keep their due_at and are claimed once unfrozen.
func claimDue(ctx context.Context, tx *gorm.DB, now time.Time) (Payment, bool, error) {
	var rs []paymentRow
	if err := tx.Where("due_at IS NOT NULL AND due_at <= ?", now.UTC()).
		Where("NOT EXISTS (SELECT 1 FROM prepaid_accounts a WHERE a.visitor_id = escrow_payments.visitor_id AND a.status = ?)", string(prepaid.Frozen)).
		Order("due_at").Limit(1).Find(&rs).Error; err != nil {
		return Payment{}, false, fmt.Errorf("escrow: claim due payment: %w", err)
	}
	if len(rs) == 0 {
		return Payment{}, false, nil
	}
	p, err := rs[0].payment()
	return p, err == nil, err
}

// oldestDue returns the due time of the oldest payment waiting for its
// auto-release (frozen visitors excepted), or nil.
func oldestDue(ctx context.Context, tx *gorm.DB, now time.Time) (*time.Time, error) {
	var rs []paymentRow
	if err := tx.WithContext(ctx).Where("due_at IS NOT NULL AND due_at <= ?", now.UTC()).
		Where("NOT EXISTS (SELECT 1 FROM prepaid_accounts a WHERE a.visitor_id = escrow_payments.visitor_id AND a.status = ?)", string(prepaid.Frozen)).
		Order("due_at").Limit(1).Find(&rs).Error; err != nil {
		return nil, fmt.Errorf("escrow: oldest due payment: %w", err)
	}
	if len(rs) == 0 || rs[0].DueAt == nil {
		return nil, nil
	}
	return rs[0].DueAt, nil
}

func insertRefund(ctx context.Context, tx *gorm.DB, partnerID string, r Refund) error {
	row := refundRow{ID: r.ID, PaymentID: r.PaymentID, PartnerID: partnerID, Currency: r.Amount.Currency().Code(),
		Amount: r.Amount.Minor(), Source: r.Source, Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("escrow: insert refund: %w", err)
	}
	return nil
}

func refundsOf(ctx context.Context, tx *gorm.DB, paymentID string) ([]Refund, error) {
	var rs []refundRow
	if err := tx.Where("payment_id = ?", paymentID).Order("id").Find(&rs).Error; err != nil {
		return nil, fmt.Errorf("escrow: refunds: %w", err)
	}
	out := make([]Refund, 0, len(rs))
	for _, r := range rs {
		c, err := money.LookupCurrency(r.Currency)
		if err != nil {
			return nil, err
		}
		out = append(out, Refund{ID: r.ID, PaymentID: r.PaymentID, Amount: money.New(r.Amount, c), Source: r.Source,
			Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()})
	}
	return out, nil
}

// Reconciliation compares the money the ledger holds in escrow with what
// the payments say is held.
type Reconciliation struct {
	// LedgerHeld is the sum of the posted balances of all escrow:<pay>
	// accounts; PaymentsHeld the sum of the held amounts of all payments.
	LedgerHeld   money.Amount
	PaymentsHeld money.Amount
	// OpenPayments counts payments with money in escrow.
	OpenPayments int64
	// Mismatches lists payments whose escrow account balance differs from
	// their held amount ("pay_x: ledger 10.00, payment 8.00").
	Mismatches []string
}

// Balanced reports whether the ledger and the payments agree.
func (r Reconciliation) Balanced() bool {
	return r.LedgerHeld == r.PaymentsHeld && len(r.Mismatches) == 0
}

// EscrowHeld reads both sides of the escrow reconciliation in one
// consistent snapshot. It scans every payment: for reconciliation and
// tests, not for a request path.
func (s *Service) EscrowHeld(ctx context.Context) (Reconciliation, error) {
	var out Reconciliation
	err := s.d.Transact(ctx, func(tx *gorm.DB) error {
		out = Reconciliation{}
		if s.d.Dialect == db.Postgres {
			if err := tx.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").Error; err != nil {
				return err
			}
		}
		var ledgerHeld, paymentsHeld struct{ N int64 }
		// Liability: the balance is credits minus debits.
		if err := tx.Raw(`SELECT COALESCE(SUM(b.credits_posted - b.debits_posted), 0) AS n
			FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id
			WHERE a.code LIKE 'escrow:%'`).Scan(&ledgerHeld).Error; err != nil {
			return err
		}
		if err := tx.Raw(`SELECT COALESCE(SUM(held), 0) AS n FROM escrow_payments`).Scan(&paymentsHeld).Error; err != nil {
			return err
		}
		var open struct{ N int64 }
		if err := tx.Raw(`SELECT COUNT(*) AS n FROM escrow_payments WHERE held > 0`).Scan(&open).Error; err != nil {
			return err
		}
		out.OpenPayments = open.N
		var bad []struct {
			ID     string
			Ledger int64
			Held   int64
		}
		if err := tx.Raw(`SELECT p.id, COALESCE(SUM(b.credits_posted - b.debits_posted), 0) AS ledger, p.held
			FROM escrow_payments p LEFT JOIN ledger_balances b ON b.account_id = p.escrow_account_id
			GROUP BY p.id, p.held
			HAVING COALESCE(SUM(b.credits_posted - b.debits_posted), 0) <> p.held
			ORDER BY p.id`).Scan(&bad).Error; err != nil {
			return err
		}
		for _, b := range bad {
			out.Mismatches = append(out.Mismatches, fmt.Sprintf("%s: ledger %s, payment %s", b.ID,
				money.New(b.Ledger, money.CNY), money.New(b.Held, money.CNY)))
		}
		out.LedgerHeld = money.New(ledgerHeld.N, money.CNY)
		out.PaymentsHeld = money.New(paymentsHeld.N, money.CNY)
		return nil
	})
	return out, err
}
