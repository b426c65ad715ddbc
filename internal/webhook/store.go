package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/inbound-gateway/inbound/internal/db"
)

type endpointRow struct {
	ID           string `gorm:"primaryKey"`
	PartnerID    string
	URL          string `gorm:"column:url"`
	Events       string
	Description  string
	SecretSealed string
	Status       string
	CreatedAt    time.Time
}

func (endpointRow) TableName() string { return "webhook_endpoints" }

func (r endpointRow) endpoint() Endpoint {
	return Endpoint{ID: r.ID, PartnerID: r.PartnerID, URL: r.URL, Events: strings.Split(r.Events, ","),
		Description: r.Description, Status: r.Status, CreatedAt: r.CreatedAt}
}

type eventRow struct {
	ID        string `gorm:"primaryKey"`
	PartnerID string
	Type      string
	Body      string
	CreatedAt time.Time
	// FannedOut is set once the dispatcher has created the event's
	// deliveries (fanOut). Emit writes it false explicitly: the column's
	// default is true (migration 0051).
	FannedOut bool
}

func (eventRow) TableName() string { return "events" }

type deliveryRow struct {
	ID             int64 `gorm:"primaryKey"`
	EventID        string
	EndpointID     string
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
}

func (deliveryRow) TableName() string { return "webhook_deliveries" }

type attemptRow struct {
	ID          int64 `gorm:"primaryKey"`
	DeliveryID  int64
	AttemptedAt time.Time
	StatusCode  int
	Error       string
	DurationMs  int
}

func (attemptRow) TableName() string { return "webhook_attempts" }

// store is the gorm persistence of the package.
type store struct{ db *db.DB }

func (s store) createEndpoint(ctx context.Context, e Endpoint, sealed string, then db.Then[Endpoint]) error {
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&endpointRow{}).Where("partner_id = ? AND status = 'enabled'", e.PartnerID).Count(&n).Error; err != nil {
			return err
		}
		if n >= MaxEndpoints {
			return ErrTooManyEndpoint
		}
		r := endpointRow{ID: e.ID, PartnerID: e.PartnerID, URL: e.URL, Events: strings.Join(e.Events, ","),
			Description: e.Description, SecretSealed: sealed, Status: e.Status, CreatedAt: e.CreatedAt}
		if err := tx.Create(&r).Error; err != nil {
			return fmt.Errorf("webhook: create endpoint: %w", err)
		}
		return db.RunThen(tx, e, then)
	})
}

func (s store) endpoint(ctx context.Context, partnerID, id string) (Endpoint, error) {
	var r endpointRow
	err := s.db.WithContext(ctx).Where("id = ? AND partner_id = ? AND status = 'enabled'", id, partnerID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Endpoint{}, ErrNotFound
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhook: endpoint: %w", err)
	}
	return r.endpoint(), nil
}

func (s store) listEndpoints(ctx context.Context, partnerID, after string, limit int) ([]Endpoint, bool, error) {
	q := s.db.WithContext(ctx).Where("partner_id = ? AND status = 'enabled'", partnerID)
	if after != "" {
		q = q.Where("id < ?", after)
	}
	var rows []endpointRow
	if err := q.Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, false, fmt.Errorf("webhook: list endpoints: %w", err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]Endpoint, len(rows))
	for i, r := range rows {
		out[i] = r.endpoint()
	}
	return out, more, nil
}

// deleteEndpoint disables the endpoint (rows stay for the attempt history)
// and cancels its pending deliveries.
func (s store) deleteEndpoint(ctx context.Context, partnerID, id string, then []db.Then[Endpoint]) (Endpoint, error) {
	var out Endpoint
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&endpointRow{}).Where("id = ? AND partner_id = ? AND status = 'enabled'", id, partnerID).Update("status", "deleted")
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := tx.Model(&deliveryRow{}).Where("endpoint_id = ? AND status = 'pending'", id).Update("status", "cancelled").Error; err != nil {
			return err
		}
		var r endpointRow
		if err := tx.Take(&r, "id = ?", id).Error; err != nil {
			return err
		}
		out = r.endpoint()
		return db.RunThen(tx, out, then...)
	})
	return out, err
}

// emit writes the event inside tx. Its deliveries are created later, by the
// dispatcher (fanOut), for the endpoints enabled then: the business
// transaction writes one row and reads nothing.
func emit(tx *gorm.DB, id, partnerID, typ string, body []byte, now time.Time) error {
	if err := tx.Create(&eventRow{ID: id, PartnerID: partnerID, Type: typ, Body: string(body), CreatedAt: now}).Error; err != nil {
		return fmt.Errorf("webhook: outbox: %w", err)
	}
	return nil
}

