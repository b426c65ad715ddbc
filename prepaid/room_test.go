package prepaid_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/prepaid"
)

// cardTotals is what one card moved in and out of accounts: captured and
// credited by succeeded loads, refunded and debited by succeeded unloads.
type cardTotals struct {
	Captured, Credited, Refunded, Debited int64
}

// totals reads every card's totals from the rows.
func (e *env) totals(t testing.TB) map[string]cardTotals {
	t.Helper()
	out := map[string]cardTotals{}
	var loads []struct {
		CardID             string
		Captured, Credited int64
	}
	if err := e.b.DB.Gorm.Raw(`SELECT card_id, SUM(charged_minor) AS captured, SUM(credited_minor) AS credited
		FROM prepaid_loads WHERE status = 'succeeded' GROUP BY card_id`).Scan(&loads).Error; err != nil {
		t.Fatal(err)
	}
	for _, l := range loads {
		c := out[l.CardID]
		c.Captured, c.Credited = l.Captured, l.Credited
		out[l.CardID] = c
	}
	var unloads []struct {
		CardID            string
		Refunded, Debited int64
	}
	if err := e.b.DB.Gorm.Raw(`SELECT card_id, SUM(refund_minor) AS refunded, SUM(amount_minor) AS debited
		FROM prepaid_unloads WHERE status = 'succeeded' GROUP BY card_id`).Scan(&unloads).Error; err != nil {
		t.Fatal(err)
	}
	for _, u := range unloads {
		c := out[u.CardID]
		c.Refunded, c.Debited = u.Refunded, u.Debited
		out[u.CardID] = c
	}
	return out
}

// checkRooms asserts that no card got back more than it paid in, in its
// currency and in CNY, and that reconciliation agrees.
func (e *env) checkRooms(t testing.TB) {
	t.Helper()
	for card, c := range e.totals(t) {
		if c.Refunded > c.Captured || c.Debited > c.Credited {
			t.Errorf("card %s got back more than it paid in: %+v", card, c)
		}
	}
	over, err := prepaid.NewStore(e.b.DB).OverRefundedCards(context.Background())
	if err != nil || len(over) > 0 {
		t.Errorf("over-refunded cards: %v %v", over, err)
	}
}

// TestUnloadWithinCardRoom: a card that paid in part of the balance is
// refused the whole of it (with its room in the error) and nothing moves;
// with close it gets its room and the rest goes to the other funding card,
// each its own unload and refund.
func TestUnloadWithinCardRoom(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		small := e.card(t, v, freshPAN())
		big := e.card(t, v, freshPAN())
		e.load(t, v, small, "200.00") // 28.37 USD captured, 200.00 credited
		e.load(t, v, big, "1000.00")  // 141.83 USD captured, 970.00 credited

		_, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: small.ID})
		var re *prepaid.CardRoomError
		if !errors.Is(err, prepaid.ErrExceedsCardRoom) || !errors.As(err, &re) {
			t.Fatalf("unload of 1170.00 to a card that paid in 200.00: %v", err)
		}
		if re.Room != cny("200.00") || re.Requested != cny("1170.00") || re.RefundRoom != usd("28.37") || re.CardID != small.ID {
			t.Errorf("room error %+v", re)
		}
		if bal := e.balance(t, v); bal != cny("1170.00") {
			t.Fatalf("a refused unload moved money: balance %s", bal)
		}

		u, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: small.ID, Close: true})
		if err != nil {
			t.Fatal(err)
		}
		type part struct {
			Card             string
			Amount, Refunded money.Amount
			Status           prepaid.UnloadStatus
		}
		var got []part
		for _, p := range u.Unloads {
			got = append(got, part{p.CardID, p.Amount, p.Refunded, p.Status})
		}
		// 200.00 / 7.193222 = 27.80; 970.00 / 7.193222 = 134.84.
		want := []part{{small.ID, cny("200.00"), usd("27.80"), prepaid.UnloadSucceeded}, {big.ID, cny("970.00"), usd("134.84"), prepaid.UnloadSucceeded}}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b money.Amount) bool { return a == b })); diff != "" {
			t.Fatalf("unloads (-want +got):\n%s", diff)
		}
		if u.ID != u.Unloads[0].ID || u.CardID != small.ID || u.Amount != cny("200.00") {
			t.Errorf("the answer is not the first unload: %+v", u)
		}
		for _, p := range u.Unloads {
			if diff := cmp.Diff([]string{prepaid.EventUnloadSucceeded}, e.events.types(p.ID)); diff != "" {
				t.Errorf("events of %s (-want +got):\n%s", p.ID, diff)
			}
		}
		view, err := e.svc.View(ctx, e.partner, v.ID)
		if err != nil || view.Status != prepaid.Closed || !view.Balance.IsZero() {
			t.Fatalf("after close: %+v %v", view, err)
		}
		e.checkRooms(t)
		e.check(t)
	})
}

