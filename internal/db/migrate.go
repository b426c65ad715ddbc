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

// Migrate applies every migration not yet recorded. On PostgreSQL an
// advisory lock makes concurrent replicas wait for each other instead of
// racing. It returns the versions it applied.
func (d *DB) Migrate(ctx context.Context) ([]int, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("db: migrate: %w", err)
	}
	defer conn.Close()
	if d.Dialect == Postgres {
		// The lock is per session: hold it on this connection throughout.
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7263910)"); err != nil {
			return nil, fmt.Errorf("db: migrate lock: %w", err)
		}
		defer func() { _, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(7263910)") }()
	}
	create := "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at " + d.vars().Time + " NOT NULL)" //nolint:gosec // the only variable part is a column type from our own engine table, never input
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("db: migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("db: migrate: %w", err)
	}
	if err := scanVersions(rows, applied); err != nil {
		return nil, err
	}

	var done []int
	for _, m := range all {
		if applied[m.Version] {
			continue
		}
		stmts, err := d.statements(m)
		if err != nil {
			return done, err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return done, fmt.Errorf("db: migration %d: %w", m.Version, err)
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				_ = tx.Rollback()
				return done, fmt.Errorf("db: migration %04d_%s: %w", m.Version, m.Name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, bind(d.Dialect, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"), m.Version, m.Name, time.Now().UTC()); err != nil {
			_ = tx.Rollback()
			return done, fmt.Errorf("db: migration %d: %w", m.Version, err)
		}
		if err := tx.Commit(); err != nil {
			return done, fmt.Errorf("db: migration %d: %w", m.Version, err)
		}
		done = append(done, m.Version)
	}
	return done, nil
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
