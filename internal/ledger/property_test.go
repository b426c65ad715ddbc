package ledger_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// counters mirrors the ledger's four counters in the model.
type counters struct{ DP, CP, DPend, CPend int64 }

func (c counters) available(debitNormal bool) int64 {
	if debitNormal {
		return c.DP - c.CP - c.CPend
	}
	return c.CP - c.DP - c.DPend
}

type modelAccount struct {
	acct        ledger.Account
	debitNormal bool
}

type modelHold struct {
	id             string
	debit, credit  int // indexes into accounts
	amount         int64
	expires        time.Time
	post           bool // expiry action
	resolved       bool
	resolvedByTime bool
}

type postedBatch struct {
	batch ledger.Batch
	op    ledger.Operation
	err   error
}

// model is the ledger reduced to maps, against which the real one is checked.
type model struct {
	t        *rapid.T
	l        *ledger.Ledger
	now      *time.Time
	accounts []modelAccount
	balances []counters
	holds    []*modelHold
	history  []postedBatch
	prefix   string
	refs     int
}

func (m *model) ref() string {
	m.refs++
	return fmt.Sprintf("%s:ref:%d", m.prefix, m.refs)
}

// apply runs a batch on the ledger and on the model, and compares their
// verdicts. effects returns the model's per-account deltas, or the error the
// ledger must give.
func (m *model) apply(b ledger.Batch, want error, effects map[int]counters, resolve []*modelHold, newHolds []*modelHold) {
	op, err := m.l.Post(ctx, b)
	if !errors.Is(err, want) || (want == nil && err != nil) {
		m.t.Fatalf("%s: err = %v, want %v", b.Reference, err, want)
	}
	m.history = append(m.history, postedBatch{b, op, err})
	if err != nil {
		return
	}
	for i, d := range effects {
		c := m.balances[i]
		m.balances[i] = counters{c.DP + d.DP, c.CP + d.CP, c.DPend + d.DPend, c.CPend + d.CPend}
	}
	for _, h := range resolve {
		h.resolved = true
	}
	for i, h := range newHolds {
		h.id = op.Transfers[i].ID
		m.holds = append(m.holds, h)
	}
}

// funds reports whether the deltas keep every constrained account's
// available balance at or above zero (or do not lower it).
func (m *model) funds(effects map[int]counters) bool {
	for i, d := range effects {
		a := m.accounts[i]
		if !a.acct.NoNegative {
			continue
		}
		before := m.balances[i]
		after := counters{before.DP + d.DP, before.CP + d.CP, before.DPend + d.DPend, before.CPend + d.CPend}
		if after.available(a.debitNormal) < 0 && after.available(a.debitNormal) < before.available(a.debitNormal) {
			return false
		}
	}
	return true
}

func addEffect(e map[int]counters, i int, d counters) {
	c := e[i]
	e[i] = counters{c.DP + d.DP, c.CP + d.CP, c.DPend + d.DPend, c.CPend + d.CPend}
}

func (m *model) pickPair() (int, int) {
	d := rapid.IntRange(0, len(m.accounts)-1).Draw(m.t, "debit")
	c := rapid.IntRange(0, len(m.accounts)-2).Draw(m.t, "credit")
	if c >= d {
		c++
	}
	return d, c
}

func (m *model) check() {
	for i, a := range m.accounts {
		b, err := m.l.Balance(ctx, a.acct.ID)
		if err != nil {
			m.t.Fatalf("balance: %v", err)
		}
		got := counters{b.DebitsPosted, b.CreditsPosted, b.DebitsPending, b.CreditsPending}
		if diff := cmp.Diff(m.balances[i], got); diff != "" {
			m.t.Fatalf("%s (-model +ledger):\n%s", a.acct.Code, diff)
		}
	}
}

