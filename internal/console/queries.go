package console

import (
	"context"
	"fmt"
	"time"
)

// The console's own read-only queries: lists across partners that the
// domain services do not offer (the admin API has no such lists). They
// return ids or plain rows; objects are then read through the services.

func (c *Console) count(ctx context.Context, table, where string, args ...any) (int64, error) {
	var n int64
	if err := c.api.DB.WithContext(ctx).Table(table).Where(where, args...).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("console: count %s: %w", table, err)
	}
	return n, nil
}

// ids pages a table's ids, newest first (ids sort by creation).
func (c *Console) ids(ctx context.Context, table, where string, before string, limit int, args ...any) ([]string, bool, error) {
	q := c.api.DB.WithContext(ctx).Table(table).Where(where, args...)
	if before != "" {
		q = q.Where("id < ?", before)
	}
	var out []string
	if err := q.Order("id DESC").Limit(limit+1).Pluck("id", &out).Error; err != nil {
		return nil, false, fmt.Errorf("console: list %s: %w", table, err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// reconRun is the stored summary of a reconciliation run.
type reconRun struct {
	ID        int64     `gorm:"column:id;primaryKey"`
	Day       string    `gorm:"column:day"`
	Breaks    int       `gorm:"column:breaks"`
	RunBy     string    `gorm:"column:run_by"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

func (reconRun) TableName() string { return "console_recon_runs" }

func (c *Console) latestRecon(ctx context.Context) (*reconRun, error) {
	var rs []reconRun
	if err := c.api.DB.WithContext(ctx).Order("id DESC").Limit(1).Find(&rs).Error; err != nil {
		return nil, fmt.Errorf("console: latest reconciliation: %w", err)
	}
	if len(rs) == 0 {
		return nil, nil
	}
	return &rs[0], nil
}

// failingEndpoint is a webhook endpoint with deliveries that failed or are
// being retried after a failure.
type failingEndpoint struct {
	EndpointID string `gorm:"column:endpoint_id"`
	PartnerID  string `gorm:"column:partner_id"`
	URL        string `gorm:"column:url"`
	Failing    int64  `gorm:"column:failing"`
	LastError  string `gorm:"column:last_error"`
}

func (c *Console) failingEndpoints(ctx context.Context) ([]failingEndpoint, error) {
	var out []failingEndpoint
	err := c.api.DB.WithContext(ctx).Table("webhook_deliveries d").
		Select("d.endpoint_id, e.partner_id, e.url, COUNT(*) AS failing, MAX(d.last_error) AS last_error").
		Joins("JOIN webhook_endpoints e ON e.id = d.endpoint_id").
		Where("d.status = 'failed' OR (d.status = 'pending' AND d.attempts > 0)").
		Group("d.endpoint_id, e.partner_id, e.url").Order("d.endpoint_id").Limit(100).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("console: failing endpoints: %w", err)
	}
	return out, nil
}

// jobRow is a background job's schedule.
type jobRow struct {
	Name      string     `gorm:"column:name"`
	NextRunAt time.Time  `gorm:"column:next_run_at"`
	LastRunAt *time.Time `gorm:"column:last_run_at"`
	LastError string     `gorm:"column:last_error"`
	Runs      int64      `gorm:"column:runs"`
}

// lateAfter is how far past its due time a job counts as not run on time.
const lateAfter = 5 * time.Minute

func (c *Console) jobRows(ctx context.Context) ([]jobRow, error) {
	var out []jobRow
	if err := c.api.DB.WithContext(ctx).Table("jobs").Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("console: jobs: %w", err)
	}
	return out, nil
}

func (c *Console) lateJobs(ctx context.Context) ([]jobRow, error) {
	all, err := c.jobRows(ctx)
	if err != nil {
		return nil, err
	}
	var late []jobRow
	for _, j := range all {
		if j.Late(c.now()) {
			late = append(late, j)
		}
	}
	return late, nil
}

func (j jobRow) Late(now time.Time) bool {
	return now.Sub(j.NextRunAt) > lateAfter || j.LastError != ""
}

// auditRow is a record of the audit log.
type auditRow struct {
	ID        string    `gorm:"column:id"`
	ActorID   string    `gorm:"column:actor_id"`
	ActorRole string    `gorm:"column:actor_role"`
	Action    string    `gorm:"column:action"`
	Target    string    `gorm:"column:target"`
	Reason    string    `gorm:"column:reason"`
	RequestID string    `gorm:"column:request_id"`
	After     string    `gorm:"column:after_state"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

type auditFilter struct {
	Actor, Action, Target string
	From, To              time.Time
	Targets               []string // any of these targets (visitor page)
	Before                string
	Limit                 int
}

// auditRows pages the audit log newest first (by id), filtered.
func (c *Console) auditRows(ctx context.Context, f auditFilter) ([]auditRow, bool, error) {
	q := c.api.DB.WithContext(ctx).Table("audit_log")
	if f.Actor != "" {
		q = q.Where("actor_id = ?", f.Actor)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.Target != "" {
		q = q.Where("target = ?", f.Target)
	}
	if len(f.Targets) > 0 {
		q = q.Where("target IN ?", f.Targets)
	}
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("created_at < ?", f.To)
	}
	if f.Before != "" {
		q = q.Where("id < ?", f.Before)
	}
	var out []auditRow
	if err := q.Order("id DESC").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, false, fmt.Errorf("console: audit: %w", err)
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	return out, more, nil
}

func (c *Console) pluck(ctx context.Context, table, column, where string, args ...any) ([]string, error) {
	var out []string
	if err := c.api.DB.WithContext(ctx).Table(table).Where(where, args...).Order(column).Limit(100).Pluck(column, &out).Error; err != nil {
		return nil, fmt.Errorf("console: %s: %w", table, err)
	}
	return out, nil
}

// memberRow and partnerRow are the directory of the partners and staff
// page (no secrets: only ids, names, roles and statuses).
type memberRow struct {
	ID     string `gorm:"column:id"`
	Name   string `gorm:"column:name"`
	Role   string `gorm:"column:role"`
	Status string `gorm:"column:status"`
}

type partnerRow struct {
	ID     string `gorm:"column:id"`
	Name   string `gorm:"column:name"`
	Status string `gorm:"column:status"`
}

func (c *Console) directory(ctx context.Context) ([]memberRow, []partnerRow, error) {
	var ms []memberRow
	if err := c.api.DB.WithContext(ctx).Table("staff").Select("id, name, role, status").Order("id").Limit(500).Find(&ms).Error; err != nil {
		return nil, nil, fmt.Errorf("console: staff: %w", err)
	}
	var ps []partnerRow
	if err := c.api.DB.WithContext(ctx).Table("partners").Select("id, name, status").Order("id").Limit(500).Find(&ps).Error; err != nil {
		return nil, nil, fmt.Errorf("console: partners: %w", err)
	}
	return ms, ps, nil
}
