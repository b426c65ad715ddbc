package escrow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/webhook"
	"github.com/inbound-gateway/inbound/prepaid"
)

const partner = "ptn_a"

// env is one backend with the service and a clock the test moves.
type env struct {
	t       *testing.T
	b       testenv.Backend
	l       *ledger.Ledger
	s       *escrow.Service
	pre     *prepaid.Store
	funding string
	clock   atomic.Int64 // unix micro
}

func setup(t *testing.T, b testenv.Backend, opts ...func(*escrow.Options)) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, b: b, l: ledger.New(b.DB), pre: prepaid.NewStore(b.DB)}
	e.clock.Store(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixMicro())
	o := escrow.DefaultOptions()
	o.Now = e.now
	o.PayableShards = 4
	for _, f := range opts {
		f(&o)
	}
	var err error
	wh := webhook.New(b.DB, nil, slog.New(slog.DiscardHandler), webhook.Options{Now: e.now})
	if e.s, err = escrow.New(b.DB, e.l, e.pre, wh, o); err != nil {
		t.Fatal(err)
	}
	f, err := e.l.EnsureAccount(ctx, ledger.AccountSpec{Code: "network:test:CNY", Currency: money.CNY, Kind: ledger.Asset, Slots: 4})
	if err != nil {
		t.Fatal(err)
	}
	e.funding = f.ID
	t.Cleanup(func() { e.check() })
	return e
}

func (e *env) now() time.Time { return time.UnixMicro(e.clock.Load()).UTC() }

func (e *env) advance(d time.Duration) { e.clock.Add(d.Microseconds()) }

// check asserts the ledger's invariants and the escrow reconciliation.
func (e *env) check() {
	e.t.Helper()
	ctx := context.Background()
	breaks, err := e.l.Verify(ctx)
	if err != nil || len(breaks) > 0 {
		e.t.Errorf("ledger verify: %v %v", breaks, err)
	}
	r, err := e.s.EscrowHeld(ctx)
	if err != nil || !r.Balanced() {
		e.t.Errorf("escrow reconciliation: %+v %v", r, err)
	}
}

