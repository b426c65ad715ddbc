package webhook

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
)

// FailedDeliveries lists the failed deliveries of an endpoint, newest
// first, at most limit (for support: the console's retry list).
func (s *Service) FailedDeliveries(ctx context.Context, endpointID string, limit int) ([]Delivery, error) {
	var rows []deliveryRow
	if err := s.store.db.WithContext(ctx).Where("endpoint_id = ? AND status = 'failed'", endpointID).
		Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhook: failed deliveries: %w", err)
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return out, nil
}

// Delivery returns one delivery.
func (s *Service) Delivery(ctx context.Context, id int64) (Delivery, error) {
	var r deliveryRow
	err := s.store.db.WithContext(ctx).Take(&r, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Delivery{}, ErrDeliveryNotFound
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook: delivery: %w", err)
	}
	return r.delivery(), nil
}

// Redeliver queues a failed delivery again: it becomes pending, due now,
// with its attempt count reset so the dispatcher gives it the whole
// backoff schedule again (the earlier attempts stay in webhook_attempts).
// Only a failed delivery to an endpoint that is still enabled can be
// retried (ErrDeliveryNotFailed); then runs in the same transaction.
func (s *Service) Redeliver(ctx context.Context, id int64, then ...db.Then[Delivery]) (Delivery, error) {
	var out Delivery
	err := s.store.db.Transact(ctx, func(tx *gorm.DB) error {
		var r deliveryRow
		err := s.store.db.ForUpdate(tx).Take(&r, "id = ?", id).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrDeliveryNotFound
		}
		if err != nil {
			return err
		}
		var enabled int64
		if err := tx.Model(&endpointRow{}).Where("id = ? AND status = 'enabled'", r.EndpointID).Count(&enabled).Error; err != nil {
			return err
		}
		if r.Status != "failed" || enabled != 1 {
			return ErrDeliveryNotFailed
		}
		now := s.opts.Now()
		res := tx.Model(&deliveryRow{}).Where("id = ? AND status = 'failed'", id).
			Updates(map[string]any{"status": "pending", "attempts": 0, "next_attempt_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrDeliveryNotFailed
		}
		r.Status, r.Attempts, r.NextAttemptAt = "pending", 0, now
		out = r.delivery()
		return db.RunThen(tx, out, then...)
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook: redeliver %d: %w", id, err)
	}
	return out, nil
}
