package kyc

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSpecimenInvalid is a Specimen that cannot be written as an MRZ.
var ErrSpecimenInvalid = errors.New("kyc: specimen cannot be written as an MRZ")

// Specimen is a travel document to write as an MRZ: test data for partners
// (`inbound testdata passport`) and for our own tests. Every field is
// written as given, so a specimen can be expired, underage or sanctioned on
// purpose; only what an MRZ cannot hold is refused.
type Specimen struct {
	Format Format // TD1, TD2 or TD3; empty is TD3
	// DocumentCode is "P" for a TD3, "I" for TD1 and TD2 when empty.
	DocumentCode string
	IssuingState string // ICAO code; empty is the nationality
	// Surname and GivenNames are words separated by spaces or hyphens,
	// letters A-Z only (write them as the MRZ would: transliterated).
	Surname, GivenNames string
	// DocumentNumber: A-Z and 0-9. A TD3 holds nine characters; a TD1 or
	// TD2 number longer than nine overflows into the optional data, as
	// ICAO 9303 describes.
	DocumentNumber string
	Nationality    string // ICAO code
	DateOfBirth    Date
	Sex            Sex // empty is SexUnspecified
	ExpiryDate     Date
}

// nameLength is the room of the name field per format.
var nameLength = map[Format]int{TD1: 30, TD2: 31, TD3: 39}

func badSpecimen(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrSpecimenInvalid, fmt.Sprintf(format, a...))
}

// mrzWords turns "Anna Maria" or "Smith-Jones" into MRZ words joined by
// one filler, refusing anything but letters.
func mrzWords(s, what string) (string, error) {
	words := strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool { return r == ' ' || r == '-' || r == '<' })
	for _, w := range words {
		for i := 0; i < len(w); i++ {
			if !isLetter(w[i]) {
				return "", badSpecimen("%s must be letters A-Z (transliterate first): %q", what, s)
			}
		}
	}
	return strings.Join(words, "<"), nil
}

func fill(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }

func yymmdd(d Date) string {
	return fmt.Sprintf("%02d%02d%02d", d.Year()%100, int(d.Month()), d.Day())
}

// BuildMRZ writes the machine readable zone of s with correct check digits
// (the inverse of ParseMRZ). It refuses, with ErrSpecimenInvalid, what no
// MRZ can hold: unknown country codes, characters outside A-Z and 0-9, a
// name or number that does not fit, a missing date.
func BuildMRZ(s Specimen) ([]string, error) {
	if s.Format == "" {
		s.Format = TD3
	}
	if _, ok := nameLength[s.Format]; !ok {
		return nil, badSpecimen("format must be TD1, TD2 or TD3, not %q", s.Format)
	}
	if s.DocumentCode == "" {
		s.DocumentCode = "P"
		if s.Format != TD3 {
			s.DocumentCode = "I"
		}
	}
	code := strings.ToUpper(s.DocumentCode)
	switch {
	case len(code) > 2 || !isLetter(code[0]) || (len(code) == 2 && !isLetter(code[1])):
		return nil, badSpecimen("document code must be one or two letters, not %q", s.DocumentCode)
	case s.Format == TD3 && code[0] != 'P':
		return nil, badSpecimen("a TD3 document code starts with P")
	case s.Format != TD3 && !idCode(code[0]):
		return nil, badSpecimen("a TD1 or TD2 document code starts with I, A or C")
	}
	nat := strings.ToUpper(s.Nationality)
	if !KnownCountry(nat) {
		return nil, badSpecimen("unknown nationality %q (an ICAO code such as UTO, GBR, D)", s.Nationality)
	}
	state := strings.ToUpper(s.IssuingState)
	if state == "" {
		state = nat
	}
	if !KnownCountry(state) {
		return nil, badSpecimen("unknown issuing state %q", s.IssuingState)
	}
	surname, err := mrzWords(s.Surname, "surname")
	if err != nil {
		return nil, err
	}
	given, err := mrzWords(s.GivenNames, "given names")
	if err != nil {
		return nil, err
	}
	if surname == "" && given == "" {
		return nil, badSpecimen("a name is required")
	}
	name := surname
	if given != "" {
		name += "<<" + given
	}
	if len(name) > nameLength[s.Format] {
		return nil, badSpecimen("name %q is longer than the %d characters of a %s", name, nameLength[s.Format], s.Format)
	}
	number := strings.ToUpper(s.DocumentNumber)
	maxNumber := map[Format]int{TD1: 23, TD2: 15, TD3: 9}[s.Format]
	if number == "" || len(number) > maxNumber {
		return nil, badSpecimen("document number must be 1-%d characters for a %s", maxNumber, s.Format)
	}
	for i := 0; i < len(number); i++ {
		if !isLetter(number[i]) && (number[i] < '0' || number[i] > '9') {
			return nil, badSpecimen("document number must be A-Z and 0-9")
		}
	}
	sex := string(s.Sex)
	switch s.Sex {
	case "":
		sex = "<"
	case SexMale, SexFemale, SexUnspecified:
	default:
		return nil, badSpecimen("sex must be M, F or X, not %q", s.Sex)
	}
	if s.DateOfBirth.IsZero() || s.ExpiryDate.IsZero() {
		return nil, badSpecimen("date of birth and expiry date are required")
	}
	birth, expiry := yymmdd(s.DateOfBirth), yymmdd(s.ExpiryDate)
	cd := func(f string) string { return string(CheckDigit(f)) }

	// A number longer than nine: its first nine in the number field, a
	// filler as its check digit, the rest and the real check digit first
	// in the optional data.
	var numField, numCD, optional string
	if len(number) > 9 {
		numField, numCD, optional = number[:9], "<", number[9:]+cd(number)
	} else {
		numField, numCD = fill(number, 9), cd(number)
	}
	switch s.Format {
	case TD3:
		l1 := fill(code, 2) + fill(state, 3) + fill(name, 39)
		l2 := numField + numCD + fill(nat, 3) + birth + cd(birth) + sex + expiry + cd(expiry) + fill("", 14) + "<"
		return []string{l1, l2 + cd(l2[0:10]+l2[13:20]+l2[21:43])}, nil
	case TD2:
		l1 := fill(code, 2) + fill(state, 3) + fill(name, 31)
		l2 := numField + numCD + fill(nat, 3) + birth + cd(birth) + sex + expiry + cd(expiry) + fill(optional, 7)
		return []string{l1, l2 + cd(l2[0:10]+l2[13:20]+l2[21:35])}, nil
	default:
		l1 := fill(code, 2) + fill(state, 3) + numField + numCD + fill(optional, 15)
		l2 := birth + cd(birth) + sex + expiry + cd(expiry) + fill(nat, 3) + fill("", 11)
		l2 += cd(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
		return []string{l1, l2, fill(name, 30)}, nil
	}
}