// movingUSD is a rate source whose USD mid the test sets.
type movingUSD struct {
	fx.Source
	mid atomic.Pointer[decimal.Decimal]
}

func (m *movingUSD) Rates(ctx context.Context) (fx.Table, error) {
	t, err := m.Source.Rates(ctx)
	if err != nil || m.mid.Load() == nil {
		return t, err
	}
	mids := map[string]decimal.Decimal{}
	for _, c := range t.Currencies() {
		mid, err := t.Mid(money.MustCurrency(c))
		if err != nil {
			return fx.Table{}, err
		}
		mids[c] = mid
	}
	mids["USD"] = *m.mid.Load()
	return fx.NewTable(t.AsOf(), mids, t.Label())
}

// TestUnloadCardCurrencyRoom: when CNY buys more of the card's currency
// than at the load, the refund stops at the capture (in card currency),
// and what is left beyond every card's room refuses close.
func TestUnloadCardCurrencyRoom(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		rates := &movingUSD{}
		e := newEnv(t, b, envOptions{rates: func(s fx.Source) fx.Source { rates.Source = s; return rates }})
		ctx := context.Background()
		v := e.visitor(t)
		a := e.card(t, v, freshPAN())
		e.load(t, v, a, "1000.00") // 141.83 USD captured, 970.00 credited
		six := decimal.RequireFromString("6.0000")
		rates.mid.Store(&six)

		// 970.00 / 6.06 = 160.06 USD, above the 141.83 captured: the room
		// is the CNY that buys exactly 141.83 (859.49 / 6.06 = 141.8300).
		_, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: a.ID})
		var re *prepaid.CardRoomError
		if !errors.As(err, &re) || re.Room != cny("859.49") || re.RefundRoom != usd("141.83") {
			t.Fatalf("unload beyond the capture: %v", err)
		}
		b2 := e.card(t, v, freshPAN())
		e.load(t, v, b2, "200.00") // at 5.94: 33.68 USD captured, 200.00 credited
		_, err = e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: a.ID, Close: true})
		if !errors.As(err, &re) || re.Room != cny("1059.49") || re.Requested != cny("1170.00") {
			t.Fatalf("close with 110.51 beyond every card's room: %v", err)
		}
		if bal := e.balance(t, v); bal != cny("1170.00") {
			t.Fatalf("a refused close moved money: balance %s", bal)
		}

		// The expiry job sends what the cards can take and leaves the rest
		// (for staff) in the expired account.
		e.clock.Add(91 * 24 * time.Hour)
		if _, err := e.svc.ExpireAccounts(ctx, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		view, err := e.svc.View(ctx, e.partner, v.ID)
		if err != nil || view.Status != prepaid.Expired || view.Balance != cny("110.51") {
			t.Fatalf("after expiry: %+v %v", view, err)
		}
		tt := e.totals(t)
		if tt[a.ID].Refunded != tt[a.ID].Captured || tt[b2.ID].Debited != 200_00 {
			t.Errorf("card totals %+v", tt)
		}
		e.checkRooms(t)
		e.check(t)
	})
}

