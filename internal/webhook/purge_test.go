package webhook_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/internal/webhook"
)

// TestPurgeDeliveredKeepsWhatSupportStillNeeds: an old event delivered
// everywhere goes with its deliveries and attempts; an old event with a
// failing delivery stays, and so does a recent delivered one.
func TestPurgeDeliveredKeepsWhatSupportStillNeeds(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		v, _ := vault.New(bytes.Repeat([]byte{9}, 32))
		clk := testenv.NewClock(time.Now().UTC())
		svc := webhook.New(b.DB, v, slog.New(slog.NewTextHandler(io.Discard, nil)),
			webhook.Options{AllowPrivate: true, Now: clk.Now, Timeout: 2 * time.Second})
		if _, _, err := auth.NewService(auth.NewStore(b.DB)).CreatePartner(ctx, "ptn_p", "P", ""); err != nil {
			t.Fatal(err)
		}
		ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
		defer ok.Close()
		broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
		defer broken.Close()
		if _, _, err := svc.CreateEndpoint(ctx, "ptn_p", ok.URL+"/a", []string{"payment.held", "payment.released"}, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.CreateEndpoint(ctx, "ptn_p", broken.URL+"/b", []string{"payment.released"}, ""); err != nil {
			t.Fatal(err)
		}
		emit := func(typ string) string {
			var id string
			if err := b.DB.Transact(ctx, func(tx *gorm.DB) error {
				var err error
				id, err = svc.Emit(tx, "ptn_p", typ, map[string]string{"id": "pay_1"})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return id
		}
		delivered := emit("payment.held")
		failing := emit("payment.released")
		if _, err := svc.DispatchOnce(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Add(webhook.DeliveredRetention + time.Hour)
		recent := emit("payment.held")
		if _, err := svc.DispatchOnce(ctx); err != nil {
			t.Fatal(err)
		}

		n, err := svc.PurgeDelivered(ctx, clk.Now().Add(-webhook.DeliveredRetention))
		if err != nil || n != 1 {
			t.Fatalf("PurgeDelivered = %d, %v; want 1 event", n, err)
		}
		count := func(q string, args ...any) int64 {
			var c int64
			if err := b.DB.Gorm.Raw(q, args...).Scan(&c).Error; err != nil {
				t.Fatal(err)
			}
			return c
		}
		if c := count("SELECT COUNT(*) FROM events WHERE id = ?", delivered); c != 0 {
			t.Errorf("old delivered event still there")
		}
		if c := count("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = ?", delivered); c != 0 {
			t.Errorf("its deliveries still there: %d", c)
		}
		if c := count("SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = ?", delivered); c != 0 {
			t.Errorf("its attempts still there: %d", c)
		}
		for name, id := range map[string]string{"failing": failing, "recent": recent} {
			if c := count("SELECT COUNT(*) FROM events WHERE id = ?", id); c != 1 {
				t.Errorf("%s event purged", name)
			}
		}
		if c := count("SELECT COUNT(*) FROM webhook_attempts"); c < 3 {
			t.Errorf("attempts of the kept events purged: %d left", c)
		}
		if n, err := svc.PurgeDelivered(ctx, clk.Now().Add(-webhook.DeliveredRetention)); err != nil || n != 0 {
			t.Errorf("second purge = %d, %v; want nothing", n, err)
		}
	})
}
