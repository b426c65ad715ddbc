package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
)

func TestStoreSaveGetExpire(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
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
	a := idempotency.Fingerprint("POST", "/v1/payments", []byte(`{"a":1}`))
	if a == idempotency.Fingerprint("POST", "/v1/payments", []byte(`{"a":2}`)) ||
		a == idempotency.Fingerprint("POST", "/v1/loads", []byte(`{"a":1}`)) ||
		a != idempotency.Fingerprint("POST", "/v1/payments", []byte(`{"a":1}`)) {
		t.Fatal("fingerprint does not follow method, path and body")
	}
	for k, ok := range map[string]bool{"order-1": true, "": false, string(make([]byte, 256)): false, "tab\tkey": false, "é": false} {
		if (idempotency.ValidKey(k) == nil) != ok {
			t.Errorf("ValidKey(%q) ok=%v", k, !ok)
		}
	}
}
