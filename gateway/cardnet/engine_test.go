package cardnet_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/internal/money"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/gateway/cardspec"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var testDay = time.Date(2026, time.November, 25, 10, 0, 0, 0, time.UTC)

type sim struct {
	t     *testing.T
	e     *cardnet.Engine
	clock *clock
	seq   atomic.Int64
}

func newSim(t *testing.T) *sim {
	t.Helper()
	c := &clock{now: testDay}
	return &sim{t: t, clock: c, e: cardnet.New(cardnet.Config{Now: c.Now, Seed: 1, MaxHang: 2 * time.Second})}
}

// trace returns a fresh STAN and RRN.
func (s *sim) trace() (string, string) {
	n := s.seq.Add(1)
	return fmt.Sprintf("%06d", n), fmt.Sprintf("633410%06d", n)
}

func cvcFor(pan string) string {
	if p, err := cardspec.ParsePAN(pan); err == nil && p.Network() == cardspec.Amex {
		return "1234"
	}
	return "123"
}

func (s *sim) auth(pan string, amount int64, currency string) cardnet.Message {
	stan, rrn := s.trace()
	return cardnet.Message{MTI: "0100", PAN: pan, Expiry: "3012", CVC: cvcFor(pan),
		Amount: strconv.FormatInt(amount, 10), Currency: currency, STAN: stan, RRN: rrn}
}

func (s *sim) purchase(pan string, amount int64, currency string) cardnet.Message {
	m := s.auth(pan, amount, currency)
	m.MTI, m.ProcessingCode = "0200", "00"
	return m
}

func (s *sim) refund(pan string, amount int64, currency string, orig *cardnet.Original) cardnet.Message {
	stan, rrn := s.trace()
	return cardnet.Message{MTI: "0200", ProcessingCode: "20", PAN: pan, Amount: strconv.FormatInt(amount, 10),
		Currency: currency, STAN: stan, RRN: rrn, Original: orig}
}

func (s *sim) reversal(of cardnet.Message) cardnet.Message {
	stan, rrn := s.trace()
	return cardnet.Message{MTI: "0400", PAN: of.PAN, STAN: stan, RRN: rrn,
		Original: &cardnet.Original{MTI: of.MTI, STAN: of.STAN, RRN: of.RRN}}
}

func (s *sim) completion(of cardnet.Message, authCode string, amount int64) cardnet.Message {
	stan, rrn := s.trace()
	return cardnet.Message{MTI: "0220", PAN: of.PAN, Amount: strconv.FormatInt(amount, 10), Currency: of.Currency,
		STAN: stan, RRN: rrn, Original: &cardnet.Original{MTI: of.MTI, STAN: of.STAN, RRN: of.RRN, AuthCode: authCode}}
}

func (s *sim) send(m cardnet.Message) cardnet.Response {
	s.t.Helper()
	r, err := s.e.Process(context.Background(), m)
	if err != nil {
		s.t.Fatalf("Process(%s %s): %v", m.MTI, m.STAN, err)
	}
	return r
}

func (s *sim) expect(m cardnet.Message, code string) cardnet.Response {
	s.t.Helper()
	r := s.send(m)
	if r.ResponseCode != code {
		s.t.Fatalf("%s %s of %s: response %s (%s), want %s", m.MTI, m.Amount, cardspec.MaskPAN(m.PAN), r.ResponseCode, r.Message, code)
	}
	return r
}

// available asks the issuer for the open-to-buy with an approved
// verification-sized probe: an auth of 1 minor unit that is reversed.
func (s *sim) available(pan, currency string) int64 {
	s.t.Helper()
	m := s.auth(pan, 1, currency)
	r := s.expect(m, "00")
	s.expect(s.reversal(m), "00")
	v, err := strconv.ParseInt(r.Available, 10, 64)
	if err != nil {
		s.t.Fatalf("available %q: %v", r.Available, err)
	}
	return v + 1
}

func limit(currency string) int64 {
	return cardnet.OpenToBuy(money.MustCurrency(currency)).Minor()
}

