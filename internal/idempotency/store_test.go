package idempotency_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
)

func TestStoreSaveGetExpire(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		v, _ := vault.New(bytes.Repeat([]byte{1}, 32))
		s := idempotency.NewStore(b.DB, v)
		now := time.Now().UTC().Truncate(time.Microsecond)
		rec := idempotency.Record{Scope: "ptn_1", Key: "k", Method: "POST", Path: "/v1/x", Fingerprint: "f",
			Status: 201, Body: []byte(`{"secret":"sk_live"}`), CreatedAt: now, ExpiresAt: now.Add(idempotency.Retention)}
		if err := s.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, rec); !errors.Is(err, idempotency.ErrAlreadySaved) {
			t.Fatalf("second save: %v", err)
		}
		got, err := s.Get(ctx, "ptn_1", "k", now)
		if err != nil || got == nil || string(got.Body) != `{"secret":"sk_live"}` || got.Status != 201 {
			t.Fatalf("get: %+v %v", got, err)
		}
		if other, _ := s.Get(ctx, "ptn_2", "k", now); other != nil {
			t.Fatal("key visible in another scope")
		}
		// After 24 h the record no longer counts and the job deletes it.
		later := now.Add(idempotency.Retention + time.Second)
		if got, _ := s.Get(ctx, "ptn_1", "k", later); got != nil {
			t.Fatal("expired record still replayed")
		}
		n, err := s.DeleteExpired(ctx, later)
		if err != nil || n != 1 {
			t.Fatalf("delete expired: %d %v", n, err)
		}
		// The key is free again.
		rec.CreatedAt, rec.ExpiresAt = later, later.Add(idempotency.Retention)
		if err := s.Save(ctx, rec); err != nil {
			t.Fatalf("reuse after expiry: %v", err)
		}
	})
}

func TestFingerprintAndKeys(t *testing.T) {
	v, _ := vault.New(bytes.Repeat([]byte{1}, 32))
	fp := func(method, path, body string) string { return idempotency.Fingerprint(v, method, path, []byte(body)) }
	a := fp("POST", "/v1/payments", `{"a":1}`)
	if a == fp("POST", "/v1/payments", `{"a":2}`) ||
		a == fp("POST", "/v1/loads", `{"a":1}`) ||
		a == fp("PUT", "/v1/payments", `{"a":1}`) ||
		a != fp("POST", "/v1/payments", `{"a":1}`) {
		t.Fatal("fingerprint does not follow method, path and body")
	}
	for k, ok := range map[string]bool{"order-1": true, "": false, string(make([]byte, 256)): false, "tab\tkey": false, "é": false} {
		if (idempotency.ValidKey(k) == nil) != ok {
			t.Errorf("ValidKey(%q) ok=%v", k, !ok)
		}
	}
}

// TestFingerprintIsKeyed checks that the fingerprint depends on the master
// key and is none of the unkeyed hashes an attacker can recompute from a
// guessed body (the old fingerprint among them).
func TestFingerprintIsKeyed(t *testing.T) {
	body := []byte(`{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}`)
	v1, _ := vault.New(bytes.Repeat([]byte{1}, 32))
	v2, _ := vault.New(bytes.Repeat([]byte{2}, 32))
	f1 := idempotency.Fingerprint(v1, "POST", "/v1/visitors/vis_1/cards", body)
	if f1 == idempotency.Fingerprint(v2, "POST", "/v1/visitors/vis_1/cards", body) {
		t.Fatal("the fingerprint does not depend on the master key")
	}
	if !strings.HasPrefix(f1, idempotency.FingerprintPrefix) || idempotency.Legacy(f1) {
		t.Fatalf("fingerprint %q lacks the version prefix", f1)
	}
	h := sha256.New()
	h.Write([]byte("POST\x00/v1/visitors/vis_1/cards\x00"))
	bodySum := sha256.Sum256(body)
	h.Write(bodySum[:])
	for name, sum := range map[string][]byte{"old fingerprint": h.Sum(nil), "sha256(body)": bodySum[:]} {
		if strings.Contains(f1, hex.EncodeToString(sum)) {
			t.Errorf("the fingerprint is the %s", name)
		}
	}
}

