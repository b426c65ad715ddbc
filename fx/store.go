package fx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/money"
)

// GormStore keeps quotes in the quotes table (migration 0400_fx.sql).
type GormStore struct {
	db *db.DB
}

// NewGormStore returns a store on d.
func NewGormStore(d *db.DB) *GormStore { return &GormStore{db: d} }

// quoteRow is a row of quotes.
type quoteRow struct {
	ID            string `gorm:"primaryKey"`
	Kind          string
	PartnerID     string
	VisitorID     string
	CardID        string
	SellCurrency  string
	SellMinor     int64
	BuyCurrency   string
	BuyMinor      int64
	Rate          string
	MidRate       string
	FeeMinor      int64
	CreditedMinor int64
	MidValueMinor int64
	RatesAsOf     time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        *time.Time
}

func (quoteRow) TableName() string { return "quotes" }

func toRow(q Quote) quoteRow {
	r := quoteRow{
		ID:            q.id,
		Kind:          q.kind.String(),
		PartnerID:     q.owner.PartnerID,
		VisitorID:     q.owner.VisitorID,
		CardID:        q.cardID,
		SellCurrency:  q.sell.Currency().Code(),
		SellMinor:     q.sell.Minor(),
		BuyCurrency:   q.buy.Currency().Code(),
		BuyMinor:      q.buy.Minor(),
		Rate:          q.rate.String(),
		MidRate:       q.mid.String(),
		FeeMinor:      q.fee.Minor(),
		CreditedMinor: q.credited.Minor(),
		MidValueMinor: q.midValue.Minor(),
		RatesAsOf:     q.ratesAsOf.UTC(),
		CreatedAt:     q.createdAt.UTC(),
		ExpiresAt:     q.expiresAt.UTC(),
	}
	if q.Used() {
		t := q.usedAt.UTC()
		r.UsedAt = &t
	}
	return r
}

// fromRow rebuilds a Quote, checking that the row still holds together: a
// row edited by hand must not turn into a quote that credits the wrong sum.
func fromRow(r quoteRow) (Quote, error) {
	bad := func(what string, err error) (Quote, error) {
		return Quote{}, fmt.Errorf("fx: stored quote %s: %s: %w", r.ID, what, err)
	}
	kind, err := ParseKind(r.Kind)
	if err != nil {
		return bad("kind", err)
	}
	sellCur, err := money.LookupCurrency(r.SellCurrency)
	if err != nil {
		return bad("sell currency", err)
	}
	buyCur, err := money.LookupCurrency(r.BuyCurrency)
	if err != nil {
		return bad("buy currency", err)
	}
	rate, err := decimal.NewFromString(r.Rate)
	if err != nil {
		return bad("rate", err)
	}
	mid, err := decimal.NewFromString(r.MidRate)
	if err != nil {
		return bad("mid rate", err)
	}
	q := Quote{
		id:        r.ID,
		kind:      kind,
		owner:     Owner{PartnerID: r.PartnerID, VisitorID: r.VisitorID},
		cardID:    r.CardID,
		sell:      money.New(r.SellMinor, sellCur),
		buy:       money.New(r.BuyMinor, buyCur),
		rate:      rate,
		mid:       mid,
		fee:       money.New(r.FeeMinor, money.CNY),
		midValue:  money.New(r.MidValueMinor, money.CNY),
		ratesAsOf: r.RatesAsOf.UTC(),
		createdAt: r.CreatedAt.UTC(),
		expiresAt: r.ExpiresAt.UTC(),
	}
	if r.UsedAt != nil {
		q.usedAt = r.UsedAt.UTC()
	}
	cnyCur := sellCur
	wantCredited := r.BuyMinor
	if kind == KindLoad {
		cnyCur = buyCur
		wantCredited = r.BuyMinor - r.FeeMinor
	}
	if cnyCur != money.CNY || r.CreditedMinor != wantCredited {
		return bad("amounts", errors.New("do not add up"))
	}
	q.credited = money.New(r.CreditedMinor, buyCur)
	return q, nil
}

// Create inserts q and runs then in the same transaction.
func (s *GormStore) Create(ctx context.Context, q Quote, then []db.Then[Quote]) error {
	row := toRow(q)
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return db.RunThen(tx, q, then...)
	})
	if err != nil {
		return fmt.Errorf("fx: store quote %s: %w", q.id, err)
	}
	return nil
}

// Get returns the owner's quote, or ErrQuoteNotFound, also for another
// owner's quote.
func (s *GormStore) Get(ctx context.Context, owner Owner, id string) (Quote, error) {
	var row quoteRow
	err := s.db.WithContext(ctx).
		Where("id = ? AND partner_id = ? AND visitor_id = ?", id, owner.PartnerID, owner.VisitorID).
		Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Quote{}, fmt.Errorf("%w: %s", ErrQuoteNotFound, id)
	}
	if err != nil {
		return Quote{}, fmt.Errorf("fx: get quote %s: %w", id, err)
	}
	return fromRow(row)
}

// Use marks the quote used at now, once: one conditional UPDATE, so of any
// number of concurrent callers exactly one sees success and the others
// ErrQuoteExpired (which also covers a quote past its expiry);
// ErrQuoteNotFound when there is no such quote. tx is the caller's
// transaction, so a load marks its quote in the same commit as its ledger
// batch (a rollback leaves the quote usable); nil runs on its own.
//
// Use does not check the owner or card: the caller got the quote with Get
// first and checked it against the request.
func (s *GormStore) Use(ctx context.Context, tx *gorm.DB, id string, now time.Time) error {
	if tx == nil {
		tx = s.db.Gorm
	}
	tx = tx.WithContext(ctx)
	// Microseconds, as stored: PostgreSQL would round a finer time.
	now = now.UTC().Truncate(time.Microsecond)
	res := tx.Model(&quoteRow{}).
		Where("id = ? AND used_at IS NULL AND expires_at > ?", id, now).
		Update("used_at", now)
	if res.Error != nil {
		return fmt.Errorf("fx: use quote %s: %w", id, res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	if err := tx.Model(&quoteRow{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return fmt.Errorf("fx: use quote %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrQuoteNotFound, id)
	}
	return fmt.Errorf("%w: %s", ErrQuoteExpired, id)
}

// Purge deletes unused quotes that expired before cutoff, for a periodic
// job. Used quotes stay: loads and unloads refer to them.
func (s *GormStore) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("used_at IS NULL AND expires_at < ?", cutoff.UTC().Truncate(time.Microsecond)).Delete(&quoteRow{})
	if res.Error != nil {
		return 0, fmt.Errorf("fx: purge quotes: %w", res.Error)
	}
	return res.RowsAffected, nil
}
