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

// LedgerAccountClosedTx reports whether the ledger account with code is the
// ledger side of a closed prepaid account (false for any other account).
func (s *Store) LedgerAccountClosedTx(tx *gorm.DB, ledgerCode string) (bool, error) {
	var n int64
	err := tx.Model(&accountRow{}).Where("ledger_code = ? AND status = ?", ledgerCode, string(Closed)).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("prepaid: account by ledger code: %w", err)
	}
	return n > 0, nil
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

// Events receives the outbox events of account changes.
type Events interface {
	Emit(tx *db.Tx, partnerID, typ string, data any) (string, error)
}

// ErrInvalidTransition is returned for a freeze of an account that is not
// active, or an unfreeze of one that is not frozen.
var ErrInvalidTransition = errors.New("prepaid: account is not in a state that allows this")

// SetFrozen freezes (frozen true) or unfreezes the visitor's account in one
// transaction with its outbox event (account.frozen / account.unfrozen).
// A frozen account refuses loads, payments and unloads.
func (s *Store) SetFrozen(ctx context.Context, visitorID string, frozen bool, ev Events, then ...db.Then[Account]) (Account, error) {
	from, to, typ := Active, Frozen, "account.frozen"
	if !frozen {
		from, to, typ = Frozen, Active, "account.unfrozen"
	}
	var out Account
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		var r accountRow
		err := s.db.ForUpdate(tx).Take(&r, "visitor_id = ?", visitorID).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if Status(r.Status) != from {
			return fmt.Errorf("%w: account is %s", ErrInvalidTransition, r.Status)
		}
		if err := tx.Model(&accountRow{}).Where("id = ? AND status = ?", r.ID, string(from)).Update("status", string(to)).Error; err != nil {
			return err
		}
		r.Status = string(to)
		out = r.account()
		if _, err := ev.Emit(tx, r.PartnerID, typ, map[string]any{"id": r.ID, "object": "account", "visitor": r.VisitorID, "status": r.Status}); err != nil {
			return err
		}
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// FreezeTx freezes the visitor's active account inside tx, with its outbox
// event (account.frozen), for changes that freeze as part of a larger one
// (the sanctions re-screening). An account that is not active (already
// frozen, expired, closed) is left as it is and false returned; no account
// is ErrNotFound.
func (s *Store) FreezeTx(tx *gorm.DB, visitorID string, ev Events) (bool, error) {
	var r accountRow
	err := s.db.ForUpdate(tx).Take(&r, "visitor_id = ?", visitorID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, err
	}
	if Status(r.Status) != Active {
		return false, nil
	}
	if err := tx.Model(&accountRow{}).Where("id = ? AND status = ?", r.ID, string(Active)).Update("status", string(Frozen)).Error; err != nil {
		return false, err
	}
	_, err = ev.Emit(tx, r.PartnerID, "account.frozen", map[string]any{"id": r.ID, "object": "account", "visitor": r.VisitorID, "status": string(Frozen)})
	return err == nil, err
}

// ClosedBefore returns the visitors whose account closed before cutoff
// (the retention job erases their personal data).
func (s *Store) ClosedBefore(ctx context.Context, cutoff time.Time) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&accountRow{}).Where("status = ? AND closed_at IS NOT NULL AND closed_at < ?", string(Closed), cutoff.UTC()).
		Order("visitor_id").Pluck("visitor_id", &ids).Error
	return ids, err
}

// CheckUsable returns nil for an active account, else why it cannot move
// money (ErrFrozen, ErrExpired, ErrClosed).
func (a Account) CheckUsable(now time.Time) error {
	switch {
	case a.Status == Frozen:
		return ErrFrozen
	case a.Status == Closed:
		return ErrClosed
	case a.Status == Expired || !now.Before(a.ExpiresAt):
		return ErrExpired
	}
	return nil
}