func TestTestCardsVerification(t *testing.T) {
	s := newSim(t)
	for _, c := range cardnet.TestCards() {
		t.Run(c.PAN, func(t *testing.T) {
			s.t = t
			r := s.expect(s.auth(c.PAN, 0, ""), c.Verification)
			want := cardnet.Response{Network: c.Network.String(), IssuerCountry: c.IssuerCountry, BillingCurrency: c.Currency}
			got := cardnet.Response{Network: r.Network, IssuerCountry: r.IssuerCountry, BillingCurrency: r.BillingCurrency}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("card details (-want +got):\n%s", diff)
			}
			if (r.AuthCode != "") != (c.Verification == "00") {
				t.Errorf("auth code %q with response %s", r.AuthCode, r.ResponseCode)
			}
			if c.Challenge() && r.ChallengeID == "" {
				t.Error("challenge without challenge_id")
			}
		})
	}
}

func TestTestCardsAmount(t *testing.T) {
	for _, mti := range []string{"0100", "0200"} {
		t.Run(mti, func(t *testing.T) {
			s := newSim(t)
			for _, c := range cardnet.TestCards() {
				t.Run(c.PAN, func(t *testing.T) {
					s.t = t
					m := s.auth(c.PAN, 5000, c.Currency)
					if mti == "0200" {
						m = s.purchase(c.PAN, 5000, c.Currency)
					}
					if c.NoAnswer() {
						if _, err := s.e.Process(context.Background(), m); !errors.Is(err, cardnet.ErrNoAnswer) {
							t.Fatalf("no-answer card: %v", err)
						}
						return
					}
					r := s.expect(m, c.Purchase)
					if c.Purchase == "00" {
						want := strconv.FormatInt(limit(c.Currency)-5000, 10)
						if r.Available != want {
							t.Errorf("available = %s, want %s", r.Available, want)
						}
					}
				})
			}
		})
	}
}

func TestUnknownCardsApproveInUSDOrJPY(t *testing.T) {
	s := newSim(t)
	tests := []struct{ pan, network, currency, country string }{
		{"4111111111111111", "visa", "USD", "US"},
		{"5454545454545454", "mastercard", "USD", "US"},
		{"340000000000009", "amex", "USD", "US"},
		{"6221260000000000" + "", "discover", "USD", "US"},
		{"3528000700000000", "jcb", "JPY", "JP"},
	}
	for _, tt := range tests {
		pan := tt.pan[:len(tt.pan)-1]
		pan += string(cardspec.LuhnCheckDigit(pan))
		r := s.expect(s.auth(pan, 100, tt.currency), "00")
		if r.Network != tt.network || r.BillingCurrency != tt.currency || r.IssuerCountry != tt.country {
			t.Errorf("%s: %s %s %s", tt.network, r.Network, r.BillingCurrency, r.IssuerCountry)
		}
	}
	s.expect(s.auth("4242424242424241", 0, ""), "14")
	s.expect(s.auth("6250941006528599", 0, ""), "15")
}

func TestFieldChecks(t *testing.T) {
	s := newSim(t)
	pan := "4242424242424242"
	tests := []struct {
		name string
		edit func(*cardnet.Message)
		want string
	}{
		{"other currency", func(m *cardnet.Message) { m.Currency = "EUR" }, "13"},
		{"no currency", func(m *cardnet.Message) { m.Currency = "" }, "13"},
		{"amount not digits", func(m *cardnet.Message) { m.Amount = "12.50" }, "30"},
		{"amount negative", func(m *cardnet.Message) { m.Amount = "-1" }, "30"},
		{"amount too long", func(m *cardnet.Message) { m.Amount = "1234567890123" }, "30"},
		{"expired", func(m *cardnet.Message) { m.Expiry = "2610" }, "54"},
		{"this month", func(m *cardnet.Message) { m.Expiry = "2611" }, "00"},
		{"no expiry", func(m *cardnet.Message) { m.Expiry = "" }, "30"},
		{"bad expiry month", func(m *cardnet.Message) { m.Expiry = "3013" }, "30"},
		{"cvc too long", func(m *cardnet.Message) { m.CVC = "1234" }, "N7"},
		{"cvc letters", func(m *cardnet.Message) { m.CVC = "12a" }, "N7"},
		{"no cvc", func(m *cardnet.Message) { m.CVC = "" }, "00"},
		{"processing code", func(m *cardnet.Message) { m.ProcessingCode = "20" }, "12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.t = t
			m := s.auth(pan, 100, "USD")
			tt.edit(&m)
			s.expect(m, tt.want)
		})
	}
	t.Run("amex three-digit cvc", func(t *testing.T) {
		s.t = t
		m := s.auth("378282246310005", 0, "")
		m.CVC = "123"
		s.expect(m, "N7")
	})
	t.Run("zero purchase", func(t *testing.T) {
		s.t = t
		s.expect(s.purchase(pan, 0, "USD"), "13")
	})
	t.Run("envelope", func(t *testing.T) {
		for _, m := range []cardnet.Message{
			{MTI: "0300", STAN: "000001", RRN: "000000000001"},
			{MTI: "0100", STAN: "1", RRN: "000000000001"},
			{MTI: "0100", STAN: "000001", RRN: "short"},
		} {
			if _, err := s.e.Process(context.Background(), m); !errors.Is(err, cardnet.ErrBadMessage) {
				t.Errorf("%+v: %v", m, err)
			}
		}
	})
}

