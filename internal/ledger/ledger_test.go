package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gorm.io/gorm"

	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

var ctx = context.Background()

// comparable lets go-cmp compare the value types with unexported fields.
var comparable = cmpopts.EquateComparable(money.Currency{}, money.Amount{}, ledger.Kind{})

func cny(minor int64) money.Amount { return money.New(minor, money.CNY) }

// books is a small chart of accounts for tests.
type books struct {
	l        *ledger.Ledger
	network  ledger.Account // asset, unconstrained, slotted
	usd      ledger.Account // asset in USD
	alice    ledger.Account // liability, no-negative
	bob      ledger.Account // liability, no-negative
	fees     ledger.Account // revenue, unconstrained, slotted
	adjust   ledger.Account // expense
	prefix   string         // keeps codes and references of subtests apart
	refCount int
}

func newBooks(t testing.TB, b testenv.Backend, opts ...ledger.Option) *books {
	t.Helper()
	l := ledger.New(b.DB, opts...)
	bk := &books{l: l}
	specs := []struct {
		dst  *ledger.Account
		spec ledger.AccountSpec
	}{
		{&bk.network, ledger.AccountSpec{Code: "network:visa:CNY", Currency: money.CNY, Kind: ledger.Asset, Slots: 8}},
		{&bk.usd, ledger.AccountSpec{Code: "network:visa:USD", Currency: money.USD, Kind: ledger.Asset}},
		{&bk.alice, ledger.AccountSpec{Code: "visitor:vis_a:prepaid", Currency: money.CNY, Kind: ledger.Liability, Owner: "vis_a", NoNegative: true}},
		{&bk.bob, ledger.AccountSpec{Code: "visitor:vis_b:prepaid", Currency: money.CNY, Kind: ledger.Liability, Owner: "vis_b", NoNegative: true}},
		{&bk.fees, ledger.AccountSpec{Code: "revenue:fees", Currency: money.CNY, Kind: ledger.Revenue, Slots: 4}},
		{&bk.adjust, ledger.AccountSpec{Code: "adjustments", Currency: money.CNY, Kind: ledger.Expense}},
	}
	for _, s := range specs {
		a, err := l.EnsureAccount(ctx, s.spec)
		if err != nil {
			t.Fatalf("ensure %s: %v", s.spec.Code, err)
		}
		*s.dst = a
	}
	return bk
}

func (bk *books) ref() string {
	bk.refCount++
	return fmt.Sprintf("%stest:%d", bk.prefix, bk.refCount)
}

func (bk *books) post(t testing.TB, ops ...ledger.Op) ledger.Operation {
	t.Helper()
	op, err := bk.l.Post(ctx, ledger.Batch{Reference: bk.ref(), Ops: ops})
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	return op
}

// load credits a visitor from the card network.
func (bk *books) load(t testing.TB, to ledger.Account, minor int64) {
	t.Helper()
	bk.post(t, ledger.Move(bk.network.ID, to.ID, cny(minor)))
}

// bal is the part of a balance the tests compare.
type bal struct {
	Posted, Pending, Available int64
}

func (bk *books) bal(t testing.TB, a ledger.Account) bal {
	t.Helper()
	b, err := bk.l.Balance(ctx, a.ID)
	if err != nil {
		t.Fatalf("balance %s: %v", a.Code, err)
	}
	return bal{b.Posted().Minor(), b.Pending().Minor(), b.Available().Minor()}
}

func mustVerify(t testing.TB, l *ledger.Ledger) {
	t.Helper()
	breaks, err := l.Verify(ctx)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(breaks) > 0 {
		t.Fatalf("ledger broken: %v", breaks)
	}
}

