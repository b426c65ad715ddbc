package kyc

import (
	"fmt"
	"time"
)

// Date is a calendar date without time of day or zone: birth, expiry and
// travel dates are civil dates, and comparing them as instants would shift
// them by a day somewhere on the planet. The zero Date means "no date".
type Date struct {
	t time.Time // midnight UTC
}

// NewDate returns the date, refusing impossible ones (2023-02-30).
func NewDate(year int, month time.Month, day int) (Date, error) {
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	if t.Year() != year || t.Month() != month || t.Day() != day || year < 1 || year > 9999 {
		return Date{}, fmt.Errorf("kyc: impossible date %04d-%02d-%02d", year, int(month), day)
	}
	return Date{t: t}, nil
}

// ParseDate reads "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("kyc: date %q is not YYYY-MM-DD", s)
	}
	return Date{t: t}, nil
}

// DateOf is the calendar date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{t: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// Year is the year of d.
func (d Date) Year() int { return d.t.Year() }

// Month is the month of d.
func (d Date) Month() time.Month { return d.t.Month() }

// Day is the day of the month of d.
func (d Date) Day() int { return d.t.Day() }

// Before reports whether d is before o.
func (d Date) Before(o Date) bool { return d.t.Before(o.t) }

// After reports whether d is after o.
func (d Date) After(o Date) bool { return d.t.After(o.t) }

// Equal reports whether d and o are the same day. go-cmp uses it too.
func (d Date) Equal(o Date) bool { return d.t.Equal(o.t) }

// String is "YYYY-MM-DD", or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(time.DateOnly)
}

// MarshalText writes "YYYY-MM-DD" (empty for the zero Date).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "YYYY-MM-DD"; empty gives the zero Date.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// AgeOn is the age in whole years of someone born on d, on day today. A
// 29 February birthday falls on 1 March in common years, as most civil
// codes count it.
func (d Date) AgeOn(today Date) int {
	age := today.Year() - d.Year()
	if today.Month() < d.Month() || (today.Month() == d.Month() && today.Day() < d.Day()) {
		age--
	}
	return age
}
