package kyc_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/kyc"
)

// today is the fixed day the tests parse and assess against.
var today = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func date(t testing.TB, s string) kyc.Date {
	t.Helper()
	d, err := kyc.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// cd is an independent implementation of the ICAO 7-3-1 check digit, so the
// tests do not trust the code under test to build their input.
func cd(s string) string {
	w := []int{7, 3, 1}
	sum := 0
	for i, r := range s {
		v := 0
		switch {
		case r >= '0' && r <= '9':
			v = int(r - '0')
		case r >= 'A' && r <= 'Z':
			v = int(r-'A') + 10
		}
		sum += v * w[i%3]
	}
	return string(rune('0' + sum%10))
}

func pad(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s + strings.Repeat("<", n-len(s))
}

// doc holds the fields to build an MRZ from.
type doc struct {
	format      kyc.Format
	code        string // "P", "I", ...
	state       string
	surname     []string
	given       []string
	number      string
	nationality string
	birth       string // YYMMDD
	sex         byte
	expiry      string // YYMMDD
	optional    string
	optional2   string // TD1
}

func nameField(d doc, n int) string {
	s := strings.Join(d.surname, "<")
	if len(d.given) > 0 {
		s += "<<" + strings.Join(d.given, "<")
	}
	return pad(s, n)
}

// build writes the MRZ lines of d with correct check digits, overflowing a
// long document number into the optional data of TD1 and TD2.
func build(d doc) []string {
	numField, numCD, opt := pad(d.number, 9), cd(d.number), d.optional
	if len(d.number) > 9 {
		numField, numCD = d.number[:9], "<"
		opt = d.number[9:] + cd(d.number) + "<" + d.optional
	}
	sex := string(d.sex)
	switch d.format {
	case kyc.TD3:
		l1 := pad(d.code, 2) + pad(d.state, 3) + nameField(d, 39)
		optField := pad(d.optional, 14)
		optCD := cd(optField)
		if d.optional == "" {
			optCD = "<"
		}
		l2 := numField + numCD + pad(d.nationality, 3) + d.birth + cd(d.birth) + sex +
			d.expiry + cd(d.expiry) + optField + optCD
		return []string{l1, l2 + cd(l2[0:10]+l2[13:20]+l2[21:43])}
	case kyc.TD2:
		l1 := pad(d.code, 2) + pad(d.state, 3) + nameField(d, 31)
		l2 := numField + numCD + pad(d.nationality, 3) + d.birth + cd(d.birth) + sex +
			d.expiry + cd(d.expiry) + pad(opt, 7)
		return []string{l1, l2 + cd(l2[0:10]+l2[13:20]+l2[21:35])}
	default:
		l1 := pad(d.code, 2) + pad(d.state, 3) + numField + numCD + pad(opt, 15)
		l2 := d.birth + cd(d.birth) + sex + d.expiry + cd(d.expiry) + pad(d.nationality, 3) + pad(d.optional2, 11)
		l2 += cd(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
		return []string{l1, l2, nameField(d, 30)}
	}
}

// passport is a valid, unexpired TD3 of an adult, for the service tests.
func passport(state, number, surname, given, birth string) []string {
	return build(doc{
		format: kyc.TD3, code: "P", state: state, surname: strings.Fields(surname),
		given: strings.Fields(given), number: number, nationality: state,
		birth: birth, sex: 'F', expiry: "340101",
	})
}