func TestEnsureAccount(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		l := ledger.New(b.DB)
		spec := ledger.AccountSpec{Code: "merchant:mer_1:payable", Currency: money.CNY, Kind: ledger.Liability, Owner: "mer_1", NoNegative: true}
		first, err := l.EnsureAccount(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ledger.New(b.DB).EnsureAccount(ctx, spec) // a fresh cache: from the database
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, again, comparable); diff != "" {
			t.Fatalf("second ensure differs (-first +again):\n%s", diff)
		}
		byCode, err := l.AccountByCode(ctx, spec.Code)
		if err != nil || byCode.ID != first.ID {
			t.Fatalf("by code: %v %v", byCode, err)
		}

		tests := []struct {
			name string
			spec ledger.AccountSpec
			want error
		}{
			{"same code other currency", ledger.AccountSpec{Code: spec.Code, Currency: money.USD, Kind: ledger.Liability, Owner: "mer_1", NoNegative: true}, ledger.ErrAccountConflict},
			{"same code without constraint", ledger.AccountSpec{Code: spec.Code, Currency: money.CNY, Kind: ledger.Liability, Owner: "mer_1"}, ledger.ErrAccountConflict},
			{"empty code", ledger.AccountSpec{Currency: money.CNY, Kind: ledger.Asset}, ledger.ErrInvalidAccount},
			{"no currency", ledger.AccountSpec{Code: "x", Kind: ledger.Asset}, ledger.ErrInvalidAccount},
			{"no kind", ledger.AccountSpec{Code: "x", Currency: money.CNY}, ledger.ErrInvalidAccount},
			{"too many slots", ledger.AccountSpec{Code: "x", Currency: money.CNY, Kind: ledger.Asset, Slots: ledger.MaxSlots + 1}, ledger.ErrInvalidAccount},
			{"slotted no-negative", ledger.AccountSpec{Code: "x", Currency: money.CNY, Kind: ledger.Liability, NoNegative: true, Slots: 2}, ledger.ErrInvalidAccount},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := l.EnsureAccount(ctx, tc.spec); !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
			})
		}
		owned, err := l.AccountsByOwner(ctx, "mer_1")
		if err != nil || len(owned) != 1 || owned[0].ID != first.ID {
			t.Fatalf("by owner: %v %v", owned, err)
		}
		if _, err := l.Account(ctx, "acct_missing"); !errors.Is(err, ledger.ErrAccountNotFound) {
			t.Fatalf("missing account: %v", err)
		}
	})
}

