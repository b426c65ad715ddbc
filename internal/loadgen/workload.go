package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/inbound-gateway/inbound/kyc"
)

// givenNames are plain names that match no sanctions entry and need no
// transliteration, so every generated visitor is approved.
var givenNames = []string{"ANNA", "JONAS", "MARTA", "PAUL", "LENA", "OSKAR", "CLARA", "FELIX"}

// passport returns a valid TD3 MRZ of an adult with a random document
// number, and the holder name the card must carry.
func passport(rng *rand.Rand, today time.Time) ([]string, string) {
	const alnum = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
	num := make([]byte, 9)
	for i := range num {
		num[i] = alnum[rng.IntN(len(alnum))]
	}
	surname := "LOADTEST"
	given := givenNames[rng.IntN(len(givenNames))]
	name := surname + "<<" + given
	l1 := "P<GBR" + name + strings.Repeat("<", 39-len(name))
	dob := today.AddDate(-25-rng.IntN(40), -rng.IntN(12), -rng.IntN(28)).Format("060102")
	exp := today.AddDate(5, 0, 0).Format("060102")
	doc := string(num)
	sex := "FM"[rng.IntN(2):][:1]
	part := doc + string(kyc.CheckDigit(doc)) + "GBR" + dob + string(kyc.CheckDigit(dob)) + sex + exp + string(kyc.CheckDigit(exp))
	personal := strings.Repeat("<", 14)
	personal += string(kyc.CheckDigit(personal))
	l2 := part + personal
	composite := l2[0:10] + l2[13:20] + l2[21:43]
	l2 += string(kyc.CheckDigit(composite))
	return []string{l1, l2}, given + " " + surname
}

