package kyc

import (
	"log/slog"
	"strings"
	"time"
)

// Format is the size class of a machine readable travel document.
type Format string

// The three ICAO 9303 formats.
const (
	TD1 Format = "TD1" // ID card: 3 lines of 30
	TD2 Format = "TD2" // 2 lines of 36
	TD3 Format = "TD3" // passport book: 2 lines of 44
)

// Sex as printed in the MRZ. ICAO writes "<" for unspecified; since its
// 8th edition "X" means the same, so both read as SexUnspecified.
type Sex string

// The values of Sex.
const (
	SexMale        Sex = "M"
	SexFemale      Sex = "F"
	SexUnspecified Sex = "X"
)

// MRZ is the content of a machine readable zone, with fillers removed, long
// document numbers reassembled and two-digit years expanded. Every check
// digit has been verified.
type MRZ struct {
	Format       Format
	DocumentCode string // "P", "PD", "I", "ID", "AC", ...: fillers removed
	IssuingState string // "UTO", "D" (Germany), "XXA", ...
	Surname      string // primary identifier, words separated by one space; empty for some single-name holders
	GivenNames   string // secondary identifier, words separated by one space
	// NameTruncated: the name field is full to its last character, which
	// ICAO uses to show that the name was cut to fit.
	NameTruncated  bool
	DocumentNumber string // including any part that overflowed into the optional data
	Nationality    string
	DateOfBirth    Date
	Sex            Sex
	ExpiryDate     Date
	// OptionalData is the personal number of a TD3, the optional data of a
	// TD2, or the first optional field of a TD1 (after any overflow of the
	// document number), fillers trimmed.
	OptionalData string
	// OptionalData2 is the second optional field of a TD1.
	OptionalData2 string
}

// String hides the document number and the optional data (often a national
// identity number), so printing an MRZ by mistake leaks nothing.
func (m MRZ) String() string {
	return string(m.Format) + " " + m.DocumentCode + " " + m.IssuingState + " " +
		MaskNumber(m.DocumentNumber) + " " + m.Surname + "<<" + m.GivenNames
}

// LogValue makes slog print the masked form as well.
func (m MRZ) LogValue() slog.Value { return slog.StringValue(m.String()) }

// ParseMRZ reads the lines of a machine readable zone: TD3 (2x44), TD2 (2x36)
// or TD1 (3x30). Surrounding spaces are ignored and a single string holding
// line breaks is split, because OCR libraries return either; anything else
// must be exact. today decides the century of the birth year (the latest
// year not after today); an expiry year is read in the hundred years up to
// 50 years after today (so 95 is 1995, not 2095).
//
// Errors are *FieldError wrapping ErrMRZInvalid (shape, characters,
// impossible dates, unknown codes) or ErrMRZCheckDigit (Param names the
// field whose check digit failed). Check digits are verified before the
// fields are interpreted: a failing check digit means a misread, which is
// the more useful thing to tell the client. ParseMRZ never panics.
func ParseMRZ(lines []string, today time.Time) (MRZ, error) {
	if len(lines) == 1 && strings.ContainsAny(lines[0], "\r\n") {
		lines = strings.FieldsFunc(lines[0], func(r rune) bool { return r == '\n' || r == '\r' })
	}
	clean := make([]string, 0, len(lines))
	for _, l := range lines {
		clean = append(clean, strings.TrimSpace(l))
	}
	for _, l := range clean {
		for i := 0; i < len(l); i++ {
			if !mrzChar(l[i]) {
				return MRZ{}, invalid("mrz", "only A-Z, 0-9 and < may appear")
			}
		}
	}
	switch {
	case len(clean) == 2 && len(clean[0]) == 44 && len(clean[1]) == 44:
		return parseTD3(clean[0], clean[1], DateOf(today))
	case len(clean) == 2 && len(clean[0]) == 36 && len(clean[1]) == 36:
		return parseTD2(clean[0], clean[1], DateOf(today))
	case len(clean) == 3 && len(clean[0]) == 30 && len(clean[1]) == 30 && len(clean[2]) == 30:
		return parseTD1(clean[0], clean[1], clean[2], DateOf(today))
	}
	return MRZ{}, invalid("mrz", "expected 2 lines of 44 (TD3), 2 of 36 (TD2) or 3 of 30 (TD1)")
}