// crashOnRefund kills the process after the network approved refund n (1
// first), before its answer was recorded.
type crashOnRefund struct {
	prepaid.Network
	n     int32
	calls atomic.Int32
}

func (c *crashOnRefund) Refund(ctx context.Context, cardID, ref string, amount money.Amount, orig string, apply gateway.Apply) (gateway.Call, error) {
	if c.calls.Add(1) != c.n {
		return c.Network.Refund(ctx, cardID, ref, amount, orig, apply)
	}
	if _, err := c.Network.Refund(ctx, cardID, ref, amount, orig, nil); err != nil {
		return gateway.Call{}, err
	}
	panic(errKilled)
}

// TestUnloadGroupCrashAndRetry kills an unload with close between its two
// refunds: the account stays open (one part pending) until the retry under
// the same key, seconds later, books the second refund from its call record
// and closes the account, answering both unloads without a new network
// call; a later Recover finds nothing left.
func TestUnloadGroupCrashAndRetry(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		key := idempotency.ScopedKey(e.partner, "unload-1")
		v := e.visitor(t)
		small := e.card(t, v, freshPAN())
		big := e.card(t, v, freshPAN())
		e.load(t, v, small, "200.00")
		e.load(t, v, big, "1000.00")
		d := e.deps
		d.Network = &crashOnRefund{Network: e.client, n: 2}
		crashing := e.service(t, d)
		func() {
			defer func() {
				if r := recover(); r != errKilled {
					t.Fatalf("no crash: %v", r)
				}
			}()
			_, _ = crashing.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: small.ID, Close: true, RequestKey: key})
		}()
		view, err := e.svc.View(ctx, e.partner, v.ID)
		if err != nil || view.Status != prepaid.Active || view.Held != cny("970.00") || view.Balance != cny("970.00") {
			t.Fatalf("between the parts: %+v %v", view, err)
		}
		e.clock.Add(2 * time.Second)
		u, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: small.ID, Close: true, RequestKey: key})
		if err != nil || len(u.Unloads) != 2 || u.Unloads[1].CardID != big.ID || u.Unloads[1].Status != prepaid.UnloadSucceeded {
			t.Fatalf("retry after recovery: %+v %v", u, err)
		}
		view, err = e.svc.View(ctx, e.partner, v.ID)
		if err != nil || view.Status != prepaid.Closed || !view.Balance.IsZero() {
			t.Fatalf("after recovery: %+v %v", view, err)
		}
		if n, err := e.svc.Recover(context.Background(), e.clock.Now().Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("recover after the retry: %d %v", n, err)
		}
		e.checkRooms(t)
		e.check(t)
	})
}

