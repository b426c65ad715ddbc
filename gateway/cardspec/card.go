package cardspec

import (
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// iinRange maps a range of issuer identification number prefixes to a
// network. lo and hi have the same number of digits, so comparing the PAN's
// prefix as a string compares it as a number.
type iinRange struct {
	lo, hi  string
	network Network
	lengths []int
}

// iinRanges is checked in order and the first match wins. Discover's
// 622126-622925 (the China UnionPay co-branded range Discover acquires) must
// stay before any wider "62" UnionPay range, should UnionPay ever be added:
// otherwise Discover cards in it would be routed to UnionPay.
var iinRanges = []iinRange{
	{"34", "34", Amex, []int{15}},
	{"37", "37", Amex, []int{15}},
	{"51", "55", Mastercard, []int{16}},
	{"2221", "2720", Mastercard, []int{16}},
	{"4", "4", Visa, []int{13, 16, 19}},
	{"6011", "6011", Discover, []int{16, 17, 18, 19}},
	{"644", "649", Discover, []int{16, 17, 18, 19}},
	{"65", "65", Discover, []int{16, 17, 18, 19}},
	{"622126", "622925", Discover, []int{16, 17, 18, 19}},
	{"3528", "3589", JCB, []int{16, 17, 18, 19}},
}

// Card numbers are 12 to 19 digits (ISO/IEC 7812).
const (
	minPANLength = 12
	maxPANLength = 19
)

// PAN is a validated primary account number: digits only, Luhn-valid, in
// the IIN range of an accepted network and of a length that network issues.
//
// Printing a PAN (fmt, slog) shows only the masked form, so a PAN that
// slips into a log line or an error message does not leak; the digits are
// available only through Number, for the vault and the network message.
type PAN struct {
	digits  string
	network Network
}

// ParsePAN validates a card number. It returns an error wrapping
// ErrIncorrectNumber for anything that is not 12-19 digits with a valid
// Luhn check digit or has the wrong length for its network, and
// ErrUnsupportedNetwork for a valid number outside the accepted IIN ranges.
// Error messages never contain the number.
func ParsePAN(s string) (PAN, error) {
	if len(s) < minPANLength || len(s) > maxPANLength {
		return PAN{}, fmt.Errorf("%w: %d digits, want %d to %d", ErrIncorrectNumber, len(s), minPANLength, maxPANLength)
	}
	if !allDigits(s) {
		return PAN{}, fmt.Errorf("%w: digits only", ErrIncorrectNumber)
	}
	if !Luhn(s) {
		return PAN{}, fmt.Errorf("%w: check digit", ErrIncorrectNumber)
	}
	r, ok := lookupIIN(s)
	if !ok {
		return PAN{}, fmt.Errorf("%w: IIN %s", ErrUnsupportedNetwork, s[:6])
	}
	if !slices.Contains(r.lengths, len(s)) {
		return PAN{}, fmt.Errorf("%w: %s numbers do not have %d digits", ErrIncorrectNumber, r.network, len(s))
	}
	return PAN{digits: s, network: r.network}, nil
}

func lookupIIN(s string) (iinRange, bool) {
	for _, r := range iinRanges {
		p := s[:len(r.lo)]
		if p >= r.lo && p <= r.hi {
			return r, true
		}
	}
	return iinRange{}, false
}

// Luhn reports whether s, a string of decimal digits, ends in a valid Luhn
// (mod 10) check digit. Anything with a non-digit, or empty, is false.
func Luhn(s string) bool {
	if s == "" || !allDigits(s) {
		return false
	}
	return luhnSum(s, false)%10 == 0
}

// LuhnCheckDigit returns the check digit that makes payload+digit
// Luhn-valid. payload must be decimal digits.
func LuhnCheckDigit(payload string) byte {
	return byte('0' + (10-luhnSum(payload, true)%10)%10)
}

// luhnSum adds the digits of s from the right, doubling every other one,
// starting with the rightmost when doubleFirst.
func luhnSum(s string, doubleFirst bool) int {
	sum, double := 0, doubleFirst
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Number returns the full card number. Only the vault and the network
// message should ever need it.
func (p PAN) Number() string { return p.digits }

// Network is the network the PAN's IIN belongs to.
func (p PAN) Network() Network { return p.network }

// IsZero reports whether p is the zero PAN.
func (p PAN) IsZero() bool { return p.digits == "" }

// BIN is the first six digits, which PCI DSS allows to be shown.
func (p PAN) BIN() string {
	if p.IsZero() {
		return ""
	}
	return p.digits[:6]
}

// Last4 is the last four digits, which PCI DSS allows to be shown.
func (p PAN) Last4() string {
	if p.IsZero() {
		return ""
	}
	return p.digits[len(p.digits)-4:]
}

// Masked shows the first six and last four digits, the rest as '*'
// ("424242******4242"): the most PCI DSS allows to display.
func (p PAN) Masked() string { return MaskPAN(p.digits) }

// MaskPAN masks a card number as PAN.Masked does, without validating it.
// Strings too short to hide anything are masked entirely.
func MaskPAN(s string) string {
	if len(s) < minPANLength {
		return "****"
	}
	b := []byte(s)
	for i := 6; i < len(b)-4; i++ {
		b[i] = '*'
	}
	return string(b)
}

// String returns the masked PAN, so %v and %s never print the number.
func (p PAN) String() string { return p.Masked() }

// GoString returns the masked PAN, so %#v never prints the number either.
func (p PAN) GoString() string { return "gateway.PAN(" + p.Masked() + ")" }

// Format prints the masked PAN for every verb, including %d and %x that
// would otherwise print the struct's fields.
func (p PAN) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(p.GoString()))
		return
	}
	_, _ = f.Write([]byte(p.Masked()))
}

