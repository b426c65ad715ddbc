package db

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Migrations live in migrations/NNNN_name.sql, applied in version order,
// forward only, each in its own transaction and recorded in
// schema_migrations. A file is a text/template so one file serves both
// engines; it sees these fields:
//
//	{{.Serial}}    auto-increment integer primary key
//	{{.Bytes}}     binary column type
//	{{.Time}}      timestamp column type (UTC)
//	{{.JSON}}      JSON document column type
//	{{if .Postgres}}...{{end}} for PostgreSQL-only statements (triggers)
//
// Statements are separated by a line holding only "-- statement"; a
// PL/pgSQL body may contain semicolons.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type dialectVars struct {
	Postgres bool
	Serial   string
	Bytes    string
	Time     string
	JSON     string
}

func (d *DB) vars() dialectVars {
	if d.Dialect == Postgres {
		return dialectVars{Postgres: true, Serial: "BIGSERIAL PRIMARY KEY", Bytes: "BYTEA", Time: "TIMESTAMPTZ", JSON: "JSONB"}
	}
	return dialectVars{Serial: "INTEGER PRIMARY KEY AUTOINCREMENT", Bytes: "BLOB", Time: "DATETIME", JSON: "TEXT"}
}

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	body    string
}

// Migrations lists the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("db: migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("db: migration %q: name must be NNNN_name.sql", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("db: migrations %q and %q share version %d", other, name, v)
		}
		seen[v] = name
		b, err := migrationFiles.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, body: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func (d *DB) statements(m Migration) ([]string, error) {
	t, err := template.New(m.Name).Option("missingkey=error").Parse(m.body)
	if err != nil {
		return nil, fmt.Errorf("db: migration %d: %w", m.Version, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d.vars()); err != nil {
		return nil, fmt.Errorf("db: migration %d: %w", m.Version, err)
	}
	var out []string
	for _, s := range strings.Split(buf.String(), "\n-- statement\n") {
		if strings.TrimSpace(stripComments(s)) != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// schemaMigration is a row of schema_migrations.
type schemaMigration struct {
	Version   int `gorm:"primaryKey"`
	Name      string
	AppliedAt time.Time
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// migrateLockID is the key of the transaction-level advisory lock that
// serialises migrations on PostgreSQL.
const migrateLockID = 7263910

// Migrate applies every migration not yet recorded. It returns the versions
// it applied.
//
// Each migration is one transaction. On PostgreSQL that transaction first
// takes a transaction-level advisory lock (pg_advisory_xact_lock) and then
// checks schema_migrations again, so replicas starting together apply each
// migration once, the others waiting for it and then skipping it. The lock
// is released by COMMIT or ROLLBACK, never held by a session: that keeps it
// correct behind a pooler in transaction mode (PgBouncer), where one
// client's statements outside a transaction may run on different server
// connections and a session lock could be left held on one of them.
func (d *DB) Migrate(ctx context.Context) ([]int, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	create := "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at " + d.vars().Time + " NOT NULL)" //nolint:gosec // the only variable part is a column type from our own engine table, never input
	if err := d.migrationTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, create)
		return err
	}); err != nil {
		return nil, fmt.Errorf("db: migrate: %w", err)
	}
	applied, err := d.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	var done []int
	for _, m := range all {
		if applied[m.Version] {
			continue
		}
		ran, err := d.applyMigration(ctx, m)
		if err != nil {
			return done, err
		}
		if ran {
			done = append(done, m.Version)
		}
	}
	return done, nil
}

// appliedVersions reads schema_migrations.
func (d *DB) appliedVersions(ctx context.Context) (map[int]bool, error) {
	applied := map[int]bool{}
	rows, err := d.sql.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("db: migrate: %w", err)
	}
	if err := scanVersions(rows, applied); err != nil {
		return nil, fmt.Errorf("db: migrate: %w", err)
	}
	return applied, nil
}

// applyMigration runs m and records it in one transaction, unless another
// process recorded it first; it reports whether it ran m.
func (d *DB) applyMigration(ctx context.Context, m Migration) (bool, error) {
	stmts, err := d.statements(m)
	if err != nil {
		return false, err
	}
	ran := false
	err = d.migrationTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, bind(d.Dialect, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), m.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil // another replica applied it while this one waited
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, bind(d.Dialect, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"), m.Version, m.Name, time.Now().UTC()); err != nil {
			return err
		}
		ran = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("db: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	return ran, nil
}

// migrationTx runs fn in a transaction that, on PostgreSQL, holds the
// migration lock until it ends.
func (d *DB) migrationTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if d.Dialect == Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockID); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("lock: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func scanVersions(rows *sql.Rows, into map[int]bool) error {
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return err
		}
		into[v] = true
	}
	return rows.Err()
}

// bind rewrites ? placeholders to $n for PostgreSQL's database/sql driver.
func bind(d Dialect, q string) string {
	if d != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Applied lists recorded migration versions, for `inbound migrate` output.
func (d *DB) Applied(ctx context.Context) ([]int, error) {
	var rows []schemaMigration
	if err := d.Gorm.WithContext(ctx).Order("version").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]int, len(rows))
	for i, r := range rows {
		out[i] = r.Version
	}
	return out, nil
}