func TestPropertyRandomOperationsKeepInvariants(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		// PostgreSQL round trips cost more; the embedded backend runs
		// rapid's full count and PostgreSQL a sample of it.
		limit := 1 << 30
		if b.Name == "postgres" {
			limit = 40
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		l := ledger.New(b.DB, ledger.WithClock(func() time.Time { return now }))
		run := 0
		rapid.Check(t, func(rt *rapid.T) {
			run++
			if run > limit {
				return
			}
			m := &model{t: rt, l: l, now: &now, prefix: fmt.Sprintf("p%d", run)}
			specs := []ledger.AccountSpec{
				{Code: "network", Kind: ledger.Asset, Slots: rapid.IntRange(1, 4).Draw(rt, "network slots")},
				{Code: "alice", Kind: ledger.Liability, NoNegative: true},
				{Code: "bob", Kind: ledger.Liability, NoNegative: true},
				{Code: "fees", Kind: ledger.Revenue, Slots: rapid.IntRange(1, 3).Draw(rt, "fee slots")},
				{Code: "float", Kind: ledger.Asset, NoNegative: true}, // a debit-normal constrained account
			}
			for _, s := range specs {
				s.Code = m.prefix + ":" + s.Code
				s.Currency = money.CNY
				a, err := l.EnsureAccount(ctx, s)
				if err != nil {
					rt.Fatal(err)
				}
				m.accounts = append(m.accounts, modelAccount{a, s.Kind == ledger.Asset || s.Kind == ledger.Expense})
				m.balances = append(m.balances, counters{})
			}
			amount := rapid.Int64Range(1, 5000)
			actions := map[string]func(){
				"move": func() {
					d, c := m.pickPair()
					n := amount.Draw(rt, "amount")
					e := map[int]counters{}
					addEffect(e, d, counters{DP: n})
					addEffect(e, c, counters{CP: n})
					var want error
					if !m.funds(e) {
						want = ledger.ErrInsufficientFunds
					}
					m.apply(ledger.Batch{Reference: m.ref(), Ops: []ledger.Op{ledger.Move(m.accounts[d].acct.ID, m.accounts[c].acct.ID, cny(n))}}, want, e, nil, nil)
				},
				"batch of moves": func() {
					k := rapid.IntRange(2, 4).Draw(rt, "batch size")
					e := map[int]counters{}
					var ops []ledger.Op
					for range k {
						d, c := m.pickPair()
						n := amount.Draw(rt, "amount")
						addEffect(e, d, counters{DP: n})
						addEffect(e, c, counters{CP: n})
						ops = append(ops, ledger.Move(m.accounts[d].acct.ID, m.accounts[c].acct.ID, cny(n)))
					}
					var want error
					if !m.funds(e) {
						want = ledger.ErrInsufficientFunds
					}
					m.apply(ledger.Batch{Reference: m.ref(), Ops: ops}, want, e, nil, nil)
				},
				"hold": func() {
					d, c := m.pickPair()
					n := amount.Draw(rt, "amount")
					h := &modelHold{debit: d, credit: c, amount: n}
					op := ledger.Hold(m.accounts[d].acct.ID, m.accounts[c].acct.ID, cny(n), time.Time{}, ledger.ExpireNone)
					if rapid.Bool().Draw(rt, "expires") {
						h.expires = now.Add(time.Duration(rapid.IntRange(1, 5).Draw(rt, "minutes")) * time.Minute)
						h.post = rapid.Bool().Draw(rt, "post on expiry")
						action := ledger.ExpireVoid
						if h.post {
							action = ledger.ExpirePost
						}
						op = ledger.Hold(m.accounts[d].acct.ID, m.accounts[c].acct.ID, cny(n), h.expires, action)
					}
					e := map[int]counters{}
					addEffect(e, d, counters{DPend: n})
					addEffect(e, c, counters{CPend: n})
					var want error
					if !m.funds(e) {
						want = ledger.ErrInsufficientFunds
					}
					m.apply(ledger.Batch{Reference: m.ref(), Ops: []ledger.Op{op}}, want, e, nil, []*modelHold{h})
				},
				"post or void": func() {
					if len(m.holds) == 0 {
						return
					}
					h := rapid.SampledFrom(m.holds).Draw(rt, "hold")
					void := rapid.Bool().Draw(rt, "void")
					part := rapid.Int64Range(0, h.amount+1).Draw(rt, "posted") // 0 = in full; amount+1 = too much
					op := ledger.VoidHold(h.id)
					posted := int64(0)
					if !void {
						op = ledger.PostHold(h.id, cny(part))
						posted = part
						if part == 0 {
							op, posted = ledger.PostHold(h.id, money.Amount{}), h.amount
						}
					}
					var want error
					switch {
					case h.resolved || (!h.expires.IsZero() && !now.Before(h.expires)):
						want = ledger.ErrHoldNotPending
					case posted > h.amount:
						want = ledger.ErrInvalidAmount
					}
					e := map[int]counters{}
					addEffect(e, h.debit, counters{DP: posted, DPend: -h.amount})
					addEffect(e, h.credit, counters{CP: posted, CPend: -h.amount})
					m.apply(ledger.Batch{Reference: m.ref(), Ops: []ledger.Op{op}}, want, e, []*modelHold{h}, nil)
				},
				"replay": func() {
					if len(m.history) == 0 {
						return
					}
					p := rapid.SampledFrom(m.history).Draw(rt, "earlier")
					op, err := l.Post(ctx, p.batch)
					if err != nil || !op.Replayed || len(op.Transfers) != len(p.op.Transfers) || op.Transfers[0].ID != p.op.Transfers[0].ID {
						rt.Fatalf("replay of %s: %+v %v", p.batch.Reference, op, err)
					}
				},
				"reuse reference": func() {
					if len(m.history) == 0 {
						return
					}
					p := rapid.SampledFrom(m.history).Draw(rt, "earlier")
					// One more op than the original: surely other content.
					other := ledger.Batch{Reference: p.batch.Reference, Ops: append(slices.Clip(p.batch.Ops),
						ledger.Move(m.accounts[0].acct.ID, m.accounts[3].acct.ID, cny(amount.Draw(rt, "amount"))))}
					if _, err := l.Post(ctx, other); !errors.Is(err, ledger.ErrReferenceConflict) {
						rt.Fatalf("reuse of %s: %v", p.batch.Reference, err)
					}
				},
				"time passes": func() {
					now = now.Add(time.Duration(rapid.IntRange(1, 3).Draw(rt, "minutes")) * time.Minute)
					if _, err := l.ExpireHolds(ctx, now); err != nil {
						rt.Fatal(err)
					}
					// ExpireHolds serves every run's holds in this database;
					// only this run's are in the model.
					for _, h := range m.holds {
						if h.resolved || h.expires.IsZero() || now.Before(h.expires) {
							continue
						}
						posted := int64(0)
						if h.post {
							posted = h.amount
						}
						m.add(h.debit, counters{DP: posted, DPend: -h.amount})
						m.add(h.credit, counters{CP: posted, CPend: -h.amount})
						h.resolved, h.resolvedByTime = true, true
					}
				},
			}
			names := make([]string, 0, len(actions))
			for n := range actions {
				names = append(names, n)
			}
			sort.Strings(names)
			steps := rapid.IntRange(1, 40).Draw(rt, "steps")
			for range steps {
				actions[rapid.SampledFrom(names).Draw(rt, "action")]()
				// A refused batch claimed nothing, so a retry may succeed;
				// TestIdempotency covers that, and the replay actions draw
				// from successes only.
				m.history = successes(m.history)
				m.check()
			}
			breaks, err := l.Verify(ctx)
			if err != nil || len(breaks) > 0 {
				rt.Fatalf("verify: %v %v", breaks, err)
			}
		})
	})
}

func (m *model) add(i int, d counters) {
	c := m.balances[i]
	m.balances[i] = counters{c.DP + d.DP, c.CP + d.CP, c.DPend + d.DPend, c.CPend + d.CPend}
}

func successes(h []postedBatch) []postedBatch {
	out := h[:0]
	for _, p := range h {
		if p.err == nil {
			out = append(out, p)
		}
	}
	return out
}
