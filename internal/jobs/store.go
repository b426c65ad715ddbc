package jobs

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/inbound-gateway/inbound/internal/db"
)

type row struct {
	Name       string `gorm:"primaryKey"`
	NextRunAt  time.Time
	LeaseOwner string
	LeaseUntil *time.Time
	LastRunAt  *time.Time
	LastError  string
	Runs       int64
}

func (row) TableName() string { return "jobs" }

// Store keeps job leases in the jobs table.
type Store struct{ db *db.DB }

// NewStore returns the store.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// Ensure creates the job's row, due now, if it is missing.
func (s *Store) Ensure(ctx context.Context, name string, now time.Time) error {
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&row{Name: name, NextRunAt: now}).Error
	if err != nil {
		return fmt.Errorf("jobs: ensure %s: %w", name, err)
	}
	return nil
}

// Claim takes the lease of a due job that is unleased or whose lease owner
// already holds (a run of its own that could not record its completion,
// the database restarting: it need not wait for its own lease to lapse).
// On PostgreSQL the row is selected FOR UPDATE SKIP LOCKED, so a replica
// never waits on another's claim; the conditional UPDATE makes the claim
// atomic on both engines.
func (s *Store) Claim(ctx context.Context, name, owner string, now, leaseUntil time.Time) (bool, error) {
	claimed := false
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		var r row
		q := s.db.ForUpdateSkipLocked(tx).
			Where("name = ? AND next_run_at <= ? AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)", name, now, now, owner).
			Limit(1).Find(&r)
		if q.Error != nil {
			return q.Error
		}
		if q.RowsAffected == 0 {
			return nil
		}
		res := tx.Model(&row{}).
			Where("name = ? AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)", name, now, owner).
			Updates(map[string]any{"lease_owner": owner, "lease_until": leaseUntil})
		if res.Error != nil {
			return res.Error
		}
		claimed = res.RowsAffected == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("jobs: claim %s: %w", name, err)
	}
	return claimed, nil
}

// Renew extends the lease of a job that owner still holds.
func (s *Store) Renew(ctx context.Context, name, owner string, leaseUntil time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&row{}).Where("name = ? AND lease_owner = ?", name, owner).
		Update("lease_until", leaseUntil)
	if res.Error != nil {
		return false, fmt.Errorf("jobs: renew %s: %w", name, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Complete records the run and frees the lease.
func (s *Store) Complete(ctx context.Context, name, owner string, now, next time.Time, runErr error) error {
	msg := ""
	if runErr != nil {
		msg = runErr.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
	}
	res := s.db.WithContext(ctx).Model(&row{}).Where("name = ? AND lease_owner = ?", name, owner).
		Updates(map[string]any{"lease_owner": "", "lease_until": nil, "last_run_at": now, "next_run_at": next,
			"last_error": msg, "runs": gorm.Expr("runs + 1")})
	if res.Error != nil {
		return fmt.Errorf("jobs: complete %s: %w", name, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("jobs: complete %s: %w", name, ErrLeaseLost)
	}
	return nil
}

// Runs returns how many times a job has completed (for tests and metrics).
func (s *Store) Runs(ctx context.Context, name string) (int64, error) {
	var r row
	if err := s.db.WithContext(ctx).Take(&r, "name = ?", name).Error; err != nil {
		return 0, err
	}
	return r.Runs, nil
}
