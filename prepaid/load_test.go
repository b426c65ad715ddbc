package prepaid_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/prepaid"
)

func cny(s string) money.Amount { return must(money.Parse(s, "CNY")) }
func usd(s string) money.Amount { return must(money.Parse(s, "USD")) }

func must(a money.Amount, err error) money.Amount {
	if err != nil {
		panic(err)
	}
	return a
}

func declineCode(err error) string {
	var de *gateway.DeclineError
	if errors.As(err, &de) {
		return de.Code
	}
	return ""
}

// TestLoadOutcomes runs a CNY 1000 load on each kind of card of docs/TESTING.md's
// table and checks the answer, the balance, the events, the network
// settlement against the ledger and the ledger's invariants.
func TestLoadOutcomes(t *testing.T) {
	tests := []struct {
		name        string
		pan         string
		wantStatus  prepaid.LoadStatus
		wantDecline string
		wantBalance money.Amount
		wantEvents  []string
	}{
		{"approved", "4242424242424242", prepaid.LoadSucceeded, "", cny("970.00"), []string{prepaid.EventLoadSucceeded}},
		{"mastercard approved", "5555555555554444", prepaid.LoadSucceeded, "", cny("970.00"), []string{prepaid.EventLoadSucceeded}},
		{"insufficient funds 51", "4000000000009995", prepaid.LoadFailed, gateway.DeclineInsufficientFunds, cny("0.00"), []string{prepaid.EventLoadFailed}},
		{"mastercard 51", "5105105105105100", prepaid.LoadFailed, gateway.DeclineInsufficientFunds, cny("0.00"), []string{prepaid.EventLoadFailed}},
		{"processing error 96", "4000000000000119", prepaid.LoadFailed, gateway.DeclineProcessingError, cny("0.00"), []string{prepaid.EventLoadFailed}},
		{"no answer: reversed", "4000000000000259", prepaid.LoadFailed, gateway.DeclineIssuerUnavailable, cny("0.00"), []string{prepaid.EventLoadFailed}},
		{"issuer authentication", "4000000000003220", prepaid.LoadRequiresAction, "", cny("0.00"), nil},
	}
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				v := e.visitor(t)
				c := e.card(t, v, tt.pan)
				q := e.quote(t, v, c, "1000.00", "CNY")
				l, err := e.svc.Load(context.Background(), prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID()})
				if tt.wantDecline != "" {
					if !errors.Is(err, gateway.ErrDeclined) || declineCode(err) != tt.wantDecline {
						t.Fatalf("err = %v, want decline %s", err, tt.wantDecline)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				if l.Status != tt.wantStatus || l.DeclineCode != tt.wantDecline {
					t.Errorf("load %s/%s, want %s/%s", l.Status, l.DeclineCode, tt.wantStatus, tt.wantDecline)
				}
				if got := e.balance(t, v); got != tt.wantBalance {
					t.Errorf("balance %s, want %s", got, tt.wantBalance)
				}
				if diff := cmp.Diff(tt.wantEvents, e.events.types(l.ID)); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				if tt.wantStatus == prepaid.LoadSucceeded {
					want := prepaid.Load{ID: l.ID, Object: "load", VisitorID: v.ID, CardID: c.ID, Status: prepaid.LoadSucceeded,
						Charged: usd("141.83"), Credited: cny("970.00"), Fee: cny("30.00"), QuoteID: q.ID(), Network: l.Network, CreatedAt: l.CreatedAt}
					if diff := cmp.Diff(want, l, cmp.Comparer(func(a, b money.Amount) bool { return a == b })); diff != "" {
						t.Errorf("load (-want +got):\n%s", diff)
					}
					if l.Network.ResponseCode != "00" || l.Network.AuthCode == "" || len(l.Network.STAN) != 6 || len(l.Network.RRN) != 12 {
						t.Errorf("network %+v", l.Network)
					}
				}
				e.check(t)
			})
		}
	})
}