func TestOpenToBuyPerCurrency(t *testing.T) {
	s := newSim(t)
	for _, c := range cardnet.TestCards() {
		if c.Purchase != "00" {
			continue
		}
		t.Run(c.PAN, func(t *testing.T) {
			s.t = t
			l := limit(c.Currency)
			s.expect(s.auth(c.PAN, l+1, c.Currency), "51")
			m := s.auth(c.PAN, l, c.Currency)
			if r := s.expect(m, "00"); r.Available != "0" {
				t.Fatalf("available after using the whole limit = %s", r.Available)
			}
			s.expect(s.auth(c.PAN, 1, c.Currency), "51")
			if r := s.expect(s.reversal(m), "00"); r.Available != strconv.FormatInt(l, 10) {
				t.Fatalf("available after reversal = %s, want %d", r.Available, l)
			}
		})
	}
	want := map[string]int64{"USD": 1_000_000, "EUR": 1_000_000, "GBP": 800_000, "HKD": 7_800_000,
		"SGD": 1_300_000, "AUD": 1_500_000, "JPY": 1_500_000, "KRW": 13_000_000}
	for cur, minor := range want {
		if got := limit(cur); got != minor {
			t.Errorf("OpenToBuy(%s) = %d minor units, want %d", cur, got, minor)
		}
	}
}

func TestOpenToBuyAuthCaptureRefundReversal(t *testing.T) {
	s := newSim(t)
	const pan = "5555555555554444"
	l := limit("USD")

	a := s.auth(pan, 300_00, "USD")
	ra := s.expect(a, "00")
	if got := s.available(pan, "USD"); got != l-300_00 {
		t.Fatalf("after auth: %d", got)
	}
	// A completion of less than the hold releases the rest.
	c := s.completion(a, ra.AuthCode, 250_00)
	s.expect(c, "00")
	if got := s.available(pan, "USD"); got != l-250_00 {
		t.Fatalf("after completion: %d", got)
	}
	s.expect(s.completion(a, ra.AuthCode, 10_00), "12") // completed already
	s.expect(s.reversal(a), "12")                       // reverse the completion instead

	p := s.purchase(pan, 100_00, "USD")
	s.expect(p, "00")
	if got := s.available(pan, "USD"); got != l-350_00 {
		t.Fatalf("after purchase: %d", got)
	}
	orig := &cardnet.Original{MTI: p.MTI, STAN: p.STAN, RRN: p.RRN}
	s.expect(s.refund(pan, 100_01, "USD", orig), "13") // more than captured
	rf := s.refund(pan, 40_00, "USD", orig)
	s.expect(rf, "00")
	s.expect(s.refund(pan, 60_01, "USD", orig), "13") // more than left
	if got := s.available(pan, "USD"); got != l-310_00 {
		t.Fatalf("after refund: %d", got)
	}
	s.expect(s.reversal(rf), "00") // the refund is taken back
	if got := s.available(pan, "USD"); got != l-350_00 {
		t.Fatalf("after refund reversal: %d", got)
	}
	s.expect(s.reversal(c), "00")
	s.expect(s.reversal(p), "00")
	if got := s.available(pan, "USD"); got != l {
		t.Fatalf("after reversals: %d", got)
	}
	s.expect(s.reversal(a), "00") // its completion is reversed: nothing stands
	s.expect(s.refund(pan, 1, "USD", orig), "12")
	// An unreferenced refund (an unload) credits the card beyond its limit.
	s.expect(s.refund(pan, 50_00, "USD", nil), "00")
	if got := s.available(pan, "USD"); got != l+50_00 {
		t.Fatalf("after unreferenced refund: %d", got)
	}
}

