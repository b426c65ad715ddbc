// Package audit writes and reads the append-only log of staff actions.
// Records are inserted in the same transaction as the change they describe;
// the database refuses updates and deletes (triggers in migration 0001), and
// no API changes them.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
)

// Actors that are not staff members.
const (
	ActorCLI       = "system:cli"
	ActorBootstrap = "system:bootstrap"
	RoleSystem     = "system"
)

// ErrNotObject is returned when a before or after state is not a JSON object.
var ErrNotObject = errors.New("audit: state must be a JSON object")

// Entry is one audit record. Before and After are JSON objects (a Summary),
// or empty.
type Entry struct {
	ID        string          `json:"id"`
	ActorID   string          `json:"actor"`
	ActorRole string          `json:"role"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Reason    string          `json:"reason"`
	RequestID string          `json:"request_id"`
	Before    json.RawMessage `json:"before,omitempty"`
	After     json.RawMessage `json:"after,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// Summary is all an audit record keeps of the object an action changed:
// ids, statuses and the names of the fields that changed. It never holds
// personal data (names, dates of birth, contact details, document numbers)
// or secrets: the log is kept for ever and read by every viewer, while the
// objects themselves hold the data under their own rules.
type Summary struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	Status string `json:"status,omitempty"`
	// Role is a staff member's role (not personal data; the point of most
	// staff actions).
	Role string `json:"role,omitempty"`
	// Changed names the fields the action changed, in API (snake_case) names.
	Changed []string `json:"changed_fields,omitempty"`
	// Related objects, by id.
	VisitorID  string `json:"visitor_id,omitempty"`
	AccountID  string `json:"account_id,omitempty"`
	PartnerID  string `json:"partner_id,omitempty"`
	ReviewID   string `json:"review_id,omitempty"`
	ProposedBy string `json:"proposed_by,omitempty"`
	ApprovedBy string `json:"approved_by,omitempty"`
	CreatedBy  string `json:"created_by,omitempty"`
}

// State renders a summary for Entry.Before or Entry.After.
func State(s Summary) json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		// A struct of strings always marshals.
		panic(err)
	}
	return b
}

func checkObject(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return ErrNotObject
	}
	return nil
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

// Record inserts e inside tx. ID and time are filled in.
func Record(tx *gorm.DB, e Entry) (Entry, error) {
	if e.ID == "" {
		e.ID = ids.New(ids.Audit)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC()
	}
	if err := checkObject(e.Before); err != nil {
		return Entry{}, fmt.Errorf("%w: before of %s", err, e.Action)
	}
	if err := checkObject(e.After); err != nil {
		return Entry{}, fmt.Errorf("%w: after of %s", err, e.Action)
	}
	r := row{ID: e.ID, ActorID: e.ActorID, ActorRole: e.ActorRole, Action: e.Action, Target: e.Target,
		Reason: e.Reason, RequestID: e.RequestID, BeforeState: string(e.Before), AfterState: string(e.After), CreatedAt: e.CreatedAt}
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
			Reason: r.Reason, RequestID: r.RequestID, Before: stored(r.BeforeState), After: stored(r.AfterState), CreatedAt: r.CreatedAt}
	}
	return out, more, nil
}

// stored returns a stored state for the API: an object, or nothing.
func stored(s string) json.RawMessage {
	if s == "" || checkObject(json.RawMessage(s)) != nil {
		return nil
	}
	return json.RawMessage(s)
}
