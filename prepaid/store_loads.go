package prepaid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
)

// The gorm code of loads and unloads (migration 0510_prepaid_loads.sql).
// Methods taking a tx run inside the caller's transaction. Times are the
// service's clock, not gorm's: Recover compares them with the clock it is
// given.

type loadRow struct {
	ID              string `gorm:"primaryKey"`
	PartnerID       string
	VisitorID       string
	AccountID       string
	CardID          string
	QuoteID         string
	Status          string
	Network         string
	ChargedCurrency string
	ChargedMinor    int64
	BuyMinor        int64
	CreditedMinor   int64
	FeeMinor        int64
	USDMinor        int64 `gorm:"column:usd_minor"`
	CallID          string
	ResponseCode    string
	AuthCode        string
	STAN            string `gorm:"column:stan"`
	RRN             string `gorm:"column:rrn"`
	DeclineCode     string
	RequestKey      string
	CreatedAt       time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt       time.Time `gorm:"autoUpdateTime:false"`
}

func (loadRow) TableName() string { return "prepaid_loads" }

type unloadRow struct {
	ID             string `gorm:"primaryKey"`
	PartnerID      string
	VisitorID      string
	AccountID      string
	CardID         string
	QuoteID        string
	Status         string
	CloseAccount   bool
	Network        string
	AmountMinor    int64
	RefundCurrency string
	RefundMinor    int64
	Rate           string
	HoldID         string
	CallID         string
	ResponseCode   string
	AuthCode       string
	STAN           string `gorm:"column:stan"`
	RRN            string `gorm:"column:rrn"`
	DeclineCode    string
	RequestKey     string
	// GroupID is the id of the first unload of the request (itself for
	// that one), PartNo the order within it (migration 0820).
	GroupID   string
	PartNo    int
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
}

func (unloadRow) TableName() string { return "prepaid_unloads" }

// transact runs fn in a retried transaction.
func (s *Store) transact(ctx context.Context, fn func(tx *db.Tx) error) error {
	return s.db.Transact(ctx, fn)
}

// lockAccountTx reads the visitor's account with a row lock: every load
// and unload of the account takes it first, so their limit checks and
// reservations happen one at a time.
func (s *Store) lockAccountTx(tx *db.Tx, visitorID string) (Account, error) {
	var r accountRow
	err := s.db.ForUpdate(tx).Take(&r, "visitor_id = ?", visitorID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("prepaid: lock account: %w", err)
	}
	return r.account(), nil
}

// setStatusTx moves the account from one status to another; it reports
// whether the account was in from.
func (s *Store) setStatusTx(tx *db.Tx, accountID string, from []Status, to Status, at time.Time) (bool, error) {
	names := make([]string, len(from))
	for i, f := range from {
		names[i] = string(f)
	}
	upd := map[string]any{"status": string(to)}
	if to == Closed {
		at = at.UTC().Truncate(time.Microsecond)
		upd["closed_at"] = at
	}
	res := tx.Model(&accountRow{}).Where("id = ? AND status IN ?", accountID, names).Updates(upd)
	if res.Error != nil {
		return false, fmt.Errorf("prepaid: account status: %w", res.Error)
	}
	if res.RowsAffected == 1 && to == Closed {
		// A closed account ends its visitor's card bindings in the same
		// transaction, so the cards can be bound by another visitor.
		var visitorIDs []string
		if err := tx.Model(&accountRow{}).Where("id = ?", accountID).Pluck("visitor_id", &visitorIDs).Error; err != nil {
			return false, fmt.Errorf("prepaid: account status: %w", err)
		}
		for _, v := range visitorIDs {
			if _, err := gateway.DetachVisitorCardsTx(tx, v, at); err != nil {
				return false, err
			}
		}
	}
	return res.RowsAffected == 1, nil
}

// inFlightTx sums the credits of the account's loads not yet decided.
func (s *Store) inFlightTx(tx *db.Tx, accountID string) (int64, error) {
	var n int64
	err := tx.Model(&loadRow{}).Select("COALESCE(SUM(credited_minor), 0)").
		Where("account_id = ? AND status IN ?", accountID, []string{string(LoadPending), string(LoadRequiresAction)}).
		Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("prepaid: loads in flight: %w", err)
	}
	return n, nil
}

