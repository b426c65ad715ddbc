package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/internal/webhook"
)

func TestSignVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	h := webhook.Sign("whsec_x", now, body)
	if !webhook.Verify("whsec_x", h, body, now, 5*time.Minute) {
		t.Fatal("own signature does not verify")
	}
	cases := map[string]bool{
		"other secret": webhook.Verify("whsec_y", h, body, now, 5*time.Minute),
		"other body":   webhook.Verify("whsec_x", h, []byte(`{"id":"evt_2"}`), now, 5*time.Minute),
		"too old":      webhook.Verify("whsec_x", h, body, now.Add(10*time.Minute), 5*time.Minute),
		"garbage":      webhook.Verify("whsec_x", "t=x,v1=y", body, now, 5*time.Minute),
	}
	for name, ok := range cases {
		if ok {
			t.Errorf("%s verified", name)
		}
	}
}

func TestCheckURLRefusesPrivateTargets(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://localhost:8080/x", "https://10.1.2.3/", "https://192.168.0.1/",
		"http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://0.0.0.0/", "http://100.64.1.1/",
		"https://[fd00::1]/", "http://[::ffff:127.0.0.1]/",
	} {
		if err := webhook.CheckURL(ctx, u, false, net.DefaultResolver); !errors.Is(err, webhook.ErrPrivateURL) {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"ftp://example.com/", "not a url", "https://user:pw@8.8.8.8/", "/relative"} {
		if err := webhook.CheckURL(ctx, u, false, net.DefaultResolver); !errors.Is(err, webhook.ErrInvalidURL) {
			t.Errorf("%s: %v", u, err)
		}
	}
	if err := webhook.CheckURL(ctx, "https://8.8.8.8/hooks", false, net.DefaultResolver); err != nil {
		t.Errorf("public address refused: %v", err)
	}
	if err := webhook.CheckURL(ctx, "http://127.0.0.1/hook", true, net.DefaultResolver); err != nil {
		t.Errorf("allowed private refused: %v", err)
	}
}

// receiver checks every signature and counts deliveries by event id.
type receiver struct {
	t       *testing.T
	secret  string
	failFor atomic.Int64 // answer 500 this many times first
	mu      sync.Mutex
	seen    map[string]int
	bad     int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !webhook.Verify(r.secret, req.Header.Get("Inbound-Signature"), body, time.Now(), 24*time.Hour*365*10) {
		r.bad++
		w.WriteHeader(400)
		return
	}
	if r.failFor.Add(-1) >= 0 {
		w.WriteHeader(500)
		return
	}
	var ev struct{ ID, Type string }
	_ = json.Unmarshal(body, &ev)
	if ev.ID != req.Header.Get("Inbound-Event-Id") {
		r.t.Errorf("event id header %q != body %q", req.Header.Get("Inbound-Event-Id"), ev.ID)
	}
	r.seen[ev.ID]++
	w.WriteHeader(204)
}

