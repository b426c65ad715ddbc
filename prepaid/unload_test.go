package prepaid_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/prepaid"
)

// load makes a succeeded load of value CNY.
func (e *env) load(t testing.TB, v gateway.VisitorRef, c gateway.Card, value string) prepaid.Load {
	t.Helper()
	l, err := e.svc.Load(context.Background(), prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: e.quote(t, v, c, value, "CNY").ID()})
	if err != nil || l.Status != prepaid.LoadSucceeded {
		t.Fatalf("load %s: %+v %v", value, l, err)
	}
	return l
}

// TestUnloadRoundsForTheBank unloads the balance to the funding card at
// mid x 1.01, rounded down to the cent, and closes the account.
func TestUnloadRoundsForTheBank(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		pan := freshPAN()
		c := e.card(t, v, pan)
		never := e.card(t, v, freshPAN())
		e.load(t, v, c, "1000.00") // 970.00 credited

		if _, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: never.ID}); !errors.Is(err, prepaid.ErrCardNotUsable) {
			t.Fatalf("unload to a card that never funded: %v", err)
		}
		u, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, Close: true})
		if err != nil {
			t.Fatal(err)
		}
		// 970.00 / (7.1220 x 1.01) = 134.8492...: down to 134.84.
		rate := fx.DefaultMids()["USD"].Mul(decimal.RequireFromString("1.01"))
		if u.Status != prepaid.UnloadSucceeded || u.Amount != cny("970.00") || u.Refunded != usd("134.84") {
			t.Fatalf("unload %+v", u)
		}
		if got := u.Refunded.Decimal().Mul(rate); got.GreaterThan(decimal.RequireFromString("970.00")) {
			t.Errorf("refund is worth %s CNY at the unload rate, more than the 970.00 taken", got)
		}
		if next := u.Refunded.Decimal().Add(decimal.New(1, -2)).Mul(rate); !next.GreaterThan(decimal.RequireFromString("970.00")) {
			t.Errorf("one more cent (%s CNY) would still fit: rounded too far", next)
		}
		view, err := e.svc.View(ctx, e.partner, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if view.Status != prepaid.Closed || !view.Balance.IsZero() || !view.Available.IsZero() {
			t.Errorf("after unload with close: %+v", view)
		}
		if diff := cmp.Diff([]string{prepaid.EventUnloadSucceeded}, e.events.types(u.ID)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if _, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID}); !errors.Is(err, prepaid.ErrClosed) {
			t.Errorf("unload of a closed account: %v", err)
		}
		// Closing the account ended the visitor's card bindings in the
		// same transaction: the card is another visitor's to bind.
		if got, err := e.binder.Get(ctx, e.partner, v.ID, c.ID); err != nil || got.Status != gateway.StatusRemoved {
			t.Errorf("card after close: %+v %v", got, err)
		}
		if moved := e.card(t, e.visitor(t), pan); moved.ID == c.ID {
			t.Errorf("rebind after close returned the old card")
		}
		e.check(t)
	})
}

// TestUnloadKeepsOpenAndRefusesNothing unloads without closing, then finds
// nothing left; a declined refund releases the reservation.
func TestUnloadKeepsOpenAndRefusesNothing(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		c := e.card(t, v, freshPAN())
		e.load(t, v, c, "300.00")
		e.load(t, v, c, "150.00")
		u, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID})
		if err != nil || u.Amount != cny("441.00") {
			t.Fatalf("unload: %+v %v", u, err)
		}
		if _, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID}); !errors.Is(err, prepaid.ErrNothingToUnload) {
			t.Fatalf("second unload: %v", err)
		}
		if _, err := e.store.SetFrozen(ctx, v.ID, true, e.events); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, Close: true}); !errors.Is(err, prepaid.ErrFrozen) {
			t.Fatalf("frozen: %v", err)
		}
		view, err := e.svc.View(ctx, e.partner, v.ID)
		if err != nil || view.Status != prepaid.Frozen || !view.Balance.IsZero() {
			t.Fatalf("view %+v %v", view, err)
		}
		e.check(t)
	})
}

