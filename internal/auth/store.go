package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
)

type partnerRow struct {
	ID        string `gorm:"primaryKey"`
	Name      string
	Status    string
	CreatedAt time.Time
}

func (partnerRow) TableName() string { return "partners" }

type partnerKeyRow struct {
	ID        string `gorm:"primaryKey"`
	PartnerID string
	KeyHash   string
	Last4     string `gorm:"column:last4"`
	CreatedAt time.Time
	RevokedAt *time.Time
}

func (partnerKeyRow) TableName() string { return "partner_keys" }

type staffRow struct {
	ID        string `gorm:"primaryKey"`
	Name      string
	Role      string
	TokenHash string
	Status    string
	CreatedAt time.Time
}

func (staffRow) TableName() string { return "staff" }

// GormStore keeps partners, keys and staff in the database.
type GormStore struct{ db *db.DB }

// NewStore returns the gorm store.
func NewStore(d *db.DB) *GormStore { return &GormStore{db: d} }

func toPartner(r partnerRow) Partner {
	return Partner(r)
}

// CreatePartner inserts the partner and its key in one transaction.
func (s *GormStore) CreatePartner(ctx context.Context, p Partner, keyID, keyHash, last4 string) error {
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&partnerRow{ID: p.ID, Name: p.Name, Status: p.Status, CreatedAt: p.CreatedAt}).Error; err != nil {
			return fmt.Errorf("auth: create partner: %w", err)
		}
		if err := tx.Create(&partnerKeyRow{ID: keyID, PartnerID: p.ID, KeyHash: keyHash, Last4: last4, CreatedAt: p.CreatedAt}).Error; err != nil {
			return fmt.Errorf("auth: create key: %w", err)
		}
		return db.RunHooks(ctx, tx, p)
	})
}

// RotatePartnerKey revokes live keys and adds the new one atomically.
func (s *GormStore) RotatePartnerKey(ctx context.Context, partnerID, keyID, keyHash, last4 string, now time.Time) error {
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&partnerKeyRow{}).Where("partner_id = ? AND revoked_at IS NULL", partnerID).
			Update("revoked_at", now).Error; err != nil {
			return fmt.Errorf("auth: revoke keys: %w", err)
		}
		if err := tx.Create(&partnerKeyRow{ID: keyID, PartnerID: partnerID, KeyHash: keyHash, Last4: last4, CreatedAt: now}).Error; err != nil {
			return fmt.Errorf("auth: create key: %w", err)
		}
		var r partnerRow
		if err := tx.Take(&r, "id = ?", partnerID).Error; err != nil {
			return err
		}
		return db.RunHooks(ctx, tx, toPartner(r))
	})
}

// SetPartnerStatus changes a partner's status.
func (s *GormStore) SetPartnerStatus(ctx context.Context, partnerID, status string) (Partner, error) {
	var out Partner
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&partnerRow{}).Where("id = ?", partnerID).Update("status", status)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		var r partnerRow
		if err := tx.Take(&r, "id = ?", partnerID).Error; err != nil {
			return err
		}
		out = toPartner(r)
		return db.RunHooks(ctx, tx, out)
	})
	return out, err
}

// PartnerByKeyHash finds the partner of an unrevoked key.
func (s *GormStore) PartnerByKeyHash(ctx context.Context, hash string) (Partner, error) {
	var r partnerRow
	err := s.db.WithContext(ctx).
		Joins("JOIN partner_keys k ON k.partner_id = partners.id").
		Where("k.key_hash = ? AND k.revoked_at IS NULL", hash).
		Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Partner{}, ErrNotFound
	}
	if err != nil {
		return Partner{}, fmt.Errorf("auth: partner by key: %w", err)
	}
	return toPartner(r), nil
}

// Partner returns one partner by id.
func (s *GormStore) Partner(ctx context.Context, id string) (Partner, error) {
	var r partnerRow
	err := s.db.WithContext(ctx).Take(&r, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Partner{}, ErrNotFound
	}
	if err != nil {
		return Partner{}, fmt.Errorf("auth: partner: %w", err)
	}
	return toPartner(r), nil
}

// CreateStaff inserts a staff member.
func (s *GormStore) CreateStaff(ctx context.Context, st Staff, tokenHash string) error {
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		err := tx.Create(&staffRow{ID: st.ID, Name: st.Name, Role: st.Role.String(), TokenHash: tokenHash, Status: st.Status, CreatedAt: st.CreatedAt}).Error
		if err != nil {
			return fmt.Errorf("auth: create staff: %w", err)
		}
		return db.RunHooks(ctx, tx, st)
	})
}

// StaffByTokenHash finds the staff member owning a token.
func (s *GormStore) StaffByTokenHash(ctx context.Context, hash string) (Staff, error) {
	var r staffRow
	err := s.db.WithContext(ctx).Take(&r, "token_hash = ?", hash).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Staff{}, ErrNotFound
	}
	if err != nil {
		return Staff{}, fmt.Errorf("auth: staff by token: %w", err)
	}
	role, err := ParseRole(r.Role)
	if err != nil {
		return Staff{}, fmt.Errorf("auth: staff %s: %w", r.ID, err)
	}
	return Staff{ID: r.ID, Name: r.Name, Role: role, Status: r.Status, CreatedAt: r.CreatedAt}, nil
}