func TestOutboxDeliversEveryEventAcrossFailuresAndRestarts(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		v, _ := vault.New(bytes.Repeat([]byte{9}, 32))
		clk := testenv.NewClock(time.Now().UTC())
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		newSvc := func() *webhook.Service {
			return webhook.New(b.DB, v, log, webhook.Options{AllowPrivate: true, Now: clk.Now, Timeout: 2 * time.Second})
		}
		svc := newSvc()
		authSvc := auth.NewService(auth.NewStore(b.DB))
		if _, _, err := authSvc.CreatePartner(ctx, "ptn_w", "W", ""); err != nil {
			t.Fatal(err)
		}
		rcv := &receiver{t: t, seen: map[string]int{}}
		srv := httptest.NewServer(rcv)
		defer srv.Close()
		ep, secret, err := svc.CreateEndpoint(ctx, "ptn_w", srv.URL+"/hooks", []string{"payment.held", "payment.released"}, "")
		if err != nil {
			t.Fatal(err)
		}
		rcv.secret = secret
		if _, _, err := svc.CreateEndpoint(ctx, "ptn_w", srv.URL+"/x", []string{"nope.event"}, ""); !errors.Is(err, webhook.ErrInvalidEvents) {
			t.Fatalf("unknown event type: %v", err)
		}

		var emitted []string
		emitIn := func(typ string, rollback bool) {
			err := b.DB.Transact(ctx, func(tx *gorm.DB) error {
				id, err := svc.Emit(tx, "ptn_w", typ, map[string]string{"id": "pay_1"})
				if err != nil {
					return err
				}
				if rollback {
					return errors.New("business change failed")
				}
				emitted = append(emitted, id)
				return nil
			})
			if err != nil && !rollback {
				t.Fatal(err)
			}
		}
		emitIn("payment.held", false)
		emitIn("payment.released", false)
		emitIn("payment.held", true)      // rolled back: never delivered
		emitIn("visitor.approved", false) // not subscribed
		emitted = emitted[:2]

		rcv.failFor.Store(2)
		if n, err := svc.DispatchOnce(ctx); err != nil || n != 2 {
			t.Fatalf("first round: %d %v", n, err)
		}
		// Both failed: nothing is due until the backoff passes.
		if n, _ := svc.DispatchOnce(ctx); n != 0 {
			t.Fatalf("retried before backoff: %d", n)
		}
		clk.Add(webhook.Backoff[0] + time.Second)
		svc = newSvc() // a restart: the state is in the database
		if n, err := svc.DispatchOnce(ctx); err != nil || n != 2 {
			t.Fatalf("second round: %d %v", n, err)
		}
		for _, id := range emitted {
			if rcv.seen[id] < 1 {
				t.Errorf("event %s never delivered", id)
			}
			ds, _ := svc.Deliveries(ctx, id)
			if len(ds) != 1 || ds[0].Status != "succeeded" || ds[0].Attempts != 2 || ds[0].EndpointID != ep.ID {
				t.Errorf("delivery of %s: %+v", id, ds)
			}
		}
		if len(rcv.seen) != 2 || rcv.bad != 0 {
			t.Fatalf("receiver saw %v (bad signatures %d)", rcv.seen, rcv.bad)
		}
		var attempts int64
		b.DB.Gorm.Raw("SELECT count(*) FROM webhook_attempts").Scan(&attempts)
		if attempts != 4 {
			t.Fatalf("recorded %d attempts, want 4", attempts)
		}
	})
}

func TestDeliveryGivesUpAfterAboutADay(t *testing.T) {
	b := testenv.Embedded(t)
	ctx := context.Background()
	v, _ := vault.New(bytes.Repeat([]byte{9}, 32))
	clk := testenv.NewClock(time.Now().UTC())
	svc := webhook.New(b.DB, v, slog.New(slog.NewTextHandler(io.Discard, nil)), webhook.Options{AllowPrivate: true, Now: clk.Now})
	_, _, _ = auth.NewService(auth.NewStore(b.DB)).CreatePartner(ctx, "ptn_w", "W", "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	if _, _, err := svc.CreateEndpoint(ctx, "ptn_w", srv.URL, []string{"*"}, ""); err != nil {
		t.Fatal(err)
	}
	var id string
	_ = b.DB.Transact(ctx, func(tx *gorm.DB) error {
		var err error
		id, err = svc.Emit(tx, "ptn_w", "account.frozen", map[string]string{})
		return err
	})
	var total time.Duration
	for i := 0; i <= len(webhook.Backoff); i++ {
		if n, err := svc.DispatchOnce(ctx); err != nil || n != 1 {
			t.Fatalf("round %d: %d %v", i, n, err)
		}
		if i < len(webhook.Backoff) {
			clk.Add(webhook.Backoff[i])
			total += webhook.Backoff[i]
		}
	}
	ds, _ := svc.Deliveries(ctx, id)
	if len(ds) != 1 || ds[0].Status != "failed" || ds[0].Attempts != len(webhook.Backoff)+1 || ds[0].LastStatusCode != 503 {
		t.Fatalf("delivery %+v", ds)
	}
	if total < 20*time.Hour || total > 30*time.Hour {
		t.Fatalf("retries span %v, want about 24 h", total)
	}
}

