package gateway_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// TestInquireUnrecordedSale: a sale the network approved but whose answer
// was never recorded (the row is still intent) is asked again under its
// STAN and RRN: unanswered within InquiryWindow, it stays intent; answered,
// the network replays its approval (no second charge) and the call is
// recorded approved. A sale that never reached the network and cannot be
// asked past the window is reversed, and a late original does not charge.
func TestInquireUnrecordedSale(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{timeout: 150 * time.Millisecond,
			client: gateway.ClientOptions{ReversalBudget: 400 * time.Millisecond, InquiryWindow: 30 * time.Second}})
		ctx := context.Background()
		const pan = "4242424242424242"
		card := e.bind(t, e.anna(t), pan)

		sent := gateway.CaptureRequest{Trace: gateway.NewTrace(now), PAN: mustPAN(t, pan), Expiry: expiry(t), Amount: usd(5000)}
		if res, err := e.conn.Capture(ctx, sent); err != nil || !res.Approved() {
			t.Fatalf("sale: %+v %v", res, err)
		}
		insertIntent := func(ref string, tr gateway.Trace) string {
			id := ids.New(ids.NetworkCall)
			exec(t, b.DB, `INSERT INTO network_calls (id, kind, network, mti, stan, rrn, amount_minor, currency, card_id,
				reference, state, attempts, created_at, updated_at) VALUES (?, 'sale', 'visa', '0200', ?, ?, 5000, 'USD', ?,
				?, 'intent', 1, ?, ?)`, id, tr.STAN, tr.RRN, card.ID, ref, e.clock.Now(), e.clock.Now())
			return id
		}
		id := insertIntent("load_a", sent.Trace)

		if err := e.engine.SetFault(cardnet.Fault{Network: "visa", TimeoutRate: 1}); err != nil {
			t.Fatal(err)
		}
		c, err := e.client.Inquire(ctx, id, nil)
		if !errors.Is(err, gateway.ErrInquiryUnanswered) || c.State != gateway.StateIntent {
			t.Fatalf("unanswered inquiry: %s %v", c.State, err)
		}
		e.engine.ClearFaults("")
		c, err = e.client.Inquire(ctx, id, nil)
		if err != nil || c.State != gateway.StateApproved || c.AuthCode == "" {
			t.Fatalf("inquiry: %+v %v", c, err)
		}
		if got := e.available(t, pan); got != fullUSD-5000 {
			t.Fatalf("open-to-buy %d, want one charge (%d)", got, fullUSD-5000)
		}
		// Nothing more to ask.
		if c, err := e.client.Inquire(ctx, id, nil); err != nil || c.State != gateway.StateApproved {
			t.Fatalf("second inquiry: %s %v", c.State, err)
		}

		neverSent := gateway.NewTrace(now)
		id = insertIntent("load_b", neverSent)
		e.clock.Add(time.Minute)
		if err := e.engine.SetFault(cardnet.Fault{Network: "visa", TimeoutRate: 1}); err != nil {
			t.Fatal(err)
		}
		c, err = e.client.Inquire(ctx, id, nil)
		if errors.Is(err, gateway.ErrInquiryUnanswered) || c.State == gateway.StateIntent || c.State == gateway.StateApproved {
			t.Fatalf("inquiry past the window: %s %v", c.State, err)
		}
		e.engine.ClearFaults("")
		if n, err := e.client.Repair(ctx, e.clock.Now().Add(3*time.Minute)); err != nil || n > 1 {
			t.Fatalf("repair: %d %v", n, err)
		}
		if cs := e.calls(t, "load_b"); cs[0].State != gateway.StateReversed {
			t.Fatalf("calls %+v", cs)
		}
		if got := e.available(t, pan); got != fullUSD-5000 {
			t.Fatalf("open-to-buy %d after the reversal, want %d", got, fullUSD-5000)
		}
	})
}