func TestPostRules(t *testing.T) {
	type want struct {
		Alice, Bob, Network, Fees bal
	}
	tests := []struct {
		name string
		ops  func(bk *books) []ledger.Op
		ref  string // default: a fresh one
		err  error
		want want // after alice was loaded with 100.00
	}{
		{
			name: "spend within balance",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, cny(4000))} },
			want: want{Alice: bal{6000, 0, 6000}, Bob: bal{4000, 0, 4000}, Network: bal{10000, 0, 10000}},
		},
		{
			name: "spend exactly everything",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, cny(10000))} },
			want: want{Alice: bal{0, 0, 0}, Bob: bal{10000, 0, 10000}, Network: bal{10000, 0, 10000}},
		},
		{
			name: "overdraft by one fen",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, cny(10001))} },
			err:  ledger.ErrInsufficientFunds,
		},
		{
			name: "batch is atomic: the second transfer overdraws, the first does not happen",
			ops: func(bk *books) []ledger.Op {
				return []ledger.Op{ledger.Move(bk.alice.ID, bk.fees.ID, cny(500)), ledger.Move(bk.alice.ID, bk.bob.ID, cny(9600))}
			},
			err: ledger.ErrInsufficientFunds,
		},
		{
			name: "batch nets within the batch: bob receives and passes on",
			ops: func(bk *books) []ledger.Op {
				return []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, cny(3000)), ledger.Move(bk.bob.ID, bk.fees.ID, cny(3000))}
			},
			want: want{Alice: bal{7000, 0, 7000}, Network: bal{10000, 0, 10000}, Fees: bal{3000, 0, 3000}},
		},
		{
			name: "unconstrained account may go negative",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.Move(bk.fees.ID, bk.bob.ID, cny(700))} },
			want: want{Alice: bal{10000, 0, 10000}, Bob: bal{700, 0, 700}, Network: bal{10000, 0, 10000}, Fees: bal{-700, 0, -700}},
		},
		{
			name: "hold counts against available",
			ops: func(bk *books) []ledger.Op {
				return []ledger.Op{ledger.Hold(bk.alice.ID, bk.bob.ID, cny(2500), time.Time{}, ledger.ExpireNone)}
			},
			want: want{Alice: bal{10000, -2500, 7500}, Bob: bal{0, 2500, 0}, Network: bal{10000, 0, 10000}},
		},
		{
			name: "hold beyond available",
			ops: func(bk *books) []ledger.Op {
				return []ledger.Op{ledger.Hold(bk.alice.ID, bk.bob.ID, cny(10001), time.Time{}, ledger.ExpireNone)}
			},
			err: ledger.ErrInsufficientFunds,
		},
		{
			name: "currency differs from the accounts",
			ops: func(bk *books) []ledger.Op {
				return []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, money.New(100, money.USD))}
			},
			err: ledger.ErrCurrencyMismatch,
		},
		{
			name: "accounts in two currencies",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.Move(bk.usd.ID, bk.bob.ID, cny(100))} },
			err:  ledger.ErrCurrencyMismatch,
		},
		{
			name: "zero amount",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, cny(0))} },
			err:  ledger.ErrInvalidAmount,
		},
		{
			name: "negative amount",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.Move(bk.bob.ID, bk.alice.ID, cny(-100))} },
			err:  ledger.ErrInvalidAmount,
		},
		{
			name: "amount without currency",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, money.Amount{})} },
			err:  ledger.ErrInvalidAmount,
		},
		{
			name: "amount too large",
			ops: func(bk *books) []ledger.Op {
				return []ledger.Op{ledger.Move(bk.network.ID, bk.bob.ID, cny(ledger.MaxAmount+1))}
			},
			err: ledger.ErrInvalidAmount,
		},
		{
			name: "same account on both sides",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.Move(bk.alice.ID, bk.alice.ID, cny(1))} },
			err:  ledger.ErrInvalidTransfer,
		},
		{
			name: "unknown account",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.Move(bk.alice.ID, "acct_nope", cny(1))} },
			err:  ledger.ErrAccountNotFound,
		},
		{
			name: "reference in the ledger's own namespace",
			ops: func(bk *books) []ledger.Op {
				return []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, cny(1))}
			},
			ref: "ledger:expire:trf_x",
			err: ledger.ErrInvalidTransfer,
		},
		{
			name: "empty batch",
			ops:  func(bk *books) []ledger.Op { return nil },
			err:  ledger.ErrInvalidTransfer,
		},
		{
			name: "too many operations",
			ops: func(bk *books) []ledger.Op {
				ops := make([]ledger.Op, ledger.MaxOps+1)
				for i := range ops {
					ops[i] = ledger.Move(bk.alice.ID, bk.bob.ID, cny(1))
				}
				return ops
			},
			err: ledger.ErrInvalidTransfer,
		},
		{
			name: "empty operation",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{{}} },
			err:  ledger.ErrInvalidTransfer,
		},
		{
			name: "hold expiring in the past",
			ops: func(bk *books) []ledger.Op {
				return []ledger.Op{ledger.Hold(bk.alice.ID, bk.bob.ID, cny(1), time.Now().Add(-time.Second), ledger.ExpireVoid)}
			},
			err: ledger.ErrInvalidTransfer,
		},
		{
			name: "hold expiry without action",
			ops: func(bk *books) []ledger.Op {
				return []ledger.Op{ledger.Hold(bk.alice.ID, bk.bob.ID, cny(1), time.Now().Add(time.Hour), ledger.ExpireNone)}
			},
			err: ledger.ErrInvalidTransfer,
		},
		{
			name: "post of an unknown hold",
			ops:  func(bk *books) []ledger.Op { return []ledger.Op{ledger.PostHold("trf_nope", money.Amount{})} },
			err:  ledger.ErrHoldNotFound,
		},
	}
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				bk := newBooksPrefixed(t, b, fmt.Sprintf("r%d", i))
				bk.load(t, bk.alice, 10000)
				before := want{bk.bal(t, bk.alice), bk.bal(t, bk.bob), bk.bal(t, bk.network), bk.bal(t, bk.fees)}
				ref := tc.ref
				if ref == "" {
					ref = bk.ref()
				}
				_, err := bk.l.Post(ctx, ledger.Batch{Reference: ref, Ops: tc.ops(bk)})
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				got := want{bk.bal(t, bk.alice), bk.bal(t, bk.bob), bk.bal(t, bk.network), bk.bal(t, bk.fees)}
				w := tc.want
				if tc.err != nil {
					w = before // a refused batch moves nothing
				}
				if diff := cmp.Diff(w, got); diff != "" {
					t.Fatalf("balances (-want +got):\n%s", diff)
				}
				mustVerify(t, bk.l)
			})
		}
	})
}

