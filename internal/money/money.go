// Package money holds the Amount value type: an integer number of minor units
// in one ISO 4217 currency. Decimal strings appear only at the edges (Parse,
// String, JSON); arithmetic inside is exact int64 with overflow checks.
package money

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/shopspring/decimal"
)

// Errors returned by the constructors and arithmetic. They are wrapped in a
// *ParseError when they come from outside input so the caller can tell which
// field was wrong.
var (
	ErrInvalid             = errors.New("money: invalid amount")
	ErrUnsupportedCurrency = errors.New("money: unsupported currency")
	ErrTooPrecise          = errors.New("money: too many decimal places for the currency")
	ErrCurrencyMismatch    = errors.New("money: currencies differ")
	ErrOverflow            = errors.New("money: amount out of range")
	ErrNotPositive         = errors.New("money: amount must be positive")
)

// Currency is an ISO 4217 currency this service supports.
type Currency struct {
	code   string
	digits int32
}

// Code is the three-letter ISO 4217 code.
func (c Currency) Code() string { return c.code }

// Digits is the number of minor-unit digits (2 for CNY, 0 for JPY).
func (c Currency) Digits() int32 { return c.digits }

// IsZero reports whether c is the zero Currency (no currency).
func (c Currency) IsZero() bool { return c.code == "" }

func (c Currency) String() string { return c.code }

// currencies lists the supported ISO 4217 currencies and their minor digits:
// CNY for accounts, and the billing currencies of the card networks' issuers.
var currencies = map[string]Currency{
	"CNY": {"CNY", 2},
	"USD": {"USD", 2},
	"EUR": {"EUR", 2},
	"GBP": {"GBP", 2},
	"JPY": {"JPY", 0},
	"KRW": {"KRW", 0},
	"HKD": {"HKD", 2},
	"SGD": {"SGD", 2},
	"AUD": {"AUD", 2},
	"CAD": {"CAD", 2},
	"CHF": {"CHF", 2},
	"NZD": {"NZD", 2},
	"THB": {"THB", 2},
	"MYR": {"MYR", 2},
}

// Well-known currencies, for code that names them.
var (
	CNY = currencies["CNY"]
	USD = currencies["USD"]
	JPY = currencies["JPY"]
)

// LookupCurrency returns the supported currency with the given code.
func LookupCurrency(code string) (Currency, error) {
	c, ok := currencies[code]
	if !ok {
		return Currency{}, fmt.Errorf("%w: %q", ErrUnsupportedCurrency, code)
	}
	return c, nil
}