// visitor opens an account for a new visitor of p and loads yuan into it.
func (e *env) visitor(p string, yuan int64) string {
	e.t.Helper()
	ctx := context.Background()
	vis := ids.New(ids.Visitor)
	err := e.b.DB.Transact(ctx, func(tx *db.Tx) error {
		_, err := e.pre.OpenTx(tx, vis, p, e.now(), 90*24*time.Hour)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if yuan == 0 {
		return vis
	}
	a, err := e.l.EnsureAccount(ctx, ledger.AccountSpec{Code: prepaid.LedgerCode(vis), Currency: money.CNY,
		Kind: ledger.Liability, Owner: vis, NoNegative: true, Slots: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.l.Post(ctx, ledger.Batch{Reference: "test:fund:" + vis,
		Ops: []ledger.Op{ledger.Move(e.funding, a.ID, cny(yuan*100))}}); err != nil {
		e.t.Fatal(err)
	}
	return vis
}

func (e *env) balance(vis string) money.Amount {
	e.t.Helper()
	a, err := e.l.AccountByCode(context.Background(), prepaid.LedgerCode(vis))
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := e.l.Balance(context.Background(), a.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return b.Available()
}

func (e *env) merchant(p string) escrow.Merchant {
	e.t.Helper()
	m, err := e.s.CreateMerchant(context.Background(), p, escrow.MerchantInput{Name: "Tea House", MCC: "5812"})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) merchantBalance(id string) money.Amount {
	e.t.Helper()
	m, err := e.s.Merchant(context.Background(), partner, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m.Balance
}

func (e *env) pay(vis, mer string, minor int64) escrow.Payment {
	e.t.Helper()
	p, err := e.s.Create(context.Background(), partner, escrow.PaymentInput{VisitorID: vis, MerchantID: mer,
		Amount: cny(minor), OutTradeNo: ids.New("ord"), Description: "Green tea"})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) events(typ string) int64 {
	e.t.Helper()
	var n int64
	if err := e.b.DB.Gorm.Table("events").Where("type = ?", typ).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

func cny(minor int64) money.Amount { return money.New(minor, money.CNY) }

func ptr(a money.Amount) *money.Amount { return &a }

func TestFee(t *testing.T) {
	tests := []struct {
		amount, bps, want int64
	}{
		{10000, 60, 60}, // 100.00 -> 0.60
		{8888, 60, 53},  // 88.88 * 0.006 = 0.53328
		{8333, 60, 50},  // 0.49998 -> 0.50
		{25, 200, 1},    // 0.005 exactly: half up
		{1, 60, 0},      // 0.00006
		{ledger.MaxAmount, 10000, ledger.MaxAmount},
	}
	for _, tc := range tests {
		if got := escrow.Fee(cny(tc.amount), int(tc.bps)).Minor(); got != tc.want {
			t.Errorf("Fee(%d, %d) = %d, want %d", tc.amount, tc.bps, got, tc.want)
		}
	}
}

// step is one action of a transition test.
type step struct {
	op      string // confirm, refund, dispute, resolve-release, resolve-refund, auto
	amount  int64  // 0: nil (everything)
	wantErr error
}

// amounts is what a payment and the merchant show after the steps.
type amounts struct {
	Status                             escrow.Status
	Held, Released, Refunded, Merchant int64
}

func TestTransitions(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  amounts
	}{
		{"held", nil, amounts{escrow.Held, 10000, 0, 0, 0}},
		{"confirm", []step{{op: "confirm"}}, amounts{escrow.Released, 0, 10000, 0, 9940}},
		{"auto-release", []step{{op: "auto"}}, amounts{escrow.Released, 0, 10000, 0, 9940}},
		{"full refund", []step{{op: "refund"}}, amounts{escrow.Refunded, 0, 0, 10000, 0}},
		{"partial refunds summing to the amount", []step{{op: "refund", amount: 3000}, {op: "refund", amount: 2500}, {op: "refund", amount: 4500}},
			amounts{escrow.Refunded, 0, 0, 10000, 0}},
		{"partial refund then confirm", []step{{op: "refund", amount: 3000}, {op: "confirm"}},
			amounts{escrow.PartiallyRefunded, 0, 7000, 3000, 6958}},
		{"partial refund then auto-release", []step{{op: "refund", amount: 3000}, {op: "auto"}},
			amounts{escrow.PartiallyRefunded, 0, 7000, 3000, 6958}},
		{"refund after release from the merchant", []step{{op: "confirm"}, {op: "refund", amount: 2000}},
			amounts{escrow.PartiallyRefunded, 0, 10000, 2000, 7940}},
		{"full refund after release exceeds the merchant balance (fee kept)", []step{{op: "confirm"}, {op: "refund", wantErr: escrow.ErrMerchantInsufficientFunds}},
			amounts{escrow.Released, 0, 10000, 0, 9940}},
		{"refund more than refundable", []step{{op: "refund", amount: 10001, wantErr: escrow.ErrInvalidInput}},
			amounts{escrow.Held, 10000, 0, 0, 0}},
		{"dispute", []step{{op: "dispute"}}, amounts{escrow.Disputed, 10000, 0, 0, 0}},
		{"disputed refuses confirm, refund, dispute, auto-release", []step{{op: "dispute"},
			{op: "confirm", wantErr: escrow.ErrInvalidState}, {op: "refund", wantErr: escrow.ErrInvalidState},
			{op: "dispute", wantErr: escrow.ErrInvalidState}, {op: "auto"}}, amounts{escrow.Disputed, 10000, 0, 0, 0}},
		{"resolve release", []step{{op: "dispute"}, {op: "resolve-release"}}, amounts{escrow.Released, 0, 10000, 0, 9940}},
		{"resolve refund", []step{{op: "dispute"}, {op: "resolve-refund"}}, amounts{escrow.Refunded, 0, 0, 10000, 0}},
		{"resolve partial refund", []step{{op: "dispute"}, {op: "resolve-refund", amount: 3000}},
			amounts{escrow.PartiallyRefunded, 0, 7000, 3000, 6958}},
		{"resolve partial release", []step{{op: "dispute"}, {op: "resolve-release", amount: 3000}},
			amounts{escrow.PartiallyRefunded, 0, 3000, 7000, 2982}},
		{"resolve more than held", []step{{op: "dispute"}, {op: "resolve-refund", amount: 10001, wantErr: escrow.ErrInvalidInput}},
			amounts{escrow.Disputed, 10000, 0, 0, 0}},
		{"resolved twice", []step{{op: "dispute"}, {op: "resolve-release"}, {op: "resolve-refund", wantErr: escrow.ErrInvalidState}},
			amounts{escrow.Released, 0, 10000, 0, 9940}},
		{"resolve without dispute", []step{{op: "resolve-release", wantErr: escrow.ErrInvalidState}}, amounts{escrow.Held, 10000, 0, 0, 0}},
		{"released refuses confirm and dispute", []step{{op: "confirm"}, {op: "confirm", wantErr: escrow.ErrInvalidState},
			{op: "dispute", wantErr: escrow.ErrInvalidState}, {op: "resolve-refund", wantErr: escrow.ErrInvalidState}},
			amounts{escrow.Released, 0, 10000, 0, 9940}},
		{"refunded refuses everything", []step{{op: "refund"}, {op: "refund", wantErr: escrow.ErrInvalidState},
			{op: "confirm", wantErr: escrow.ErrInvalidState}, {op: "dispute", wantErr: escrow.ErrInvalidState}},
			amounts{escrow.Refunded, 0, 0, 10000, 0}},
		{"refund after dispute resolution", []step{{op: "dispute"}, {op: "resolve-release"}, {op: "refund", amount: 940}},
			amounts{escrow.PartiallyRefunded, 0, 10000, 940, 9000}},
	}
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				vis := e.visitor(partner, 100)
				mer := e.merchant(partner)
				p := e.pay(vis, mer.ID, 10000)
				for i, st := range tc.steps {
					var amt *money.Amount
					if st.amount != 0 {
						amt = ptr(cny(st.amount))
					}
					var err error
					switch st.op {
					case "confirm":
						_, err = e.s.Confirm(ctx, partner, p.ID)
					case "refund":
						_, err = e.s.Refund(ctx, partner, p.ID, amt, "changed my mind")
					case "dispute":
						_, err = e.s.Dispute(ctx, partner, p.ID, "tea never came")
					case "resolve-release":
						_, err = e.s.Resolve(ctx, p.ID, escrow.OutcomeRelease, amt, "stf_1", "merchant proved delivery")
					case "resolve-refund":
						_, err = e.s.Resolve(ctx, p.ID, escrow.OutcomeRefund, amt, "stf_1", "no delivery")
					case "auto":
						_, err = e.s.AutoRelease(ctx, p.AutoReleaseAt)
					}
					if !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
						t.Fatalf("step %d %s: err %v, want %v", i, st.op, err, st.wantErr)
					}
				}
				got, err := e.s.Get(ctx, partner, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				have := amounts{got.Status, got.Held.Minor(), got.Released.Minor(), got.Refunded.Minor(), e.merchantBalance(mer.ID).Minor()}
				if diff := cmp.Diff(tc.want, have); diff != "" {
					t.Errorf("after %v (-want +got):\n%s", tc.steps, diff)
				}
				if v := e.balance(vis).Minor(); v != have.Refunded {
					t.Errorf("visitor balance %d, want %d", v, have.Refunded)
				}
				e.check()
			})
		}
	})
}

func TestCreateRules(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		vis := e.visitor(partner, 100)
		mer := e.merchant(partner)
		in := escrow.PaymentInput{VisitorID: vis, MerchantID: mer.ID, Amount: cny(8888), OutTradeNo: "ORDER-1", Description: "Green tea"}
		first, err := e.s.Create(ctx, partner, in)
		if err != nil || first.Existing || first.Status != escrow.Held {
			t.Fatalf("create: %+v %v", first, err)
		}
		if want := e.now().Add(240 * time.Hour); !first.AutoReleaseAt.Equal(want) {
			t.Errorf("auto_release_at %s, want %s", first.AutoReleaseAt, want)
		}
		again, err := e.s.Create(ctx, partner, in)
		if err != nil || !again.Existing || again.ID != first.ID {
			t.Fatalf("replay: %+v %v", again, err)
		}
		if got := e.balance(vis).Minor(); got != 10000-8888 {
			t.Fatalf("replay moved money again: balance %d", got)
		}
		other := otherPartnerEnv(e)
		tests := []struct {
			name    string
			partner string
			change  func(in *escrow.PaymentInput)
			want    error
		}{
			{"same out_trade_no, other amount", partner, func(in *escrow.PaymentInput) { in.Amount = cny(1) }, escrow.ErrOutTradeNoConflict},
			{"same out_trade_no, other description", partner, func(in *escrow.PaymentInput) { in.Description = "x" }, escrow.ErrOutTradeNoConflict},
			{"same out_trade_no, other delay", partner, func(in *escrow.PaymentInput) { in.AutoReleaseAfter = time.Hour }, escrow.ErrOutTradeNoConflict},
			{"not enough balance", partner, func(in *escrow.PaymentInput) { in.OutTradeNo = "O2"; in.Amount = cny(1113) }, escrow.ErrInsufficientFunds},
			{"no ledger account yet", partner, func(in *escrow.PaymentInput) { in.OutTradeNo = "O3"; in.VisitorID = e.visitor(partner, 0) }, escrow.ErrInsufficientFunds},
			{"unknown visitor", partner, func(in *escrow.PaymentInput) { in.OutTradeNo = "O4"; in.VisitorID = "vis_nobody" }, escrow.ErrNotFound},
			{"another partner's visitor", partner, func(in *escrow.PaymentInput) { in.OutTradeNo = "O5"; in.VisitorID = other.vis }, escrow.ErrNotFound},
			{"another partner's merchant", partner, func(in *escrow.PaymentInput) { in.OutTradeNo = "O6"; in.MerchantID = other.mer }, escrow.ErrNotFound},
			{"USD", partner, func(in *escrow.PaymentInput) {
				in.OutTradeNo = "O7"
				in.Amount = money.New(100, money.MustCurrency("USD"))
			}, escrow.ErrInvalidInput},
			{"zero", partner, func(in *escrow.PaymentInput) { in.OutTradeNo = "O8"; in.Amount = cny(0) }, escrow.ErrInvalidInput},
			{"no out_trade_no", partner, func(in *escrow.PaymentInput) { in.OutTradeNo = "" }, escrow.ErrInvalidInput},
			{"negative delay", partner, func(in *escrow.PaymentInput) { in.OutTradeNo = "O9"; in.AutoReleaseAfter = -time.Hour }, escrow.ErrInvalidInput},
			{"same out_trade_no under another partner is another payment", "ptn_b", func(in *escrow.PaymentInput) { in.VisitorID = other.vis; in.MerchantID = other.mer }, nil},
		}
		for _, tc := range tests {
			in := in
			tc.change(&in)
			_, err := e.s.Create(ctx, tc.partner, in)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
			}
		}
		if _, err := e.pre.SetFrozen(ctx, vis, true, eventSink{}); err != nil {
			t.Fatal(err)
		}
		in.OutTradeNo = "O10"
		in.Amount = cny(100)
		if _, err := e.s.Create(ctx, partner, in); !errors.Is(err, prepaid.ErrFrozen) {
			t.Errorf("frozen account: %v", err)
		}
		in.OutTradeNo = "ORDER-1"
		in.Amount = cny(8888)
		if p, err := e.s.Create(ctx, partner, in); err != nil || !p.Existing {
			t.Errorf("replay after freeze returns the payment: %+v %v", p, err)
		}
		if got := e.events(escrow.EventHeld); got != 2 {
			t.Errorf("%d payment.held events, want 2", got)
		}
	})
}

