package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// fullUSD is the simulator's open-to-buy of a USD card, in cents.
var fullUSD = cardnet.OpenToBuy(money.USD).Minor()

func (e *env) calls(t *testing.T, ref string) []gateway.Call {
	t.Helper()
	cs, err := e.client.CallsByReference(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestSaleRefundCaptureWithApply(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		card := e.bind(t, e.anna(t), "4242424242424242")

		// Apply runs inside the outcome's transaction and sees the call.
		var seen gateway.Call
		sale, err := e.client.Sale(ctx, card.ID, "load_1", usd(14183), func(tx *db.Tx, c gateway.Call) error {
			seen = c
			return nil
		})
		if err != nil || sale.State != gateway.StateApproved || sale.AuthCode == "" || seen.ID != sale.ID {
			t.Fatalf("sale: %+v %v (apply saw %+v)", sale, err, seen)
		}
		if sale.Answer == nil || sale.Answer.Available == nil || sale.Answer.Available.Minor() != fullUSD-14183 {
			t.Fatalf("sale answer: %+v", sale.Answer)
		}
		refund, err := e.client.Refund(ctx, card.ID, "unl_1", usd(4183), sale.ID, nil)
		if err != nil || refund.State != gateway.StateApproved {
			t.Fatalf("refund: %+v %v", refund, err)
		}
		if got := e.available(t, "4242424242424242"); got != fullUSD-10000 {
			t.Fatalf("open-to-buy %d, want %d", got, fullUSD-10000)
		}

		auth, err := e.client.Authorize(ctx, card.ID, "load_2", usd(5000), nil)
		if err != nil || auth.State != gateway.StateApproved {
			t.Fatalf("auth: %+v %v", auth, err)
		}
		capt, err := e.client.Capture(ctx, auth.ID, usd(4000), nil)
		if err != nil || capt.State != gateway.StateApproved || capt.Reference != "load_2" {
			t.Fatalf("capture: %+v %v", capt, err)
		}
		if got := e.available(t, "4242424242424242"); got != fullUSD-14000 {
			t.Fatalf("open-to-buy %d, want %d", got, fullUSD-14000)
		}
		if cs := e.calls(t, "load_2"); len(cs) != 2 || cs[0].Kind != gateway.KindAuth || cs[1].Kind != gateway.KindCapture {
			t.Fatalf("calls of load_2: %+v", cs)
		}

		// A decline is recorded and returned as a *DeclineError.
		poor := e.bind(t, e.anna(t), "5105105105105100")
		d, err := e.client.Sale(ctx, poor.ID, "load_3", usd(100), nil)
		var de *gateway.DeclineError
		if !errors.As(err, &de) || de.Code != gateway.DeclineInsufficientFunds || d.State != gateway.StateDeclined {
			t.Fatalf("decline: %+v %v", d, err)
		}
		// Cards that are not verified cannot pay.
		if _, err := e.binder.Unbind(ctx, e.partner, poor.VisitorID, poor.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.Sale(ctx, poor.ID, "load_4", usd(100), nil); !errors.Is(err, gateway.ErrCardNotUsable) {
			t.Fatalf("sale on a removed card: %v", err)
		}
	})
}

// TestSaleApplyFailsReverses: when the caller cannot record what it paid
// for, the approved sale is taken back at once.
func TestSaleApplyFailsReverses(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		card := e.bind(t, e.anna(t), "4242424242424242")
		boom := errors.New("ledger refused")
		_, err := e.client.Sale(context.Background(), card.ID, "load_1", usd(2500), func(*db.Tx, gateway.Call) error { return boom })
		if !errors.Is(err, gateway.ErrNotRecorded) || !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
		cs := e.calls(t, "load_1")
		if len(cs) != 2 || cs[0].State != gateway.StateReversed || cs[1].Kind != gateway.KindReversal || cs[1].State != gateway.StateApproved {
			t.Fatalf("calls: %+v", cs)
		}
		if got := e.available(t, "4242424242424242"); got != fullUSD {
			t.Fatalf("open-to-buy %d, want %d", got, fullUSD)
		}
	})
}

// TestSaleNoAnswerCard: the no-answer test card times out, the client
// reverses at once and the load fails with issuer_unavailable.
func TestSaleNoAnswerCard(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		card := e.bind(t, e.anna(t), "4000000000000259")
		var applied gateway.CallState
		call, err := e.client.Sale(context.Background(), card.ID, "load_1", usd(1000), func(_ *db.Tx, c gateway.Call) error {
			applied = c.State
			return nil
		})
		var de *gateway.DeclineError
		if !errors.As(err, &de) || de.Code != gateway.DeclineIssuerUnavailable || !errors.Is(err, gateway.ErrTimeout) {
			t.Fatalf("got %v", err)
		}
		if call.State != gateway.StateReversed || applied != gateway.StateUnknown {
			t.Fatalf("call %s (apply saw %s), want reversed (unknown)", call.State, applied)
		}
		cs := e.calls(t, "load_1")
		if len(cs) != 2 || cs[1].Kind != gateway.KindReversal || cs[1].State != gateway.StateApproved || cs[1].OriginalID != call.ID {
			t.Fatalf("calls: %+v", cs)
		}
		if got := e.available(t, "4000000000000259"); got != fullUSD {
			t.Fatalf("open-to-buy %d, want %d", got, fullUSD)
		}
		if n := e.count(t, "visa", "sale", "timeout"); n != 1 {
			t.Fatalf("timeout metric %v", n)
		}
	})
}