// TestConcurrentUnloadsStayWithinRoom races unloads with and without close
// to both cards of an account: whatever wins, no card gets back more than
// it paid in, exactly one request moves money, and the ledger and the
// network agree.
func TestConcurrentUnloadsStayWithinRoom(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		v := e.visitor(t)
		small := e.card(t, v, freshPAN())
		big := e.card(t, v, freshPAN())
		e.load(t, v, small, "200.00")
		e.load(t, v, big, "1000.00")
		type try struct {
			card  string
			close bool
		}
		var tries []try
		for range 3 {
			tries = append(tries, try{small.ID, false}, try{big.ID, false}, try{small.ID, true})
		}
		var (
			wg        sync.WaitGroup
			start     = make(chan struct{})
			succeeded atomic.Int32
		)
		for _, tr := range tries {
			wg.Go(func() {
				<-start
				_, err := e.svc.Unload(context.Background(), prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: tr.card, Close: tr.close})
				switch {
				case err == nil:
					succeeded.Add(1)
				case errors.Is(err, prepaid.ErrExceedsCardRoom), errors.Is(err, prepaid.ErrUnloadInProgress),
					errors.Is(err, prepaid.ErrNothingToUnload), errors.Is(err, prepaid.ErrClosed):
				default:
					t.Errorf("unload %+v: %v", tr, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := succeeded.Load(); n != 1 {
			t.Errorf("%d unloads succeeded, want the one close", n)
		}
		e.checkRooms(t)
		e.check(t)
	})
}

// TestReconciliationReportsRefundAboveCapture forces a refund above a
// card's captures into the rows and sees CardRefunds report it.
func TestReconciliationReportsRefundAboveCapture(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		c := e.card(t, v, freshPAN())
		e.load(t, v, c, "200.00") // 28.37 USD
		if _, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID}); err != nil {
			t.Fatal(err)
		}
		e.checkRooms(t)
		before := e.totals(t)[c.ID]
		exec(t, b.DB, `INSERT INTO prepaid_unloads (id, partner_id, visitor_id, account_id, card_id, status, close_account,
			network, amount_minor, refund_currency, refund_minor, created_at, updated_at)
			SELECT 'unl_forged', partner_id, visitor_id, id, ?, 'succeeded', false, 'visa', 5000, 'USD', 100, ?, ? FROM prepaid_accounts WHERE visitor_id = ?`,
			c.ID, e.clock.Now(), e.clock.Now(), v.ID)
		over, err := prepaid.NewStore(b.DB).OverRefundedCards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// 28.37 USD captured; the real unload's refund and 1.00 forged.
		want := []prepaid.CardOverRefund{{CardID: c.ID, Currency: "USD", Refunded: before.Refunded + 100, Captured: 2837}}
		if len(over) != 1 || over[0] != want[0] {
			t.Fatalf("over-refunded cards %+v, want %+v", over, want)
		}
	})
}

// declineRefundsTo has the network decline every refund to one card (sent
// in a currency that is not the card's).
type declineRefundsTo struct {
	prepaid.Network
	card string
}

func (d declineRefundsTo) Refund(ctx context.Context, cardID, ref string, amount money.Amount, orig string, apply gateway.Apply) (gateway.Call, error) {
	if cardID == d.card {
		amount = money.New(amount.Minor(), money.MustCurrency("EUR"))
	}
	return d.Network.Refund(ctx, cardID, ref, amount, orig, apply)
}

// TestUnloadGroupPartDeclined: when the network declines one refund of an
// unload with close, the other stands, the declined part's money is back
// in the account, the account stays open, and a new request sends it.
func TestUnloadGroupPartDeclined(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		small := e.card(t, v, freshPAN())
		big := e.card(t, v, freshPAN())
		e.load(t, v, small, "200.00")
		e.load(t, v, big, "1000.00")
		d := e.deps
		d.Network = declineRefundsTo{Network: e.client, card: big.ID}
		declining := e.service(t, d)
		u, err := declining.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: small.ID, Close: true})
		if !errors.Is(err, gateway.ErrDeclined) || len(u.Unloads) != 2 ||
			u.Unloads[0].Status != prepaid.UnloadSucceeded || u.Unloads[1].Status != prepaid.UnloadFailed {
			t.Fatalf("unload with a declined part: %+v %v", u, err)
		}
		view, err := e.svc.View(ctx, e.partner, v.ID)
		if err != nil || view.Status != prepaid.Active || view.Available != cny("970.00") || !view.Held.IsZero() {
			t.Fatalf("after the decline: %+v %v", view, err)
		}
		// The small card has no room left: everything goes to the big one.
		u, err = e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: small.ID, Close: true})
		if err != nil || len(u.Unloads) != 1 || u.CardID != big.ID || u.Amount != cny("970.00") {
			t.Fatalf("second unload: %+v %v", u, err)
		}
		if view, err := e.svc.View(ctx, e.partner, v.ID); err != nil || view.Status != prepaid.Closed || !view.Balance.IsZero() {
			t.Fatalf("after the second unload: %+v %v", view, err)
		}
		e.checkRooms(t)
		e.check(t)
	})
}