// TestTransactionsAndView lists the account's movements with types,
// signed amounts and running balances, page by page, and shows the limits.
func TestTransactionsAndView(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		c := e.card(t, v, freshPAN())

		view, err := e.svc.View(ctx, e.partner, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if view.Limits.Profile != prepaid.Basic || view.Limits.BalanceCap != cny("2000.00") || view.Limits.AnnualLoadCap != nil ||
			view.Limits.LoadRoom != cny("2000.00") || !view.Balance.IsZero() {
			t.Fatalf("empty view %+v", view)
		}
		page, err := e.svc.Transactions(ctx, e.partner, v.ID, "", 10)
		if err != nil || len(page.Data) != 0 || page.HasMore {
			t.Fatalf("empty list %+v %v", page, err)
		}

		l1 := e.load(t, v, c, "200.00") // no fee at 200
		l2 := e.load(t, v, c, "1000.00")
		u, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID})
		if err != nil {
			t.Fatal(err)
		}
		type line struct {
			Type          prepaid.TxType
			Amount, After money.Amount
			Reference     string
		}
		want := []line{
			{prepaid.TxLoad, cny("200.00"), cny("200.00"), "load:" + l1.ID},
			{prepaid.TxLoad, cny("970.00"), cny("1170.00"), "load:" + l2.ID},
			{prepaid.TxUnload, cny("-1170.00"), cny("0.00"), "unl:" + u.ID},
		}
		var got []line
		cursor := ""
		for pages := 0; ; pages++ {
			p, err := e.svc.Transactions(ctx, e.partner, v.ID, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, tx := range p.Data {
				got = append(got, line{tx.Type, tx.Amount, tx.BalanceAfter, tx.Reference})
			}
			if !p.HasMore {
				break
			}
			if pages > 3 {
				t.Fatal("paging does not end")
			}
			cursor = p.NextCursor
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b money.Amount) bool { return a == b })); diff != "" {
			t.Errorf("transactions (-want +got):\n%s", diff)
		}
		if _, err := e.svc.Transactions(ctx, e.partner, v.ID, "x", 2); !errors.Is(err, prepaid.ErrInvalidCursor) {
			t.Errorf("bad cursor: %v", err)
		}
		if _, err := e.svc.Transactions(ctx, "ptn_other", v.ID, "", 2); !errors.Is(err, prepaid.ErrNotFound) {
			t.Errorf("other partner: %v", err)
		}

		if err := e.store.SetProfile(ctx, v.ID, prepaid.Verified); err != nil {
			t.Fatal(err)
		}
		e.load(t, v, c, "1000.00")
		view, err = e.svc.View(ctx, e.partner, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Three loads charged 28.37 + 141.83 + 141.83 USD (a USD card counts as charged).
		if view.Balance != cny("970.00") || view.Limits.Profile != prepaid.Verified || view.Limits.BalanceCap != cny("5000.00") ||
			view.Limits.AnnualLoadCap == nil || *view.Limits.AnnualLoadCap != usd("50000.00") ||
			view.Limits.LoadedThisYear != usd("312.03") || view.Limits.LoadRoom != cny("4030.00") {
			t.Errorf("verified view %+v", view)
		}
		e.check(t)
	})
}

