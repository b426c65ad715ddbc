package idempotency

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/vault"
)

type row struct {
	Scope        string `gorm:"primaryKey"`
	IdemKey      string `gorm:"primaryKey"`
	Method       string
	Path         string
	Fingerprint  string
	StatusCode   int
	ResponseBody string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

func (row) TableName() string { return "idempotency_keys" }

// Store keeps records in the database. Response bodies are sealed with the
// vault: a stored response can hold a secret shown once (a new partner key)
// or personal data, and must not sit in a plain-text column.
type Store struct {
	db    *db.DB
	vault *vault.Vault
}

// NewStore returns the store.
func NewStore(d *db.DB, v *vault.Vault) *Store { return &Store{db: d, vault: v} }

const sealLabel = "idempotency-response"

// Get returns the live record for (scope, key), or nil.
func (s *Store) Get(ctx context.Context, scope, key string, now time.Time) (*Record, error) {
	var r row
	err := s.db.WithContext(ctx).Where("scope = ? AND idem_key = ? AND expires_at > ?", scope, key, now).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency: get: %w", err)
	}
	body, err := s.vault.Open(sealLabel+":"+r.Scope+":"+r.IdemKey, r.ResponseBody)
	if err != nil {
		return nil, fmt.Errorf("idempotency: open stored response: %w", err)
	}
	return &Record{Scope: r.Scope, Key: r.IdemKey, Method: r.Method, Path: r.Path, Fingerprint: r.Fingerprint,
		Status: r.StatusCode, Body: body, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}, nil
}

// SaveTx stores rec inside tx. If a record for the key exists (a twin
// execution committed first) it returns ErrAlreadySaved, and the caller's
// transaction must roll back so the change is not made twice.
func (s *Store) SaveTx(tx *gorm.DB, rec Record) error {
	// An expired record may linger until the cleanup job runs; it no longer
	// counts, so clear it first.
	if err := tx.Where("scope = ? AND idem_key = ? AND expires_at <= ?", rec.Scope, rec.Key, rec.CreatedAt).Delete(&row{}).Error; err != nil {
		return fmt.Errorf("idempotency: clear expired: %w", err)
	}
	err := tx.Create(&row{Scope: rec.Scope, IdemKey: rec.Key, Method: rec.Method, Path: rec.Path, Fingerprint: rec.Fingerprint,
		StatusCode: rec.Status, ResponseBody: s.vault.Seal(sealLabel+":"+rec.Scope+":"+rec.Key, rec.Body), CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt}).Error
	if db.IsUniqueViolation(err) {
		return ErrAlreadySaved
	}
	if err != nil {
		return fmt.Errorf("idempotency: save: %w", err)
	}
	return nil
}

// Save stores rec in its own transaction.
func (s *Store) Save(ctx context.Context, rec Record) error {
	return s.db.Transact(ctx, func(tx *gorm.DB) error { return s.SaveTx(tx, rec) })
}

// DeleteExpired removes records past their expiry, in batches, and returns
// how many went.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at <= ?", now).Delete(&row{})
	if res.Error != nil {
		return 0, fmt.Errorf("idempotency: expire: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// ClearLegacyFingerprints blanks every stored fingerprint that Fingerprint
// did not make. Migration 0800 cleared those stored before the upgrade; a
// replica still running the old code during a rolling upgrade writes more,
// and an unkeyed fingerprint of a card-binding request gives the card
// number and CVC back to whoever tries the candidates. The record itself
// stays, so a retry still replays (see Record.SameRequest).
func (s *Store) ClearLegacyFingerprints(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Model(&row{}).
		Where("fingerprint <> '' AND fingerprint NOT LIKE ?", FingerprintPrefix+"%").
		Update("fingerprint", "")
	if res.Error != nil {
		return 0, fmt.Errorf("idempotency: clear legacy fingerprints: %w", res.Error)
	}
	return res.RowsAffected, nil
}