// TestAuthenticate finishes requires_action loads: three wrong OTPs fail
// the load, the right one credits it, and a repeat returns it.
func TestAuthenticate(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		c := e.card(t, v, "4000000000003220")

		l, err := e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: e.quote(t, v, c, "500.00", "CNY").ID()})
		if err != nil || l.Status != prepaid.LoadRequiresAction || l.NextAction == nil || l.NextAction.Type != "otp" {
			t.Fatalf("load: %+v %v", l, err)
		}
		for _, left := range []int{2, 1, 0} {
			var ae *gateway.AuthenticationError
			_, err := e.svc.Authenticate(ctx, e.partner, l.ID, "000000")
			if declineCode(err) != gateway.DeclineAuthenticationFailed || !errors.As(err, &ae) || ae.Remaining != left {
				t.Fatalf("wrong otp with %d left: %v", left, err)
			}
		}
		if _, err := e.svc.Authenticate(ctx, e.partner, l.ID, "123456"); !errors.Is(err, prepaid.ErrNoActionRequired) {
			t.Fatalf("authenticate a failed load: %v", err)
		}

		l, err = e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: e.quote(t, v, c, "500.00", "CNY").ID()})
		if err != nil || l.Status != prepaid.LoadRequiresAction {
			t.Fatalf("second load: %+v %v", l, err)
		}
		if _, err := e.svc.Authenticate(ctx, "ptn_other", l.ID, "123456"); !errors.Is(err, prepaid.ErrLoadNotFound) {
			t.Fatalf("other partner: %v", err)
		}
		got, err := e.svc.Authenticate(ctx, e.partner, l.ID, "123456")
		if err != nil || got.Status != prepaid.LoadSucceeded || got.Credited != cny("485.00") {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		again, err := e.svc.Authenticate(ctx, e.partner, l.ID, "123456")
		if err != nil || again.Status != prepaid.LoadSucceeded {
			t.Fatalf("repeat: %+v %v", again, err)
		}
		if bal := e.balance(t, v); bal != cny("485.00") {
			t.Fatalf("balance %s", bal)
		}
		if diff := cmp.Diff([]string{prepaid.EventLoadSucceeded}, e.events.types(l.ID)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		e.check(t)
	})
}

// TestLoadRefusals covers the refusals before any network message: quote
// used, expired or for another card (409 / 400), frozen and expired
// accounts (403), someone else's card.
func TestLoadRefusals(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		c := e.card(t, v, "4242424242424242")
		other := e.card(t, v, "5555555555554444")

		q := e.quote(t, v, c, "300.00", "CNY")
		if _, err := e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID()}); err != nil {
			t.Fatal(err)
		}
		stranger := e.visitor(t)
		strangerCard := e.card(t, stranger, "6011111111111117")

		tests := []struct {
			name    string
			prepare func() (cardID, quoteID string)
			want    error
		}{
			{"used quote", func() (string, string) { return c.ID, q.ID() }, fx.ErrQuoteExpired},
			{"expired quote", func() (string, string) {
				q := e.quote(t, v, c, "300.00", "CNY")
				e.clock.Add(61 * time.Second)
				return c.ID, q.ID()
			}, fx.ErrQuoteExpired},
			{"quote of another card", func() (string, string) { return other.ID, e.quote(t, v, c, "300.00", "CNY").ID() }, prepaid.ErrQuoteMismatch},
			{"unknown quote", func() (string, string) { return c.ID, "quo_nope" }, fx.ErrQuoteNotFound},
			{"another visitor's card", func() (string, string) { return strangerCard.ID, e.quote(t, v, c, "300.00", "CNY").ID() }, gateway.ErrCardNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cardID, quoteID := tt.prepare()
				if _, err := e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: cardID, QuoteID: quoteID}); !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
			})
		}

		q = e.quote(t, v, c, "300.00", "CNY")
		if _, err := e.store.SetFrozen(ctx, v.ID, true, e.events); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID()}); !errors.Is(err, prepaid.ErrFrozen) {
			t.Fatalf("frozen: %v", err)
		}
		if _, err := e.store.SetFrozen(ctx, v.ID, false, e.events); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID()}); err != nil {
			t.Fatalf("unfrozen: the refused quote must still be usable: %v", err)
		}
		e.clock.Add(91 * 24 * time.Hour)
		q = e.quote(t, v, c, "300.00", "CNY")
		if _, err := e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID()}); !errors.Is(err, prepaid.ErrExpired) {
			t.Fatalf("expired: %v", err)
		}
		if bal := e.balance(t, v); bal != cny("582.00") {
			t.Fatalf("balance %s, want two loads of 291.00", bal)
		}
		_ = strangerCard
		e.check(t)
	})
}

