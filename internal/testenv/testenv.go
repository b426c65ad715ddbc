// Package testenv gives tests real storage: an embedded SQLite file and an
// in-process Redis always, and PostgreSQL and Redis servers when
// INBOUND_TEST_DATABASE_URL and INBOUND_TEST_REDIS_URL are set. When they are
// set and do not answer, the test fails: CI must never pass by skipping.
// Each PostgreSQL backend is a fresh database, migrated by the production
// migrations and dropped afterwards.
//
// EachInfra adds a third backend for the storage tests that must also hold
// on the infrastructure of a scaled deployment: PostgreSQL through PgBouncer
// in transaction pooling mode (INBOUND_TEST_PGBOUNCER_URL) and a Redis
// Cluster (INBOUND_TEST_REDIS_CLUSTER_ADDRS). The same rule applies: set and
// not answering is a failure.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/kv"
)

// Environment variables naming the real services.
const (
	DatabaseURLVar = "INBOUND_TEST_DATABASE_URL"
	RedisURLVar    = "INBOUND_TEST_REDIS_URL"
	// PgBouncerURLVar names a PgBouncer in transaction pooling mode in
	// front of the server of DatabaseURLVar, serving every database name
	// ("* = host=... port=..."); its path is replaced by each test's
	// fresh database. It must carry default_query_exec_mode=exec (or
	// simple_protocol), as docs/OPERATIONS.md tells operators.
	PgBouncerURLVar = "INBOUND_TEST_PGBOUNCER_URL"
	// RedisClusterVar lists host:port seeds of a Redis Cluster.
	RedisClusterVar = "INBOUND_TEST_REDIS_CLUSTER_ADDRS"
)

// Backend is one storage setup to run a test against.
type Backend struct {
	Name  string // "embedded" or "postgres"
	DB    *db.DB
	KV    *kv.Store
	DBURL string // "" for SQLite
	Redis string // "" for the in-process server
}

// Each runs fn as a subtest on every available backend.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) { fn(t, Embedded(t)) })
	if os.Getenv(DatabaseURLVar) != "" || os.Getenv(RedisURLVar) != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, Real(t)) })
	}
}

// EachInfra runs fn like Each and, when INBOUND_TEST_PGBOUNCER_URL or
// INBOUND_TEST_REDIS_CLUSTER_ADDRS is set, once more on Scaled: the
// subtest is named after what it runs on ("pgbouncer+redis_cluster").
func EachInfra(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	Each(t, fn)
	if name := scaledName(); name != "" {
		t.Run(name, func(t *testing.T) { fn(t, Scaled(t)) })
	}
}

func scaledName() string {
	var parts []string
	if os.Getenv(PgBouncerURLVar) != "" {
		parts = append(parts, "pgbouncer")
	}
	if os.Getenv(RedisClusterVar) != "" {
		parts = append(parts, "redis_cluster")
	}
	return strings.Join(parts, "+")
}

// Scaled returns a backend on the scaled infrastructure that is configured:
// a fresh database reached through PgBouncer (created directly on the
// server of INBOUND_TEST_DATABASE_URL, migrated through the pooler) and a
// namespaced Redis Cluster client. What is not configured falls back to
// what Real (or, without real services, Embedded) would use.
func Scaled(t testing.TB) Backend {
	t.Helper()
	b := Backend{Name: scaledName()}
	switch bouncer := os.Getenv(PgBouncerURLVar); {
	case bouncer != "":
		admin := os.Getenv(DatabaseURLVar)
		if admin == "" {
			t.Fatalf("testenv: %s needs %s (the server behind the pooler, to create databases)", PgBouncerURLVar, DatabaseURLVar)
		}
		b.DBURL, b.DB = freshDatabase(t, admin, bouncer, PgBouncerURLVar)
	case os.Getenv(DatabaseURLVar) != "":
		b.DBURL, b.DB = FreshPostgres(t, os.Getenv(DatabaseURLVar))
	default:
		b.DB = Embedded(t).DB
	}
	ctx := context.Background()
	ns := "t" + randHex(6)
	var (
		k   *kv.Store
		err error
	)
	switch addrs := os.Getenv(RedisClusterVar); {
	case addrs != "":
		k, err = kv.Open(ctx, kv.Options{Cluster: strings.Split(addrs, ","), Namespace: ns})
		if err != nil {
			t.Fatalf("testenv: %s does not answer: %v", RedisClusterVar, err)
		}
		b.Redis = addrs
	case os.Getenv(RedisURLVar) != "":
		b.Redis = os.Getenv(RedisURLVar)
		k, err = kv.Open(ctx, kv.Options{URL: b.Redis, Namespace: ns})
		if err != nil {
			t.Fatalf("testenv: %s does not answer: %v", RedisURLVar, err)
		}
	default:
		k, err = kv.Open(ctx, kv.Options{})
		if err != nil {
			t.Fatalf("testenv: embedded redis: %v", err)
		}
	}
	t.Cleanup(func() { _ = k.Close() })
	b.KV = k
	return b
}