func TestDuplicates(t *testing.T) {
	s := newSim(t)
	const pan = "4000002500000003"
	m := s.purchase(pan, 1000_00, "EUR")
	first := s.expect(m, "00")
	again := s.expect(m, "00")
	if !again.Replayed || first.Replayed {
		t.Fatalf("replayed flags: first %v, again %v", first.Replayed, again.Replayed)
	}
	again.Replayed = false
	if diff := cmp.Diff(first, again); diff != "" {
		t.Fatalf("repeat answered differently (-first +again):\n%s", diff)
	}
	if got := s.available(pan, "EUR"); got != limit("EUR")-1000_00 {
		t.Fatalf("charged twice: available %d", got)
	}
	// A repeat with another CVC is still the same message.
	m2 := m
	m2.CVC = "999"
	s.expect(m2, "00")
	// Same STAN and RRN with other content is refused, and changes nothing.
	m3 := m
	m3.Amount = "5"
	s.expect(m3, "94")
	if r := s.expect(m, "00"); r.AuthCode != first.AuthCode {
		t.Fatal("the 94 replaced the record")
	}
	// A declined message is repeated as declined, even when funds allow it
	// later.
	d := s.auth(pan, limit("EUR"), "EUR")
	s.expect(d, "51")
	s.expect(s.reversal(m), "00")
	if r := s.expect(d, "51"); !r.Replayed {
		t.Fatal("declined repeat not replayed")
	}
	// A repeated reversal restores once.
	rev := s.reversal(m)
	s.expect(rev, "00")
	s.expect(rev, "00")
	if got := s.available(pan, "EUR"); got != limit("EUR") {
		t.Fatalf("available %d", got)
	}
	if rep := s.e.Settlement(testDay); len(rep.Groups) != 1 || rep.Groups[0].Reversals.Count != 1 {
		t.Fatalf("settlement %+v", rep)
	}
}

func TestChallenge(t *testing.T) {
	s := newSim(t)
	const pan = "4000000000003220"

	// Verification: challenge, then the same message with the OTP.
	v := s.auth(pan, 0, "")
	r := s.expect(v, "1A")
	if again := s.expect(v, "1A"); again.ChallengeID != r.ChallengeID {
		t.Fatal("repeat without OTP got another challenge")
	}
	v.OTP = cardnet.OTP
	s.expect(v, "00")
	v.OTP = ""
	s.expect(v, "00") // decided now

	// A load: challenge; wrong OTPs keep it open (1A) until the third,
	// which fails (63) and burns the challenge.
	m := s.auth(pan, 200_00, "USD")
	r = s.expect(m, "1A")
	for i, want := range []string{"1A", "1A", "63"} {
		bad := s.auth(pan, 200_00, "USD")
		bad.ChallengeID, bad.OTP = r.ChallengeID, fmt.Sprintf("65432%d", i)
		if got := s.expect(bad, want); want == "1A" && got.ChallengeID != r.ChallengeID {
			t.Fatalf("wrong OTP %d: challenge %q, want the same %q", i+1, got.ChallengeID, r.ChallengeID)
		}
	}
	good := s.auth(pan, 200_00, "USD")
	good.ChallengeID, good.OTP = r.ChallengeID, cardnet.OTP
	s.expect(good, "63")

	// Two wrong OTPs, then the right one: the message is decided.
	r = s.expect(s.auth(pan, 100_00, "USD"), "1A")
	for i := range 2 {
		bad := s.auth(pan, 100_00, "USD")
		bad.ChallengeID, bad.OTP = r.ChallengeID, fmt.Sprintf("11111%d", i)
		s.expect(bad, "1A")
	}
	good = s.auth(pan, 100_00, "USD")
	good.ChallengeID, good.OTP = r.ChallengeID, cardnet.OTP
	s.expect(good, "00")
	s.expect(s.reversal(good), "00") // give the open-to-buy back

	// A fresh challenge, completed under a new STAN/RRN.
	r = s.expect(s.auth(pan, 200_00, "USD"), "1A")
	other := s.auth(pan, 300_00, "USD")
	other.ChallengeID, other.OTP = r.ChallengeID, cardnet.OTP
	s.expect(other, "63") // the challenge was for another amount
	r = s.expect(s.auth(pan, 200_00, "USD"), "1A")
	good = s.auth(pan, 200_00, "USD")
	good.ChallengeID, good.OTP = r.ChallengeID, cardnet.OTP
	if ok := s.expect(good, "00"); ok.Available != strconv.FormatInt(limit("USD")-200_00, 10) {
		t.Fatalf("available %s", ok.Available)
	}
	// An unknown challenge id fails.
	s.expect(s.auth(pan, 100, "USD"), "1A")
	forged := s.auth(pan, 100, "USD")
	forged.ChallengeID, forged.OTP = "chl_0000000000000000", cardnet.OTP
	s.expect(forged, "63")
}