// newBooksPrefixed is newBooks with account codes made unique per subtest,
// so the table cases share one database.
func newBooksPrefixed(t testing.TB, b testenv.Backend, prefix string) *books {
	t.Helper()
	l := ledger.New(b.DB)
	bk := &books{l: l, prefix: prefix + ":"}
	mk := func(code string, c money.Currency, k ledger.Kind, noNeg bool, slots int) ledger.Account {
		a, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: prefix + ":" + code, Currency: c, Kind: k, NoNegative: noNeg, Slots: slots})
		if err != nil {
			t.Fatalf("ensure %s: %v", code, err)
		}
		return a
	}
	bk.network = mk("network:visa:CNY", money.CNY, ledger.Asset, false, 8)
	bk.usd = mk("network:visa:USD", money.USD, ledger.Asset, false, 1)
	bk.alice = mk("visitor:vis_a:prepaid", money.CNY, ledger.Liability, true, 1)
	bk.bob = mk("visitor:vis_b:prepaid", money.CNY, ledger.Liability, true, 1)
	bk.fees = mk("revenue:fees", money.CNY, ledger.Revenue, false, 4)
	bk.adjust = mk("adjustments", money.CNY, ledger.Expense, false, 1)
	return bk
}

func TestIdempotency(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		bk := newBooks(t, b)
		bk.load(t, bk.alice, 10000)
		batch := ledger.Batch{Reference: "payment:pay_1", Ops: []ledger.Op{
			ledger.Move(bk.alice.ID, bk.bob.ID, cny(3000)),
			ledger.Move(bk.alice.ID, bk.fees.ID, cny(100)),
		}}
		first, err := bk.l.Post(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if first.Replayed {
			t.Fatal("first post says replayed")
		}
		// A fresh Ledger (another replica) replays from the database.
		again, err := ledger.New(b.DB).Post(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Replayed {
			t.Fatal("second post not marked replayed")
		}
		first.Replayed = true
		if diff := cmp.Diff(first, again, comparable); diff != "" {
			t.Fatalf("replay differs from the first result (-first +replay):\n%s", diff)
		}
		if got := bk.bal(t, bk.alice); got.Posted != 6900 {
			t.Fatalf("alice after replay = %+v, want 69.00 moved once", got)
		}

		conflicts := []struct {
			name string
			ops  []ledger.Op
		}{
			{"other amount", []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, cny(3001)), ledger.Move(bk.alice.ID, bk.fees.ID, cny(100))}},
			{"other account", []ledger.Op{ledger.Move(bk.alice.ID, bk.fees.ID, cny(3000)), ledger.Move(bk.alice.ID, bk.fees.ID, cny(100))}},
			{"fewer transfers", []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, cny(3000))}},
			{"other order", []ledger.Op{ledger.Move(bk.alice.ID, bk.fees.ID, cny(100)), ledger.Move(bk.alice.ID, bk.bob.ID, cny(3000))}},
		}
		for _, c := range conflicts {
			t.Run(c.name, func(t *testing.T) {
				_, err := bk.l.Post(ctx, ledger.Batch{Reference: "payment:pay_1", Ops: c.ops})
				if !errors.Is(err, ledger.ErrReferenceConflict) {
					t.Fatalf("err = %v, want ErrReferenceConflict", err)
				}
			})
		}
		// A refused batch does not burn its reference: it can be retried
		// once the money is there.
		big := ledger.Batch{Reference: "payment:pay_2", Ops: []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, cny(9000))}}
		if _, err := bk.l.Post(ctx, big); !errors.Is(err, ledger.ErrInsufficientFunds) {
			t.Fatalf("err = %v", err)
		}
		bk.load(t, bk.alice, 5000)
		if op, err := bk.l.Post(ctx, big); err != nil || op.Replayed {
			t.Fatalf("retry after top-up: %+v %v", op, err)
		}
		mustVerify(t, bk.l)
	})
}