// HasReal reports whether the real services are configured.
func HasReal() bool { return os.Getenv(DatabaseURLVar) != "" }

// Embedded returns a migrated SQLite database in a temp dir and an
// in-process Redis.
func Embedded(t testing.TB) Backend {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, db.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("testenv: sqlite: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatalf("testenv: migrate sqlite: %v", err)
	}
	k, err := kv.Open(ctx, kv.Options{})
	if err != nil {
		t.Fatalf("testenv: embedded redis: %v", err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return Backend{Name: "embedded", DB: d, KV: k}
}

// Real returns a fresh migrated PostgreSQL database and a namespaced client
// of the real Redis. Both variables must be set and both servers must answer.
func Real(t testing.TB) Backend {
	t.Helper()
	dbURL := os.Getenv(DatabaseURLVar)
	redisURL := os.Getenv(RedisURLVar)
	if dbURL == "" || redisURL == "" {
		t.Fatalf("testenv: set both %s and %s", DatabaseURLVar, RedisURLVar)
	}
	url, d := FreshPostgres(t, dbURL)
	k, err := kv.Open(context.Background(), kv.Options{URL: redisURL, Namespace: "t" + randHex(6)})
	if err != nil {
		t.Fatalf("testenv: %s does not answer: %v", RedisURLVar, err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return Backend{Name: "postgres", DB: d, KV: k, DBURL: url, Redis: redisURL}
}

// FreshPostgres creates a new database on the server of adminURL, migrates
// it, and drops it when the test ends. It returns the new database's URL.
func FreshPostgres(t testing.TB, adminURL string) (string, *db.DB) {
	t.Helper()
	return freshDatabase(t, adminURL, adminURL, DatabaseURLVar)
}

// freshDatabase creates a database on the server of adminURL and opens and
// migrates it through viaURL (the same server, or a pooler in front of
// it), whose path it replaces by the new name. viaVar names viaURL's
// variable in failures.
func freshDatabase(t testing.TB, adminURL, viaURL, viaVar string) (string, *db.DB) {
	t.Helper()
	ctx := context.Background()
	u := EmptyPostgres(t, adminURL, viaURL, viaVar)
	d, err := db.Open(ctx, db.Options{URL: u})
	if err != nil {
		t.Fatalf("testenv: %s does not answer: %v", viaVar, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatalf("testenv: migrate postgres: %v", err)
	}
	return u, d
}

// EmptyPostgres creates an empty database (not migrated) on the server of
// adminURL, drops it when the test ends, and returns its URL through viaURL
// (adminURL itself, or a pooler in front of that server). viaVar names
// viaURL's variable in failures. Close handles on it before the test ends.
func EmptyPostgres(t testing.TB, adminURL, viaURL, viaVar string) string {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(viaURL)
	if err != nil {
		t.Fatalf("testenv: %s: %v", viaVar, err)
	}
	admin, err := db.Open(ctx, db.Options{URL: adminURL, MaxOpenConns: 2})
	if err != nil {
		t.Fatalf("testenv: %s does not answer: %v", DatabaseURLVar, err)
	}
	name := "inbound_t_" + randHex(8)
	if err := admin.Gorm.Exec("CREATE DATABASE " + name).Error; err != nil {
		_ = admin.Close()
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = admin.Gorm.WithContext(cctx).Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error
		_ = admin.Close()
	})
	u.Path = "/" + name
	return u.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
