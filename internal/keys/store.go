package keys

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/db"
)

// store runs the package's SQL. Table and column names come only from the
// fixed Columns list, never from input, so building them into the text is
// safe.
type store struct{ db *db.DB }

// sealedRow is one sealed value and its primary key.
type sealedRow struct {
	pk     []string
	sealed string
}

func (s store) indexKey(ctx context.Context) (string, bool, error) {
	var rows []struct{ Sealed string }
	if err := s.db.WithContext(ctx).Raw(`SELECT sealed FROM vault_keys WHERE name = ?`, indexKeyName).Scan(&rows).Error; err != nil {
		return "", false, fmt.Errorf("keys: read index key: %w", err)
	}
	if len(rows) == 0 {
		return "", false, nil
	}
	return rows[0].Sealed, true, nil
}

// insertIndexKey stores the sealed index key unless a replica did first.
func (s store) insertIndexKey(ctx context.Context, sealed string, now time.Time) error {
	err := s.db.WithContext(ctx).Exec(`INSERT INTO vault_keys (name, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		indexKeyName, sealed, now).Error
	if err != nil {
		return fmt.Errorf("keys: store index key: %w", err)
	}
	return nil
}

func pkList(c Column) string { return strings.Join(c.PK, ", ") }

// scan returns up to limit rows of c after the key cursor (nil: from the
// start) in key order; with notUnder set, only rows not sealed under that
// key id.
func (s store) scan(ctx context.Context, c Column, notUnder string, after []string, limit int) ([]sealedRow, error) {
	var (
		where []string
		args  []any
	)
	if notUnder != "" {
		where = append(where, c.Column+" NOT LIKE ?")
		args = append(args, notUnder+":%")
	}
	if after != nil {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(c.PK)), ", ")
		where = append(where, "("+pkList(c)+") > ("+marks+")")
		for _, v := range after {
			args = append(args, v)
		}
	}
	q := "SELECT " + pkList(c) + ", " + c.Column + " FROM " + c.Table
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY " + pkList(c) + " LIMIT ?"
	args = append(args, limit)
	return s.query(ctx, c, q, args...)
}

// edges returns up to n rows from each end of c in key order: for the
// ULID-keyed tables, the oldest and the newest.
func (s store) edges(ctx context.Context, c Column, n int) ([]sealedRow, error) {
	first, err := s.query(ctx, c, "SELECT "+pkList(c)+", "+c.Column+" FROM "+c.Table+" ORDER BY "+pkList(c)+" LIMIT ?", n)
	if err != nil {
		return nil, err
	}
	desc := strings.Join(c.PK, " DESC, ") + " DESC"
	last, err := s.query(ctx, c, "SELECT "+pkList(c)+", "+c.Column+" FROM "+c.Table+" ORDER BY "+desc+" LIMIT ?", n)
	if err != nil {
		return nil, err
	}
	return append(first, last...), nil
}

func (s store) query(ctx context.Context, c Column, q string, args ...any) ([]sealedRow, error) {
	rows, err := s.db.WithContext(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("keys: read %s.%s: %w", c.Table, c.Column, err)
	}
	defer rows.Close()
	var out []sealedRow
	for rows.Next() {
		vals := make([]string, len(c.PK)+1)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("keys: read %s.%s: %w", c.Table, c.Column, err)
		}
		out = append(out, sealedRow{pk: vals[:len(c.PK)], sealed: vals[len(c.PK)]})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("keys: read %s.%s: %w", c.Table, c.Column, err)
	}
	return out, nil
}

// replace swaps each row's sealed value in one transaction, but only where
// the row still holds the value that was read: a row changed or deleted
// meanwhile (an idempotency record expiring) is left alone. It returns how
// many rows changed.
func (s store) replace(ctx context.Context, c Column, rows []sealedRow, fresh []string) (int, error) {
	cond := strings.Join(c.PK, " = ? AND ") + " = ?"
	q := "UPDATE " + c.Table + " SET " + c.Column + " = ? WHERE " + cond + " AND " + c.Column + " = ?"
	var n int
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		n = 0
		for i, r := range rows {
			args := []any{fresh[i]}
			for _, v := range r.pk {
				args = append(args, v)
			}
			args = append(args, r.sealed)
			res := tx.Exec(q, args...)
			if res.Error != nil {
				return res.Error
			}
			n += int(res.RowsAffected)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("keys: reseal %s.%s: %w", c.Table, c.Column, err)
	}
	return n, nil
}

// countByKey counts the rows of c per key id (the first 8 characters of a
// sealed value: key ids are 8 hex digits).
func (s store) countByKey(ctx context.Context, c Column) (map[string]int64, error) {
	var rows []struct {
		KeyID string
		N     int64
	}
	q := "SELECT substr(" + c.Column + ", 1, 8) AS key_id, COUNT(*) AS n FROM " + c.Table + " GROUP BY substr(" + c.Column + ", 1, 8)"
	if err := s.db.WithContext(ctx).Raw(q).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("keys: count %s.%s: %w", c.Table, c.Column, err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.KeyID] = r.N
	}
	return out, nil
}

// indexProbe is one stored value with the index computed from it.
type indexProbe struct {
	Sealed string
	State  string
	Index  string
}

// probes returns the oldest card and the oldest visitor (if any): a sealed
// value and the index stored beside it.
func (s store) probes(ctx context.Context) (card, visitor *indexProbe, err error) {
	var cards []indexProbe
	if err := s.db.WithContext(ctx).Raw(`SELECT pan_sealed AS sealed, '' AS state, fingerprint AS "index" FROM cards ORDER BY id LIMIT 1`).Scan(&cards).Error; err != nil {
		return nil, nil, fmt.Errorf("keys: read a card: %w", err)
	}
	var visitors []indexProbe
	if err := s.db.WithContext(ctx).Raw(`SELECT number_sealed AS sealed, issuing_state AS state, number_index AS "index" FROM visitors ORDER BY id LIMIT 1`).Scan(&visitors).Error; err != nil {
		return nil, nil, fmt.Errorf("keys: read a visitor: %w", err)
	}
	if len(cards) > 0 {
		card = &cards[0]
	}
	if len(visitors) > 0 {
		visitor = &visitors[0]
	}
	return card, visitor, nil
}