// fanOut takes up to limit events not yet fanned out, oldest first, creates
// one pending delivery per endpoint of the event's partner that is enabled
// now and subscribes to the event's type, and marks the events fanned out,
// all in one transaction. SKIP LOCKED lets every replica fan out different
// events; an event is fanned out exactly once. It returns how many events
// it took.
func (s store) fanOut(ctx context.Context, now time.Time, limit int) (int, error) {
	n := 0
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		n = 0
		var evs []eventRow
		if err := s.db.ForUpdateSkipLocked(tx).Select("id", "partner_id", "type").Where("NOT fanned_out").
			Order("created_at").Limit(limit).Find(&evs).Error; err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		eventIDs := make([]string, len(evs))
		var partners []string
		for i, ev := range evs {
			eventIDs[i] = ev.ID
			if !slices.Contains(partners, ev.PartnerID) {
				partners = append(partners, ev.PartnerID)
			}
		}
		var eps []endpointRow
		if err := tx.Select("id", "partner_id", "events").Where("partner_id IN ? AND status = 'enabled'", partners).
			Order("id").Find(&eps).Error; err != nil {
			return err
		}
		var ds []deliveryRow
		for _, ev := range evs {
			for _, e := range eps {
				if e.PartnerID == ev.PartnerID && e.endpoint().Subscribes(ev.Type) {
					ds = append(ds, deliveryRow{EventID: ev.ID, EndpointID: e.ID, Status: "pending", NextAttemptAt: now, CreatedAt: now})
				}
			}
		}
		if len(ds) > 0 {
			// Defensive: an event is fanned out once (its row lock, then
			// fanned_out), and the events of a replica still running the
			// previous version are born fanned out (the column's default),
			// so no (event, endpoint) delivery should exist already.
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(&ds, 100).Error; err != nil {
				return err
			}
		}
		if err := tx.Model(&eventRow{}).Where("id IN ?", eventIDs).Update("fanned_out", true).Error; err != nil {
			return err
		}
		n = len(evs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("webhook: fan out: %w", err)
	}
	return n, nil
}

// job is a claimed delivery with what sending it needs.
type job struct {
	deliveryID   int64
	endpointID   string
	attempts     int
	eventID      string
	body         []byte
	url          string
	secretSealed string
}

// claim leases up to limit due deliveries: SKIP LOCKED lets every replica
// claim different rows; pushing next_attempt_at forward is the lease, so a
// replica that dies mid-send frees its rows when the lease runs out.
func (s store) claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]job, error) {
	var jobs []job
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		jobs = jobs[:0]
		var rows []deliveryRow
		q := s.db.ForUpdateSkipLocked(tx).Where("status = 'pending' AND next_attempt_at <= ?", now).
			Order("next_attempt_at").Limit(limit).Find(&rows)
		if q.Error != nil {
			return q.Error
		}
		if len(rows) == 0 {
			return nil
		}
		idList := make([]int64, len(rows))
		for i, r := range rows {
			idList[i] = r.ID
		}
		if err := tx.Model(&deliveryRow{}).Where("id IN ?", idList).Update("next_attempt_at", now.Add(lease)).Error; err != nil {
			return err
		}
		for _, r := range rows {
			var ev eventRow
			if err := tx.Take(&ev, "id = ?", r.EventID).Error; err != nil {
				return err
			}
			var ep endpointRow
			if err := tx.Take(&ep, "id = ?", r.EndpointID).Error; err != nil {
				return err
			}
			if ep.Status != "enabled" {
				// Deleted while the delivery was being fanned out (the
				// deletion cancels only the deliveries it can see).
				if err := tx.Model(&deliveryRow{}).Where("id = ? AND status = 'pending'", r.ID).Update("status", "cancelled").Error; err != nil {
					return err
				}
				continue
			}
			jobs = append(jobs, job{deliveryID: r.ID, endpointID: r.EndpointID, attempts: r.Attempts, eventID: ev.ID, body: []byte(ev.Body), url: ep.URL, secretSealed: ep.SecretSealed})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: claim: %w", err)
	}
	return jobs, nil
}

// finish records an attempt and the delivery's next state.
func (s store) finish(ctx context.Context, j job, at time.Time, code int, errText string, took time.Duration) error {
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&attemptRow{DeliveryID: j.deliveryID, AttemptedAt: at, StatusCode: code, Error: errText, DurationMs: int(took.Milliseconds())}).Error; err != nil {
			return err
		}
		attempts := j.attempts + 1
		updates := map[string]any{"attempts": attempts, "last_status_code": code, "last_error": errText}
		switch {
		case code >= 200 && code < 300:
			updates["status"] = "succeeded"
		case attempts > len(Backoff):
			updates["status"] = "failed"
		default:
			updates["next_attempt_at"] = at.Add(Backoff[attempts-1])
		}
		return tx.Model(&deliveryRow{}).Where("id = ? AND status = 'pending'", j.deliveryID).Updates(updates).Error
	})
}

// Delivery is the state of one event's delivery to one endpoint.
type Delivery struct {
	ID             int64
	EventID        string
	EndpointID     string
	Status         string
	Attempts       int
	LastStatusCode int
	LastError      string
	NextAttemptAt  time.Time
	CreatedAt      time.Time
}

// Deliveries lists the deliveries of an event (for tests and support).
func (s *Service) Deliveries(ctx context.Context, eventID string) ([]Delivery, error) {
	var rows []deliveryRow
	if err := s.store.db.WithContext(ctx).Where("event_id = ?", eventID).Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return out, nil
}

func (r deliveryRow) delivery() Delivery {
	return Delivery{ID: r.ID, EventID: r.EventID, EndpointID: r.EndpointID, Status: r.Status, Attempts: r.Attempts,
		LastStatusCode: r.LastStatusCode, LastError: r.LastError, NextAttemptAt: r.NextAttemptAt, CreatedAt: r.CreatedAt}
}

func marshalEvent(id, typ string, at time.Time, data any) ([]byte, error) {
	return json.Marshal(struct {
		ID        string    `json:"id"`
		Object    string    `json:"object"`
		Type      string    `json:"type"`
		CreatedAt time.Time `json:"created_at"`
		Data      any       `json:"data"`
	}{id, "event", typ, at.UTC().Truncate(time.Second), data})
}