// loadedSinceTx sums the USD at mid of the account's loads since t that
// succeeded or may still succeed.
func (s *Store) loadedSinceTx(tx *db.Tx, accountID string, since time.Time) (int64, error) {
	var n int64
	err := tx.Model(&loadRow{}).Select("COALESCE(SUM(usd_minor), 0)").
		Where("account_id = ? AND status IN ? AND created_at >= ?", accountID,
			[]string{string(LoadPending), string(LoadRequiresAction), string(LoadSucceeded)}, since.UTC()).
		Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("prepaid: loaded this year: %w", err)
	}
	return n, nil
}

// usage is inFlightTx and loadedSinceTx outside a transaction, for the
// account view.
func (s *Store) usage(ctx context.Context, accountID string, since time.Time) (inFlight, loaded int64, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if inFlight, err = s.inFlightTx(tx, accountID); err != nil {
			return err
		}
		loaded, err = s.loadedSinceTx(tx, accountID, since)
		return err
	})
	return inFlight, loaded, err
}

func (s *Store) insertLoadTx(tx *db.Tx, r loadRow) error {
	if err := tx.Create(&r).Error; err != nil {
		return fmt.Errorf("prepaid: insert load: %w", err)
	}
	return nil
}

func (s *Store) loadForUpdateTx(tx *db.Tx, id string) (loadRow, error) {
	var r loadRow
	err := s.db.ForUpdate(tx).Take(&r, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return loadRow{}, ErrLoadNotFound
	}
	if err != nil {
		return loadRow{}, fmt.Errorf("prepaid: load %s: %w", id, err)
	}
	return r, nil
}

func (s *Store) saveLoadTx(tx *db.Tx, r loadRow) error {
	if err := tx.Save(&r).Error; err != nil {
		return fmt.Errorf("prepaid: save load %s: %w", r.ID, err)
	}
	return nil
}

// load reads a load of the partner ("" for any partner).
func (s *Store) load(ctx context.Context, partnerID, id string) (loadRow, error) {
	q := s.db.WithContext(ctx).Where("id = ?", id)
	if partnerID != "" {
		q = q.Where("partner_id = ?", partnerID)
	}
	var r loadRow
	err := q.Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return loadRow{}, ErrLoadNotFound
	}
	if err != nil {
		return loadRow{}, fmt.Errorf("prepaid: load %s: %w", id, err)
	}
	return r, nil
}

// claimStaleLoads leases the unfinished loads Recover must look at:
// pending ones untouched since pendingBefore and requires_action ones
// untouched since actionBefore. The lease (updated_at = now) keeps other
// replicas away for a grace period after this transaction ends; SKIP
// LOCKED keeps them from waiting on it meanwhile.
func (s *Store) claimStaleLoads(ctx context.Context, pendingBefore, actionBefore, now time.Time, limit int) ([]loadRow, error) {
	var rows []loadRow
	err := s.transact(ctx, func(tx *db.Tx) error {
		rows = nil
		err := s.db.ForUpdateSkipLocked(tx).
			Where("(status = ? AND updated_at < ?) OR (status = ? AND updated_at < ?)",
				string(LoadPending), pendingBefore.UTC(), string(LoadRequiresAction), actionBefore.UTC()).
			Order("updated_at").Limit(limit).Find(&rows).Error
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := tx.Model(&loadRow{}).Where("id = ?", r.ID).Update("updated_at", now.UTC()).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prepaid: claim loads: %w", err)
	}
	return rows, nil
}

// lastFundingCard is the card of the account's latest succeeded load, ""
// when there is none.
func (s *Store) lastFundingCard(ctx context.Context, accountID string) (string, error) {
	var r loadRow
	err := s.db.WithContext(ctx).Where("account_id = ? AND status = ?", accountID, string(LoadSucceeded)).
		Order("created_at DESC, id DESC").Limit(1).Find(&r).Error
	if err != nil {
		return "", fmt.Errorf("prepaid: funding card: %w", err)
	}
	return r.CardID, nil
}

// pendingUnloadTx reports whether the account has an unload in flight.
func (s *Store) pendingUnloadTx(tx *db.Tx, accountID string) (bool, error) {
	var n int64
	err := tx.Model(&unloadRow{}).Where("account_id = ? AND status = ?", accountID, string(UnloadPending)).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("prepaid: pending unload: %w", err)
	}
	return n > 0, nil
}

func (s *Store) insertUnloadTx(tx *db.Tx, r unloadRow) error {
	if err := tx.Create(&r).Error; err != nil {
		return fmt.Errorf("prepaid: insert unload: %w", err)
	}
	return nil
}