// MustCurrency is LookupCurrency for codes known at compile time.
func MustCurrency(code string) Currency {
	c, err := LookupCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

// Currencies returns the supported currency codes.
func Currencies() []string {
	out := make([]string, 0, len(currencies))
	for k := range currencies {
		out = append(out, k)
	}
	return out
}

// Amount is a signed number of minor units of one currency. The zero Amount
// has no currency and is not valid for posting.
type Amount struct {
	minor    int64
	currency Currency
}

// New builds an Amount from minor units.
func New(minor int64, c Currency) Amount { return Amount{minor: minor, currency: c} }

// Minor is the amount in minor units (fen, cents, yen).
func (a Amount) Minor() int64 { return a.minor }

// Currency is the amount's currency.
func (a Amount) Currency() Currency { return a.currency }

// IsZero reports whether the amount is zero minor units.
func (a Amount) IsZero() bool { return a.minor == 0 }

// IsPositive reports whether the amount is above zero.
func (a Amount) IsPositive() bool { return a.minor > 0 }

// IsNegative reports whether the amount is below zero.
func (a Amount) IsNegative() bool { return a.minor < 0 }

// Parse reads a decimal string such as "1234.56" in currency code. It refuses
// exponents, signs other than a leading '-', more decimals than the currency
// has, and values that do not fit int64 minor units.
func Parse(value, code string) (Amount, error) {
	c, err := LookupCurrency(code)
	if err != nil {
		return Amount{}, &ParseError{Field: "currency", Err: err}
	}
	minor, err := parseMinor(value, c.digits)
	if err != nil {
		return Amount{}, &ParseError{Field: "value", Err: err}
	}
	return Amount{minor: minor, currency: c}, nil
}

// ParsePositive is Parse that also refuses zero and negative amounts.
func ParsePositive(value, code string) (Amount, error) {
	a, err := Parse(value, code)
	if err != nil {
		return Amount{}, err
	}
	if !a.IsPositive() {
		return Amount{}, &ParseError{Field: "value", Err: ErrNotPositive}
	}
	return a, nil
}

func parseMinor(s string, digits int32) (int64, error) {
	if s == "" || len(s) > 40 {
		return 0, ErrInvalid
	}
	// Only plain decimal notation: optional '-', digits, optional '.' and
	// digits. decimal.NewFromString would also take "1e3" and "+1".
	body := strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" || !allDigits(intPart) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, ErrInvalid
	}
	if len(frac) > int(digits) {
		return 0, ErrTooPrecise
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, ErrInvalid
	}
	m := d.Shift(digits)
	if !m.IsInteger() {
		return 0, ErrTooPrecise
	}
	if m.GreaterThan(decimal.NewFromInt(math.MaxInt64)) || m.LessThan(decimal.NewFromInt(-math.MaxInt64)) {
		return 0, ErrOverflow
	}
	return m.IntPart(), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Decimal returns the amount as a decimal in major units, for FX math.
func (a Amount) Decimal() decimal.Decimal {
	return decimal.New(a.minor, -a.currency.digits)
}

// FromDecimal converts a decimal number of major units to an Amount, refusing
// values that need rounding: the caller decides the rounding direction.
func FromDecimal(d decimal.Decimal, c Currency) (Amount, error) {
	m := d.Shift(c.digits)
	if !m.IsInteger() {
		return Amount{}, ErrTooPrecise
	}
	if m.GreaterThan(decimal.NewFromInt(math.MaxInt64)) || m.LessThan(decimal.NewFromInt(-math.MaxInt64)) {
		return Amount{}, ErrOverflow
	}
	return Amount{minor: m.IntPart(), currency: c}, nil
}

// Value is the decimal string with exactly the currency's minor digits.
func (a Amount) Value() string {
	return a.Decimal().StringFixed(a.currency.digits)
}

// String formats as "12.34 CNY".
func (a Amount) String() string {
	if a.currency.IsZero() {
		return "0"
	}
	return a.Value() + " " + a.currency.code
}

// Add returns a+b; both must share a currency.
func (a Amount) Add(b Amount) (Amount, error) {
	if a.currency != b.currency {
		return Amount{}, ErrCurrencyMismatch
	}
	s := a.minor + b.minor
	if (b.minor > 0 && s < a.minor) || (b.minor < 0 && s > a.minor) {
		return Amount{}, ErrOverflow
	}
	return Amount{minor: s, currency: a.currency}, nil
}

// Sub returns a-b; both must share a currency.
func (a Amount) Sub(b Amount) (Amount, error) {
	if b.minor == math.MinInt64 {
		return Amount{}, ErrOverflow
	}
	return a.Add(Amount{minor: -b.minor, currency: b.currency})
}

// Neg returns -a.
func (a Amount) Neg() Amount { return Amount{minor: -a.minor, currency: a.currency} }

// Cmp compares two amounts of one currency: -1, 0 or +1.
func (a Amount) Cmp(b Amount) (int, error) {
	if a.currency != b.currency {
		return 0, ErrCurrencyMismatch
	}
	switch {
	case a.minor < b.minor:
		return -1, nil
	case a.minor > b.minor:
		return 1, nil
	}
	return 0, nil
}

// ParseError says which field of a money object was wrong.
type ParseError struct {
	Field string // "value" or "currency"
	Err   error
}

func (e *ParseError) Error() string { return fmt.Sprintf("money %s: %v", e.Field, e.Err) }

// Unwrap gives the sentinel.
func (e *ParseError) Unwrap() error { return e.Err }

type wire struct {
	Value    json.RawMessage `json:"value"`
	Currency json.RawMessage `json:"currency"`
}

// MarshalJSON writes {"value": "12.34", "currency": "CNY"}.
func (a Amount) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Value    string `json:"value"`
		Currency string `json:"currency"`
	}{a.Value(), a.currency.code})
}

// UnmarshalJSON reads the money object strictly: value must be a JSON string
// (a JSON number is refused, floats never carry money), both fields are
// required and no other field is allowed.
func (a *Amount) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wire
	if err := dec.Decode(&w); err != nil {
		return &ParseError{Field: "", Err: ErrInvalid}
	}
	var code string
	if len(w.Currency) == 0 || w.Currency[0] != '"' || json.Unmarshal(w.Currency, &code) != nil {
		return &ParseError{Field: "currency", Err: ErrUnsupportedCurrency}
	}
	var value string
	if len(w.Value) == 0 || w.Value[0] != '"' || json.Unmarshal(w.Value, &value) != nil {
		return &ParseError{Field: "value", Err: ErrInvalid}
	}
	parsed, err := Parse(value, code)
	if err != nil {
		return err
	}
	*a = parsed
	return nil
}
