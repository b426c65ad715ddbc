package fx_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// quoteCmp compares quotes field by field, unexported fields included.
var quoteCmp = cmp.Options{
	cmp.Exporter(func(reflect.Type) bool { return true }),
	cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
}

func storedService(t *testing.T, b testenv.Backend, clock func() time.Time) (*fx.Service, *fx.GormStore) {
	t.Helper()
	store := fx.NewGormStore(b.DB)
	src := fx.NewBuiltin(fx.BuiltinOptions{Now: clock})
	svc, err := fx.NewService(src, store, fx.DefaultConfig(), clock)
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}

func TestStoreRoundTripAndOwner(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		now := time.Now().UTC().Add(123456789 * time.Nanosecond)
		svc, store := storedService(t, b, func() time.Time { return now })
		for _, tc := range []struct {
			name   string
			unload bool
			card   money.Currency
			amount money.Amount
		}{
			{"load USD buy", false, money.USD, amt(t, "1000.00", "CNY")},
			{"load JPY sell", false, money.JPY, amt(t, "12345", "JPY")},
			{"unload KRW", true, money.MustCurrency("KRW"), amt(t, "970.00", "CNY")},
		} {
			req := fx.Request{Owner: owner, CardID: "card_1", Card: tc.card, Amount: tc.amount}
			mk := func(ctx context.Context, r fx.Request) (fx.Quote, error) { return svc.Quote(ctx, r) }
			if tc.unload {
				mk = svc.UnloadQuote
			}
			q, err := mk(ctx, req)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			got, err := svc.Get(ctx, owner, q.ID())
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if diff := cmp.Diff(q, got, quoteCmp); diff != "" {
				t.Errorf("%s: stored quote differs (-made +read):\n%s", tc.name, diff)
			}
			for _, other := range []fx.Owner{{PartnerID: "ptn_2", VisitorID: "vis_1"}, {PartnerID: "ptn_1", VisitorID: "vis_2"}} {
				if _, err := store.Get(ctx, other, q.ID()); !errors.Is(err, fx.ErrQuoteNotFound) {
					t.Errorf("%s: %+v sees the quote: %v", tc.name, other, err)
				}
			}
		}
		if _, err := store.Get(ctx, owner, "quo_missing"); !errors.Is(err, fx.ErrQuoteNotFound) {
			t.Fatalf("missing quote: %v", err)
		}
	})
}

func TestStoreUseOnce(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		now := time.Now().UTC()
		svc, store := storedService(t, b, func() time.Time { return now })
		req := fx.Request{Owner: owner, CardID: "card_1", Card: money.USD, Amount: amt(t, "1000.00", "CNY")}

		q, err := svc.Quote(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		// Many concurrent uses, each in its own transaction: exactly one wins.
		const n = 16
		var wins, expired atomic.Int64
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				err := b.DB.Transact(ctx, func(tx *gorm.DB) error {
					return store.Use(ctx, tx, q.ID(), now.Add(time.Second))
				})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, fx.ErrQuoteExpired):
					expired.Add(1)
				default:
					t.Errorf("use: %v", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || expired.Load() != n-1 {
			t.Fatalf("wins %d, expired %d of %d", wins.Load(), expired.Load(), n)
		}
		got, err := store.Get(ctx, owner, q.ID())
		if err != nil {
			t.Fatal(err)
		}
		if !got.Used() || !got.UsedAt().Equal(now.Add(time.Second).Truncate(time.Microsecond)) {
			t.Fatalf("used at %s", got.UsedAt())
		}
		if err := got.Usable(now); !errors.Is(err, fx.ErrQuoteExpired) {
			t.Fatalf("used quote usable: %v", err)
		}

		// A use rolled back with its transaction leaves the quote usable.
		q2, err := svc.Quote(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("load failed after using the quote")
		err = b.DB.Transact(ctx, func(tx *gorm.DB) error {
			if err := store.Use(ctx, tx, q2.ID(), now); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("transact: %v", err)
		}
		if err := store.Use(ctx, nil, q2.ID(), now); err != nil {
			t.Fatalf("use after rollback: %v", err)
		}

		// Expiry: usable just before expires_at, not at it.
		q3, err := svc.Quote(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Use(ctx, nil, q3.ID(), q3.ExpiresAt()); !errors.Is(err, fx.ErrQuoteExpired) {
			t.Fatalf("use at expiry: %v", err)
		}
		if err := store.Use(ctx, nil, q3.ID(), q3.ExpiresAt().Add(-time.Millisecond)); err != nil {
			t.Fatalf("use just before expiry: %v", err)
		}
		if err := store.Use(ctx, nil, "quo_missing", now); !errors.Is(err, fx.ErrQuoteNotFound) {
			t.Fatalf("use of a missing quote: %v", err)
		}
	})
}

func TestStorePurge(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		ctx := context.Background()
		now := time.Now().UTC()
		svc, store := storedService(t, b, func() time.Time { return now })
		req := fx.Request{Owner: owner, CardID: "card_1", Card: money.USD, Amount: amt(t, "50.00", "CNY")}
		used, err := svc.Quote(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Use(ctx, nil, used.ID(), now); err != nil {
			t.Fatal(err)
		}
		unused, err := svc.Quote(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := store.Purge(ctx, now.Add(time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("purged %d, %v", n, err)
		}
		if _, err := store.Get(ctx, owner, unused.ID()); !errors.Is(err, fx.ErrQuoteNotFound) {
			t.Fatalf("unused expired quote kept: %v", err)
		}
		if _, err := store.Get(ctx, owner, used.ID()); err != nil {
			t.Fatalf("used quote purged: %v", err)
		}
	})
}

// A quote and the request's stored response commit together: if the
// response cannot be stored, there is no quote either, so a retry under the
// same key never gets a second quote at another rate while the first one
// was answered without being remembered. An unload quote is a step of the
// unload, whose own transaction stores the response: it takes no Then.
func TestQuoteCommitsWithStoredResponse(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		now := time.Now().UTC()
		svc, _ := storedService(t, b, func() time.Time { return now })
		var seen []any
		ctx := context.Background()
		then := func(tx *gorm.DB, result fx.Quote) error {
			seen = append(seen, result)
			return errors.New("response store failed")
		}
		req := fx.Request{Owner: owner, CardID: "card_1", Card: money.USD, Amount: amt(t, "100.00", "CNY")}
		if _, err := svc.Quote(ctx, req, then); err == nil {
			t.Fatal("quote answered although its response was not stored")
		}
		var n int64
		if err := b.DB.Gorm.Raw("SELECT count(*) FROM quotes").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 0 || len(seen) != 1 {
			t.Fatalf("%d quotes stored, hooks saw %d", n, len(seen))
		}
		if _, err := svc.UnloadQuote(ctx, req); err != nil {
			t.Fatalf("unload quote: %v", err)
		}
	})
}