type eventSink struct{}

func (eventSink) Emit(*db.Tx, string, string, any) (string, error) { return "evt_x", nil }

type otherPartner struct{ vis, mer string }

func otherPartnerEnv(e *env) otherPartner {
	vis := e.visitor("ptn_b", 100)
	m, err := e.s.CreateMerchant(context.Background(), "ptn_b", escrow.MerchantInput{Name: "B", MCC: "5411"})
	if err != nil {
		e.t.Fatal(err)
	}
	return otherPartner{vis, m.ID}
}

func TestMerchants(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		for _, in := range []escrow.MerchantInput{{Name: "", MCC: "5812"}, {Name: "X", MCC: "58a2"}, {Name: "X", MCC: "581"}} {
			if _, err := e.s.CreateMerchant(ctx, partner, in); !errors.Is(err, escrow.ErrInvalidInput) {
				t.Errorf("%+v: %v", in, err)
			}
		}
		m := e.merchant(partner)
		if !ids.HasPrefix(m.ID, ids.Merchant) || m.Balance != cny(0) {
			t.Fatalf("merchant %+v", m)
		}
		if _, err := e.s.Merchant(ctx, "ptn_b", m.ID); !errors.Is(err, escrow.ErrNotFound) {
			t.Errorf("other partner: %v", err)
		}
		if _, err := e.s.Merchant(ctx, partner, "mer_nope"); !errors.Is(err, escrow.ErrNotFound) {
			t.Errorf("unknown: %v", err)
		}
		// Releases spread over the shards; a refund after release takes
		// from several shards when one is not enough.
		vis := e.visitor(partner, 1000)
		for range 4 {
			p := e.pay(vis, m.ID, 10000)
			if _, err := e.s.Confirm(ctx, partner, p.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got := e.merchantBalance(m.ID); got != cny(4*9940) {
			t.Fatalf("balance %s", got)
		}
		p := e.pay(vis, m.ID, 10000)
		if _, err := e.s.Confirm(ctx, partner, p.ID); err != nil {
			t.Fatal(err)
		}
		r, err := e.s.Refund(ctx, partner, p.ID, nil, "")
		if err != nil || r.Source != escrow.SourceMerchant || r.Payment.Status != escrow.Refunded {
			t.Fatalf("refund after release: %+v %v", r, err)
		}
		if got := e.merchantBalance(m.ID); got != cny(5*9940-10000) {
			t.Fatalf("balance after refund %s", got)
		}
		rs, err := e.s.Refunds(ctx, partner, p.ID)
		if err != nil || len(rs) != 1 || rs[0].ID != r.ID {
			t.Fatalf("refunds %+v %v", rs, err)
		}
	})
}