func TestNoAnswerCardIsReversedAndNeverSettled(t *testing.T) {
	s := newSim(t)
	const pan = "4000000000000259"
	s.expect(s.auth(pan, 0, ""), "00") // verification is answered
	for _, m := range []cardnet.Message{s.auth(pan, 100_00, "USD"), s.purchase(pan, 100_00, "USD")} {
		if _, err := s.e.Process(context.Background(), m); !errors.Is(err, cardnet.ErrNoAnswer) {
			t.Fatalf("%s: %v", m.MTI, err)
		}
		if _, err := s.e.Process(context.Background(), m); !errors.Is(err, cardnet.ErrNoAnswer) {
			t.Fatalf("repeat %s: %v", m.MTI, err)
		}
		r := s.expect(s.reversal(m), "00")
		if r.Message != "reversed" {
			t.Fatalf("reversal not matched to the original: %q", r.Message)
		}
	}
	if rep := s.e.Settlement(testDay); len(rep.Groups) != 0 {
		t.Fatalf("no-answer messages settled: %+v", rep)
	}
}

func TestReversalBeforeOriginal(t *testing.T) {
	s := newSim(t)
	const pan = "4242424242424242"
	m := s.purchase(pan, 500_00, "USD")
	r := s.expect(s.reversal(m), "00")
	if r.Message == "reversed" {
		t.Fatal("reversal claims to have matched an original that never came")
	}
	s.expect(m, "12") // the late original does not take effect
	s.expect(m, "12")
	if got := s.available(pan, "USD"); got != limit("USD") {
		t.Fatalf("late original charged: %d", got)
	}
	if rep := s.e.Settlement(testDay); len(rep.Groups) != 0 {
		t.Fatalf("late original settled: %+v", rep)
	}
}