func mrzChar(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '<'
}

// charValue is the ICAO 9303 value of a character: digits are themselves,
// A-Z are 10-35 and the filler is 0.
func charValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 0
}

// CheckDigit is the ICAO 9303 check digit of s: the sum of the character
// values weighted 7, 3, 1, 7, 3, 1, ... modulo 10.
func CheckDigit(s string) byte {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		sum += charValue(s[i]) * weights[i%3]
	}
	return byte('0' + sum%10)
}

// check is one check-digit-protected field: its characters, the check
// digit character, and the error parameter.
type check struct {
	field string
	digit byte
	param string
	// alt is another reading of the field that issuing states use, tried
	// when field fails: a long TD1/TD2 document number with the filler
	// that stands in the check digit position kept (Belgium's identity
	// cards compute it so).
	alt string
	// emptyMayBeFiller: an empty optional field may carry "<" as its check
	// digit instead of "0".
	emptyMayBeFiller bool
}

func (c check) ok() bool {
	if c.emptyMayBeFiller && c.digit == '<' && strings.Trim(c.field, "<") == "" {
		return true
	}
	return c.digit == CheckDigit(c.field) || (c.alt != "" && c.digit == CheckDigit(c.alt))
}

// blameOrder decides which failing check an error names. A misread
// character usually breaks its field's check and the composite; the
// dates come first because their reading never depends on the layout,
// while a long document number's does (where its check digit sits, which
// reading the issuer used), so a number failing next to a date is more
// likely collateral. The composite is named only when nothing else fails.
var blameOrder = map[string]int{
	"mrz.date_of_birth": 0, "mrz.expiry_date": 1, "mrz.document_number": 2,
	"mrz.optional_data": 3, "mrz.composite": 4,
}

func verify(checks ...check) error {
	var worst *check
	for i := range checks {
		c := &checks[i]
		if c.ok() {
			continue
		}
		if worst == nil || blameOrder[c.param] < blameOrder[worst.param] {
			worst = c
		}
	}
	if worst == nil {
		return nil
	}
	return badCheck(worst.param, CheckDigit(worst.field))
}

// documentNumber reassembles a document number. When the number is longer
// than nine characters (TD1, TD2), the check digit position holds "<" and
// the optional data starts with the rest of the number followed by its check
// digit, up to the first filler. It returns the check to run, the full
// number and what is left of the optional data.
func documentNumber(number string, digit byte, optional string) (check, string, string, error) {
	if digit != '<' || optional == "" || optional[0] == '<' {
		c := check{field: number, digit: digit, param: "mrz.document_number"}
		return c, number, optional, nil
	}
	end := strings.IndexByte(optional, '<')
	if end < 0 {
		end = len(optional)
	}
	if end < 2 {
		return check{}, "", "", badCheck("mrz.document_number", 0)
	}
	if strings.Contains(number, "<") {
		return check{}, "", "", invalid("mrz.document_number", "a long document number must fill the first nine positions")
	}
	full := number + optional[:end-1]
	// ICAO 9303 computes the check digit over the number alone; some
	// issuers (Belgium) over the characters as printed, filler included.
	c := check{field: full, alt: number + "<" + optional[:end-1], digit: optional[end-1], param: "mrz.document_number"}
	return c, full, optional[end:], nil
}