// TestLimitEdges loads exactly at each limit (passes) and one minor unit
// past it (422 with the limit and its room).
func TestLimitEdges(t *testing.T) {
	limits := prepaid.DefaultLimits()
	verified := limits[prepaid.Verified]
	verified.Annual = usd("200.00") // small, so the annual edge needs no USD 50,000 of loads
	limits[prepaid.Verified] = verified

	type step struct {
		value, cur string
		wantLimit  string
		wantRoom   money.Amount
	}
	tests := []struct {
		name    string
		profile prepaid.Profile
		steps   []step
	}{
		{"basic min load", prepaid.Basic, []step{
			{"99.99", "CNY", prepaid.LimitMinLoad, cny("100.00")},
			{"100.00", "CNY", "", money.Amount{}},
		}},
		// 2061.86 less its 3 % fee (61.86) credits exactly the 2,000 cap.
		{"basic balance cap", prepaid.Basic, []step{
			{"2061.87", "CNY", prepaid.LimitBalanceCap, cny("2000.00")},
			{"2061.86", "CNY", "", money.Amount{}},
			{"100.00", "CNY", prepaid.LimitBalanceCap, cny("0.00")},
		}},
		{"verified per load", prepaid.Verified, []step{
			{"5000.01", "USD", prepaid.LimitPerLoad, usd("5000.00")},
			// Passes the per-load limit, then meets the CNY 5,000 cap.
			{"5000.00", "USD", prepaid.LimitBalanceCap, cny("5000.00")},
		}},
		{"verified annual", prepaid.Verified, []step{
			{"150.00", "USD", "", money.Amount{}},
			{"50.01", "USD", prepaid.LimitAnnual, usd("50.00")},
			{"50.00", "USD", "", money.Amount{}},
			{"0.01", "USD", prepaid.LimitAnnual, usd("0.00")},
		}},
		{"verified has no minimum", prepaid.Verified, []step{{"10.00", "CNY", "", money.Amount{}}}},
	}
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{limits: limits})
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				v := e.visitor(t)
				if err := e.store.SetProfile(ctx, v.ID, tt.profile); err != nil {
					t.Fatal(err)
				}
				c := e.card(t, v, freshPAN())
				for _, s := range tt.steps {
					q := e.quote(t, v, c, s.value, s.cur)
					_, err := e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID()})
					var le *prepaid.LimitError
					switch {
					case s.wantLimit == "" && err != nil:
						t.Fatalf("%s %s: %v", s.value, s.cur, err)
					case s.wantLimit == "":
					case !errors.As(err, &le) || !errors.Is(err, prepaid.ErrLimitExceeded):
						t.Fatalf("%s %s: err = %v, want %s", s.value, s.cur, err, s.wantLimit)
					case le.Limit != s.wantLimit || le.Room != s.wantRoom:
						t.Fatalf("%s %s: %s room %s, want %s room %s", s.value, s.cur, le.Limit, le.Room, s.wantLimit, s.wantRoom)
					}
				}
			})
		}
		e.check(t)
	})
}

// TestConcurrentLoadsKeepTheCap fires eight loads of CNY 500 (485.00
// credited each) at one basic account at once: the CNY 2,000 cap admits
// four, whatever the interleaving.
func TestConcurrentLoadsKeepTheCap(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		c := e.card(t, v, "4242424242424242")
		const n = 8
		quotes := make([]fx.Quote, n)
		for i := range quotes {
			quotes[i] = e.quote(t, v, c, "500.00", "CNY")
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: quotes[i].ID()})
			})
		}
		wg.Wait()
		ok, limited := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, prepaid.ErrLimitExceeded):
				limited++
			default:
				t.Errorf("load: %v", err)
			}
		}
		if ok != 4 || limited != 4 {
			t.Errorf("%d succeeded, %d limited; want 4 and 4", ok, limited)
		}
		if bal := e.balance(t, v); bal != cny("1940.00") {
			t.Errorf("balance %s, want 1940.00", bal)
		}
		e.check(t)
	})
}

// crashingNetwork simulates a process killed at a chosen point of a load.
type crashingNetwork struct {
	prepaid.Network
	mode string
}

// errKilled stands for the process dying: the test recovers the panic.
var errKilled = errors.New("killed")