// TestSameRequest covers the replay decision, for current and legacy
// (cleared or unkeyed) stored fingerprints.
func TestSameRequest(t *testing.T) {
	v, _ := vault.New(bytes.Repeat([]byte{1}, 32))
	fp := idempotency.Fingerprint(v, "POST", "/v1/x", []byte(`{"a":1}`))
	other := idempotency.Fingerprint(v, "POST", "/v1/x", []byte(`{"a":2}`))
	cases := []struct {
		name                string
		stored              string
		method, path, reqFP string
		want                bool
	}{
		{"same request", fp, "POST", "/v1/x", fp, true},
		{"other body", fp, "POST", "/v1/x", other, false},
		{"cleared, same method and path", "", "POST", "/v1/x", other, true},
		{"cleared, other path", "", "POST", "/v1/y", fp, false},
		{"cleared, other method", "", "PUT", "/v1/x", fp, false},
		{"unkeyed, same method and path", strings.Repeat("ab", 32), "POST", "/v1/x", fp, true},
		{"unkeyed, other path", strings.Repeat("ab", 32), "POST", "/v1/y", fp, false},
	}
	for _, c := range cases {
		rec := idempotency.Record{Method: "POST", Path: "/v1/x", Fingerprint: c.stored}
		if got := rec.SameRequest(c.method, c.path, c.reqFP); got != c.want {
			t.Errorf("%s: SameRequest = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestMigrationAndScrubClearUnkeyedFingerprints runs migration 0800 over a
// record holding an old unkeyed fingerprint, and the scrub over one written
// later by an old replica: both end empty, keyed ones stay, and the sealed
// responses stay readable.
func TestMigrationAndScrubClearUnkeyedFingerprints(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		v, _ := vault.New(bytes.Repeat([]byte{1}, 32))
		s := idempotency.NewStore(b.DB, v)
		now := time.Now().UTC().Truncate(time.Microsecond)
		keyed := idempotency.Fingerprint(v, "POST", "/v1/x", []byte(`{}`))
		save := func(key, fp string) {
			t.Helper()
			rec := idempotency.Record{Scope: "ptn_1", Key: key, Method: "POST", Path: "/v1/x", Fingerprint: fp,
				Status: 201, Body: []byte(`{"id":"` + key + `"}`), CreatedAt: now, ExpiresAt: now.Add(idempotency.Retention)}
			if err := s.Save(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		fingerprintOf := func(key string) string {
			t.Helper()
			got, err := s.Get(ctx, "ptn_1", key, now)
			if err != nil || got == nil || string(got.Body) != `{"id":"`+key+`"}` {
				t.Fatalf("%s: %+v %v", key, got, err)
			}
			return got.Fingerprint
		}
		unkeyed := strings.Repeat("0f", 32)
		save("old", unkeyed)
		save("new", keyed)
		// Run 0800 again as if the database came from before it.
		if err := b.DB.Gorm.Exec("DELETE FROM schema_migrations WHERE version = 800").Error; err != nil {
			t.Fatal(err)
		}
		applied, err := b.DB.Migrate(ctx)
		if err != nil || len(applied) != 1 || applied[0] != 800 {
			t.Fatalf("migrate: %v %v", applied, err)
		}
		if fp := fingerprintOf("old"); fp != "" {
			t.Fatalf("migration left the unkeyed fingerprint %q", fp)
		}
		if fp := fingerprintOf("new"); fp != keyed {
			t.Fatalf("migration changed a keyed fingerprint to %q", fp)
		}

		save("rolling", unkeyed)
		n, err := s.ClearLegacyFingerprints(ctx)
		if err != nil || n != 1 {
			t.Fatalf("scrub: %d %v", n, err)
		}
		if fp := fingerprintOf("rolling"); fp != "" {
			t.Fatalf("scrub left %q", fp)
		}
		if fp := fingerprintOf("new"); fp != keyed {
			t.Fatalf("scrub changed a keyed fingerprint to %q", fp)
		}
	})
}