// LogValue makes slog log the masked PAN.
func (p PAN) LogValue() slog.Value { return slog.StringValue(p.Masked()) }

// ValidateCVC checks that cvc has the number of digits cards of network n
// carry (4 for Amex, 3 otherwise). The CVC itself is only ever checked by
// the issuer; this catches typing errors before a network call.
func ValidateCVC(n Network, cvc string) error {
	if len(cvc) != n.CVCLength() || !allDigits(cvc) {
		return fmt.Errorf("%w: %s cards have a %d-digit CVC", ErrInvalidCVC, n, n.CVCLength())
	}
	return nil
}

// Expiry is a card's expiry month. A card is valid up to and including the
// last day of that month.
type Expiry struct {
	year  int
	month time.Month
}

// maxExpiryYears bounds how far in the future an expiry date may be: no
// network issues cards valid for longer, so a later year is a typing error.
const maxExpiryYears = 20

// NewExpiry validates an expiry date given as month 1-12 and a four-digit
// year, and refuses one that has passed at now (in UTC).
func NewExpiry(month, year int, now time.Time) (Expiry, error) {
	if month < 1 || month > 12 {
		return Expiry{}, fmt.Errorf("%w: month %d", ErrInvalidExpiry, month)
	}
	now = now.UTC()
	if year < 1000 || year > 9999 {
		return Expiry{}, fmt.Errorf("%w: year %d is not four digits", ErrInvalidExpiry, year)
	}
	e := Expiry{year: year, month: time.Month(month)}
	if e.ExpiredAt(now) {
		return Expiry{}, fmt.Errorf("%w: %02d/%d has passed", ErrInvalidExpiry, month, year)
	}
	if year > now.Year()+maxExpiryYears {
		return Expiry{}, fmt.Errorf("%w: year %d is too far ahead", ErrInvalidExpiry, year)
	}
	return e, nil
}

// ParseYYMM reads the ISO 8583 expiry format (field 14, "YYMM", for example
// "3012" for December 2030), without checking whether it has passed. Years
// are taken in 2000-2099.
func ParseYYMM(s string) (Expiry, error) {
	if len(s) != 4 || !allDigits(s) {
		return Expiry{}, fmt.Errorf("%w: want YYMM", ErrInvalidExpiry)
	}
	yy := int(s[0]-'0')*10 + int(s[1]-'0')
	mm := int(s[2]-'0')*10 + int(s[3]-'0')
	if mm < 1 || mm > 12 {
		return Expiry{}, fmt.Errorf("%w: month %d", ErrInvalidExpiry, mm)
	}
	return Expiry{year: 2000 + yy, month: time.Month(mm)}, nil
}

// Month is the expiry month, 1-12.
func (e Expiry) Month() int { return int(e.month) }

// Year is the four-digit expiry year.
func (e Expiry) Year() int { return e.year }

// IsZero reports whether e is the zero Expiry.
func (e Expiry) IsZero() bool { return e.year == 0 }

// YYMM is the ISO 8583 field 14 form.
func (e Expiry) YYMM() string { return fmt.Sprintf("%02d%02d", e.year%100, int(e.month)) }

// ExpiredAt reports whether the card's last valid day is before now's date
// in UTC.
func (e Expiry) ExpiredAt(now time.Time) bool {
	now = now.UTC()
	return e.year < now.Year() || (e.year == now.Year() && e.month < now.Month())
}