func TestSettlementReport(t *testing.T) {
	s := newSim(t)
	p1 := s.purchase("4242424242424242", 100_00, "USD")
	s.expect(p1, "00")
	p2 := s.purchase("4000056655665556", 50_00, "USD")
	s.expect(p2, "00")
	a := s.auth("4242424242424242", 70_00, "USD")
	ra := s.expect(a, "00")
	s.expect(s.completion(a, ra.AuthCode, 60_00), "00")
	s.expect(s.refund("4242424242424242", 30_00, "USD", nil), "00")
	s.expect(s.reversal(p2), "00")
	s.expect(s.purchase("3566002020360505", 12000, "JPY"), "00")
	verifyRev := s.auth("5555555555554444", 80_00, "USD")
	s.expect(verifyRev, "00")
	s.expect(s.reversal(verifyRev), "00") // an auth reversal moves no money

	s.clock.Set(testDay.Add(24 * time.Hour))
	s.expect(s.purchase("4242424242424242", 1_00, "USD"), "00")

	rep := s.e.Settlement(testDay)
	if rep.Date != "2026-11-25" || len(rep.Groups) != 2 {
		t.Fatalf("report %+v", rep)
	}
	type sum struct {
		Network, Currency           string
		Captures, Refunds, Reversal cardnet.Total
		Net                         string
		Lines                       int
	}
	var got []sum
	for _, g := range rep.Groups {
		got = append(got, sum{g.Network, g.Currency, g.Captures, g.Refunds, g.Reversals, g.Net, len(g.Lines)})
	}
	want := []sum{
		{"jcb", "JPY", cardnet.Total{Count: 1, Amount: "12000"}, cardnet.Total{Amount: "0"}, cardnet.Total{Amount: "0"}, "12000", 1},
		{"visa", "USD", cardnet.Total{Count: 3, Amount: "21000"}, cardnet.Total{Count: 1, Amount: "3000"},
			cardnet.Total{Count: 1, Amount: "5000"}, "13000", 5},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("totals (-want +got):\n%s", diff)
	}
	for _, l := range rep.Groups[1].Lines {
		if l.PAN != "424242******4242" && l.PAN != "400005******5556" {
			t.Errorf("line PAN %q not masked as expected", l.PAN)
		}
		if !l.Time.Equal(testDay) {
			t.Errorf("line time %v", l.Time)
		}
		if l.Type == cardnet.LineReversal && (l.Reverses != cardnet.LineCapture || l.Original == nil || l.Original.STAN != p2.STAN) {
			t.Errorf("reversal line %+v", l)
		}
	}
	if next := s.e.Settlement(testDay.Add(24 * time.Hour)); len(next.Groups) != 1 || next.Groups[0].Net != "100" {
		t.Fatalf("next day %+v", next)
	}
}

// TestConcurrentAuthorisationsNeverExceedOpenToBuy races many
// authorisations and repeats on one card.
func TestConcurrentAuthorisationsNeverExceedOpenToBuy(t *testing.T) {
	s := newSim(t)
	const pan = "4000008260000000" // GBP 8,000
	const each = 300_00
	msgs := make([]cardnet.Message, 60)
	for i := range msgs {
		msgs[i] = s.auth(pan, each, "GBP")
	}
	var approved atomic.Int64
	var wg sync.WaitGroup
	for i := range 120 {
		wg.Go(func() {
			m := msgs[i%len(msgs)] // every message twice
			r, err := s.e.Process(context.Background(), m)
			if err != nil {
				t.Error(err)
				return
			}
			if r.ResponseCode == "00" && !r.Replayed {
				approved.Add(1)
			}
		})
	}
	wg.Wait()
	if want := limit("GBP") / each; approved.Load() != want {
		t.Fatalf("approved %d authorisations of %d, want %d", approved.Load(), each, want)
	}
	if got := limit("GBP") - approved.Load()*each; got < 0 {
		t.Fatalf("open-to-buy exceeded by %d", -got)
	}
}

func TestEcho(t *testing.T) {
	s := newSim(t)
	r := s.expect(cardnet.Message{MTI: "0800", Network: "jcb"}, "00")
	if r.MTI != "0810" {
		t.Fatalf("mti %s", r.MTI)
	}
	s.expect(cardnet.Message{MTI: "0800", Network: "unionpay"}, "30")
}

func slogJSON(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// TestChallengeIDsAreRandom checks that two simulators with the same seed
// (the seed makes faults and auth codes reproducible) issue different
// challenge ids, each of 128 random bits.
func TestChallengeIDsAreRandom(t *testing.T) {
	const pan = "4000000000003220"
	seen := map[string]bool{}
	for range 2 {
		s := newSim(t)
		for range 3 {
			r := s.expect(s.auth(pan, 200_00, "USD"), "1A")
			raw, ok := strings.CutPrefix(r.ChallengeID, "chl_")
			b, err := hex.DecodeString(raw)
			if !ok || err != nil || len(b) < 16 {
				t.Fatalf("challenge id %q is not chl_ and 16 random bytes in hex", r.ChallengeID)
			}
			if seen[r.ChallengeID] {
				t.Fatalf("challenge id %s issued twice", r.ChallengeID)
			}
			seen[r.ChallengeID] = true
		}
	}
}