// luhnPAN returns a Luhn-valid 16-digit Visa PAN outside the published
// test cards: the simulator approves it in USD, and, being random, it binds
// to one visitor only without colliding with another run.
func luhnPAN(rng *rand.Rand) string {
	d := make([]int, 16)
	d[0], d[1] = 4, 9 // 49xxxx: no published test card starts so
	for i := 2; i < 15; i++ {
		d[i] = rng.IntN(10)
	}
	sum := 0
	for i := 14; i >= 0; i-- {
		v := d[i]
		if (14-i)%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = (10 - sum%10) % 10
	var b strings.Builder
	for _, v := range d {
		b.WriteByte(byte('0' + v)) //nolint:gosec // v is a decimal digit
	}
	return b.String()
}

// money is the API's money object.
type moneyJSON struct {
	Value    string `json:"value"`
	Currency string `json:"currency"`
}

func cny(f int64) moneyJSON { return moneyJSON{Value: fen(f), Currency: "CNY"} }

// Workload runs the visitor life cycles of the clients.
type Workload struct {
	C       *Client
	J       *Journal
	Log     func(format string, a ...any)
	mu      sync.Mutex
	mers    []string
	failure map[string]int // definitive unexpected answers by op/code
}

// merchant returns a merchant of the pool, creating one now and then (and
// while the pool is small).
func (w *Workload) merchant(ctx context.Context, rng *rand.Rand) (string, error) {
	w.mu.Lock()
	n := len(w.mers)
	w.mu.Unlock()
	if n < 4 || rng.IntN(20) == 0 {
		r, err := w.C.Post(ctx, "merchant", "/v1/merchants", map[string]string{"name": fmt.Sprintf("Load Tea House %d", rng.IntN(1e6)), "mcc": "5812"})
		if err != nil {
			return "", err
		}
		var m struct{ ID string }
		if err := w.decode(r, "merchant", &m); err != nil {
			return "", err
		}
		w.J.AddMerchant(m.ID)
		w.mu.Lock()
		w.mers = append(w.mers, m.ID)
		w.mu.Unlock()
		return m.ID, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mers[rng.IntN(len(w.mers))], nil
}

// errRejected is a definitive answer other than the one hoped for; the
// life cycle moves on.
var errRejected = errors.New("loadgen: rejected")

func (w *Workload) decode(r Result, op string, v any) error {
	if !r.OK() {
		w.mu.Lock()
		if w.failure == nil {
			w.failure = map[string]int{}
		}
		w.failure[fmt.Sprintf("%s %d %s", op, r.Status, r.Code())]++
		w.mu.Unlock()
		return fmt.Errorf("%w: %s %d %s", errRejected, op, r.Status, r.Code())
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Failures returns the definitive non-2xx answers by op, status and code.
func (w *Workload) Failures() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for k, v := range w.failure {
		out[k] = v
	}
	return out
}

// newRand is the workload's deterministic random source for a seed.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) } //nolint:gosec // the workload is seeded so a run can be replayed; test data, not secrets

type openPayment struct {
	id     string
	amount int64
	// auto: left to the auto-release job (AutoReleaseAfter), not settled.
	auto bool
}

// releasedBeforeEnd tells whether a payment left to auto-release now
// falls due, and is released, well before the load ends: one released
// while the server is being read would be counted both in escrow and at
// its merchant.
func releasedBeforeEnd(ctx context.Context) bool {
	end, ok := ctx.Deadline()
	return ok && time.Until(end) > AutoReleaseAfter+2*MaxReleaseLate
}

// AutoReleaseAfter is the auto_release_after of the payments (one in
// eight) that the workload leaves to the server's auto-release job: the
// shortest the API accepts.
const AutoReleaseAfter = time.Minute

// Client runs life cycles until ctx ends: onboard, bind a card, then a
// random mix of loads, payments, confirms, refunds and disputes, and at
// the end usually an unload.
func (w *Workload) Client(ctx context.Context, seed uint64) {
	rng := newRand(seed)
	for ctx.Err() == nil {
		if err := w.lifecycle(ctx, rng); err != nil && !errors.Is(err, errRejected) && ctx.Err() == nil {
			w.Log("client: %v", err)
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func (w *Workload) lifecycle(ctx context.Context, rng *rand.Rand) error {
	now := time.Now().UTC()
	mrz, holder := passport(rng, now)
	r, err := w.C.Post(ctx, "visitor", "/v1/visitors", map[string]any{
		"mrz": mrz, "phone": fmt.Sprintf("+44770090%04d", rng.IntN(10000)), "email": "load@example.com",
		"entry": map[string]string{"visa_type": "L", "entry_date": now.AddDate(0, 0, -1).Format(time.DateOnly),
			"planned_departure": now.AddDate(0, 0, 10).Format(time.DateOnly)},
	})
	if err != nil {
		return err
	}
	var v struct {
		ID  string
		KYC struct{ Status string }
	}
	if err := w.decode(r, "visitor", &v); err != nil {
		return err
	}
	if v.KYC.Status != "approved" {
		return fmt.Errorf("%w: visitor %s is %s", errRejected, v.ID, v.KYC.Status)
	}
	w.J.AddVisitor(v.ID)
	r, err = w.C.Post(ctx, "card", "/v1/visitors/"+v.ID+"/cards", map[string]any{
		"number": luhnPAN(rng), "exp_month": 12, "exp_year": now.Year() + 3, "cvc": "123", "holder_name": holder})
	if err != nil {
		return err
	}
	var card struct{ ID, Status string }
	if err := w.decode(r, "card", &card); err != nil {
		return err
	}
	if card.Status != "verified" {
		return fmt.Errorf("%w: card %s", errRejected, card.Status)
	}
	var balance int64
	var open []*openPayment
	escrowed := false // a disputed or partly refunded payment stays in escrow: the account cannot close
	steps := 3 + rng.IntN(6)
	for i := 0; i < steps && ctx.Err() == nil; i++ {
		switch k := rng.IntN(10); {
		case balance < 5000 || k < 3:
			got, err := w.load(ctx, rng, v.ID, card.ID)
			if err != nil && !errors.Is(err, errRejected) {
				return err
			}
			balance += got
		case k < 6 && balance >= 100:
			p, err := w.pay(ctx, rng, v.ID, balance)
			if err != nil && !errors.Is(err, errRejected) {
				return err
			}
			switch {
			case p != nil && p.auto:
				balance -= p.amount
				escrowed = true // may still be held at the unload: no close
			case p != nil:
				balance -= p.amount
				open = append(open, p)
			}
		case len(open) > 0:
			i := rng.IntN(len(open))
			p := open[i]
			open = append(open[:i], open[i+1:]...)
			got, err := w.settle(ctx, rng, v.ID, p, &escrowed)
			if err != nil && !errors.Is(err, errRejected) {
				return err
			}
			balance += got
		}
	}
	if ctx.Err() != nil || rng.IntN(4) == 0 {
		return nil // some accounts keep their balance
	}
	r, err = w.C.Post(ctx, "unload", "/v1/visitors/"+v.ID+"/unloads", map[string]any{"card_id": card.ID, "close": len(open) == 0 && !escrowed && rng.IntN(2) == 0})
	if err != nil {
		return err
	}
	var u struct {
		ID, Status string
		Amount     moneyJSON
		Unloads    []struct {
			ID, Status string
			Amount     moneyJSON
		}
	}
	if err := w.decode(r, "unload", &u); err != nil {
		return err
	}
	if len(u.Unloads) == 0 {
		u.Unloads = append(u.Unloads, struct {
			ID, Status string
			Amount     moneyJSON
		}{u.ID, u.Status, u.Amount})
	}
	for _, x := range u.Unloads {
		if x.Status != "succeeded" {
			continue
		}
		amt, err := parseFen(x.Amount.Value)
		if err != nil {
			return err
		}
		if amt == 0 {
			continue // closing an empty account moves no money and posts nothing
		}
		w.J.Record(Effect{Kind: EffectUnload, ID: x.ID, VisitorID: v.ID, Amount: amt})
	}
	return nil
}

// load quotes and loads a random CNY amount; it returns what was credited.
func (w *Workload) load(ctx context.Context, rng *rand.Rand, visitor, card string) (int64, error) {
	r, err := w.C.Post(ctx, "quote", "/v1/fx/quotes", map[string]any{"card_id": card, "buy": cny(int64(100+rng.IntN(400)) * 100)})
	if err != nil {
		return 0, err
	}
	var q struct{ ID string }
	if err := w.decode(r, "quote", &q); err != nil {
		return 0, err
	}
	r, err = w.C.Post(ctx, "load", "/v1/visitors/"+visitor+"/loads", map[string]string{"card_id": card, "quote_id": q.ID})
	if err != nil {
		return 0, err
	}
	var l struct {
		ID, Status    string
		Credited, Fee moneyJSON
	}
	if err := w.decode(r, "load", &l); err != nil {
		return 0, err
	}
	if l.Status != "succeeded" {
		return 0, fmt.Errorf("%w: load %s is %s", errRejected, l.ID, l.Status)
	}
	cr, err := parseFen(l.Credited.Value)
	if err != nil {
		return 0, err
	}
	fee, err := parseFen(l.Fee.Value)
	if err != nil {
		return 0, err
	}
	w.J.Record(Effect{Kind: EffectLoad, ID: l.ID, VisitorID: visitor, Amount: cr, Fee: fee})
	return cr, nil
}

func (w *Workload) pay(ctx context.Context, rng *rand.Rand, visitor string, balance int64) (*openPayment, error) {
	mer, err := w.merchant(ctx, rng)
	if err != nil {
		return nil, err
	}
	amt := 100 + rng.Int64N(max(balance/2, 1))
	body := map[string]any{"visitor_id": visitor, "merchant_id": mer,
		"amount": cny(amt), "out_trade_no": newKey(), "description": "load test"}
	auto := rng.IntN(8) == 0 && releasedBeforeEnd(ctx)
	if auto {
		body["auto_release_after"] = AutoReleaseAfter.String()
	}
	r, err := w.C.Post(ctx, "payment", "/v1/payments", body)
	if err != nil {
		return nil, err
	}
	var p struct {
		ID     string
		Amount moneyJSON
	}
	if err := w.decode(r, "payment", &p); err != nil {
		return nil, err
	}
	got, err := parseFen(p.Amount.Value)
	if err != nil {
		return nil, err
	}
	w.J.Record(Effect{Kind: EffectPayment, ID: p.ID, VisitorID: visitor, MerchantID: mer, Amount: got, AutoRelease: auto})
	return &openPayment{id: p.ID, amount: got, auto: auto}, nil
}

// settle confirms, refunds (partly or fully) or disputes a held payment;
// it returns the CNY that came back to the visitor.
func (w *Workload) settle(ctx context.Context, rng *rand.Rand, visitor string, p *openPayment, escrowed *bool) (int64, error) {
	type refund struct {
		ID     string
		Amount moneyJSON
	}
	switch k := rng.IntN(10); {
	case k < 5:
		r, err := w.C.Post(ctx, "confirm", "/v1/payments/"+p.id+"/confirm", map[string]any{})
		if err != nil {
			return 0, err
		}
		var out struct{ ID string }
		if err := w.decode(r, "confirm", &out); err != nil {
			return 0, err
		}
		w.J.Record(Effect{Kind: EffectConfirm, PaymentID: p.id, VisitorID: visitor})
		return 0, nil
	case k < 8:
		amt := p.amount
		if rng.IntN(2) == 0 && amt > 1 {
			amt = 1 + rng.Int64N(amt-1)
			*escrowed = true // the rest stays held
		}
		r, err := w.C.Post(ctx, "refund", "/v1/payments/"+p.id+"/refunds", map[string]any{"amount": cny(amt), "reason": "load test"})
		if err != nil {
			return 0, err
		}
		var rf refund
		if err := w.decode(r, "refund", &rf); err != nil {
			return 0, err
		}
		got, err := parseFen(rf.Amount.Value)
		if err != nil {
			return 0, err
		}
		w.J.Record(Effect{Kind: EffectRefund, ID: rf.ID, PaymentID: p.id, VisitorID: visitor, Amount: got})
		return got, nil
	default:
		*escrowed = true
		r, err := w.C.Post(ctx, "dispute", "/v1/payments/"+p.id+"/dispute", map[string]string{"reason": "load test"})
		if err != nil {
			return 0, err
		}
		var out struct{ ID string }
		if err := w.decode(r, "dispute", &out); err != nil {
			return 0, err
		}
		w.J.Record(Effect{Kind: EffectDispute, PaymentID: p.id, VisitorID: visitor})
		return 0, nil
	}
}