func (s *Store) unloadForUpdateTx(tx *db.Tx, id string) (unloadRow, error) {
	var r unloadRow
	err := s.db.ForUpdate(tx).Take(&r, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return unloadRow{}, ErrUnloadNotFound
	}
	if err != nil {
		return unloadRow{}, fmt.Errorf("prepaid: unload %s: %w", id, err)
	}
	return r, nil
}

func (s *Store) saveUnloadTx(tx *db.Tx, r unloadRow) error {
	if err := tx.Save(&r).Error; err != nil {
		return fmt.Errorf("prepaid: save unload %s: %w", r.ID, err)
	}
	return nil
}

// unload reads an unload of the partner ("" for any partner).
func (s *Store) unload(ctx context.Context, partnerID, id string) (unloadRow, error) {
	q := s.db.WithContext(ctx).Where("id = ?", id)
	if partnerID != "" {
		q = q.Where("partner_id = ?", partnerID)
	}
	var r unloadRow
	err := q.Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return unloadRow{}, ErrUnloadNotFound
	}
	if err != nil {
		return unloadRow{}, fmt.Errorf("prepaid: unload %s: %w", id, err)
	}
	return r, nil
}

// claimStaleUnloads is claimStaleLoads for pending unloads.
func (s *Store) claimStaleUnloads(ctx context.Context, before, now time.Time, limit int) ([]unloadRow, error) {
	var rows []unloadRow
	err := s.transact(ctx, func(tx *db.Tx) error {
		rows = nil
		err := s.db.ForUpdateSkipLocked(tx).Where("status = ? AND updated_at < ?", string(UnloadPending), before.UTC()).
			Order("updated_at").Limit(limit).Find(&rows).Error
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := tx.Model(&unloadRow{}).Where("id = ?", r.ID).Update("updated_at", now.UTC()).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prepaid: claim unloads: %w", err)
	}
	return rows, nil
}

// expireDueTx marks active accounts whose validity ended by now expired,
// at most limit of them, skipping rows another replica holds; it returns
// the accounts it changed.
func (s *Store) expireDueTx(tx *db.Tx, now time.Time, limit int) ([]Account, error) {
	var rows []accountRow
	err := s.db.ForUpdateSkipLocked(tx).Where("status = ? AND expires_at <= ?", string(Active), now.UTC()).
		Order("expires_at").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("prepaid: due accounts: %w", err)
	}
	out := make([]Account, 0, len(rows))
	for _, r := range rows {
		res := tx.Model(&accountRow{}).Where("id = ? AND status = ?", r.ID, string(Active)).Update("status", string(Expired))
		if res.Error != nil {
			return nil, fmt.Errorf("prepaid: expire account: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			r.Status = string(Expired)
			out = append(out, r.account())
		}
	}
	return out, nil
}

// expiredOpen lists accounts that are expired and not yet closed (their
// balance still to go back to the card), oldest validity first.
func (s *Store) expiredOpen(ctx context.Context, limit int) ([]Account, error) {
	var rows []accountRow
	err := s.db.WithContext(ctx).Where("status = ?", string(Expired)).Order("expires_at").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("prepaid: expired accounts: %w", err)
	}
	out := make([]Account, len(rows))
	for i, r := range rows {
		out[i] = r.account()
	}
	return out, nil
}

// SetProfileTx is SetProfile inside the caller's transaction.
func (s *Store) SetProfileTx(tx *db.Tx, visitorID string, p Profile) error {
	if p != Basic && p != Verified {
		return fmt.Errorf("prepaid: unknown profile %q", p)
	}
	res := tx.Model(&accountRow{}).Where("visitor_id = ?", visitorID).Update("profile", string(p))
	if res.Error != nil {
		return fmt.Errorf("prepaid: set profile: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// loadByRequest finds the load a request (idempotency scope and key)
// started, if any.
func (s *Store) loadByRequest(ctx context.Context, partnerID, key string) (*loadRow, error) {
	var rows []loadRow
	if err := s.db.WithContext(ctx).Where("partner_id = ? AND request_key = ?", partnerID, key).Limit(1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("prepaid: load by request: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// unloadByRequest finds the unload a request started, if any.
func (s *Store) unloadByRequest(ctx context.Context, partnerID, key string) (*unloadRow, error) {
	var rows []unloadRow
	if err := s.db.WithContext(ctx).Where("partner_id = ? AND request_key = ?", partnerID, key).Limit(1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("prepaid: unload by request: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}