func TestHolds(t *testing.T) {
	noExpiry := func(bk *books, minor int64) ledger.Op {
		return ledger.Hold(bk.alice.ID, bk.bob.ID, cny(minor), time.Time{}, ledger.ExpireNone)
	}
	type state struct{ Alice, Bob bal }
	tests := []struct {
		name    string
		resolve func(holdID string) []ledger.Op
		err     error
		want    state // alice loaded 100.00, hold of 40.00 to bob
	}{
		{"post in full", func(h string) []ledger.Op { return []ledger.Op{ledger.PostHold(h, money.Amount{})} }, nil,
			state{bal{6000, 0, 6000}, bal{4000, 0, 4000}}},
		{"post the exact amount", func(h string) []ledger.Op { return []ledger.Op{ledger.PostHold(h, cny(4000))} }, nil,
			state{bal{6000, 0, 6000}, bal{4000, 0, 4000}}},
		{"post in part releases the rest", func(h string) []ledger.Op { return []ledger.Op{ledger.PostHold(h, cny(1500))} }, nil,
			state{bal{8500, 0, 8500}, bal{1500, 0, 1500}}},
		{"void", func(h string) []ledger.Op { return []ledger.Op{ledger.VoidHold(h)} }, nil,
			state{bal{10000, 0, 10000}, bal{0, 0, 0}}},
		{"post more than held", func(h string) []ledger.Op { return []ledger.Op{ledger.PostHold(h, cny(4001))} }, ledger.ErrInvalidAmount,
			state{bal{10000, -4000, 6000}, bal{0, 4000, 0}}},
		{"post in another currency", func(h string) []ledger.Op { return []ledger.Op{ledger.PostHold(h, money.New(1, money.USD))} }, ledger.ErrCurrencyMismatch,
			state{bal{10000, -4000, 6000}, bal{0, 4000, 0}}},
		{"post twice in one batch", func(h string) []ledger.Op {
			return []ledger.Op{ledger.PostHold(h, cny(100)), ledger.PostHold(h, cny(100))}
		}, ledger.ErrHoldNotPending, state{bal{10000, -4000, 6000}, bal{0, 4000, 0}}},
		{"post and void in one batch", func(h string) []ledger.Op {
			return []ledger.Op{ledger.PostHold(h, money.Amount{}), ledger.VoidHold(h)}
		}, ledger.ErrHoldNotPending, state{bal{10000, -4000, 6000}, bal{0, 4000, 0}}},
		{"void a posted transfer", func(h string) []ledger.Op { return []ledger.Op{ledger.VoidHold("trf_notahold")} }, ledger.ErrHoldNotFound,
			state{bal{10000, -4000, 6000}, bal{0, 4000, 0}}},
	}
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				bk := newBooksPrefixed(t, b, fmt.Sprintf("h%d", i))
				bk.load(t, bk.alice, 10000)
				h := bk.post(t, noExpiry(bk, 4000)).Transfers[0]
				if h.Kind != ledger.TransferPending {
					t.Fatalf("hold kind %v", h.Kind)
				}
				_, err := bk.l.Post(ctx, ledger.Batch{Reference: bk.ref(), Ops: tc.resolve(h.ID)})
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if diff := cmp.Diff(tc.want, state{bk.bal(t, bk.alice), bk.bal(t, bk.bob)}); diff != "" {
					t.Fatalf("balances (-want +got):\n%s", diff)
				}
				mustVerify(t, bk.l)
				if tc.err != nil {
					return
				}
				// Each hold resolves at most once.
				for _, op := range []ledger.Op{ledger.PostHold(h.ID, money.Amount{}), ledger.VoidHold(h.ID)} {
					if _, err := bk.l.Post(ctx, ledger.Batch{Reference: bk.ref(), Ops: []ledger.Op{op}}); !errors.Is(err, ledger.ErrHoldNotPending) {
						t.Fatalf("second resolution: err = %v, want ErrHoldNotPending", err)
					}
				}
			})
		}
	})
}