func TestList(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		v1, v2 := e.visitor(partner, 100), e.visitor(partner, 100)
		mer := e.merchant(partner)
		var want []string
		for range 3 {
			want = append([]string{e.pay(v1, mer.ID, 100).ID}, want...)
		}
		p2 := e.pay(v2, mer.ID, 100)
		if _, err := e.s.Confirm(ctx, partner, p2.ID); err != nil {
			t.Fatal(err)
		}
		var got []string
		f := escrow.Filter{VisitorID: v1, Limit: 2}
		for {
			pg, err := e.s.List(ctx, partner, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pg.Payments {
				got = append(got, p.ID)
			}
			if !pg.HasMore {
				break
			}
			f.Cursor = pg.NextCursor
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("visitor pages (-want +got):\n%s", diff)
		}
		pg, err := e.s.List(ctx, partner, escrow.Filter{Status: escrow.Released})
		if err != nil || len(pg.Payments) != 1 || pg.Payments[0].ID != p2.ID {
			t.Errorf("status filter: %+v %v", pg, err)
		}
		if pg, _ := e.s.List(ctx, "ptn_b", escrow.Filter{}); len(pg.Payments) != 0 {
			t.Errorf("other partner sees %d payments", len(pg.Payments))
		}
		if _, err := e.s.List(ctx, partner, escrow.Filter{Status: "lost"}); !errors.Is(err, escrow.ErrInvalidInput) {
			t.Errorf("bad status: %v", err)
		}
		if _, err := e.s.Get(ctx, "ptn_b", p2.ID); !errors.Is(err, escrow.ErrNotFound) {
			t.Errorf("other partner's payment: %v", err)
		}
	})
}

