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
	ID            string `gorm:"primaryKey"`
	Name          string
	Role          string
	TokenHash     string
	Status        string
	CreatedBy     string
	TokenIssuedBy string
	ApprovedBy    string
	CreatedAt     time.Time
	ActivatedAt   *time.Time
	UpdatedAt     *time.Time
}

func (staffRow) TableName() string { return "staff" }

func (r staffRow) staff() (Staff, error) {
	role, err := ParseRole(r.Role)
	if err != nil {
		return Staff{}, fmt.Errorf("auth: staff %s: %w", r.ID, err)
	}
	return Staff{ID: r.ID, Name: r.Name, Role: role, Status: r.Status, CreatedBy: r.CreatedBy, TokenIssuedBy: r.TokenIssuedBy,
		ApprovedBy: r.ApprovedBy, CreatedAt: r.CreatedAt.UTC(), ActivatedAt: utcPtr(r.ActivatedAt)}, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// GormStore keeps partners, keys and staff in the database.
type GormStore struct{ db *db.DB }

// NewStore returns the gorm store.
func NewStore(d *db.DB) *GormStore { return &GormStore{db: d} }

func toPartner(r partnerRow) Partner {
	return Partner(r)
}

// CreatePartner inserts the partner and its key in one transaction.
func (s *GormStore) CreatePartner(ctx context.Context, p Partner, keyID, keyHash, last4 string, then []db.Then[Partner]) error {
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&partnerRow{ID: p.ID, Name: p.Name, Status: p.Status, CreatedAt: p.CreatedAt}).Error; err != nil {
			return fmt.Errorf("auth: create partner: %w", err)
		}
		if err := tx.Create(&partnerKeyRow{ID: keyID, PartnerID: p.ID, KeyHash: keyHash, Last4: last4, CreatedAt: p.CreatedAt}).Error; err != nil {
			return fmt.Errorf("auth: create key: %w", err)
		}
		return db.RunThen(tx, p, then...)
	})
}

// RotatePartnerKey revokes live keys and adds the new one atomically.
func (s *GormStore) RotatePartnerKey(ctx context.Context, partnerID, keyID, keyHash, last4 string, now time.Time, then []db.Then[Partner]) error {
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
		return db.RunThen(tx, toPartner(r), then...)
	})
}

// SetPartnerStatus changes a partner's status.
func (s *GormStore) SetPartnerStatus(ctx context.Context, partnerID, status string, then []db.Then[Partner]) (Partner, error) {
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
		return db.RunThen(tx, out, then...)
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

// KeyRevoked finds a key by its hash, revoked or not.
func (s *GormStore) KeyRevoked(ctx context.Context, hash string) (bool, error) {
	var r partnerKeyRow
	err := s.db.WithContext(ctx).Take(&r, "key_hash = ?", hash).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("auth: key by hash: %w", err)
	}
	return r.RevokedAt != nil, nil
}

// CreateStaff inserts a staff member.
func (s *GormStore) CreateStaff(ctx context.Context, st Staff, tokenHash string, then []db.Then[Staff]) error {
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		created := st.CreatedAt
		err := tx.Create(&staffRow{ID: st.ID, Name: st.Name, Role: st.Role.String(), TokenHash: tokenHash, Status: st.Status,
			CreatedBy: st.CreatedBy, TokenIssuedBy: st.TokenIssuedBy, CreatedAt: st.CreatedAt, ActivatedAt: st.ActivatedAt, UpdatedAt: &created}).Error
		if err != nil {
			return fmt.Errorf("auth: create staff: %w", err)
		}
		return db.RunThen(tx, st, then...)
	})
}

// StaffByTokenHash finds the staff member owning a token.
func (s *GormStore) StaffByTokenHash(ctx context.Context, hash string) (Staff, error) {
	return s.staffWhere(s.db.WithContext(ctx), "token_hash = ?", hash)
}