func TestHoldExpiry(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		bk := newBooks(t, b, ledger.WithClock(clock))
		bk.load(t, bk.alice, 10000)
		hour := now.Add(time.Hour)
		voided := bk.post(t, ledger.Hold(bk.alice.ID, bk.bob.ID, cny(1000), hour, ledger.ExpireVoid)).Transfers[0]
		posted := bk.post(t, ledger.Hold(bk.alice.ID, bk.bob.ID, cny(2000), hour, ledger.ExpirePost)).Transfers[0]
		later := bk.post(t, ledger.Hold(bk.alice.ID, bk.bob.ID, cny(3000), hour.Add(time.Hour), ledger.ExpirePost)).Transfers[0]
		if got := bk.bal(t, bk.alice); got.Available != 4000 {
			t.Fatalf("alice available %d, want 40.00", got.Available)
		}
		n, err := bk.l.ExpireHolds(ctx, now.Add(30*time.Minute))
		if err != nil || n != 0 {
			t.Fatalf("early expiry: %d %v", n, err)
		}
		now = hour // the holds' time is up; callers may no longer resolve them
		if _, err := bk.l.Post(ctx, ledger.Batch{Reference: bk.ref(), Ops: []ledger.Op{ledger.PostHold(voided.ID, money.Amount{})}}); !errors.Is(err, ledger.ErrHoldNotPending) {
			t.Fatalf("post of an expired hold: %v", err)
		}
		n, err = bk.l.ExpireHolds(ctx, hour)
		if err != nil || n != 2 {
			t.Fatalf("expiry: %d %v", n, err)
		}
		if diff := cmp.Diff(struct{ Alice, Bob bal }{bal{8000, -3000, 5000}, bal{2000, 3000, 2000}},
			struct{ Alice, Bob bal }{bk.bal(t, bk.alice), bk.bal(t, bk.bob)}); diff != "" {
			t.Fatalf("after expiry (-want +got):\n%s", diff)
		}
		if n, err = bk.l.ExpireHolds(ctx, hour); err != nil || n != 0 {
			t.Fatalf("second run: %d %v", n, err)
		}
		for _, id := range []string{voided.ID, posted.ID} {
			if _, err := bk.l.Post(ctx, ledger.Batch{Reference: bk.ref(), Ops: []ledger.Op{ledger.VoidHold(id)}}); !errors.Is(err, ledger.ErrHoldNotPending) {
				t.Fatalf("void after expiry: %v", err)
			}
		}
		// The later hold is still the caller's to post.
		bk.post(t, ledger.PostHold(later.ID, cny(500)))
		mustVerify(t, bk.l)

		var states []string
		for _, id := range []string{voided.ID, posted.ID, later.ID} {
			info, err := bk.l.HoldState(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			states = append(states, info.Status.String()+"/"+info.Resolution.Kind.String())
		}
		if diff := cmp.Diff([]string{"expired/void_pending", "expired/post_pending", "posted/post_pending"}, states); diff != "" {
			t.Fatalf("hold states (-want +got):\n%s", diff)
		}
		if _, err := bk.l.HoldState(ctx, "trf_nope"); !errors.Is(err, ledger.ErrHoldNotFound) {
			t.Fatalf("unknown hold: %v", err)
		}
	})
}

func TestEntriesAreImmutable(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		bk := newBooks(t, b)
		bk.load(t, bk.alice, 100)
		g := b.DB.Gorm
		for _, q := range []string{
			"UPDATE ledger_transfers SET amount = 1",
			"DELETE FROM ledger_transfers",
			"UPDATE ledger_operations SET fingerprint = 'x'",
			"DELETE FROM ledger_operations",
			"UPDATE ledger_accounts SET no_negative = false",
			"DELETE FROM ledger_accounts WHERE code = 'adjustments'",
			"DELETE FROM ledger_balances",
		} {
			if err := g.Exec(q).Error; err == nil {
				t.Errorf("%s: succeeded", q)
			}
		}
		mustVerify(t, bk.l)
	})
}

func TestVerifyFindsTampering(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		bk := newBooks(t, b)
		bk.load(t, bk.alice, 500)
		// Someone edits a balance row behind the ledger's back.
		if err := b.DB.Gorm.Exec("UPDATE ledger_balances SET debits_posted = debits_posted + 600 WHERE account_id = ?", bk.alice.ID).Error; err != nil {
			t.Fatal(err)
		}
		breaks, err := bk.l.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var rules []string
		for _, br := range breaks {
			rules = append(rules, br.Rule)
		}
		want := []string{ledger.RuleBalanced, ledger.RuleNoNegative, ledger.RuleStoredEqualsEntries}
		if diff := cmp.Diff(want, rules); diff != "" {
			t.Fatalf("breaks (-want +got):\n%s\n%v", diff, breaks)
		}
	})
}