// TestConcurrentPayments: N payments fit the balance, 2N race for it.
func TestConcurrentPayments(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		const n = 10
		vis := e.visitor(partner, n*100)
		mer := e.merchant(partner)
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 2 * n {
			wg.Go(func() {
				_, err := e.s.Create(ctx, partner, escrow.PaymentInput{VisitorID: vis, MerchantID: mer.ID,
					Amount: cny(10000), OutTradeNo: fmt.Sprintf("C-%d", i)})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, escrow.ErrInsufficientFunds):
					refused.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != n || refused.Load() != n {
			t.Fatalf("%d succeeded, %d refused; want %d each", ok.Load(), refused.Load(), n)
		}
		if got := e.balance(vis); !got.IsZero() {
			t.Fatalf("balance %s", got)
		}
		// The same out_trade_no at once: one payment, the others see it.
		vis2 := e.visitor(partner, 100)
		in := escrow.PaymentInput{VisitorID: vis2, MerchantID: mer.ID, Amount: cny(6000), OutTradeNo: "SAME"}
		var fresh atomic.Int64
		idsSeen := sync.Map{}
		for range 8 {
			wg.Go(func() {
				p, err := e.s.Create(ctx, partner, in)
				if err != nil {
					t.Error(err)
					return
				}
				if !p.Existing {
					fresh.Add(1)
				}
				idsSeen.Store(p.ID, true)
			})
		}
		wg.Wait()
		seen := 0
		idsSeen.Range(func(any, any) bool { seen++; return true })
		if fresh.Load() != 1 || seen != 1 || e.balance(vis2) != cny(4000) {
			t.Fatalf("same out_trade_no: %d fresh, %d ids, balance %s", fresh.Load(), seen, e.balance(vis2))
		}
	})
}

