package prepaid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
)

type accountRow struct {
	ID         string `gorm:"primaryKey"`
	VisitorID  string
	PartnerID  string
	Status     string
	Profile    string
	Currency   string
	LedgerCode string
	OpenedAt   time.Time
	ExpiresAt  time.Time
	ClosedAt   *time.Time
}

func (accountRow) TableName() string { return "prepaid_accounts" }

func (r accountRow) account() Account {
	return Account{ID: r.ID, VisitorID: r.VisitorID, PartnerID: r.PartnerID, Status: Status(r.Status), Profile: Profile(r.Profile),
		Currency: r.Currency, LedgerCode: r.LedgerCode, OpenedAt: r.OpenedAt, ExpiresAt: r.ExpiresAt, ClosedAt: r.ClosedAt}
}

// Store keeps accounts in the database.
type Store struct{ db *db.DB }

// NewStore returns the store.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// OpenTx opens the visitor's account inside tx (the transaction that
// approves the visitor), valid for validity from now. Opening twice returns
// the first account.
func (s *Store) OpenTx(tx *gorm.DB, visitorID, partnerID string, now time.Time, validity time.Duration) (Account, error) {
	now = now.UTC().Truncate(time.Microsecond)
	r := accountRow{ID: ids.New(ids.Account), VisitorID: visitorID, PartnerID: partnerID, Status: string(Active), Profile: string(Basic),
		Currency: "CNY", LedgerCode: LedgerCode(visitorID), OpenedAt: now, ExpiresAt: now.Add(validity)}
	if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "visitor_id"}}, DoNothing: true}).Create(&r).Error; err != nil {
		return Account{}, fmt.Errorf("prepaid: open account: %w", err)
	}
	var got accountRow
	if err := tx.Take(&got, "visitor_id = ?", visitorID).Error; err != nil {
		return Account{}, fmt.Errorf("prepaid: open account: %w", err)
	}
	return got.account(), nil
}

// ByVisitorTx reads the visitor's account inside tx.
func (s *Store) ByVisitorTx(tx *gorm.DB, visitorID string) (Account, error) {
	var r accountRow
	err := tx.Take(&r, "visitor_id = ?", visitorID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("prepaid: account: %w", err)
	}
	return r.account(), nil
}

// ByVisitor returns the visitor's account; partnerID scopes it ("" for
// staff, who see every partner's).
func (s *Store) ByVisitor(ctx context.Context, partnerID, visitorID string) (Account, error) {
	q := s.db.WithContext(ctx).Where("visitor_id = ?", visitorID)
	if partnerID != "" {
		q = q.Where("partner_id = ?", partnerID)
	}
	var r accountRow
	err := q.Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("prepaid: account: %w", err)
	}
	return r.account(), nil
}
