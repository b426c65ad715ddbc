package ledger_test

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// BenchmarkPost posts one-transfer batches from 32 parallel goroutines,
// between random constrained accounts ("uniform") or from random accounts
// into one slotted hot account ("hot"). scripts/bench-ledger.sh measures the
// same against pgbench with a fixed duration and client count.
func BenchmarkPost(b *testing.B) {
	backends := []func(testing.TB) testenv.Backend{testenv.Embedded}
	if testenv.HasReal() {
		backends = append(backends, testenv.Real)
	}
	var seq atomic.Int64 // references stay unique across b.N rounds
	for _, open := range backends {
		be := open(b)
		l := ledger.New(be.DB)
		accts, hot := benchAccounts(b, l, 1000, 32)
		for _, mode := range []string{"uniform", "hot"} {
			b.Run(be.Name+"/"+mode, func(b *testing.B) {
				b.SetParallelism(16) // 32 clients on 2 cores
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					r := rand.New(rand.NewPCG(uint64(seq.Add(1)), 1)) //nolint:gosec // a seed; any bit pattern will do
					for pb.Next() {
						src, dst := accts[r.IntN(len(accts))], hot
						if mode == "uniform" {
							for dst = src; dst == src; dst = accts[r.IntN(len(accts))] {
							}
						}
						_, err := l.Post(ctx, ledger.Batch{Reference: fmt.Sprintf("bench:%s:%s:%d", b.Name(), mode, seq.Add(1)),
							Ops: []ledger.Op{ledger.Move(src, dst, cny(1))}})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
			})
		}
	}
}

func benchAccounts(b *testing.B, l *ledger.Ledger, n, slots int) ([]string, string) {
	b.Helper()
	network, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: "network:bench:CNY", Currency: money.CNY, Kind: ledger.Asset, Slots: slots})
	if err != nil {
		b.Fatal(err)
	}
	hot, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: "merchant:hot:payable", Currency: money.CNY, Kind: ledger.Liability, Slots: slots})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	var ops []ledger.Op
	for i := range n {
		a, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: fmt.Sprintf("visitor:%d:prepaid", i), Currency: money.CNY, Kind: ledger.Liability, NoNegative: true})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = a.ID
		ops = append(ops, ledger.Move(network.ID, a.ID, cny(1_000_000_000)))
		if len(ops) == ledger.MaxOps || i == n-1 {
			if _, err := l.Post(ctx, ledger.Batch{Reference: fmt.Sprintf("bench:fund:%d", i), Ops: ops}); err != nil {
				b.Fatal(err)
			}
			ops = nil
		}
	}
	return ids, hot.ID
}
