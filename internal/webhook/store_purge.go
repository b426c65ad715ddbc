package webhook

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/ids"
)

// DeliveredRetention is how long delivered webhooks (the event, its
// deliveries and their attempts) are kept for support to look at; after
// that the purge job deletes them. Failed deliveries and the events they
// belong to stay until an operator has seen them.
const DeliveredRetention = 30 * 24 * time.Hour

// purgeBatch bounds the events one purge transaction deletes, so the job
// never holds locks on a large part of the outbox.
const purgeBatch = 1000

// PurgeDelivered deletes the events created before cutoff that are fanned
// out and whose every delivery succeeded (or that had no endpoint to go
// to), with those deliveries and their attempts. It returns how many
// events it deleted. Events still pending, retrying or failed stay.
func (s *Service) PurgeDelivered(ctx context.Context, cutoff time.Time) (int64, error) {
	cutoff = cutoff.UTC().Truncate(time.Microsecond)
	var total int64
	for {
		n, err := s.purgeBatch(ctx, cutoff)
		total += n
		if err != nil {
			return total, fmt.Errorf("webhook: purge delivered: %w", err)
		}
		if n < purgeBatch {
			return total, nil
		}
	}
}

// idBefore is the smallest event id of time t: every event made earlier
// sorts below it.
func idBefore(t time.Time) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(t))
	return ids.Event + "_" + strings.ToLower(u.String())
}

func (s *Service) purgeBatch(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.store.db.Transact(ctx, func(tx *gorm.DB) error {
		var ids []string
		// Event ids are ULIDs of their creation time: the bound on the
		// primary key keeps the read to the events older than the cutoff
		// (there is no index on created_at).
		if err := tx.Raw(`SELECT e.id FROM events e
			WHERE e.id < ? AND e.created_at < ? AND e.fanned_out
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status <> 'succeeded')
			ORDER BY e.id LIMIT ?`, idBefore(cutoff), cutoff, purgeBatch).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Exec(`DELETE FROM webhook_attempts WHERE delivery_id IN
			(SELECT id FROM webhook_deliveries WHERE event_id IN ?)`, ids).Error; err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM webhook_deliveries WHERE event_id IN ?`, ids).Error; err != nil {
			return err
		}
		res := tx.Exec(`DELETE FROM events WHERE id IN ?`, ids)
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		return nil
	})
	return n, err
}
