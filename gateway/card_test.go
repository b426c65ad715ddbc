package gateway_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
)

// withCheck appends the Luhn check digit.
func withCheck(payload string) string {
	return payload + string(gateway.LuhnCheckDigit(payload))
}

func TestParsePANTestCards(t *testing.T) {
	cards := cardnet.TestCards()
	if len(cards) != 27 {
		t.Fatalf("test-card table has %d rows, docs/TESTING.md has 27", len(cards))
	}
	for _, c := range cards {
		t.Run(c.PAN, func(t *testing.T) {
			p, err := gateway.ParsePAN(c.PAN)
			if err != nil {
				t.Fatalf("ParsePAN: %v", err)
			}
			if p.Network() != c.Network {
				t.Errorf("network = %v, want %v", p.Network(), c.Network)
			}
			if p.Last4() != c.PAN[len(c.PAN)-4:] || p.BIN() != c.PAN[:6] || p.Number() != c.PAN {
				t.Errorf("BIN/Last4/Number wrong: %s %s", p.BIN(), p.Last4())
			}
		})
	}
}

func TestParsePANRules(t *testing.T) {
	tests := []struct {
		name    string
		pan     string
		want    gateway.Network
		wantErr error
	}{
		{"luhn invalid", "4242424242424241", gateway.Network{}, gateway.ErrIncorrectNumber},
		{"unionpay outside discover", "6250941006528599", gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"spaces", "4242 4242 4242 4242", gateway.Network{}, gateway.ErrIncorrectNumber},
		{"dashes", "4242-4242-4242-4242", gateway.Network{}, gateway.ErrIncorrectNumber},
		{"letters", "42424242424242a2", gateway.Network{}, gateway.ErrIncorrectNumber},
		{"empty", "", gateway.Network{}, gateway.ErrIncorrectNumber},
		{"too short", withCheck("42424242424"), gateway.Network{}, gateway.ErrIncorrectNumber},
		{"too long", withCheck("4242424242424242424"), gateway.Network{}, gateway.ErrIncorrectNumber},
		{"visa 13", "4222222222222", gateway.Visa, nil},
		{"visa 19", withCheck("424242424242424242"), gateway.Visa, nil},
		{"visa 15", withCheck("42424242424242"), gateway.Network{}, gateway.ErrIncorrectNumber},
		{"mastercard 51", withCheck("510000000000000"), gateway.Mastercard, nil},
		{"mastercard 55", withCheck("559999999999999"), gateway.Mastercard, nil},
		{"mastercard 2221", withCheck("222100000000000"), gateway.Mastercard, nil},
		{"mastercard 2720", withCheck("272099999999999"), gateway.Mastercard, nil},
		{"2220 not mastercard", withCheck("222099999999999"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"2721 not mastercard", withCheck("272100000000000"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"56 not mastercard", withCheck("560000000000000"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"mastercard 19 digits", withCheck("555555555555444400"), gateway.Network{}, gateway.ErrIncorrectNumber},
		{"amex 34", withCheck("34000000000000"), gateway.Amex, nil},
		{"amex 16 digits", withCheck("378282246310005"), gateway.Network{}, gateway.ErrIncorrectNumber},
		{"35 not amex", withCheck("35000000000000"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"discover 6011", withCheck("601100000000000"), gateway.Discover, nil},
		{"discover 644", withCheck("644000000000000"), gateway.Discover, nil},
		{"discover 649", withCheck("649999999999999"), gateway.Discover, nil},
		{"643 not discover", withCheck("643999999999999"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"discover 65", withCheck("650000000000000"), gateway.Discover, nil},
		{"discover 622126", withCheck("622126000000000"), gateway.Discover, nil},
		{"discover 622925", withCheck("622925999999999"), gateway.Discover, nil},
		{"unionpay 622125", withCheck("622125999999999"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"unionpay 622926", withCheck("622926000000000"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"unionpay 62 19 digits", withCheck("621700000000000000"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"6012 not discover", withCheck("601200000000000"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"jcb 3528", withCheck("352800000000000"), gateway.JCB, nil},
		{"jcb 3589", withCheck("358999999999999"), gateway.JCB, nil},
		{"jcb 19 digits", withCheck("356600202036050500"), gateway.JCB, nil},
		{"3527 not jcb", withCheck("352799999999999"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"3590 not jcb", withCheck("359000000000000"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"diners 36", withCheck("3600000000000"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
		{"maestro 50", withCheck("500000000000000"), gateway.Network{}, gateway.ErrUnsupportedNetwork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := gateway.ParsePAN(tt.pan)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParsePAN(%s) error = %v, want %v", tt.pan, err, tt.wantErr)
			}
			if p.Network() != tt.want {
				t.Errorf("network = %v, want %v", p.Network(), tt.want)
			}
			if err != nil && len(tt.pan) > 8 && strings.Contains(err.Error(), tt.pan) {
				t.Errorf("error %q contains the PAN", err)
			}
		})
	}
}

func TestPANNeverPrintsTheNumber(t *testing.T) {
	p, err := gateway.ParsePAN("4242424242424242")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("card", "pan", p, "card", struct{ P gateway.PAN }{p})
	out := fmt.Sprintf("%v %s %d %x %X %q %+v %#v %v", p, p, p, p, p, p, p, p, []gateway.PAN{p}) + logs.String()
	if strings.Contains(out, "4242424242424242") {
		t.Fatalf("formatted PAN leaks the number: %s", out)
	}
	if !strings.Contains(out, "424242******4242") {
		t.Fatalf("masked form missing: %s", out)
	}
}

func TestNetworkText(t *testing.T) {
	for _, n := range gateway.Networks() {
		b, err := n.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back gateway.Network
		if err := back.UnmarshalText(b); err != nil || back != n {
			t.Fatalf("round trip %v: %v %v", n, back, err)
		}
	}
	var n gateway.Network
	if err := n.UnmarshalText([]byte("unionpay")); !errors.Is(err, gateway.ErrUnsupportedNetwork) {
		t.Fatalf("unionpay: %v", err)
	}
	if _, err := (gateway.Network{}).MarshalText(); err == nil {
		t.Fatal("zero network marshalled")
	}
}

func TestValidateCVC(t *testing.T) {
	tests := []struct {
		network gateway.Network
		cvc     string
		ok      bool
	}{
		{gateway.Visa, "123", true},
		{gateway.Visa, "1234", false},
		{gateway.Visa, "12", false},
		{gateway.Visa, "12a", false},
		{gateway.Mastercard, "000", true},
		{gateway.Discover, "999", true},
		{gateway.JCB, "123", true},
		{gateway.Amex, "1234", true},
		{gateway.Amex, "123", false},
		{gateway.Amex, "", false},
	}
	for _, tt := range tests {
		err := gateway.ValidateCVC(tt.network, tt.cvc)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, gateway.ErrInvalidCVC)) {
			t.Errorf("ValidateCVC(%v, %q) = %v, want ok=%v", tt.network, tt.cvc, err, tt.ok)
		}
	}
}

func TestNewExpiry(t *testing.T) {
	now := time.Date(2026, time.November, 25, 23, 0, 0, 0, time.UTC)
	tests := []struct {
		month, year int
		ok          bool
		yymm        string
	}{
		{12, 2030, true, "3012"},
		{11, 2026, true, "2611"}, // valid through the end of the month
		{10, 2026, false, ""},
		{1, 2027, true, "2701"},
		{0, 2030, false, ""},
		{13, 2030, false, ""},
		{12, 30, false, ""},
		{12, 2047, false, ""},
	}
	for _, tt := range tests {
		e, err := gateway.NewExpiry(tt.month, tt.year, now)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, gateway.ErrInvalidExpiry)) {
			t.Errorf("NewExpiry(%d, %d) = %v, want ok=%v", tt.month, tt.year, err, tt.ok)
			continue
		}
		if tt.ok && e.YYMM() != tt.yymm {
			t.Errorf("YYMM = %s, want %s", e.YYMM(), tt.yymm)
		}
	}
	// A time zone ahead of UTC where it is already December does not
	// expire a November card early.
	if _, err := gateway.NewExpiry(11, 2026, time.Date(2026, time.December, 1, 5, 0, 0, 0, time.FixedZone("CST", 8*3600))); err != nil {
		t.Errorf("November card at 2026-11-30 21:00 UTC: %v", err)
	}
	if _, err := gateway.ParseYYMM("3013"); !errors.Is(err, gateway.ErrInvalidExpiry) {
		t.Errorf("ParseYYMM(3013) = %v", err)
	}
}

// TestLuhnProperties checks the Luhn rules against random payloads: the
// check digit makes a number valid, and any single-digit change or
// transposition of adjacent different digits (except 0-9) makes it invalid.
func TestLuhnProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		payload := rapid.StringMatching(`[0-9]{1,25}`).Draw(t, "payload")
		n := withCheck(payload)
		if !gateway.Luhn(n) {
			t.Fatalf("%s with check digit is not valid", n)
		}
		i := rapid.IntRange(0, len(n)-1).Draw(t, "pos")
		d := byte('0' + rapid.IntRange(1, 9).Draw(t, "delta")) //nolint:gosec // 1..9 plus a digit fits a byte
		b := []byte(n)
		b[i] = '0' + (b[i]-'0'+d-'0')%10
		if gateway.Luhn(string(b)) {
			t.Fatalf("single-digit change %s -> %s still valid", n, b)
		}
		// Luhn misses only the transposition of 0 and 9.
		if j := i + 1; j < len(n) && n[i] != n[j] && !isZeroNine(n[i], n[j]) {
			b := []byte(n)
			b[i], b[j] = b[j], b[i]
			if gateway.Luhn(string(b)) {
				t.Fatalf("transposition %s -> %s still valid", n, b)
			}
		}
	})
}

func isZeroNine(a, b byte) bool { return (a == '0' && b == '9') || (a == '9' && b == '0') }

func TestLuhnRejectsNonDigits(t *testing.T) {
	for _, s := range []string{"", "a", "4242 4242", "-0", "0x0"} {
		if gateway.Luhn(s) {
			t.Errorf("Luhn(%q) = true", s)
		}
	}
	if !gateway.Luhn("0") || !gateway.Luhn("79927398713") {
		t.Error("known valid numbers refused")
	}
}

// FuzzParsePAN: whatever comes in from outside, ParsePAN does not panic,
// refuses with one of its two sentinels, and accepts only numbers that obey
// every rule.
func FuzzParsePAN(f *testing.F) {
	for _, c := range cardnet.TestCards() {
		f.Add(c.PAN)
	}
	for _, s := range []string{"4242424242424241", "6250941006528599", "", "4242 4242 4242 4242", "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := gateway.ParsePAN(s)
		if err != nil {
			if !errors.Is(err, gateway.ErrIncorrectNumber) && !errors.Is(err, gateway.ErrUnsupportedNetwork) {
				t.Fatalf("unexpected error %v", err)
			}
			if len(s) >= 12 && strings.Contains(err.Error(), s) {
				t.Fatalf("error contains the input")
			}
			return
		}
		if p.Number() != s || !gateway.Luhn(s) || p.Network().IsZero() {
			t.Fatalf("accepted %q as %v", s, p.Network())
		}
		if len(s) < 12 || len(s) > 19 {
			t.Fatalf("accepted length %d", len(s))
		}
		if p.Network() == gateway.Amex && len(s) != 15 {
			t.Fatalf("amex of length %d", len(s))
		}
		if m := p.Masked(); len(m) != len(s) || m[:6] != s[:6] || m[len(m)-4:] != s[len(s)-4:] || strings.Trim(m[6:len(m)-4], "*") != "" {
			t.Fatalf("masked %q", m)
		}
	})
}