// TestExpireAccounts expires an account past its validity, sends its
// balance back and closes it, once, however often the job runs.
func TestExpireAccounts(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		c := e.card(t, v, freshPAN())
		e.load(t, v, c, "500.00")
		empty := e.visitor(t)
		young := e.visitor(t)
		_ = young

		e.clock.Add(90*24*time.Hour + time.Minute)
		// Opened later: still valid.
		exec(t, b.DB, "UPDATE prepaid_accounts SET expires_at = ? WHERE visitor_id = ?", e.clock.Now().Add(time.Hour), young.ID)
		n, err := e.svc.ExpireAccounts(ctx, e.clock.Now())
		if err != nil || n != 2 {
			t.Fatalf("expire: %d %v", n, err)
		}
		if n, err := e.svc.ExpireAccounts(ctx, e.clock.Now()); err != nil || n != 0 {
			t.Fatalf("second run: %d %v", n, err)
		}
		for _, tt := range []struct {
			v    gateway.VisitorRef
			want prepaid.Status
		}{{v, prepaid.Closed}, {empty, prepaid.Closed}, {young, prepaid.Active}} {
			a, err := e.store.ByVisitor(ctx, e.partner, tt.v.ID)
			if err != nil || a.Status != tt.want {
				t.Errorf("%s: %s %v, want %s", tt.v.ID, a.Status, err, tt.want)
			}
			if got := e.events.types(a.ID); tt.want == prepaid.Closed && !cmp.Equal(got, []string{prepaid.EventAccountExpired}) {
				t.Errorf("%s events %v", a.ID, got)
			}
		}
		if bal := e.balance(t, v); !bal.IsZero() {
			t.Errorf("balance after expiry %s", bal)
		}
		e.check(t)
	})
}

// TestLimitProfileCheck is the limits engine alone, at its edges.
func TestLimitProfileCheck(t *testing.T) {
	p := prepaid.DefaultLimits()[prepaid.Verified]
	tests := []struct {
		name      string
		in        prepaid.LoadCheck
		wantLimit string
		wantRoom  money.Amount
	}{
		{"fits", prepaid.LoadCheck{Balance: cny("0.00"), Buy: cny("100.00"), Credited: cny("100.00"), USD: usd("14.05"), LoadedThisYear: usd("0.00")}, "", money.Amount{}},
		{"cap exactly", prepaid.LoadCheck{Balance: cny("4000.00"), Buy: cny("1031.00"), Credited: cny("1000.00"), USD: usd("145.00"), LoadedThisYear: usd("0.00")}, "", money.Amount{}},
		{"cap plus a fen", prepaid.LoadCheck{Balance: cny("4000.01"), Buy: cny("1031.00"), Credited: cny("1000.00"), USD: usd("145.00"), LoadedThisYear: usd("0.00")}, prepaid.LimitBalanceCap, cny("999.99")},
		{"annual exactly", prepaid.LoadCheck{Balance: cny("0.00"), Buy: cny("100.00"), Credited: cny("97.00"), USD: usd("14.05"), LoadedThisYear: usd("49985.95")}, "", money.Amount{}},
		{"annual plus a cent", prepaid.LoadCheck{Balance: cny("0.00"), Buy: cny("100.00"), Credited: cny("97.00"), USD: usd("14.05"), LoadedThisYear: usd("49985.96")}, prepaid.LimitAnnual, usd("14.04")},
		{"balance over the cap already", prepaid.LoadCheck{Balance: cny("5100.00"), Buy: cny("10.00"), Credited: cny("10.00"), USD: usd("1.40"), LoadedThisYear: usd("0.00")}, prepaid.LimitBalanceCap, cny("0.00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Check(tt.in)
			var le *prepaid.LimitError
			switch {
			case tt.wantLimit == "" && err != nil:
				t.Fatalf("unexpected %v", err)
			case tt.wantLimit == "":
			case !errors.As(err, &le) || le.Limit != tt.wantLimit || le.Room != tt.wantRoom:
				t.Fatalf("err = %v, want %s room %s", err, tt.wantLimit, tt.wantRoom)
			}
		})
	}
	if err := (prepaid.Limits{prepaid.Basic: {BalanceCap: usd("1.00")}}).Validate(); err == nil {
		t.Error("a USD balance cap and a missing profile pass Validate")
	}
}

// crashingRefunds kills the process right after the network approved a
// refund and its call record committed, before the ledger was written; or
// before the refund was sent.
type crashingRefunds struct {
	prepaid.Network
	afterSend bool
	// afterAnswer: the network approved the refund and the process died
	// inside the transaction recording the answer (the call stays intent).
	afterAnswer bool
}