func TestStatement(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		bk := newBooks(t, b)
		bk.load(t, bk.alice, 10000)
		bk.post(t, ledger.Move(bk.alice.ID, bk.bob.ID, cny(2500)))
		h := bk.post(t, ledger.Hold(bk.alice.ID, bk.bob.ID, cny(1000), time.Time{}, ledger.ExpireNone)).Transfers[0]
		bk.post(t, ledger.PostHold(h.ID, cny(400)))
		bk.post(t, ledger.Move(bk.bob.ID, bk.alice.ID, cny(100)))

		type line struct {
			Kind                 string
			Counterparty         string
			Amount, BalanceAfter int64
		}
		var got []line
		after := int64(0)
		pages := 0
		for {
			page, err := bk.l.Statement(ctx, bk.alice.ID, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, e := range page.Entries {
				if !e.HasBalance {
					t.Fatalf("single-slot account entry without balance: %+v", e)
				}
				got = append(got, line{e.Kind.String(), e.Counterparty, e.Amount.Minor(), e.BalanceAfter.Minor()})
			}
			if page.Next == 0 {
				break
			}
			after = page.Next
		}
		want := []line{
			{"posted", bk.network.ID, 10000, 10000},
			{"posted", bk.bob.ID, -2500, 7500},
			{"pending", bk.bob.ID, -1000, 7500},
			{"post_pending", bk.bob.ID, -400, 7100},
			{"posted", bk.bob.ID, 100, 7200},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("statement (-want +got):\n%s", diff)
		}
		if pages != 3 {
			t.Fatalf("pages = %d, want 3", pages)
		}
		// A slotted account lists its entries without a running balance.
		page, err := bk.l.Statement(ctx, bk.network.ID, 0, 10)
		if err != nil || len(page.Entries) != 1 || page.Entries[0].HasBalance || page.Entries[0].Amount.Minor() != 10000 {
			t.Fatalf("network statement: %+v %v", page, err)
		}
	})
}

func TestPostTxCommitsWithTheCallersRows(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		bk := newBooks(t, b)
		bk.load(t, bk.alice, 1000)
		if err := b.DB.Gorm.Exec("CREATE TABLE payments (id TEXT PRIMARY KEY, status TEXT NOT NULL)").Error; err != nil {
			t.Fatal(err)
		}
		pay := func(id string, minor int64) error {
			return b.DB.Transact(ctx, func(tx *gorm.DB) error {
				_, err := bk.l.PostTx(ctx, tx, ledger.Batch{Reference: "payment:" + id,
					Ops: []ledger.Op{ledger.Move(bk.alice.ID, bk.bob.ID, cny(minor))}})
				status := "paid"
				if errors.Is(err, ledger.ErrInsufficientFunds) {
					status = "declined" // the caller records the decline in the same transaction
				} else if err != nil {
					return err
				}
				return tx.Exec("INSERT INTO payments (id, status) VALUES (?, ?)", id, status).Error
			})
		}
		if err := pay("pay_1", 600); err != nil {
			t.Fatal(err)
		}
		if err := pay("pay_2", 600); err != nil {
			t.Fatal(err)
		}
		var rows []struct{ ID, Status string }
		b.DB.Gorm.Raw("SELECT id, status FROM payments ORDER BY id").Scan(&rows)
		if diff := cmp.Diff([]struct{ ID, Status string }{{"pay_1", "paid"}, {"pay_2", "declined"}}, rows); diff != "" {
			t.Fatalf("payments (-want +got):\n%s", diff)
		}
		if got := bk.bal(t, bk.alice); got.Posted != 400 {
			t.Fatalf("alice = %+v", got)
		}
		// The declined batch left nothing behind, not even its reference.
		var n int64
		b.DB.Gorm.Raw("SELECT count(*) FROM ledger_operations WHERE reference = 'payment:pay_2'").Scan(&n)
		if n != 0 {
			t.Fatalf("declined reference recorded %d times", n)
		}
		mustVerify(t, bk.l)
	})
}
