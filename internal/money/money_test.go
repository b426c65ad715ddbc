package money

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

func TestParse(t *testing.T) {
	cases := []struct {
		value, cur string
		minor      int64
		err        error
	}{
		{"1234.56", "CNY", 123456, nil},
		{"0.01", "CNY", 1, nil},
		{"1", "CNY", 100, nil},
		{"1.5", "USD", 150, nil},
		{"-3.20", "CNY", -320, nil},
		{"1000", "JPY", 1000, nil},
		{"13000000", "KRW", 13000000, nil},
		{"1.0", "JPY", 0, ErrTooPrecise},
		{"1.234", "CNY", 0, ErrTooPrecise},
		{"1e3", "CNY", 0, ErrInvalid},
		{"+1", "CNY", 0, ErrInvalid},
		{"1.", "CNY", 0, ErrInvalid},
		{".5", "CNY", 0, ErrInvalid},
		{"", "CNY", 0, ErrInvalid},
		{" 1", "CNY", 0, ErrInvalid},
		{"1,00", "CNY", 0, ErrInvalid},
		{"NaN", "CNY", 0, ErrInvalid},
		{"99999999999999999999", "CNY", 0, ErrOverflow},
		{"1.00", "XYZ", 0, ErrUnsupportedCurrency},
		{"1.00", "cny", 0, ErrUnsupportedCurrency},
	}
	for _, tc := range cases {
		t.Run(tc.value+" "+tc.cur, func(t *testing.T) {
			a, err := Parse(tc.value, tc.cur)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && a.Minor() != tc.minor {
				t.Fatalf("minor %d, want %d", a.Minor(), tc.minor)
			}
		})
	}
}

func TestParsePositive(t *testing.T) {
	for _, v := range []string{"0", "0.00", "-1.00"} {
		if _, err := ParsePositive(v, "CNY"); !errors.Is(err, ErrNotPositive) {
			t.Errorf("%s: %v", v, err)
		}
	}
}

func TestJSON(t *testing.T) {
	cases := []struct {
		in    string
		want  Amount
		field string
	}{
		{`{"value":"88.88","currency":"CNY"}`, New(8888, CNY), ""},
		{`{"value":88.88,"currency":"CNY"}`, Amount{}, "value"},
		{`{"value":"88.88"}`, Amount{}, "currency"},
		{`{"currency":"CNY"}`, Amount{}, "value"},
		{`{"value":"88.888","currency":"CNY"}`, Amount{}, "value"},
		{`{"value":"1","currency":"ABC"}`, Amount{}, "currency"},
		{`{"value":"1","currency":"CNY","x":1}`, Amount{}, ""},
		{`"88.88"`, Amount{}, ""},
	}
	for _, tc := range cases {
		var a Amount
		err := json.Unmarshal([]byte(tc.in), &a)
		if tc.want != (Amount{}) {
			if err != nil || a != tc.want {
				t.Errorf("%s: %v %v", tc.in, a, err)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Field != tc.field {
			t.Errorf("%s: err %v, want field %q", tc.in, err, tc.field)
		}
	}
	b, _ := json.Marshal(New(100, JPY))
	if diff := cmp.Diff(`{"value":"100","currency":"JPY"}`, string(b)); diff != "" {
		t.Fatal(diff)
	}
	b, _ = json.Marshal(New(-5, CNY))
	if string(b) != `{"value":"-0.05","currency":"CNY"}` {
		t.Fatal(string(b))
	}
}

func currencyGen() *rapid.Generator[Currency] {
	return rapid.Custom(func(t *rapid.T) Currency {
		return MustCurrency(rapid.SampledFrom([]string{"CNY", "USD", "JPY", "KRW", "EUR"}).Draw(t, "cur"))
	})
}

// Printing then parsing gives the same amount, for every int64 minor value.
func TestPropertyRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := currencyGen().Draw(t, "c")
		minor := rapid.Int64Range(-math.MaxInt64, math.MaxInt64).Draw(t, "minor")
		a := New(minor, c)
		back, err := Parse(a.Value(), c.Code())
		if err != nil || back != a {
			t.Fatalf("%v -> %q -> %v, %v", a, a.Value(), back, err)
		}
		frac := ""
		if _, f, ok := strings.Cut(a.Value(), "."); ok {
			frac = f
		}
		if len(frac) != int(c.Digits()) {
			t.Fatalf("%q has %d decimals, currency %d", a.Value(), len(frac), c.Digits())
		}
		var j Amount
		b, _ := json.Marshal(a)
		if err := json.Unmarshal(b, &j); err != nil || j != a {
			t.Fatalf("json round trip %s: %v %v", b, j, err)
		}
	})
}

// Addition is exact or reports overflow; it never wraps around.
func TestPropertyAddSub(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		x := rapid.Int64().Draw(t, "x")
		y := rapid.Int64().Draw(t, "y")
		s, err := New(x, CNY).Add(New(y, CNY))
		big := float64(x) + float64(y)
		if err == nil {
			if s.Minor()-y != x {
				t.Fatalf("%d + %d = %d", x, y, s.Minor())
			}
		} else if !errors.Is(err, ErrOverflow) || (big < 9e18 && big > -9e18) {
			t.Fatalf("%d + %d: %v", x, y, err)
		}
		if _, err := New(1, CNY).Add(New(1, USD)); !errors.Is(err, ErrCurrencyMismatch) {
			t.Fatal("mixed currencies added")
		}
	})
}

// Any decimal string with at most the currency's digits parses to exactly
// its value in minor units.
func TestPropertyParseDecimal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := currencyGen().Draw(t, "c")
		whole := rapid.Int64Range(0, 1e12).Draw(t, "whole")
		s := strconv.FormatInt(whole, 10)
		want := whole
		for range c.Digits() {
			want *= 10
		}
		if c.Digits() > 0 && rapid.Bool().Draw(t, "hasFrac") {
			n := rapid.IntRange(1, int(c.Digits())).Draw(t, "n")
			fr := rapid.StringOfN(rapid.RuneFrom([]rune("0123456789")), n, n, -1).Draw(t, "frac")
			s += "." + fr
			f, _ := strconv.ParseInt(fr, 10, 64)
			for i := n; i < int(c.Digits()); i++ {
				f *= 10
			}
			want += f
		}
		a, err := Parse(s, c.Code())
		if err != nil || a.Minor() != want {
			t.Fatalf("Parse(%q, %s) = %d, %v; want %d", s, c, a.Minor(), err, want)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.00", "-0.01", "1e5", "", "99999999999999999999.99"} {
		f.Add(s, "CNY")
	}
	f.Fuzz(func(t *testing.T, value, cur string) {
		a, err := Parse(value, cur)
		if err != nil {
			return
		}
		back, err := Parse(a.Value(), cur)
		if err != nil || back != a {
			t.Fatalf("%q: %v -> %q -> %v %v", value, a, a.Value(), back, err)
		}
	})
}
