package kv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/kv"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

func TestLock(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		k := b.KV.Key("lock", "a")
		ok, err := b.KV.TryLock(ctx, k, "one", time.Minute)
		if err != nil || !ok {
			t.Fatalf("first lock: %v %v", ok, err)
		}
		if ok, _ := b.KV.TryLock(ctx, k, "two", time.Minute); ok {
			t.Fatal("second holder got the lock")
		}
		if err := b.KV.Unlock(ctx, k, "two"); !errors.Is(err, kv.ErrNotHeld) {
			t.Fatalf("stranger unlocked: %v", err)
		}
		if err := b.KV.Unlock(ctx, k, "one"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.KV.TryLock(ctx, k, "two", time.Minute); !ok {
			t.Fatal("lock not free after unlock")
		}
	})
}

func TestOpenFailsWhenRedisDoesNotAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kv.Open(ctx, kv.Options{URL: "redis://127.0.0.1:1/0"}); err == nil {
		t.Fatal("opened a Redis that is not there")
	}
}