// TestConcurrentConfirmRefundDispute races the three on one payment: exactly
// one wins, and no payment is both released and refunded.
func TestConcurrentConfirmRefundDispute(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		vis := e.visitor(partner, 1000)
		for round := range 10 {
			// A fresh merchant has too little to pay a refund after release.
			mer := e.merchant(partner)
			p := e.pay(vis, mer.ID, 10000)
			var wins atomic.Int64
			var wg sync.WaitGroup
			acts := []func() error{
				func() error { _, err := e.s.Confirm(ctx, partner, p.ID); return err },
				func() error { _, err := e.s.Refund(ctx, partner, p.ID, nil, ""); return err },
				func() error { _, err := e.s.Dispute(ctx, partner, p.ID, "why"); return err },
				func() error {
					n, err := e.s.AutoRelease(ctx, p.AutoReleaseAt)
					if err == nil && n == 0 {
						return escrow.ErrInvalidState
					}
					return err
				},
			}
			for _, act := range acts {
				wg.Go(func() {
					err := act()
					switch {
					case err == nil:
						wins.Add(1)
					case errors.Is(err, escrow.ErrInvalidState), errors.Is(err, escrow.ErrMerchantInsufficientFunds):
					default:
						t.Error(err)
					}
				})
			}
			wg.Wait()
			got, err := e.s.Get(ctx, partner, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Released.IsPositive() && got.Refunded.IsPositive() {
				t.Fatalf("round %d: released %s and refunded %s", round, got.Released, got.Refunded)
			}
			if w := wins.Load(); w != 1 {
				t.Fatalf("round %d: %d calls succeeded (status %s)", round, w, got.Status)
			}
			if got.Status == escrow.Disputed {
				if _, err := e.s.Resolve(ctx, p.ID, escrow.OutcomeRefund, nil, "stf_1", "test"); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// TestAutoReleaseOnce runs four job runners at once over due payments.
// One run of the auto-release job drains a backlog larger than a batch
// (it released one batch per run, so a burst waited many ticks), and its
// lag, the age of the oldest due payment, falls to zero.
func TestAutoReleaseJobDrainsBacklog(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := setup(t, b, func(o *escrow.Options) { o.ReleaseBatch = 3 })
		ctx := context.Background()
		vis := e.visitor(partner, 1000)
		mer := e.merchant(partner)
		for i := range 10 {
			if _, err := e.s.Create(ctx, partner, escrow.PaymentInput{VisitorID: vis, MerchantID: mer.ID,
				Amount: cny(100), OutTradeNo: fmt.Sprintf("B-%d", i), AutoReleaseAfter: time.Hour}); err != nil {
				t.Fatal(err)
			}
		}
		e.advance(2 * time.Hour)
		job := e.s.Job(time.Second)
		if lag, err := job.Lag(ctx, e.now()); err != nil || lag != time.Hour {
			t.Fatalf("lag before: %v %v", lag, err)
		}
		if err := job.Run(ctx, e.now()); err != nil {
			t.Fatal(err)
		}
		if got := e.events(escrow.EventReleased); got != 10 {
			t.Fatalf("one run released %d of 10", got)
		}
		if lag, err := job.Lag(ctx, e.now()); err != nil || lag != 0 {
			t.Fatalf("lag after: %v %v", lag, err)
		}
	})
}

func TestAutoReleaseOnce(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		vis := e.visitor(partner, 1000)
		mer := e.merchant(partner)
		var due []string
		for i := range 20 {
			p, err := e.s.Create(ctx, partner, escrow.PaymentInput{VisitorID: vis, MerchantID: mer.ID,
				Amount: cny(1000), OutTradeNo: fmt.Sprintf("A-%d", i), AutoReleaseAfter: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			due = append(due, p.ID)
		}
		late := e.pay(vis, mer.ID, 1000) // 240 h: not due
		disputed := e.pay(vis, mer.ID, 1000)
		if _, err := e.s.Dispute(ctx, partner, disputed.ID, "broken cup"); err != nil {
			t.Fatal(err)
		}
		confirmed := due[0]
		if _, err := e.s.Confirm(ctx, partner, confirmed); err != nil {
			t.Fatal(err)
		}
		if n, err := e.s.AutoRelease(ctx, e.now()); err != nil || n != 0 {
			t.Fatalf("nothing due yet: %d %v", n, err)
		}
		e.advance(time.Hour)
		var total atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				n, err := e.s.AutoRelease(ctx, e.now())
				if err != nil {
					t.Error(err)
				}
				total.Add(int64(n))
			})
		}
		wg.Wait()
		if total.Load() != 19 {
			t.Fatalf("released %d, want 19", total.Load())
		}
		if got := e.events(escrow.EventReleased); got != 20 {
			t.Fatalf("%d payment.released events, want 20", got)
		}
		for _, id := range append(due, late.ID, disputed.ID) {
			p, _ := e.s.Get(ctx, partner, id)
			want := escrow.Released
			switch id {
			case late.ID:
				want = escrow.Held
			case disputed.ID:
				want = escrow.Disputed
			}
			if p.Status != want {
				t.Errorf("%s: %s, want %s", id, p.Status, want)
			}
		}
		if got := e.merchantBalance(mer.ID); got != cny(20*(1000-6)) {
			t.Errorf("merchant balance %s", got)
		}
	})
}

