package prepaid_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/prepaid"
)

// BenchmarkLoads measures loads per second through the simulator: each op
// is a quote and a load (write-ahead row, 0200 over HTTP to cardnet, the
// outcome with its ledger batch), as a partner does them, from 32
// goroutines over 64 visitors. It runs on PostgreSQL when
// INBOUND_TEST_DATABASE_URL is set, else on SQLite. The balance cap is
// raised (it is configuration) so the visitors do not fill up.
func BenchmarkLoads(b *testing.B) {
	be := testenv.Embedded(b)
	if testenv.HasReal() {
		be = testenv.Real(b)
	}
	limits := prepaid.DefaultLimits()
	basic := limits[prepaid.Basic]
	basic.BalanceCap = cny("100000000.00")
	limits[prepaid.Basic] = basic
	e := newEnv(b, be, envOptions{limits: limits})
	const visitors = 64
	type account struct {
		v gateway.VisitorRef
		c gateway.Card
	}
	accts := make([]account, visitors)
	for i := range accts {
		v := e.visitor(b)
		accts[i] = account{v, e.card(b, v, freshPAN())}
	}
	var next atomic.Int64
	b.SetParallelism(16) // 32 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			a := accts[next.Add(1)%visitors]
			q := e.quote(b, a.v, a.c, "100.00", "CNY")
			if _, err := e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: a.v.ID, CardID: a.c.ID, QuoteID: q.ID()}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "loads/s")
	e.check(b)
}
