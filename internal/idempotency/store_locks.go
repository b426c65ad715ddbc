package idempotency

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/inbound-gateway/inbound/internal/db"
)

type lockRow struct {
	LockKey   string `gorm:"primaryKey"`
	Token     string
	ExpiresAt time.Time
}

func (lockRow) TableName() string { return "idempotency_locks" }

// DBLocker keeps in-flight locks in the idempotency_locks table: the
// fallback of the Redis lock, so that Redis being down costs no request.
// Each call is its own short transaction.
type DBLocker struct {
	db  *db.DB
	now func() time.Time
}

// NewDBLocker returns the database locker.
func NewDBLocker(d *db.DB) *DBLocker {
	return &DBLocker{db: d, now: func() time.Time { return time.Now().UTC() }}
}

// TryLock takes key for token until now+ttl, unless a live holder has it.
// An expired row (its holder died) is taken over.
func (l *DBLocker) TryLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	now := l.now()
	taken := false
	err := l.db.Transact(ctx, func(tx *gorm.DB) error {
		taken = false
		if err := tx.Where("lock_key = ? AND expires_at <= ?", key, now).Delete(&lockRow{}).Error; err != nil {
			return err
		}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&lockRow{LockKey: key, Token: token, ExpiresAt: now.Add(ttl)})
		if res.Error != nil {
			return res.Error
		}
		taken = res.RowsAffected == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("idempotency: db lock: %w", err)
	}
	return taken, nil
}

// Renew extends the lock if token still holds it.
func (l *DBLocker) Renew(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	res := l.db.WithContext(ctx).Model(&lockRow{}).Where("lock_key = ? AND token = ?", key, token).
		Update("expires_at", l.now().Add(ttl))
	if res.Error != nil {
		return false, fmt.Errorf("idempotency: db lock renew: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Unlock deletes the lock if token still holds it.
func (l *DBLocker) Unlock(ctx context.Context, key, token string) error {
	if err := l.db.WithContext(ctx).Where("lock_key = ? AND token = ?", key, token).Delete(&lockRow{}).Error; err != nil {
		return fmt.Errorf("idempotency: db unlock: %w", err)
	}
	return nil
}

// DeleteExpiredLocks removes locks whose holders are gone.
func (l *DBLocker) DeleteExpiredLocks(ctx context.Context, now time.Time) (int64, error) {
	res := l.db.WithContext(ctx).Where("expires_at <= ?", now).Delete(&lockRow{})
	if res.Error != nil {
		return 0, fmt.Errorf("idempotency: delete expired locks: %w", res.Error)
	}
	return res.RowsAffected, nil
}
