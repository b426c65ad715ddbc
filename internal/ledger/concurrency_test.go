package ledger_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// The tests here are about PostgreSQL's row locks; they also run on the
// embedded SQLite, where every write transaction is serial, as a check of
// the same rules without real concurrency.

func TestConcurrentSpendingNeverOverdraws(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		bk := newBooks(t, b)
		const (
			workers = 64
			tries   = 3
			n       = 50 // the account can afford exactly n transfers
			price   = 700
		)
		bk.load(t, bk.alice, n*price)
		var ok, short atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range tries {
					// Half go to a constrained account, half to a slotted one.
					to := bk.bob.ID
					if (w+i)%2 == 0 {
						to = bk.fees.ID
					}
					_, err := bk.l.Post(ctx, ledger.Batch{Reference: fmt.Sprintf("spend:%d:%d", w, i),
						Ops: []ledger.Op{ledger.Move(bk.alice.ID, to, cny(price))}})
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, ledger.ErrInsufficientFunds):
						short.Add(1)
					default:
						t.Errorf("spend: %v", err)
					}
				}
			})
		}
		wg.Wait()
		if ok.Load() != n || short.Load() != workers*tries-n {
			t.Fatalf("%d succeeded, %d refused; want exactly %d succeeded", ok.Load(), short.Load(), n)
		}
		if got := bk.bal(t, bk.alice); got != (bal{}) {
			t.Fatalf("alice = %+v, want zero", got)
		}
		mustVerify(t, bk.l)
	})
}

func TestConcurrentReplaysMoveMoneyOnce(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		bk := newBooks(t, b)
		bk.load(t, bk.alice, 10000)
		batch := ledger.Batch{Reference: "payment:pay_race", Ops: []ledger.Op{
			ledger.Move(bk.alice.ID, bk.bob.ID, cny(6000)),
			ledger.Move(bk.network.ID, bk.fees.ID, cny(10)),
		}}
		const workers = 64
		ops := make([]ledger.Operation, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				// A ledger per worker: replicas share only the database.
				op, err := ledger.New(b.DB).Post(ctx, batch)
				if err != nil {
					t.Errorf("post: %v", err)
				}
				ops[w] = op
			})
		}
		wg.Wait()
		fresh := 0
		for _, op := range ops {
			if !op.Replayed {
				fresh++
			}
			if len(op.Transfers) != 2 || op.Transfers[0].ID != ops[0].Transfers[0].ID {
				t.Fatalf("results differ: %+v vs %+v", op, ops[0])
			}
		}
		if fresh != 1 {
			t.Fatalf("%d posts moved money, want 1", fresh)
		}
		if got := bk.bal(t, bk.alice); got.Posted != 4000 {
			t.Fatalf("alice = %+v, want 40.00", got)
		}
		mustVerify(t, bk.l)
	})
}

func TestHoldIsPostedOrVoidedNotBoth(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		bk := newBooks(t, b)
		const holds = 30
		bk.load(t, bk.alice, holds*100)
		var ids []string
		for range holds {
			ids = append(ids, bk.post(t, ledger.Hold(bk.alice.ID, bk.bob.ID, cny(100), time.Time{}, ledger.ExpireNone)).Transfers[0].ID)
		}
		var posted, voided, refused atomic.Int64
		var wg sync.WaitGroup
		for i, id := range ids {
			for side := range 2 {
				wg.Go(func() {
					op, count := ledger.PostHold(id, money.Amount{}), &posted
					if side == 1 {
						op, count = ledger.VoidHold(id), &voided
					}
					_, err := bk.l.Post(ctx, ledger.Batch{Reference: fmt.Sprintf("resolve:%d:%d", i, side), Ops: []ledger.Op{op}})
					switch {
					case err == nil:
						count.Add(1)
					case errors.Is(err, ledger.ErrHoldNotPending):
						refused.Add(1)
					default:
						t.Errorf("resolve: %v", err)
					}
				})
			}
		}
		wg.Wait()
		if posted.Load()+voided.Load() != holds || refused.Load() != holds {
			t.Fatalf("posted %d, voided %d, refused %d; want %d resolutions", posted.Load(), voided.Load(), refused.Load(), holds)
		}
		want := bal{Posted: holds*100 - posted.Load()*100, Available: holds*100 - posted.Load()*100}
		if got := bk.bal(t, bk.alice); got != want {
			t.Fatalf("alice = %+v, want %+v", got, want)
		}
		mustVerify(t, bk.l)
	})
}

func TestConcurrentTransfersBothWaysDoNotDeadlock(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		bk := newBooks(t, b)
		accts := []ledger.Account{bk.alice, bk.bob}
		for i := range 3 {
			a, err := bk.l.EnsureAccount(ctx, ledger.AccountSpec{Code: fmt.Sprintf("merchant:mer_%d:payable", i),
				Currency: money.CNY, Kind: ledger.Liability, NoNegative: true})
			if err != nil {
				t.Fatal(err)
			}
			accts = append(accts, a)
		}
		for _, a := range accts {
			bk.load(t, a, 5000)
		}
		var wg sync.WaitGroup
		for w := range 32 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 7)) //nolint:gosec // a worker number as a seed
				for i := range 10 {
					// Two transfers in opposite directions in one batch
					// touch the same rows in whatever order the caller
					// wrote them: the ledger must lock them sorted.
					x, y, z := accts[r.IntN(len(accts))], accts[r.IntN(len(accts))], accts[r.IntN(len(accts))]
					if x.ID == y.ID || y.ID == z.ID {
						continue
					}
					_, err := bk.l.Post(ctx, ledger.Batch{Reference: fmt.Sprintf("mix:%d:%d", w, i), Ops: []ledger.Op{
						ledger.Move(x.ID, y.ID, cny(int64(1+r.IntN(900)))),
						ledger.Move(y.ID, z.ID, cny(int64(1+r.IntN(900)))),
						ledger.Move(bk.network.ID, bk.fees.ID, cny(1)),
					}})
					if err != nil && !errors.Is(err, ledger.ErrInsufficientFunds) {
						t.Errorf("post: %v", err)
					}
				}
			})
		}
		wg.Wait()
		mustVerify(t, bk.l)
	})
}

func TestExpireHoldsOnSeveralReplicas(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		bk := newBooks(t, b, ledger.WithClock(func() time.Time { return now }))
		const holds = 250 // more than one claim batch
		bk.load(t, bk.alice, holds*10)
		ops := make([]ledger.Op, 0, ledger.MaxOps)
		for i := range holds {
			action := ledger.ExpireVoid
			if i%2 == 0 {
				action = ledger.ExpirePost
			}
			ops = append(ops, ledger.Hold(bk.alice.ID, bk.fees.ID, cny(10), now.Add(time.Minute), action))
			if len(ops) == ledger.MaxOps || i == holds-1 {
				bk.post(t, ops...)
				ops = ops[:0]
			}
		}
		var total atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				n, err := ledger.New(b.DB).ExpireHolds(ctx, now.Add(time.Minute))
				if err != nil {
					t.Errorf("expire: %v", err)
				}
				total.Add(int64(n))
			})
		}
		wg.Wait()
		if total.Load() != holds {
			t.Fatalf("replicas expired %d holds, want %d", total.Load(), holds)
		}
		if got := bk.bal(t, bk.alice); got != (bal{Posted: holds / 2 * 10, Available: holds / 2 * 10}) {
			t.Fatalf("alice = %+v", got)
		}
		mustVerify(t, bk.l)
	})
}
