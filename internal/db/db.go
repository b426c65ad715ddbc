// Package db opens the database (PostgreSQL, or an embedded SQLite file when
// no URL is configured), applies the versioned migrations and runs
// transactions with retries. It is the one place that knows which SQL
// dialect is underneath.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/inbound-gateway/inbound/internal/datadir"
)

// Dialect names the SQL engine.
type Dialect string

// The two supported engines.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is the application's handle on the database.
type DB struct {
	Gorm    *gorm.DB
	Dialect Dialect
	sql     *sql.DB
}

// Options tune Open.
type Options struct {
	// URL is a postgres:// URL; empty means embedded SQLite in DataDir.
	URL     string
	DataDir string
	// MaxOpenConns bounds the PostgreSQL pool (default 20).
	MaxOpenConns int
	// Logger gets warnings about the data dir (nil: slog.Default).
	Logger *slog.Logger
}

// Open connects and checks the connection. It does not migrate.
func Open(ctx context.Context, o Options) (*DB, error) {
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		TranslateError:         false,
	}
	var (
		g   *gorm.DB
		err error
		d   Dialect
	)
	if o.URL != "" {
		d = Postgres
		g, err = gorm.Open(postgres.New(postgres.Config{DSN: o.URL}), cfg)
	} else {
		d = SQLite
		if o.DataDir == "" {
			return nil, errors.New("db: data dir is empty")
		}
		// The file holds everything but PANs and passport numbers in clear:
		// a private directory, and the file created 0600 before SQLite
		// opens it, since SQLite gives its -wal and -shm files the mode of
		// the database file.
		if err := datadir.Prepare(o.DataDir, o.Logger); err != nil {
			return nil, fmt.Errorf("db: %w", err)
		}
		if err := datadir.Touch(filepath.Join(o.DataDir, "inbound.db")); err != nil {
			return nil, fmt.Errorf("db: %w", err)
		}
		// WAL lets readers run beside the writer; IMMEDIATE transactions take
		// the write lock at BEGIN so two writers queue on busy_timeout instead
		// of failing when a reader upgrades.
		dsn := "file:" + filepath.Join(o.DataDir, "inbound.db") +
			"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		g, err = gorm.Open(sqlite.Open(dsn), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %w", d, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("db: %w", err)
	}
	switch d {
	case Postgres:
		n := o.MaxOpenConns
		if n <= 0 {
			n = 20
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	case SQLite:
		// One writer at a time is SQLite's model; a small pool serves readers.
		sqlDB.SetMaxOpenConns(4)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("db: ping %s: %w", d, err)
	}
	return &DB{Gorm: g, Dialect: d, sql: sqlDB}, nil
}

// SQL is the underlying pool, for health checks and pool metrics.
func (d *DB) SQL() *sql.DB { return d.sql }

// Close closes the pool.
func (d *DB) Close() error { return d.sql.Close() }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.sql.PingContext(ctx) }

// WithContext returns a gorm session bound to ctx, outside any transaction.
func (d *DB) WithContext(ctx context.Context) *gorm.DB { return d.Gorm.WithContext(ctx) }

// maxAttempts bounds Transact's retries of serialization failures.
const maxAttempts = 8

// Transact runs fn in a transaction and commits it, retrying the whole
// function when the database reports a serialization failure or a deadlock
// (PostgreSQL 40001, 40P01) or a busy SQLite file. fn must therefore be safe
// to run again: it must not have effects outside the transaction.
func (d *DB) Transact(ctx context.Context, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = d.Gorm.WithContext(ctx).Transaction(fn)
		if err == nil || !Retryable(err) {
			return err
		}
		slog.DebugContext(ctx, "transaction retry", "attempt", attempt, "err", err)
		backoff := time.Duration(1<<min(attempt, 6)) * time.Millisecond
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff + rand.N(backoff)): //nolint:gosec // retry jitter, not a secret
		}
	}
	return fmt.Errorf("db: transaction gave up after %d attempts: %w", maxAttempts, err)
}

// Retryable reports whether err is a transient conflict that a retry of the
// whole transaction can fix.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	var sqliteErr interface{ Code() int }
	if errors.As(err, &sqliteErr) {
		code := sqliteErr.Code() & 0xff
		return code == 5 || code == 6 // SQLITE_BUSY, SQLITE_LOCKED
	}
	return false
}

// ErrUnavailable marks an operation that failed because the database (or
// another storage dependency) could not be reached: the request can be
// retried once it is back. Unavailable recognises such errors; the HTTP
// layer answers them 503 service_unavailable with Retry-After.
var ErrUnavailable = errors.New("db: storage unavailable")

// Unavailable reports whether err means a storage dependency could not be
// reached or dropped the connection (server restarting or shutting down,
// connection refused or reset, closed pool), as opposed to a bad query or a
// constraint: the same request may succeed later.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P0x: admin or crash shutdown,
		// cannot connect now (the server is starting or restarting).
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		return true
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "connection reset", "broken pipe", "sql: database is closed",
		"closed pool", "conn closed", "failed to connect", "unexpected EOF", "server closed the connection"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqliteErr interface{ Code() int }
	if errors.As(err, &sqliteErr) {
		// SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555).
		return sqliteErr.Code() == 2067 || sqliteErr.Code() == 1555
	}
	return false
}

// ForUpdate returns the row-locking clause for SELECT ... FOR UPDATE on
// PostgreSQL; on SQLite the IMMEDIATE transaction already holds the only
// write lock, so it is empty.
func (d *DB) ForUpdate(tx *gorm.DB) *gorm.DB {
	if d.Dialect == Postgres {
		return tx.Clauses(lockingClause("UPDATE", ""))
	}
	return tx
}

// ForUpdateSkipLocked is SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so
// several replicas can each claim different rows.
func (d *DB) ForUpdateSkipLocked(tx *gorm.DB) *gorm.DB {
	if d.Dialect == Postgres {
		return tx.Clauses(lockingClause("UPDATE", "SKIP LOCKED"))
	}
	return tx
}
