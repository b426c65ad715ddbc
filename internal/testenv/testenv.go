// Package testenv gives tests real storage: an embedded SQLite file and an
// in-process Redis always, and PostgreSQL and Redis servers when
// INBOUND_TEST_DATABASE_URL and INBOUND_TEST_REDIS_URL are set. When they are
// set and do not answer, the test fails: CI must never pass by skipping.
// Each PostgreSQL backend is a fresh database, migrated by the production
// migrations and dropped afterwards.
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
	ctx := context.Background()
	admin, err := db.Open(ctx, db.Options{URL: adminURL, MaxOpenConns: 2})
	if err != nil {
		t.Fatalf("testenv: %s does not answer: %v", DatabaseURLVar, err)
	}
	name := "inbound_t_" + randHex(8)
	if err := admin.Gorm.Exec("CREATE DATABASE " + name).Error; err != nil {
		_ = admin.Close()
		t.Fatalf("testenv: create database: %v", err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("testenv: %s: %v", DatabaseURLVar, err)
	}
	u.Path = "/" + name
	d, err := db.Open(ctx, db.Options{URL: u.String()})
	if err != nil {
		t.Fatalf("testenv: open %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = d.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = admin.Gorm.WithContext(cctx).Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error
		_ = admin.Close()
	})
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatalf("testenv: migrate postgres: %v", err)
	}
	return u.String(), d
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