func (n crashingRefunds) Refund(ctx context.Context, cardID, ref string, amount money.Amount, orig string, _ gateway.Apply) (gateway.Call, error) {
	if n.afterAnswer {
		_, _ = n.Network.Refund(ctx, cardID, ref, amount, orig, func(*db.Tx, gateway.Call) error { panic(errKilled) })
	}
	if n.afterSend {
		if _, err := n.Network.Refund(ctx, cardID, ref, amount, orig, nil); err != nil {
			return gateway.Call{}, err
		}
	}
	panic(errKilled)
}

// TestUnloadCrashRecovery kills an unload before and after the refund and
// restarts: Recover books the approved refund (and closes the account) or
// releases the reserved balance, and settlement matches the ledger.
func TestUnloadCrashRecovery(t *testing.T) {
	for _, tt := range []struct {
		name        string
		afterSend   bool
		afterAnswer bool
		wantStatus  prepaid.Status
		wantBalance money.Amount
	}{
		{"before refund", false, false, prepaid.Active, cny("485.00")},
		{"after refund", true, false, prepaid.Closed, cny("0.00")},
		// Refunded at the network, answer never recorded: Recover asks the
		// network again and books the unload rather than reversing it.
		{"approved but unrecorded", false, true, prepaid.Closed, cny("0.00")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
				e := newEnv(t, b, envOptions{})
				ctx := context.Background()
				v := e.visitor(t)
				c := e.card(t, v, freshPAN())
				e.load(t, v, c, "500.00")
				crashing := e.deps
				crashing.Network = crashingRefunds{Network: e.client, afterSend: tt.afterSend, afterAnswer: tt.afterAnswer}
				svc := e.service(t, crashing)
				func() {
					defer func() {
						if r := recover(); r != errKilled {
							t.Fatalf("no crash: %v", r)
						}
					}()
					_, _ = svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, Close: true})
				}()
				view, err := e.svc.View(ctx, e.partner, v.ID)
				if err != nil || view.Available.IsPositive() || view.Held != cny("485.00") {
					t.Fatalf("during the unload the balance is reserved: %+v %v", view, err)
				}
				if _, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, Close: true}); !errors.Is(err, prepaid.ErrUnloadInProgress) {
					t.Fatalf("second unload meanwhile: %v", err)
				}
				e.clock.Add(10 * time.Minute)
				if n, err := e.svc.Recover(ctx, e.clock.Now()); err != nil || n != 1 {
					t.Fatalf("recover: %d %v", n, err)
				}
				view, err = e.svc.View(ctx, e.partner, v.ID)
				if err != nil || view.Status != tt.wantStatus || view.Balance != tt.wantBalance || !view.Held.IsZero() {
					t.Fatalf("after recovery: %+v %v", view, err)
				}
				e.check(t)
			})
		})
	}
}

// fixedEscrow reports a fixed amount held in escrow.
type fixedEscrow struct{ held money.Amount }

func (f fixedEscrow) HeldFor(context.Context, string) (money.Amount, error) { return f.held, nil }

// TestViewShowsEscrowAsHeld: money escrow took out of the account for
// pending payments is shown as held and in the balance, not as available,
// and an unload leaves it alone.
func TestViewShowsEscrowAsHeld(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		d := e.deps
		d.Escrow = fixedEscrow{cny("88.88")}
		e.svc = e.service(t, d)
		v := e.visitor(t)
		c := e.card(t, v, freshPAN())
		e.load(t, v, c, "500.00")
		if _, err := e.svc.Unload(ctx, prepaid.UnloadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID}); err != nil {
			t.Fatal(err)
		}
		view, err := e.svc.View(ctx, e.partner, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if view.Available != cny("0.00") || view.Held != cny("88.88") || view.Balance != cny("88.88") {
			t.Fatalf("view %+v", view)
		}
		e.check(t)
	})
}
