package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/inbound-gateway/inbound/internal/kv"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// A request whose process died while holding the in-flight lock blocks its
// retries only until the lock's short TTL lapses (it was 2 minutes).
func TestIdempotencyLockOfDeadHolderLapsesInSeconds(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b, func(d *Deps) { d.IdempotencyLockTTL = time.Second })
		st, err := a.srv.Auth.AuthenticateStaff(context.Background(), a.supervisor)
		if err != nil {
			t.Fatal(err)
		}
		// The dead holder: it took the lock and never renews or releases it.
		if ok, err := b.KV.TryLock(context.Background(), b.KV.Key("idem", st.ID, "crashed"), "dead", a.srv.IdempotencyLockTTL); err != nil || !ok {
			t.Fatalf("lock: %v %v", ok, err)
		}
		url, body := a.admin.URL+"/admin/v1/partners", `{"name":"After crash","reason":"r"}`
		if r := do(t, "POST", url, a.supervisor, body, "Idempotency-Key", "crashed"); r.Status != 409 {
			t.Fatalf("while the lock lives: %d %s", r.Status, r.Body)
		}
		start := time.Now()
		for {
			r := do(t, "POST", url, a.supervisor, body, "Idempotency-Key", "crashed")
			if r.Status == 201 {
				break
			}
			if r.Status != 409 || time.Since(start) > 3*time.Second {
				t.Fatalf("retry after the holder died: %d %s after %v", r.Status, r.Body, time.Since(start))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// A live request keeps its lock past the TTL: it is renewed while it runs.
func TestIdempotencyLockRenewedWhileHeld(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b, func(d *Deps) { d.IdempotencyLockTTL = 300 * time.Millisecond })
		ctx := context.Background()
		g, ok, err := a.srv.locks.Lock(ctx, b.KV.Key("idem", "scope", "long"))
		if err != nil || !ok {
			t.Fatalf("lock: %v %v", ok, err)
		}
		time.Sleep(time.Second)
		if _, ok, _ := a.srv.locks.Lock(ctx, b.KV.Key("idem", "scope", "long")); ok {
			t.Fatal("a renewed lock was taken by a twin")
		}
		g.Release(ctx)
		if g2, ok, err := a.srv.locks.Lock(ctx, b.KV.Key("idem", "scope", "long")); err != nil || !ok {
			t.Fatalf("after release: %v %v", ok, err)
		} else {
			g2.Release(ctx)
		}
	})
}

// Redis down costs no request: idempotent POSTs lock in the database (one
// execution among concurrent twins), rate limits fall back to a limiter in
// the process, and nothing answers 500.
func TestRedisDownCostsNoRequest(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		down := kv.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), "down")
		t.Cleanup(func() { _ = down.Close() })
		a := newAPI(t, b, func(d *Deps) { d.KV = down; d.AdminRateLimit = 1000 })
		url := a.admin.URL + "/admin/v1/partners"
		body := `{"name":"No redis","reason":"r"}`
		r := do(t, "POST", url, a.supervisor, body, "Idempotency-Key", "nr-1")
		if r.Status != 201 {
			t.Fatalf("POST with Redis down: %d %s", r.Status, r.Body)
		}
		id := r.json(t)["id"]
		if r := do(t, "POST", url, a.supervisor, body, "Idempotency-Key", "nr-1"); r.Status != 201 || r.json(t)["id"] != id ||
			r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay with Redis down: %d %s", r.Status, r.Body)
		}
		// Concurrent twins: one execution, the others replay or are told
		// it is in progress.
		const n = 8
		var wg sync.WaitGroup
		results := make([]resp, n)
		for i := range n {
			wg.Go(func() {
				results[i] = do(t, "POST", url, a.supervisor, `{"name":"Twin","reason":"r"}`, "Idempotency-Key", "nr-twin")
			})
		}
		wg.Wait()
		ids := map[any]bool{}
		for _, r := range results {
			switch r.Status {
			case 201:
				ids[r.json(t)["id"]] = true
			case 409:
			default:
				t.Fatalf("twin: %d %s", r.Status, r.Body)
			}
		}
		if len(ids) != 1 {
			t.Fatalf("twins executed %d times", len(ids))
		}
		var partners int64
		b.DB.Gorm.Raw("SELECT count(*) FROM partners WHERE name = 'Twin'").Scan(&partners)
		if partners != 1 {
			t.Fatalf("%d partners created by twins", partners)
		}
		if r := do(t, "GET", a.admin.URL+"/readyz", "", ""); r.Status != 200 {
			t.Fatalf("readyz: %d %s", r.Status, r.Body)
		}
	})
}

// The rate limit holds in the process while Redis is down (fail open to a
// local limiter, not to no limit).
func TestRateLimitFallsBackToLocalLimiter(t *testing.T) {
	b := testenv.Embedded(t)
	down := kv.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), "down")
	t.Cleanup(func() { _ = down.Close() })
	a := newAPI(t, b, func(d *Deps) { d.KV = down; d.AdminRateLimit = 3 })
	codes := map[int]int{}
	for range 6 {
		r := do(t, "GET", a.admin.URL+"/admin/v1/audit", a.supervisor, "")
		codes[r.Status]++
		if r.Status == 429 && r.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[200] != 3 || codes[429] != 3 {
		t.Fatalf("answers with Redis down: %v", codes)
	}
}

// The database down (pool closed, as after a restart) is 503
// service_unavailable with Retry-After, never 500.
func TestDatabaseDownIs503(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		_ = b.DB.Close()
		for _, c := range []struct{ method, url, token, body string }{
			{"POST", a.admin.URL + "/admin/v1/partners", a.supervisor, `{"name":"X","reason":"r"}`},
			{"GET", a.partner.URL + "/v1/visitors/vis_x", a.partnerKey, ""},
		} {
			r := do(t, c.method, c.url, c.token, c.body, "Idempotency-Key", "db-down")
			if r.Status != 503 || r.errCode(t) != "service_unavailable" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("%s %s with the database down: %d %s", c.method, c.url, r.Status, r.Body)
			}
		}
		if r := do(t, "GET", a.admin.URL+"/readyz", "", ""); r.Status != 503 {
			t.Fatalf("readyz: %d", r.Status)
		}
	})
}
