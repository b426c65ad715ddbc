package kv_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
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

func TestOpenFailsWhenClusterDoesNotAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kv.Open(ctx, kv.Options{Cluster: []string{"127.0.0.1:1", "redis://:secret@127.0.0.1:2"}}); err == nil {
		t.Fatal("opened a Redis Cluster that is not there")
	}
	if _, err := kv.Open(ctx, kv.Options{Cluster: []string{"redis://:secret@127.0.0.1:2/%zz"}}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad node URL: %v", err)
	}
}

// TestClusterSpreadsKeysOverSlots: on a Redis Cluster every operation of
// the service (locks, their renewal and release scripts, rate-limit
// counters) touches one key, so keys need no hash tag and spread over the
// masters; this checks that the lock keys of one namespace do land on
// different slots and still work.
func TestClusterSpreadsKeysOverSlots(t *testing.T) {
	addrs := os.Getenv(testenv.RedisClusterVar)
	if addrs == "" {
		t.Skip(testenv.RedisClusterVar + " not set")
	}
	b := testenv.Scaled(t)
	ctx := context.Background()
	slots := map[int64]bool{}
	for i := range 16 {
		k := b.KV.Key("idem", "ptn_x", fmt.Sprint(i))
		if ok, err := b.KV.TryLock(ctx, k, "tok", time.Minute); err != nil || !ok {
			t.Fatalf("lock %s: %v %v", k, ok, err)
		}
		if ok, err := b.KV.Renew(ctx, k, "tok", time.Minute); err != nil || !ok {
			t.Fatalf("renew %s: %v %v", k, ok, err)
		}
		if err := b.KV.Unlock(ctx, k, "tok"); err != nil {
			t.Fatalf("unlock %s: %v", k, err)
		}
		slot, err := b.KV.Client.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[slot] = true
	}
	if len(slots) < 8 {
		t.Fatalf("16 keys on %d slots", len(slots))
	}
}
