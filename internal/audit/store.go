// Package audit writes and reads the append-only log of staff actions.
// Records are inserted in the same transaction as the change they describe;
// the database refuses updates and deletes (triggers in migration 0001), and
// no API changes them.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
)

// Entry is one audit record.
type Entry struct {
	ID        string    `json:"id"`
	ActorID   string    `json:"actor"`
	ActorRole string    `json:"role"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Reason    string    `json:"reason"`
	RequestID string    `json:"request_id"`
	Before    string    `json:"before,omitempty"`
	After     string    `json:"after,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type row struct {
	ID          string `gorm:"primaryKey"`
	ActorID     string
	ActorRole   string
	Action      string
	Target      string
	Reason      string
	RequestID   string
	BeforeState string
	AfterState  string
	CreatedAt   time.Time
}

func (row) TableName() string { return "audit_log" }

// Snapshot renders a value for the before/after columns.
func Snapshot(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// Record inserts e inside tx. ID and time are filled in.
func Record(tx *gorm.DB, e Entry) (Entry, error) {
	if e.ID == "" {
		e.ID = ids.New(ids.Audit)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC()
	}
	r := row{ID: e.ID, ActorID: e.ActorID, ActorRole: e.ActorRole, Action: e.Action, Target: e.Target,
		Reason: e.Reason, RequestID: e.RequestID, BeforeState: e.Before, AfterState: e.After, CreatedAt: e.CreatedAt}
	if err := tx.Create(&r).Error; err != nil {
		return Entry{}, fmt.Errorf("audit: record: %w", err)
	}
	return e, nil
}

// Filter selects records; empty fields match all. After is the keyset cursor
// (an audit id); records come newest first.
type Filter struct {
	Actor  string
	Target string
	After  string
	Limit  int
}

// List returns up to f.Limit records and whether more exist.
func List(ctx context.Context, d *db.DB, f Filter) ([]Entry, bool, error) {
	q := d.WithContext(ctx).Model(&row{})
	if f.Actor != "" {
		q = q.Where("actor_id = ?", f.Actor)
	}
	if f.Target != "" {
		q = q.Where("target = ?", f.Target)
	}
	if f.After != "" {
		q = q.Where("id < ?", f.After)
	}
	var rows []row
	if err := q.Order("id DESC").Limit(f.Limit + 1).Find(&rows).Error; err != nil {
		return nil, false, fmt.Errorf("audit: list: %w", err)
	}
	more := len(rows) > f.Limit
	if more {
		rows = rows[:f.Limit]
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = Entry{ID: r.ID, ActorID: r.ActorID, ActorRole: r.ActorRole, Action: r.Action, Target: r.Target,
			Reason: r.Reason, RequestID: r.RequestID, Before: r.BeforeState, After: r.AfterState, CreatedAt: r.CreatedAt}
	}
	return out, more, nil
}