func (n crashingNetwork) Sale(ctx context.Context, cardID, ref string, amount money.Amount, apply gateway.Apply) (gateway.Call, error) {
	switch n.mode {
	case "before_send":
		// Died after the write-ahead load row, before the network call.
		panic(errKilled)
	case "after_capture":
		// The capture and its call record committed; the process died
		// before the ledger was written.
		_, err := n.Network.Sale(ctx, cardID, ref, amount, func(*db.Tx, gateway.Call) error { return nil })
		if err != nil {
			return gateway.Call{}, err
		}
		panic(errKilled)
	case "apply_fails":
		// The credit's commit failed: the gateway reverses the capture.
		return n.Network.Sale(ctx, cardID, ref, amount, func(*db.Tx, gateway.Call) error { return errors.New("disk full") })
	case "after_answer":
		// The network approved; the process died inside the transaction
		// that records the answer, so it rolled back: the call is still in
		// intent and only the network knows it was captured.
		_, _ = n.Network.Sale(ctx, cardID, ref, amount, func(*db.Tx, gateway.Call) error { panic(errKilled) })
		panic(errKilled)
	case "db_fails_at_commit":
		// The network approved; the database dropped the connection as
		// the answer was being recorded, and is back a moment later.
		return n.Network.Sale(ctx, cardID, ref, amount, func(tx *db.Tx, c gateway.Call) error {
			if c.State == gateway.StateApproved && c.Answer != nil {
				return fmt.Errorf("%w: connection reset by peer", db.ErrUnavailable)
			}
			return apply(tx, c)
		})
	}
	return n.Network.Sale(ctx, cardID, ref, amount, apply)
}

// TestCrashRecovery kills a load at each point and restarts: after
// Recover, every capture has exactly one credit and the other way round,
// checked against the simulator's settlement report.
func TestCrashRecovery(t *testing.T) {
	tests := []struct {
		mode        string
		wantStatus  prepaid.LoadStatus
		wantBalance money.Amount
		// wantInline: the load is settled by the request itself (no crash).
		wantInline bool
	}{
		{"before_send", prepaid.LoadFailed, cny("0.00"), false},
		{"after_capture", prepaid.LoadSucceeded, cny("970.00"), false},
		{"apply_fails", prepaid.LoadFailed, cny("0.00"), true},
		// Approved but unrecorded: Recover asks the network again and
		// credits the capture instead of reversing it.
		{"after_answer", prepaid.LoadSucceeded, cny("970.00"), false},
		// The database failed while recording an approval: the request
		// asks the network again itself and credits the load.
		{"db_fails_at_commit", prepaid.LoadSucceeded, cny("970.00"), true},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			// A database per case: the check compares the whole ledger
			// with this simulator's report.
			testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
				e := newEnv(t, b, envOptions{network: func(n prepaid.Network) prepaid.Network {
					return crashingNetwork{Network: n, mode: tt.mode}
				}})
				ctx := context.Background()
				v := e.visitor(t)
				c := e.card(t, v, freshPAN())
				q := e.quote(t, v, c, "1000.00", "CNY")

				var l prepaid.Load
				var err error
				crashed := func() (crashed bool) {
					defer func() {
						if r := recover(); r != nil {
							if r != errKilled {
								panic(r)
							}
							crashed = true
						}
					}()
					l, err = e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID()})
					return false
				}()
				if crashed == tt.wantInline {
					t.Fatalf("crashed = %v (load %+v, err %v)", crashed, l, err)
				}
				if tt.wantInline {
					if l.Status != tt.wantStatus {
						t.Fatalf("inline: %+v %v", l, err)
					}
				} else {
					// Restart: a new service on the same database, after the
					// grace period.
					e.clock.Add(10 * time.Minute)
					restarted := e.deps
					restarted.Network = e.client
					svc := e.service(t, restarted)
					n, err := svc.Recover(ctx, e.clock.Now())
					if err != nil || n != 1 {
						t.Fatalf("recover: %d %v", n, err)
					}
					if n, err := svc.Recover(ctx, e.clock.Now().Add(time.Hour)); err != nil || n != 0 {
						t.Fatalf("second recover: %d %v", n, err)
					}
				}
				loads := e.loadsOf(t, v)
				if len(loads) != 1 || loads[0].Status != tt.wantStatus {
					t.Fatalf("loads %+v, want one %s", loads, tt.wantStatus)
				}
				if bal := e.balance(t, v); bal != tt.wantBalance {
					t.Errorf("balance %s, want %s", bal, tt.wantBalance)
				}
				e.check(t)
			})
		})
	}
}