// TestFrozenVisitorEscrow: a freeze stops every outflow of the visitor's
// money. Confirm is refused (prepaid.ErrFrozen); the auto-release job
// skips the frozen visitor's due payment without holding up the others
// and releases it on the first run after the unfreeze; staff resolve a
// dispute and the partner refunds (an inflow) while frozen.
func TestFrozenVisitorEscrow(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		frozen := e.visitor(partner, 1000)
		other := e.visitor(partner, 1000)
		mer := e.merchant(partner)
		pay := func(vis, otn string) escrow.Payment {
			t.Helper()
			p, err := e.s.Create(ctx, partner, escrow.PaymentInput{VisitorID: vis, MerchantID: mer.ID,
				Amount: cny(10000), OutTradeNo: otn, AutoReleaseAfter: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		// The frozen visitor's payment is the most overdue: it heads the
		// auto-release queue.
		due := pay(frozen, "F-DUE")
		e.advance(time.Minute)
		confirm := pay(frozen, "F-CONFIRM")
		refund := pay(frozen, "F-REFUND")
		disputed := pay(frozen, "F-DISPUTE")
		if _, err := e.s.Dispute(ctx, partner, disputed.ID, "tea never came"); err != nil {
			t.Fatal(err)
		}
		otherDue := pay(other, "O-DUE")
		if _, err := e.pre.SetFrozen(ctx, frozen, true, eventSink{}); err != nil {
			t.Fatal(err)
		}

		if _, err := e.s.Confirm(ctx, partner, confirm.ID); !errors.Is(err, prepaid.ErrFrozen) {
			t.Fatalf("confirm while frozen: %v, want %v", err, prepaid.ErrFrozen)
		}
		if _, err := e.s.Refund(ctx, partner, refund.ID, nil, "out of stock"); err != nil {
			t.Fatalf("refund to a frozen visitor (an inflow): %v", err)
		}
		if _, err := e.s.Resolve(ctx, disputed.ID, escrow.OutcomeRelease, nil, "stf_1", "delivery proved"); err != nil {
			t.Fatalf("staff resolve while frozen: %v", err)
		}

		e.advance(2 * time.Hour)
		if n, err := e.s.AutoRelease(ctx, e.now()); err != nil || n != 1 {
			t.Fatalf("auto-release while frozen: %d %v, want only the other visitor's payment", n, err)
		}
		status := func(id string) escrow.Status {
			t.Helper()
			p, err := e.s.Get(ctx, partner, id)
			if err != nil {
				t.Fatal(err)
			}
			return p.Status
		}
		for id, want := range map[string]escrow.Status{due.ID: escrow.Held, confirm.ID: escrow.Held, otherDue.ID: escrow.Released,
			refund.ID: escrow.Refunded, disputed.ID: escrow.Released} {
			if got := status(id); got != want {
				t.Errorf("while frozen %s: %s, want %s", id, got, want)
			}
		}
		if got := e.balance(frozen); got != cny(1000*100-4*10000+10000) {
			t.Errorf("frozen visitor's balance %s", got)
		}

		if _, err := e.pre.SetFrozen(ctx, frozen, false, eventSink{}); err != nil {
			t.Fatal(err)
		}
		if n, err := e.s.AutoRelease(ctx, e.now()); err != nil || n != 2 {
			t.Fatalf("auto-release after unfreeze: %d %v, want 2", n, err)
		}
		for _, id := range []string{due.ID, confirm.ID} {
			if got := status(id); got != escrow.Released {
				t.Errorf("after unfreeze %s: %s", id, got)
			}
		}
		if n, err := e.s.AutoRelease(ctx, e.now()); err != nil || n != 0 {
			t.Fatalf("second run: %d %v", n, err)
		}
	})
}