// TestTimeoutFaultThenRepair: with every visa answer lost, the sale and
// its reversal both go unanswered; the call stays unknown until Repair,
// after the faults clear, gets the reversal acknowledged, which restores
// the open-to-buy.
func TestTimeoutFaultThenRepair(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{timeout: 150 * time.Millisecond, client: gateway.ClientOptions{ReversalBudget: 400 * time.Millisecond}})
		ctx := context.Background()
		card := e.bind(t, e.anna(t), "4242424242424242")
		if err := e.engine.SetFault(cardnet.Fault{Network: "visa", TimeoutRate: 1}); err != nil {
			t.Fatal(err)
		}
		call, err := e.client.Sale(ctx, card.ID, "load_1", usd(50000), nil)
		if !errors.Is(err, gateway.ErrDeclined) || !errors.Is(err, gateway.ErrTimeout) || call.State != gateway.StateUnknown {
			t.Fatalf("sale: %s %v", call.State, err)
		}
		e.engine.ClearFaults("")
		// Too early: still within the grace period.
		if n, err := e.client.Repair(ctx, e.clock.Now()); err != nil || n != 0 {
			t.Fatalf("early repair: %d %v", n, err)
		}
		e.clock.Add(3 * time.Minute)
		if n, err := e.client.Repair(ctx, e.clock.Now()); err != nil || n != 1 {
			t.Fatalf("repair: %d %v", n, err)
		}
		cs := e.calls(t, "load_1")
		if len(cs) != 2 || cs[0].State != gateway.StateReversed || cs[1].State != gateway.StateApproved || cs[1].Attempts != 2 {
			t.Fatalf("calls: %+v", cs)
		}
		if got := e.available(t, "4242424242424242"); got != fullUSD {
			t.Fatalf("open-to-buy %d, want %d", got, fullUSD)
		}
		e.clock.Add(3 * time.Minute)
		if n, err := e.client.Repair(ctx, e.clock.Now()); err != nil || n != 0 {
			t.Fatalf("second repair: %d %v", n, err)
		}
	})
}

// TestRepairCrashedCall simulates a process that died after sending and
// before recording the outcome (the row stays in intent while the network
// holds the money), and one that died before sending.
func TestRepairCrashedCall(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		card := e.bind(t, e.anna(t), "4242424242424242")

		sent := authReq(t, "4242424242424242", usd(7500))
		if res, err := e.conn.Authorize(ctx, sent); err != nil || !res.Approved() {
			t.Fatalf("auth: %+v %v", res, err)
		}
		neverSent := gateway.NewTrace(now)
		for _, tr := range []gateway.Trace{sent.Trace, neverSent} {
			exec(t, b.DB, `INSERT INTO network_calls (id, kind, network, mti, stan, rrn, amount_minor, currency, card_id,
				reference, state, attempts, created_at, updated_at) VALUES (?, 'auth', 'visa', '0100', ?, ?, 7500, 'USD', ?,
				'load_crash', 'intent', 1, ?, ?)`, ids.New(ids.NetworkCall), tr.STAN, tr.RRN, card.ID, now, now)
		}
		if got := e.available(t, "4242424242424242"); got != fullUSD-7500 {
			t.Fatalf("open-to-buy %d", got)
		}
		e.clock.Add(3 * time.Minute)
		if n, err := e.binder.Repair(ctx, e.clock.Now()); err != nil || n != 2 {
			t.Fatalf("repair: %d %v", n, err)
		}
		for _, c := range e.calls(t, "load_crash") {
			want := gateway.StateReversed
			if c.Kind == gateway.KindReversal {
				want = gateway.StateApproved
			}
			if c.State != want {
				t.Errorf("%s %s: state %s, want %s", c.Kind, c.ID, c.State, want)
			}
		}
		if got := e.available(t, "4242424242424242"); got != fullUSD {
			t.Fatalf("open-to-buy %d, want %d", got, fullUSD)
		}
		// A late arrival of the message never sent must not take effect.
		late, err := e.conn.Authorize(ctx, gateway.AuthRequest{Trace: neverSent, PAN: mustPAN(t, "4242424242424242"), Expiry: expiry(t), Amount: usd(7500)})
		if err != nil || late.Approved() {
			t.Fatalf("late original: %+v %v", late, err)
		}
	})
}

