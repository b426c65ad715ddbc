package seed

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/kyc"
	"github.com/inbound-gateway/inbound/prepaid"
)

// Labels of the vault, as the services use them (kyc, gateway).
const (
	passportLabel = "passport"
	panLabel      = "pan"
)

// settleDays is the quiet time at the end of the history: releases and
// refunds happen up to 3.5 days after a payment.
const settleDays = 5

// states are the issuing states seeded passports rotate through.
var states = []string{"GBR", "FRA", "USA", "JPN", "KOR", "AUS", "CAN", "ITA", "ESP", "UTO"}

// Passport returns the issuing state and document number of seeded
// visitor i (0-based), so a test or a benchmark can look one up.
func Passport(i int) (state, number string) {
	return states[i%len(states)], fmt.Sprintf("S%08d", i)
}

// PAN returns the card number of seeded visitor i: a Visa test range
// number with a valid Luhn digit.
func PAN(i int) string {
	body := fmt.Sprintf("4000%011d", i)
	return body + luhn(body)
}

func luhn(body string) string {
	sum := 0
	for k := range len(body) {
		d := int(body[len(body)-1-k] - '0')
		if k%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return fmt.Sprint((10 - sum%10) % 10)
}

var (
	surnames = []string{"MARTIN", "SMITH", "TANAKA", "KIM", "ROSSI", "GARCIA", "MULLER", "DUBOIS", "BROWN", "LEE"}
	givens   = []string{"ANNA", "JOHN", "YUKI", "MIN JUN", "LUCA", "SOFIA", "LEA", "NOAH", "EMMA", "OLIVER"}
)

// counters of one ledger account (posted only: the seed makes no holds).
type bal struct{ debits, credits int64 }

// accountClass says how a chunk writes an account's balance.
type accountClass int

const (
	classNew     accountClass = iota // created by this chunk: row copied with its final counters
	classPayable                     // merchant payable: single slot, updated first, running balances
	classHot                         // slotted: updated last on the chunk's slot, no running balance
)

type transfer struct {
	id, ref, debit, credit, cur string
	amount                      int64
	at                          time.Time
	debitAfter, creditAfter     *int64
}

type leg struct {
	debit, credit string
	amount        int64
	cur           money.Currency
}

// chunk is everything one transaction writes.
type chunk struct {
	index     int
	rows      map[string][][]any
	transfers []transfer
	newBal    map[string]*bal // accounts created here, in creation order below
	newOrder  []string
	payable   map[string]*bal // deltas of payable accounts
	hot       map[string]*bal // deltas of hot accounts
	n         counts
}

type counts struct {
	visitors, loads, refunds, transfers, operations, accounts, events, audit int64
}

func (c *chunk) add(table string, row ...any) { c.rows[table] = append(c.rows[table], row) }

// worker generates chunks; it is not safe for concurrent use.
type worker struct {
	v       *vault.Vault
	o       Options
	f       fixed
	class   map[string]accountClass
	entropy *mrand.ChaCha8
}

func newWorker(v *vault.Vault, o Options, f fixed) *worker {
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	w := &worker{v: v, o: o, f: f, class: map[string]accountClass{}, entropy: mrand.NewChaCha8(seed)}
	for _, a := range []string{f.network, f.fxUSD, f.fxCNY, f.fees, f.spread} {
		w.class[a] = classHot
	}
	for _, shards := range f.payables {
		for _, a := range shards {
			w.class[a] = classPayable
		}
	}
	return w
}

// id is a ULID of the time the object was made, as ids.New makes them, so
// keyset pages over ids follow the seeded history. The random part comes
// from a ChaCha8 stream seeded from crypto/rand.
func (w *worker) id(prefix string, at time.Time) string {
	u := ulid.MustNew(ulid.Timestamp(at), w.entropy)
	return prefix + "_" + strings.ToLower(u.String())
}

// newAccount adds a single-slot ledger account created by this chunk.
func (w *worker) newAccount(c *chunk, code, owner string, kind ledger.Kind, at time.Time) string {
	id := w.id("acct", at)
	c.add("ledger_accounts", id, code, "CNY", kind.String(), owner, true, int32(1), at)
	c.newBal[id] = &bal{}
	c.newOrder = append(c.newOrder, id)
	w.class[id] = classNew
	c.n.accounts++
	return id
}

// post adds one ledger batch: its operation row and its transfers, with
// the running balances of the new accounts (payables are filled in when
// the chunk is written, once their balance before it is known).
func (w *worker) post(c *chunk, ref string, at time.Time, legs ...leg) {
	b := ledger.Batch{Reference: ref}
	for _, l := range legs {
		b.Ops = append(b.Ops, ledger.Move(l.debit, l.credit, money.New(l.amount, l.cur)))
	}
	c.add("ledger_operations", ref, b.Fingerprint(), at)
	c.n.operations++
	for _, l := range legs {
		t := transfer{id: w.id("trf", at), ref: ref, debit: l.debit, credit: l.credit, cur: l.cur.Code(), amount: l.amount, at: at}
		t.debitAfter = w.move(c, l.debit, l.amount, true)
		t.creditAfter = w.move(c, l.credit, l.amount, false)
		c.transfers = append(c.transfers, t)
		c.n.transfers++
	}
}

// move books one side of a transfer and returns the running posted balance
// of a new (liability) account.
func (w *worker) move(c *chunk, account string, amount int64, debit bool) *int64 {
	var b *bal
	switch w.class[account] {
	case classHot:
		b = c.hot[account]
		if b == nil {
			b = &bal{}
			c.hot[account] = b
		}
	case classPayable:
		b = c.payable[account]
		if b == nil {
			b = &bal{}
			c.payable[account] = b
		}
	default:
		b = c.newBal[account]
	}
	if debit {
		b.debits += amount
	} else {
		b.credits += amount
	}
	if w.class[account] != classNew {
		return nil
	}
	after := b.credits - b.debits // every new account is a liability
	return &after
}

func (w *worker) event(c *chunk, typ, object, objectID string, at time.Time, fields map[string]any) {
	id := w.id("evt", at)
	data := map[string]any{"id": objectID, "object": object}
	for k, v := range fields {
		data[k] = v
	}
	body, _ := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ,
		"created_at": at.Truncate(time.Second), "data": data})
	c.add("events", id, w.f.partnerID, typ, string(body), at, true)
	c.add("webhook_deliveries", id, w.f.endpointID, "succeeded", int32(1), at, int32(200), "", at)
	c.n.events++
}