// loadsOf reads the visitor's loads (there is no list route yet).
func (e *env) loadsOf(t testing.TB, v gateway.VisitorRef) []prepaid.Load {
	t.Helper()
	var idList []string
	if err := e.b.DB.Gorm.Raw("SELECT id FROM prepaid_loads WHERE visitor_id = ? ORDER BY id", v.ID).Scan(&idList).Error; err != nil {
		t.Fatal(err)
	}
	out := make([]prepaid.Load, len(idList))
	for i, id := range idList {
		l, err := e.svc.GetLoad(context.Background(), e.partner, id)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = l
	}
	return out
}

// TestInterruptedLoadSettledByRetry: a load whose request died after the
// capture (or before anything was sent) is settled by the retry under the
// same Idempotency-Key at once, not 503 outcome_pending until Recover's
// grace has passed: credited exactly once if the network captured, failed
// otherwise. A Recover running at the same moment settles nothing twice.
func TestInterruptedLoadSettledByRetry(t *testing.T) {
	tests := []struct {
		mode        string
		wantStatus  prepaid.LoadStatus
		wantBalance money.Amount
	}{
		{"before_send", prepaid.LoadFailed, cny("0.00")},
		{"after_capture", prepaid.LoadSucceeded, cny("970.00")},
		// The network approved, the process died before the answer was
		// recorded: the retry asks the network, which replays its
		// approval, and credits the load (not 402 issuer_unavailable).
		{"after_answer", prepaid.LoadSucceeded, cny("970.00")},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
				e := newEnv(t, b, envOptions{network: func(n prepaid.Network) prepaid.Network {
					return crashingNetwork{Network: n, mode: tt.mode}
				}})
				ctx := context.Background()
				key := idempotency.ScopedKey(e.partner, "load-"+tt.mode)
				v := e.visitor(t)
				c := e.card(t, v, freshPAN())
				q := e.quote(t, v, c, "1000.00", "CNY")
				func() {
					defer func() {
						if r := recover(); r != errKilled {
							t.Fatalf("no crash: %v", r)
						}
					}()
					_, _ = e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID(), RequestKey: key})
				}()

				// The process restarts; seconds later the client retries.
				e.clock.Add(2 * time.Second)
				restarted := e.deps
				restarted.Network = e.client
				svc := e.service(t, restarted)
				var (
					l       prepaid.Load
					err     error
					wg      sync.WaitGroup
					settled int
				)
				wg.Go(func() {
					l, err = svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID(), RequestKey: key})
				})
				wg.Go(func() {
					n, rerr := svc.Recover(context.Background(), e.clock.Now().Add(time.Hour))
					if rerr != nil {
						t.Error(rerr)
					}
					settled = n
				})
				wg.Wait()
				if l.Status != tt.wantStatus {
					t.Fatalf("retry: %+v %v", l, err)
				}
				var de *gateway.DeclineError
				if tt.wantStatus == prepaid.LoadFailed && !errors.As(err, &de) {
					t.Fatalf("retry of a failed load: %v", err)
				}
				if tt.wantStatus == prepaid.LoadSucceeded && err != nil {
					t.Fatalf("retry of a captured load: %v", err)
				}
				if settled > 1 {
					t.Fatalf("recover settled %d", settled)
				}
				wantEvent, otherEvent := prepaid.EventLoadFailed, prepaid.EventLoadSucceeded
				if tt.wantStatus == prepaid.LoadSucceeded {
					wantEvent, otherEvent = otherEvent, wantEvent
				}
				if got := e.events.types(l.ID); !slices.Contains(got, wantEvent) || slices.Contains(got, otherEvent) {
					t.Fatalf("events of %s: %v, want %s", l.ID, got, wantEvent)
				}
				// A second retry answers the same.
				if l2, _ := svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID(), RequestKey: key}); l2.ID != l.ID || l2.Status != l.Status {
					t.Fatalf("second retry %+v", l2)
				}
				loads := e.loadsOf(t, v)
				if len(loads) != 1 || loads[0].Status != tt.wantStatus {
					t.Fatalf("loads %+v", loads)
				}
				if bal := e.balance(t, v); bal != tt.wantBalance {
					t.Errorf("balance %s, want %s", bal, tt.wantBalance)
				}
				e.check(t)
			})
		})
	}
}