// TestRepairPendingCard: a bind whose process died before the verification
// outcome leaves a pending card; Repair fails it and frees the card.
func TestRepairPendingCard(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.anna(t)
		card := e.bind(t, v, "4242424242424242")
		exec(t, b.DB, "UPDATE cards SET status = 'pending' WHERE id = ?", card.ID)

		if _, err := e.binder.Bind(ctx, e.partner, v, input("4242424242424242")); !errors.Is(err, gateway.ErrBindingInProgress) {
			t.Fatalf("bind during pending: %v", err)
		}
		e.clock.Add(3 * time.Minute)
		if n, err := e.binder.Repair(ctx, e.clock.Now()); err != nil || n != 1 {
			t.Fatalf("repair: %d %v", n, err)
		}
		got, err := e.binder.Get(ctx, e.partner, v.ID, card.ID)
		if err != nil || got.Status != gateway.StatusFailed {
			t.Fatalf("card: %+v %v", got, err)
		}
		e.bind(t, v, "4242424242424242")
	})
}

// count is the inbound_network_calls_total series of the labels.
func (e *env) count(t *testing.T, network, kind, code string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "inbound_network_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["network"] == network && labels["kind"] == kind && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestSaleChallenge: the issuer-authentication card asks for the OTP on
// every payment; Authenticate resends the sale with it.
func TestSaleChallenge(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.anna(t)
		card := e.bind(t, v, "4000000000003220")
		card, err := e.binder.Verify(ctx, e.partner, v.ID, card.ID, cardnet.OTP)
		if err != nil {
			t.Fatal(err)
		}
		call, err := e.client.Sale(ctx, card.ID, "load_1", usd(2000), nil)
		var de *gateway.DeclineError
		if !errors.As(err, &de) || de.Code != gateway.DeclineAuthenticationRequired || call.State != gateway.StateChallenged || call.ChallengeID == "" {
			t.Fatalf("sale: %+v %v", call, err)
		}
		done, err := e.client.Authenticate(ctx, call.ID, cardnet.OTP, nil)
		if err != nil || done.State != gateway.StateApproved || done.Attempts != 2 {
			t.Fatalf("authenticate: %+v %v", done, err)
		}
		if _, err := e.client.Authenticate(ctx, call.ID, cardnet.OTP, nil); !errors.Is(err, gateway.ErrNotChallenged) {
			t.Fatalf("authenticate twice: %v", err)
		}
		if a := done.Answer; a == nil || a.Available == nil || a.Available.Minor() != fullUSD-2000 {
			t.Fatalf("answer %+v", done.Answer)
		}
	})
}

// TestCircuitBreaker: consecutive calls without answer open the network's
// circuit; then calls fail at once without a message or a record, other
// networks are unaffected, and after the cool-down one probe closes it.
func TestCircuitBreaker(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{client: gateway.ClientOptions{
			BreakerThreshold: 3, BreakerCoolDown: 30 * time.Second, ReversalBudget: 50 * time.Millisecond,
		}})
		ctx := context.Background()
		visa := e.bind(t, e.anna(t), "4242424242424242")
		mc := e.bind(t, e.anna(t), "5555555555554444")
		if err := e.engine.SetFault(cardnet.Fault{Network: "visa", ErrorRate: 1}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			_, err := e.client.Sale(ctx, visa.ID, fmt.Sprintf("load_%d", i), usd(100), nil)
			if !errors.Is(err, gateway.ErrUnavailable) || errors.Is(err, gateway.ErrCircuitOpen) {
				t.Fatalf("sale %d: %v", i, err)
			}
		}
		start := time.Now()
		_, err := e.client.Sale(ctx, visa.ID, "load_open", usd(100), nil)
		var de *gateway.DeclineError
		if !errors.Is(err, gateway.ErrCircuitOpen) || !errors.As(err, &de) || de.Code != gateway.DeclineIssuerUnavailable {
			t.Fatalf("open circuit: %v", err)
		}
		if time.Since(start) > 100*time.Millisecond || len(e.calls(t, "load_open")) != 0 {
			t.Fatal("an open circuit must fail fast, without a record")
		}
		if _, err := e.client.Sale(ctx, mc.ID, "load_mc", usd(100), nil); err != nil {
			t.Fatalf("mastercard with visa open: %v", err)
		}
		if n := e.count(t, "visa", "sale", "circuit_open"); n != 1 {
			t.Fatalf("circuit_open metric %v", n)
		}

		e.engine.ClearFaults("")
		e.clock.Add(31 * time.Second)
		if _, err := e.client.Sale(ctx, visa.ID, "load_probe", usd(100), nil); err != nil {
			t.Fatalf("probe: %v", err)
		}
		if _, err := e.client.Sale(ctx, visa.ID, "load_after", usd(100), nil); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
		// The three unanswered sales are reversed by Repair.
		e.clock.Add(3 * time.Minute)
		if n, err := e.client.Repair(ctx, e.clock.Now()); err != nil || n != 3 {
			t.Fatalf("repair: %d %v", n, err)
		}
		if got := e.available(t, "4242424242424242"); got != fullUSD-200 {
			t.Fatalf("open-to-buy %d, want %d", got, fullUSD-200)
		}
	})
}