// StaffByID finds a staff member by id.
func (s *GormStore) StaffByID(ctx context.Context, id string) (Staff, error) {
	return s.staffWhere(s.db.WithContext(ctx), "id = ?", id)
}

func (s *GormStore) staffWhere(q *gorm.DB, cond string, arg any) (Staff, error) {
	var r staffRow
	err := q.Take(&r, cond, arg).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Staff{}, ErrNotFound
	}
	if err != nil {
		return Staff{}, fmt.Errorf("auth: staff: %w", err)
	}
	return r.staff()
}

// ApproveStaff activates a pending member after check agrees, in one
// transaction with the caller's hooks (audit, idempotent response).
func (s *GormStore) ApproveStaff(ctx context.Context, id, approverID, tokenHash string, now time.Time, check func(pending, proposer Staff) error, then []db.Then[Staff]) (Staff, error) {
	var out Staff
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		pending, err := s.staffWhere(s.db.ForUpdate(tx), "id = ?", id)
		if err != nil {
			return err
		}
		proposer, err := s.staffWhere(tx, "id = ?", pending.CreatedBy)
		if errors.Is(err, ErrNotFound) {
			proposer = Staff{ID: pending.CreatedBy}
		} else if err != nil {
			return err
		}
		if err := check(pending, proposer); err != nil {
			return err
		}
		res := tx.Model(&staffRow{}).Where("id = ? AND status = ?", id, StaffPending).Updates(map[string]any{
			"status": StaffActive, "token_hash": tokenHash, "token_issued_by": approverID, "approved_by": approverID,
			"activated_at": now, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("auth: approve staff: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return ErrInvalidState
		}
		pending.Status, pending.TokenIssuedBy, pending.ApprovedBy, pending.ActivatedAt = StaffActive, approverID, approverID, &now
		out = pending
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// DisableStaff disables a member. The active supervisors are locked in id
// order first, so two supervisors disabling each other at once cannot both
// succeed and leave none.
func (s *GormStore) DisableStaff(ctx context.Context, id string, now time.Time, then []db.Then[Staff]) (Staff, error) {
	var out Staff
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		var sups []staffRow
		if err := s.db.ForUpdate(tx).Where("role = ? AND status = ?", Supervisor.String(), StaffActive).Order("id").Find(&sups).Error; err != nil {
			return fmt.Errorf("auth: lock supervisors: %w", err)
		}
		st, err := s.staffWhere(s.db.ForUpdate(tx), "id = ?", id)
		if err != nil {
			return err
		}
		if st.Status == StaffDisabled {
			return fmt.Errorf("%w: staff member is already disabled", ErrInvalidState)
		}
		if st.Role == Supervisor && st.Status == StaffActive && len(sups) <= 1 {
			return ErrLastSupervisor
		}
		if err := tx.Model(&staffRow{}).Where("id = ?", id).Updates(map[string]any{"status": StaffDisabled, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("auth: disable staff: %w", err)
		}
		st.Status = StaffDisabled
		out = st
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// RotateStaffToken replaces an active member's token hash.
func (s *GormStore) RotateStaffToken(ctx context.Context, id, tokenHash, issuer string, now time.Time, then []db.Then[Staff]) (Staff, error) {
	var out Staff
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		st, err := s.staffWhere(s.db.ForUpdate(tx), "id = ?", id)
		if err != nil {
			return err
		}
		if st.Status != StaffActive {
			return fmt.Errorf("%w: staff member is %s", ErrInvalidState, st.Status)
		}
		if err := tx.Model(&staffRow{}).Where("id = ?", id).Updates(map[string]any{"token_hash": tokenHash, "token_issued_by": issuer, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("auth: rotate staff token: %w", err)
		}
		st.TokenIssuedBy = issuer
		out = st
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// ActiveSupervisors counts active supervisors.
func (s *GormStore) ActiveSupervisors(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&staffRow{}).Where("role = ? AND status = ?", Supervisor.String(), StaffActive).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("auth: count supervisors: %w", err)
	}
	return n, nil
}
