package gateway_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/internal/money"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
)

var now = time.Date(2026, time.November, 25, 10, 0, 0, 0, time.UTC)

type rig struct {
	engine *cardnet.Engine
	url    string
	conn   *gateway.HTTPConnector
}

// newRig starts cardnet on a real listener and a connector to it.
func newRig(t *testing.T, timeout time.Duration) *rig {
	t.Helper()
	e := cardnet.New(cardnet.Config{Now: func() time.Time { return now }, Seed: 7, MaxHang: 5 * time.Second})
	srv := httptest.NewServer(cardnet.NewHandler(e))
	t.Cleanup(srv.Close)
	c, err := gateway.NewHTTPConnector(srv.URL, timeout, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{engine: e, url: srv.URL, conn: c}
}

func mustPAN(t *testing.T, s string) gateway.PAN {
	t.Helper()
	p, err := gateway.ParsePAN(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func expiry(t *testing.T) gateway.Expiry {
	t.Helper()
	e, err := gateway.NewExpiry(12, 2030, now)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func cvc(p gateway.PAN) string {
	if p.Network() == gateway.Amex {
		return "1234"
	}
	return "123"
}

func authReq(t *testing.T, pan string, amount money.Amount) gateway.AuthRequest {
	p := mustPAN(t, pan)
	return gateway.AuthRequest{Trace: gateway.NewTrace(now), PAN: p, Expiry: expiry(t), CVC: cvc(p), Amount: amount}
}

func usd(minor int64) money.Amount { return money.New(minor, money.USD) }

// TestConnectorTestCards runs every row of the test-card table through the
// HTTP connector: verification, then an amount in the card's currency.
func TestConnectorTestCards(t *testing.T) {
	r := newRig(t, 300*time.Millisecond)
	ctx := context.Background()
	for _, c := range cardnet.TestCards() {
		t.Run(c.PAN, func(t *testing.T) {
			cur := money.MustCurrency(c.Currency)
			res, err := r.conn.Authorize(ctx, authReq(t, c.PAN, money.Amount{}))
			if err != nil {
				t.Fatalf("verification: %v", err)
			}
			if res.ResponseCode != c.Verification || res.Network != c.Network || res.IssuerCountry != c.IssuerCountry || res.Currency != cur {
				t.Fatalf("verification: %+v", res)
			}
			checkDecline(t, res)

			req := authReq(t, c.PAN, money.New(100, cur))
			res, err = r.conn.Authorize(ctx, req)
			if c.NoAnswer() {
				if !errors.Is(err, gateway.ErrTimeout) {
					t.Fatalf("no-answer card: %v", err)
				}
				if d, ok := gateway.DeclineForError(err); !ok || d.Code != gateway.DeclineIssuerUnavailable || !d.Retryable {
					t.Fatalf("timeout decline %+v", d)
				}
				rev, err := r.conn.Reverse(ctx, gateway.ReversalRequest{Trace: gateway.NewTrace(now), PAN: req.PAN,
					Amount: req.Amount, Original: gateway.Ref{MTI: gateway.MTIAuthorization, STAN: req.Trace.STAN, RRN: req.Trace.RRN}})
				if err != nil || !rev.Approved() {
					t.Fatalf("reversal after timeout: %+v %v", rev, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("amount: %v", err)
			}
			if res.ResponseCode != c.Purchase {
				t.Fatalf("amount: %s (%s), want %s", res.ResponseCode, res.Message, c.Purchase)
			}
			checkDecline(t, res)
			if res.Approved() {
				if want := cardnet.OpenToBuy(cur).Minor() - 100; res.Available == nil || res.Available.Minor() != want {
					t.Fatalf("available %v, want %d", res.Available, want)
				}
			}
		})
	}
}

// checkDecline checks a result against the decline table of docs/TESTING.md.
func checkDecline(t *testing.T, res gateway.Result) {
	t.Helper()
	want := map[string]string{
		"05": "card_declined", "51": "insufficient_funds", "41": "lost_card", "43": "stolen_card",
		"54": "expired_card", "N7": "incorrect_cvc", "96": "processing_error", "1A": "authentication_required",
	}
	err := res.Err()
	if res.Approved() {
		if err != nil {
			t.Fatalf("approved with error %v", err)
		}
		return
	}
	var de *gateway.DeclineError
	if !errors.As(err, &de) || !errors.Is(err, gateway.ErrDeclined) {
		t.Fatalf("decline error %v", err)
	}
	if de.Code != want[res.ResponseCode] {
		t.Fatalf("response %s: decline code %s, want %s", res.ResponseCode, de.Code, want[res.ResponseCode])
	}
}

func TestDeclineFor(t *testing.T) {
	tests := []struct {
		rc   string
		want gateway.Decline
	}{
		{"05", gateway.Decline{ResponseCode: "05", Code: "card_declined", Soft: true}},
		{"51", gateway.Decline{ResponseCode: "51", Code: "insufficient_funds", Soft: true}},
		{"41", gateway.Decline{ResponseCode: "41", Code: "lost_card"}},
		{"43", gateway.Decline{ResponseCode: "43", Code: "stolen_card"}},
		{"54", gateway.Decline{ResponseCode: "54", Code: "expired_card"}},
		{"N7", gateway.Decline{ResponseCode: "N7", Code: "incorrect_cvc", Soft: true}},
		{"96", gateway.Decline{ResponseCode: "96", Code: "processing_error", Soft: true, Retryable: true}},
		{"91", gateway.Decline{ResponseCode: "91", Code: "issuer_unavailable", Soft: true, Retryable: true}},
		{"14", gateway.Decline{ResponseCode: "14", Code: "incorrect_number"}},
		{"Z9", gateway.Decline{ResponseCode: "Z9", Code: "card_declined", Soft: true}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, gateway.DeclineFor(tt.rc)); diff != "" {
			t.Errorf("DeclineFor(%s) (-want +got):\n%s", tt.rc, diff)
		}
	}
	if _, ok := gateway.DeclineForError(errors.New("other")); ok {
		t.Error("DeclineForError of an unrelated error")
	}
	if d, ok := gateway.DeclineForError(gateway.ErrUnavailable); !ok || d != gateway.NoAnswerDecline() {
		t.Errorf("DeclineForError(ErrUnavailable) = %+v", d)
	}
}

func TestNewTrace(t *testing.T) {
	tr := gateway.NewTrace(now)
	if !regexp.MustCompile(`^\d{6}$`).MatchString(tr.STAN) || !regexp.MustCompile(`^632910\d{6}$`).MatchString(tr.RRN) {
		t.Fatalf("trace %+v", tr)
	}
	if gateway.NewTrace(now) == tr {
		t.Fatal("two equal traces")
	}
}

func TestConnectorChallenge(t *testing.T) {
	r := newRig(t, time.Second)
	ctx := context.Background()
	req := authReq(t, "4000000000003220", usd(50_00))
	res, err := r.conn.Authorize(ctx, req)
	if err != nil || !res.NeedsAuthentication() || res.ChallengeID == "" {
		t.Fatalf("%+v %v", res, err)
	}
	req.Authentication = &gateway.Authentication{ChallengeID: res.ChallengeID, OTP: "123456"}
	res, err = r.conn.Authorize(ctx, req) // same trace, now with the OTP
	if err != nil || !res.Approved() || res.AuthCode == "" {
		t.Fatalf("%+v %v", res, err)
	}
	// A wrong OTP on a new load.
	req = authReq(t, "4000000000003220", usd(50_00))
	res, _ = r.conn.Authorize(ctx, req)
	req.Authentication = &gateway.Authentication{ChallengeID: res.ChallengeID, OTP: "000000"}
	// The issuer keeps the challenge open for cardnet.ChallengeTries OTPs:
	// 1A again until the last wrong one, which is 63.
	for i := 1; i < cardnet.ChallengeTries; i++ {
		res, err = r.conn.Authorize(ctx, req)
		if err != nil || !res.NeedsAuthentication() || res.ChallengeID != req.Authentication.ChallengeID {
			t.Fatalf("wrong otp %d: %+v %v", i, res, err)
		}
	}
	res, err = r.conn.Authorize(ctx, req)
	if err != nil || res.Approved() {
		t.Fatalf("%+v %v", res, err)
	}
	if d, _ := gateway.DeclineForError(res.Err()); d.Code != gateway.DeclineAuthenticationFailed {
		t.Fatalf("decline %+v", d)
	}
}

func TestConnectorCaptureRefundReverse(t *testing.T) {
	r := newRig(t, time.Second)
	ctx := context.Background()
	pan := mustPAN(t, "4000002500000003")
	eur := func(minor int64) money.Amount { return money.New(minor, money.MustCurrency("EUR")) }
	limit := cardnet.OpenToBuy(money.MustCurrency("EUR")).Minor()

	auth := authReq(t, pan.Number(), eur(100_00))
	a, err := r.conn.Authorize(ctx, auth)
	if err != nil || !a.Approved() {
		t.Fatalf("auth %+v %v", a, err)
	}
	c, err := r.conn.Capture(ctx, gateway.CaptureRequest{Trace: gateway.NewTrace(now), PAN: pan, Amount: eur(80_00), Original: &a.Ref})
	if err != nil || !c.Approved() || c.Available.Minor() != limit-80_00 || c.Ref.MTI != gateway.MTICompletion {
		t.Fatalf("completion %+v %v", c, err)
	}
	p, err := r.conn.Capture(ctx, gateway.CaptureRequest{Trace: gateway.NewTrace(now), PAN: pan, Expiry: expiry(t), Amount: eur(20_00)})
	if err != nil || !p.Approved() || p.Ref.MTI != gateway.MTIFinancial {
		t.Fatalf("purchase %+v %v", p, err)
	}
	f, err := r.conn.Refund(ctx, gateway.RefundRequest{Trace: gateway.NewTrace(now), PAN: pan, Amount: eur(30_00), Original: &c.Ref})
	if err != nil || !f.Approved() || f.Available.Minor() != limit-70_00 {
		t.Fatalf("refund %+v %v", f, err)
	}
	v, err := r.conn.Reverse(ctx, gateway.ReversalRequest{Trace: gateway.NewTrace(now), PAN: pan, Original: p.Ref})
	if err != nil || !v.Approved() || v.Available.Minor() != limit-50_00 {
		t.Fatalf("reversal %+v %v", v, err)
	}
	// A repeat is replayed and changes nothing.
	again, err := r.conn.Refund(ctx, gateway.RefundRequest{Trace: gateway.Trace{STAN: f.Ref.STAN, RRN: f.Ref.RRN},
		PAN: pan, Amount: eur(30_00), Original: &c.Ref})
	if err != nil || !again.Replayed || again.AuthCode != f.AuthCode {
		t.Fatalf("repeat %+v %v", again, err)
	}
	rep := r.engine.Settlement(now)
	if len(rep.Groups) != 1 || rep.Groups[0].Net != "5000" { // 80 + 20 captured, 30 refunded, 20 reversed
		t.Fatalf("settlement %+v", rep)
	}
	// A wrong currency is refused by the issuer.
	w, err := r.conn.Authorize(ctx, authReq(t, pan.Number(), usd(1_00)))
	if err != nil || w.ResponseCode != gateway.RCInvalidAmount {
		t.Fatalf("wrong currency %+v %v", w, err)
	}
}

func TestConnectorFaults(t *testing.T) {
	r := newRig(t, 200*time.Millisecond)
	ctx := context.Background()
	limit := cardnet.OpenToBuy(money.USD).Minor()

	t.Run("5xx", func(t *testing.T) {
		if err := r.engine.SetFault(cardnet.Fault{Network: "visa", ErrorRate: 1}); err != nil {
			t.Fatal(err)
		}
		defer r.engine.ClearFaults("")
		_, err := r.conn.Authorize(ctx, authReq(t, "4242424242424242", usd(1_00)))
		if !errors.Is(err, gateway.ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
		if err := r.conn.Echo(ctx, gateway.Visa); !errors.Is(err, gateway.ErrUnavailable) {
			t.Fatalf("echo visa: %v", err)
		}
		if err := r.conn.Echo(ctx, gateway.JCB); err != nil {
			t.Fatalf("echo jcb: %v", err)
		}
	})

	t.Run("timeout then reversal", func(t *testing.T) {
		if err := r.engine.SetFault(cardnet.Fault{Network: "mastercard", TimeoutRate: 1}); err != nil {
			t.Fatal(err)
		}
		req := authReq(t, "2223003122003222", usd(700_00))
		start := time.Now()
		_, err := r.conn.Authorize(ctx, req)
		if !errors.Is(err, gateway.ErrTimeout) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
			t.Fatalf("timeout after %v", d)
		}
		// The reversal is retried while the network stays silent.
		go func() {
			time.Sleep(500 * time.Millisecond)
			r.engine.ClearFaults("mastercard")
		}()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		rev, err := gateway.ReverseUntilAcknowledged(rctx, r.conn, gateway.ReversalRequest{Trace: gateway.NewTrace(now),
			PAN: req.PAN, Amount: req.Amount, Original: gateway.Ref{MTI: gateway.MTIAuthorization, STAN: req.Trace.STAN, RRN: req.Trace.RRN}}, 50*time.Millisecond)
		if err != nil || !rev.Approved() || rev.Message != "reversed" {
			t.Fatalf("reversal %+v %v", rev, err)
		}
		// The hold the lost answer hid is released.
		if rev.Available == nil || rev.Available.Minor() != limit {
			t.Fatalf("available after reversal %v", rev.Available)
		}
	})

	t.Run("latency", func(t *testing.T) {
		if err := r.engine.SetFault(cardnet.Fault{Network: "amex", LatencyMS: 300}); err != nil {
			t.Fatal(err)
		}
		defer r.engine.ClearFaults("")
		if _, err := r.conn.Authorize(ctx, authReq(t, "378282246310005", money.Amount{})); !errors.Is(err, gateway.ErrTimeout) {
			t.Fatalf("short timeout: %v", err)
		}
		slow, err := gateway.NewHTTPConnector(r.url, 3*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res, err := slow.Authorize(ctx, authReq(t, "378282246310005", money.Amount{}))
		if err != nil || !res.Approved() || time.Since(start) < 300*time.Millisecond {
			t.Fatalf("long timeout: %+v %v after %v", res, err, time.Since(start))
		}
	})

	t.Run("rejected", func(t *testing.T) {
		req := authReq(t, "4242424242424242", usd(1_00))
		req.Trace.STAN = "12"
		if _, err := r.conn.Authorize(ctx, req); !errors.Is(err, gateway.ErrRejected) {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		c, err := gateway.NewHTTPConnector("http://127.0.0.1:1", time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Echo(ctx, gateway.Visa); !errors.Is(err, gateway.ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestReverseUntilAcknowledgedGivesUpWithContext(t *testing.T) {
	r := newRig(t, 50*time.Millisecond)
	if err := r.engine.SetFault(cardnet.Fault{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	p := mustPAN(t, "4242424242424242")
	_, err := gateway.ReverseUntilAcknowledged(ctx, r.conn, gateway.ReversalRequest{Trace: gateway.NewTrace(now), PAN: p,
		Original: gateway.Ref{MTI: gateway.MTIAuthorization, STAN: "000001", RRN: "000000000001"}}, 10*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, gateway.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
}

func TestNewHTTPConnectorURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8090", "ftp://x", "http://"} {
		if _, err := gateway.NewHTTPConnector(u, 0, nil); err == nil {
			t.Errorf("accepted %q", u)
		}
	}
}