func parseTD3(l1, l2 string, today Date) (MRZ, error) {
	if l1[0] != 'P' {
		return MRZ{}, invalid("mrz.document_code", "a 44-character MRZ must be a passport (P)")
	}
	if err := verify(
		check{field: l2[0:9], digit: l2[9], param: "mrz.document_number"},
		check{field: l2[13:19], digit: l2[19], param: "mrz.date_of_birth"},
		check{field: l2[21:27], digit: l2[27], param: "mrz.expiry_date"},
		check{field: l2[28:42], digit: l2[42], param: "mrz.optional_data", emptyMayBeFiller: true},
		check{field: l2[0:10] + l2[13:20] + l2[21:43], digit: l2[43], param: "mrz.composite"},
	); err != nil {
		return MRZ{}, err
	}
	m := MRZ{Format: TD3}
	err := m.fill(fields{
		code: l1[0:2], state: l1[2:5], name: l1[5:44], number: l2[0:9],
		nationality: l2[10:13], birth: l2[13:19], sex: l2[20], expiry: l2[21:27],
		optional: l2[28:42],
	}, today)
	return m, err
}

func parseTD2(l1, l2 string, today Date) (MRZ, error) {
	if !idCode(l1[0]) {
		return MRZ{}, invalid("mrz.document_code", "a 36-character MRZ must be an identity document (I, A or C)")
	}
	num, full, optional, err := documentNumber(l2[0:9], l2[9], l2[28:35])
	if err != nil {
		return MRZ{}, err
	}
	if err := verify(
		num,
		check{field: l2[13:19], digit: l2[19], param: "mrz.date_of_birth"},
		check{field: l2[21:27], digit: l2[27], param: "mrz.expiry_date"},
		check{field: l2[0:10] + l2[13:20] + l2[21:35], digit: l2[35], param: "mrz.composite"},
	); err != nil {
		return MRZ{}, err
	}
	m := MRZ{Format: TD2}
	err = m.fill(fields{
		code: l1[0:2], state: l1[2:5], name: l1[5:36], number: full,
		nationality: l2[10:13], birth: l2[13:19], sex: l2[20], expiry: l2[21:27],
		optional: optional,
	}, today)
	return m, err
}

func parseTD1(l1, l2, l3 string, today Date) (MRZ, error) {
	if !idCode(l1[0]) {
		return MRZ{}, invalid("mrz.document_code", "a 3-line MRZ must be an identity document (I, A or C)")
	}
	num, full, optional, err := documentNumber(l1[5:14], l1[14], l1[15:30])
	if err != nil {
		return MRZ{}, err
	}
	if err := verify(
		num,
		check{field: l2[0:6], digit: l2[6], param: "mrz.date_of_birth"},
		check{field: l2[8:14], digit: l2[14], param: "mrz.expiry_date"},
		check{field: l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], digit: l2[29], param: "mrz.composite"},
	); err != nil {
		return MRZ{}, err
	}
	m := MRZ{Format: TD1, OptionalData2: strings.Trim(l2[18:29], "<")}
	err = m.fill(fields{
		code: l1[0:2], state: l1[2:5], name: l3, number: full,
		nationality: l2[15:18], birth: l2[0:6], sex: l2[7], expiry: l2[8:14],
		optional: optional,
	}, today)
	return m, err
}

// idCode: ICAO reserves I, A and C as the first letter of TD1 and TD2
// official travel documents; V would be a visa, which is not an identity
// document and has another layout.
func idCode(c byte) bool { return c == 'I' || c == 'A' || c == 'C' }

// fields are the raw slices common to the three formats.
type fields struct {
	code, state, name, number, nationality, birth, expiry, optional string
	sex                                                             byte
}