// visitor writes seeded visitor i (of this run; First+i overall) and
// everything it did.
func (w *worker) visitor(c *chunk, i int) {
	o := w.o
	g := o.First + i
	r := mrand.New(mrand.NewPCG(o.Seed, uint64(i))) //nolint:gosec // synthetic amounts and states, nothing secret
	// Visitors arrive evenly over Days, ending settleDays before Now, so
	// every release and refund below lies in the past.
	span := time.Duration(o.Days) * 24 * time.Hour
	start := o.Now.Add(-span - settleDays*24*time.Hour)
	t0 := start.Add(time.Duration(int64(span) / int64(o.Visitors) * int64(i))).Truncate(time.Microsecond)
	state, number := Passport(g)
	visID := w.id("vis", t0)
	sur, giv := surnames[r.IntN(len(surnames))], givens[r.IntN(len(givens))]
	dob := time.Date(1950+r.IntN(50), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	tier := "basic"
	if i%3 == 0 {
		tier = "verified"
	}
	c.add("visitors", visID, w.f.partnerID, "approved", tier, "", sur, giv, state, []string{"F", "M"}[i%2], dob,
		"P", "TD3", state, w.v.Seal(passportLabel, []byte(number)), kyc.DocumentIndex(w.v, state, number), kyc.MaskNumber(number),
		o.Now.AddDate(5, 0, 0).Format(time.DateOnly), t0, t0)
	c.add("visitor_history", visID, "approved", "", "kyc", "", t0)
	c.n.visitors++

	// Card, verified.
	tc := t0.Add(time.Minute)
	pan := PAN(g)
	cardID := w.id("card", tc)
	c.add("cards", cardID, w.f.partnerID, visID, "verified", "visa", pan[:6], pan[len(pan)-4:], int32(1+i%12), //nolint:gosec // a month, 1..12
		int32(o.Now.Year()+3), //nolint:gosec // a year fits int32
		"US", "USD", w.v.Seal(panLabel, []byte(pan)), w.v.Index(panLabel, pan), 1.0, tc, tc)

	// Prepaid account and its ledger account.
	ta := t0.Add(2 * time.Minute)
	acctID := w.id("acct", ta)
	code := prepaid.LedgerCode(visID)
	c.add("prepaid_accounts", acctID, visID, w.f.partnerID, "active", tier, "CNY", code, ta, o.Now.AddDate(2, 0, 0))
	visAcct := w.newAccount(c, code, visID, ledger.Liability, ta)

	// A declined load for one visitor in four, then the succeeded one.
	tl := t0.Add(3 * time.Minute)
	if i%4 == 1 {
		w.load(c, g, 1, visID, acctID, cardID, visAcct, tl.Add(-time.Second), r, false)
	}
	credited := w.load(c, g, 0, visID, acctID, cardID, visAcct, tl, r, true)

	// One escrow payment, its state by i mod 5.
	w.payment(c, i, g, visID, visAcct, credited, tl, r)

	if i%4 == 0 {
		c.add("audit_log", w.id("aud", t0), "stf_seed", "supervisor", "review.approve", visID, "seeded visitor",
			w.id("req", t0), "", "", t0)
		c.n.audit++
	}
}

// load writes one load (k-th of overall visitor g) (succeeded: with its ledger batch and event) and
// its network call, and returns the CNY credited.
func (w *worker) load(c *chunk, g, k int, visID, acctID, cardID, visAcct string, at time.Time, r *mrand.Rand, ok bool) int64 {
	credited := int64(200+r.IntN(2800)) * 100
	fee := credited * 3 / 100
	buy := credited + fee
	spread := buy / 100
	usd := (buy + spread) * 100 / 712
	loadID := w.id("load", at)
	callID := w.id("ncl", at)
	seq := int64(g)*2 + int64(k)
	stan, rrn := fmt.Sprintf("%06d", seq%1_000_000), fmt.Sprintf("%012d", seq)
	status, state, rc, auth, decline := "succeeded", "approved", "00", fmt.Sprintf("%06d", seq%999_983), ""
	if !ok {
		status, state, rc, auth, decline = "failed", "declined", "51", "", "insufficient_funds"
	}
	c.add("network_calls", callID, "sale", "visa", "0200", stan, rrn, usd, "USD", cardID, loadID, "", state, rc, auth, decline, "", int32(1), at, at)
	c.add("prepaid_loads", loadID, w.f.partnerID, visID, acctID, cardID, w.id("quo", at.Add(-time.Second)), status, "visa", "USD",
		usd, buy, credited, fee, usd, callID, rc, auth, stan, rrn, decline, at, at)
	c.n.loads++
	if !ok {
		return 0
	}
	w.post(c, "load:"+loadID, at,
		leg{w.f.network, w.f.fxUSD, usd, money.USD},
		leg{w.f.fxCNY, visAcct, credited, money.CNY},
		leg{w.f.fxCNY, w.f.fees, fee, money.CNY},
		leg{w.f.fxCNY, w.f.spread, spread, money.CNY})
	w.event(c, "load.succeeded", "load", loadID, at, map[string]any{"status": status, "visitor": visID})
	return credited
}

// payment writes one escrow payment of visitor i in state i mod 5.
func (w *worker) payment(c *chunk, i, g int, visID, visAcct string, credited int64, loaded time.Time, r *mrand.Rand) {
	o := w.o
	amount := credited/10 + r.Int64N(credited/3)
	state := i % 5
	at := loaded.Add(time.Hour)
	if state == 0 || state == 4 {
		// Payments still in escrow are recent: the auto-release job
		// would otherwise release them all at once.
		at = o.Now.Add(-time.Duration(r.Int64N(int64(24 * time.Hour)))).Truncate(time.Microsecond)
	}
	payID := w.id("pay", at)
	m := i % len(w.f.merchants)
	shard := w.f.payables[m][c.index%payableShards]
	escrowAcct := w.newAccount(c, escrow.EscrowCode(payID), payID, ledger.Liability, at)
	w.post(c, "pay:"+payID+":hold", at, leg{visAcct, escrowAcct, amount, money.CNY})
	w.event(c, escrow.EventHeld, "payment", payID, at, nil)
	after := 7 * 24 * time.Hour
	held, released, refunded, fee := amount, int64(0), int64(0), int64(0)
	status := "held"
	var releasedAt, disputedAt, dueAt any
	dueAt = at.Add(after)
	disputeReason := ""
	tr := at.Add(after / 2)
	release := func() {
		fee = escrow.Fee(money.New(amount, money.CNY), 60).Minor()
		var legs []leg
		if amount-fee > 0 {
			legs = append(legs, leg{escrowAcct, shard, amount - fee, money.CNY})
		}
		if fee > 0 {
			legs = append(legs, leg{escrowAcct, w.f.fees, fee, money.CNY})
		}
		w.post(c, "pay:"+payID+":release", tr, legs...)
		w.event(c, escrow.EventReleased, "payment", payID, tr, nil)
		held, released, releasedAt, dueAt, status = 0, amount, tr, nil, "released"
	}
	refund := func(n int64, from string, source string, when time.Time) {
		rfdID := w.id("rfd", when)
		c.add("escrow_refunds", rfdID, payID, w.f.partnerID, "CNY", n, source, "seeded refund", "", when)
		c.n.refunds++
		w.post(c, "rfd:"+rfdID, when, leg{from, visAcct, n, money.CNY})
		w.event(c, "payment.refunded", "refund", rfdID, when, map[string]any{"payment": payID})
		refunded += n
	}
	switch state {
	case 1:
		release()
	case 2:
		refund(amount, escrowAcct, escrow.SourceEscrow, tr)
		held, dueAt, status = 0, nil, "refunded"
	case 3:
		release()
		refund(amount/3, shard, escrow.SourceMerchant, tr.Add(time.Hour))
		status = "partially_refunded"
	case 4:
		disputedAt, dueAt, status, disputeReason = at.Add(time.Minute), nil, "disputed", "item not received"
	}
	c.add("escrow_payments", payID, w.f.partnerID, visID, w.f.merchants[m], "CNY", amount, held, released, refunded, fee, status,
		fmt.Sprintf("seed-%d", g), "seeded payment", int64(after), at.Add(after), dueAt, escrowAcct, visAcct,
		disputeReason, disputedAt, releasedAt, at, at)
}