// The deliveries of an event are created when the dispatcher takes it, for
// the endpoints enabled then, exactly once, even with several dispatchers.
func TestFanOutAtDispatchTime(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		v, _ := vault.New(bytes.Repeat([]byte{9}, 32))
		clk := testenv.NewClock(time.Now().UTC())
		newSvc := func() *webhook.Service {
			return webhook.New(b.DB, v, slog.New(slog.DiscardHandler), webhook.Options{AllowPrivate: true, Now: clk.Now, Batch: 7})
		}
		svc := newSvc()
		if _, _, err := auth.NewService(auth.NewStore(b.DB)).CreatePartner(ctx, "ptn_f", "F", ""); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[string]int{} // path + event id -> deliveries
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			seen[req.URL.Path+" "+req.Header.Get("Inbound-Event-Id")]++
			w.WriteHeader(204)
		}))
		defer srv.Close()
		old, _, err := svc.CreateEndpoint(ctx, "ptn_f", srv.URL+"/old", []string{"*"}, "")
		if err != nil {
			t.Fatal(err)
		}
		emit := func(typ string) string {
			var id string
			if err := b.DB.Transact(ctx, func(tx *gorm.DB) error {
				id, err = svc.Emit(tx, "ptn_f", typ, map[string]string{"id": "pay_1"})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return id
		}
		first := emit("payment.held")
		if ds, _ := svc.Deliveries(ctx, first); len(ds) != 0 {
			t.Fatalf("deliveries before dispatch: %+v", ds)
		}
		// Between the event and its dispatch: a new endpoint, the old one
		// deleted. The event goes to the endpoints enabled at dispatch.
		fresh, _, err := svc.CreateEndpoint(ctx, "ptn_f", srv.URL+"/new", []string{"payment.held"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.DeleteEndpoint(ctx, "ptn_f", old.ID); err != nil {
			t.Fatal(err)
		}
		var emitted []string
		for i := range 40 {
			typ := "payment.held"
			if i%4 == 0 {
				typ = "payment.released" // not subscribed
			}
			emitted = append(emitted, emit(typ))
		}
		// Several dispatchers at once (replicas): SKIP LOCKED on PostgreSQL,
		// one writer at a time on SQLite.
		var wg sync.WaitGroup
		for range 3 {
			s := newSvc()
			wg.Go(func() {
				for {
					n, err := s.DispatchOnce(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		if n, err := svc.DispatchOnce(ctx); err != nil || n != 0 {
			t.Fatalf("left over: %d %v", n, err)
		}
		for i, id := range append([]string{first}, emitted...) {
			want := 1
			if i > 0 && (i-1)%4 == 0 {
				want = 0
			}
			ds, _ := svc.Deliveries(ctx, id)
			if len(ds) != want || seen["/new "+id] != want || seen["/old "+id] != 0 {
				t.Errorf("event %d %s: deliveries %+v, received new %d old %d", i, id, ds, seen["/new "+id], seen["/old "+id])
			}
			for _, d := range ds {
				if d.EndpointID != fresh.ID || d.Status != "succeeded" || d.Attempts != 1 {
					t.Errorf("event %s: delivery %+v", id, d)
				}
			}
		}
	})
}

// longestCommon is the length of the longest common substring of a and b.
func longestCommon(a, b string) int {
	best := 0
	prev := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
				best = max(best, cur[j])
			}
		}
		prev = cur
	}
	return best
}

// TestSigningSecretsAreRandom checks that a signing secret is whsec_ and 32
// random bytes, sharing nothing longer than chance with its endpoint's id
// or with another secret made in the same millisecond.
func TestSigningSecretsAreRandom(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		v, _ := vault.New(bytes.Repeat([]byte{9}, 32))
		svc := webhook.New(b.DB, v, slog.New(slog.NewTextHandler(io.Discard, nil)), webhook.Options{AllowPrivate: true})
		if _, _, err := auth.NewService(auth.NewStore(b.DB)).CreatePartner(ctx, "ptn_s", "S", ""); err != nil {
			t.Fatal(err)
		}
		var secrets []string
		for i := range 4 {
			ep, secret, err := svc.CreateEndpoint(ctx, "ptn_s", fmt.Sprintf("http://127.0.0.1/h%d", i), []string{"*"}, "")
			if err != nil {
				t.Fatal(err)
			}
			raw, ok := strings.CutPrefix(secret, "whsec_")
			key, err := base64.RawURLEncoding.DecodeString(raw)
			if !ok || err != nil || len(key) < 32 {
				t.Fatalf("secret %q is not whsec_ and 32 bytes base64url (%v)", secret, err)
			}
			id := strings.TrimPrefix(ep.ID, "we_")
			if n := longestCommon(strings.ToLower(raw), id); n >= 8 {
				t.Errorf("secret shares %d characters with the endpoint id %s", n, ep.ID)
			}
			for _, s := range secrets {
				if n := longestCommon(raw, s); n >= 8 {
					t.Errorf("two secrets share %d characters", n)
				}
			}
			secrets = append(secrets, raw)
		}
	})
}

// TestRedeliverFailedDelivery: a delivery that gave up, retried, is
// pending and due again, and the dispatcher delivers it once the endpoint
// answers; only a failed delivery can be retried.
func TestRedeliverFailedDelivery(t *testing.T) {
	b := testenv.Embedded(t)
	ctx := context.Background()
	v, _ := vault.New(bytes.Repeat([]byte{9}, 32))
	clk := testenv.NewClock(time.Now().UTC())
	svc := webhook.New(b.DB, v, slog.New(slog.NewTextHandler(io.Discard, nil)), webhook.Options{AllowPrivate: true, Now: clk.Now})
	_, _, _ = auth.NewService(auth.NewStore(b.DB)).CreatePartner(ctx, "ptn_r", "R", "")
	var up atomic.Bool
	var delivered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			w.WriteHeader(503)
			return
		}
		delivered.Add(1)
		w.WriteHeader(204)
	}))
	defer srv.Close()
	if _, _, err := svc.CreateEndpoint(ctx, "ptn_r", srv.URL, []string{"*"}, ""); err != nil {
		t.Fatal(err)
	}
	var id string
	_ = b.DB.Transact(ctx, func(tx *gorm.DB) error {
		var err error
		id, err = svc.Emit(tx, "ptn_r", "account.frozen", map[string]string{})
		return err
	})
	for i := 0; i <= len(webhook.Backoff); i++ {
		if n, err := svc.DispatchOnce(ctx); err != nil || n != 1 {
			t.Fatalf("round %d: %d %v", i, n, err)
		}
		if i < len(webhook.Backoff) {
			clk.Add(webhook.Backoff[i])
		}
	}
	ds, _ := svc.Deliveries(ctx, id)
	if len(ds) != 1 || ds[0].Status != "failed" {
		t.Fatalf("delivery %+v", ds)
	}
	failed, err := svc.FailedDeliveries(ctx, ds[0].EndpointID, 10)
	if err != nil || len(failed) != 1 || failed[0].ID != ds[0].ID || failed[0].LastStatusCode != 503 {
		t.Fatalf("failed deliveries: %+v %v", failed, err)
	}
	thenRan := false
	d, err := svc.Redeliver(ctx, ds[0].ID, func(_ *db.Tx, d webhook.Delivery) error { thenRan = d.Status == "pending"; return nil })
	if err != nil || d.Status != "pending" || d.Attempts != 0 || !thenRan {
		t.Fatalf("redeliver: %+v %v (then ran: %v)", d, err, thenRan)
	}
	if _, err := svc.Redeliver(ctx, ds[0].ID); !errors.Is(err, webhook.ErrDeliveryNotFailed) {
		t.Fatalf("redeliver a pending delivery: %v", err)
	}
	if _, err := svc.Redeliver(ctx, 999999); !errors.Is(err, webhook.ErrDeliveryNotFound) {
		t.Fatalf("redeliver a missing delivery: %v", err)
	}
	up.Store(true)
	if n, err := svc.DispatchOnce(ctx); err != nil || n != 1 {
		t.Fatalf("dispatch after redeliver: %d %v", n, err)
	}
	if got, _ := svc.Delivery(ctx, ds[0].ID); got.Status != "succeeded" || delivered.Load() != 1 {
		t.Fatalf("after redelivery: %+v, delivered %d", got, delivered.Load())
	}
	if _, err := svc.Redeliver(ctx, ds[0].ID); !errors.Is(err, webhook.ErrDeliveryNotFailed) {
		t.Fatalf("redeliver a succeeded delivery: %v", err)
	}
}