func (m *MRZ) fill(f fields, today Date) error {
	if !isLetter(f.code[0]) || (!isLetter(f.code[1]) && f.code[1] != '<') {
		return invalid("mrz.document_code", "document code must be letters")
	}
	m.DocumentCode = strings.TrimRight(f.code, "<")
	var err error
	if m.IssuingState, err = countryField(f.state, "mrz.issuing_state"); err != nil {
		return err
	}
	if m.Nationality, err = countryField(f.nationality, "mrz.nationality"); err != nil {
		return err
	}
	number := strings.TrimRight(f.number, "<")
	if number == "" || strings.Contains(number, "<") {
		return invalid("mrz.document_number", "document number is empty or has a filler inside")
	}
	m.DocumentNumber = number
	if m.Surname, m.GivenNames, m.NameTruncated, err = parseName(f.name); err != nil {
		return err
	}
	switch f.sex {
	case 'M':
		m.Sex = SexMale
	case 'F':
		m.Sex = SexFemale
	case 'X', '<':
		m.Sex = SexUnspecified
	default:
		return invalid("mrz.sex", "sex must be M, F, X or <")
	}
	if m.DateOfBirth, err = birthDate(f.birth, today); err != nil {
		return err
	}
	if m.ExpiryDate, err = expiryDate(f.expiry, today); err != nil {
		return err
	}
	m.OptionalData = strings.Trim(f.optional, "<")
	return nil
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' }

// countryField reads a three-character code: letters, then fillers ("D<<").
func countryField(s, param string) (string, error) {
	code := strings.TrimRight(s, "<")
	for i := 0; i < len(code); i++ {
		if !isLetter(code[i]) {
			return "", invalid(param, "country code must be letters")
		}
	}
	if !KnownCountry(code) {
		return "", invalid(param, "unknown country code")
	}
	return code, nil
}

// parseName splits the name field: primary identifier, "<<", secondary
// identifier; one "<" separates words inside each.
func parseName(s string) (surname, given string, truncated bool, err error) {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) && s[i] != '<' {
			return "", "", false, invalid("mrz.name", "name must be letters and fillers")
		}
	}
	truncated = s[len(s)-1] != '<'
	primary, secondary, _ := strings.Cut(s, "<<")
	surname = strings.Join(strings.FieldsFunc(primary, isFiller), " ")
	given = strings.Join(strings.FieldsFunc(secondary, isFiller), " ")
	// A holder with a single name has it in the primary identifier (ICAO's
	// rule) or, as some states write it (P<IND<<FIRST<NAME), only in the
	// secondary one: both are valid. Only a name with neither is refused.
	if surname == "" && given == "" {
		return "", "", false, invalid("mrz.name", "name is empty")
	}
	return surname, given, truncated, nil
}

func isFiller(r rune) bool { return r == '<' }

// birthDate picks the latest century that does not put the birth after today.
func birthDate(s string, today Date) (Date, error) {
	d, err := mrzDate(s, 2000, "mrz.date_of_birth")
	if err != nil {
		return Date{}, err
	}
	if d.After(today) {
		return mrzDate(s, 1900, "mrz.date_of_birth")
	}
	return d, nil
}

// expiryWindow: an expiry year more than this many years after today's
// year belongs to the previous century. No document is valid for fifty
// years, while documents that expired decades ago are still shown (a 1995
// expiry must not read as valid until 2095).
const expiryWindow = 50

// expiryDate reads the expiry in today's century, or the previous one when
// that puts it more than expiryWindow years ahead.
func expiryDate(s string, today Date) (Date, error) {
	century := today.Year() / 100 * 100
	d, err := mrzDate(s, century, "mrz.expiry_date")
	if err != nil {
		return Date{}, err
	}
	if d.Year() > today.Year()+expiryWindow {
		return mrzDate(s, century-100, "mrz.expiry_date")
	}
	if d.Year() <= today.Year()+expiryWindow-100 {
		// Late in a century: "05" read in 2090 is 2105, not 2005.
		return mrzDate(s, century+100, "mrz.expiry_date")
	}
	return d, nil
}

func mrzDate(s string, century int, param string) (Date, error) {
	n := [6]int{}
	for i := 0; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return Date{}, invalid(param, "date must be YYMMDD digits")
		}
		n[i] = int(s[i] - '0')
	}
	d, err := NewDate(century+n[0]*10+n[1], time.Month(n[2]*10+n[3]), n[4]*10+n[5])
	if err != nil {
		return Date{}, invalid(param, "impossible date")
	}
	return d, nil
}

// MaskNumber keeps the first two and last two characters of a document
// number and hides the rest ("L898902C3" -> "L8*****C3"); a number of four
// characters or fewer is hidden completely, since showing four of them
// would show it all.
func MaskNumber(n string) string {
	if len(n) <= 4 {
		return strings.Repeat("*", len(n))
	}
	return n[:2] + strings.Repeat("*", len(n)-4) + n[len(n)-2:]
}
