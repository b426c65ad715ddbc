package kyc_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/inbound-gateway/inbound/kyc"
)

const (
	alnum   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	mrzSet  = alnum + "<"
)

func word(chars string, minLen, maxLen int) *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		n := rapid.IntRange(minLen, maxLen).Draw(t, "len")
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[rapid.IntRange(0, len(chars)-1).Draw(t, "c")]
		}
		return string(b)
	})
}

// genDoc draws a valid document and the MRZ it must parse to.
func genDoc(t *rapid.T) (doc, kyc.MRZ) {
	format := rapid.SampledFrom([]kyc.Format{kyc.TD1, kyc.TD2, kyc.TD3}).Draw(t, "format")
	nameLen := map[kyc.Format]int{kyc.TD1: 30, kyc.TD2: 31, kyc.TD3: 39}[format]
	d := doc{format: format}
	if format == kyc.TD3 {
		d.code = "P" + rapid.SampledFrom([]string{"", "D", "O", "S"}).Draw(t, "code2")
	} else {
		d.code = rapid.SampledFrom([]string{"I", "A", "C"}).Draw(t, "code1") +
			rapid.SampledFrom([]string{"", "D", "P"}).Draw(t, "code2")
	}
	codes := []string{"UTO", "D", "GBR", "CHN", "XXA", "XXB", "XXC", "XXX", "USA", "FRA", "GBN", "UNO"}
	d.state = rapid.SampledFrom(codes).Draw(t, "state")
	d.nationality = rapid.SampledFrom(codes).Draw(t, "nationality")
	// Names leave at least one filler, so they are not flagged truncated.
	for {
		d.surname = rapid.SliceOfN(word(letters, 1, 12), 1, 3).Draw(t, "surname")
		d.given = rapid.SliceOfN(word(letters, 1, 10), 0, 3).Draw(t, "given")
		if len(strings.Join(d.surname, "<"))+2+len(strings.Join(d.given, "<")) < nameLen {
			break
		}
	}
	maxNum := 9
	if format != kyc.TD3 {
		maxNum = 12 // overflow into the optional data
	}
	d.number = word(alnum, 1, maxNum).Draw(t, "number")
	optMax := map[kyc.Format]int{kyc.TD1: 15, kyc.TD2: 7, kyc.TD3: 14}[format]
	if len(d.number) > 9 {
		optMax = 0
	}
	d.optional = word(alnum, 0, optMax).Draw(t, "optional")
	if format == kyc.TD1 {
		d.optional2 = word(alnum, 0, 11).Draw(t, "optional2")
	}
	// Birth within the last 99 years, so the century rule is unambiguous.
	birth := today.AddDate(0, 0, -rapid.IntRange(0, 36000).Draw(t, "age days"))
	// Expiry years read in a window: up to 50 years after today's year,
	// otherwise the previous century.
	first := time.Date(today.Year()-49, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(today.Year()+50, 12, 31, 0, 0, 0, 0, time.UTC)
	expiry := first.AddDate(0, 0, rapid.IntRange(0, int(last.Sub(first).Hours()/24)).Draw(t, "expiry days"))
	d.birth, d.expiry = birth.Format("060102"), expiry.Format("060102")
	d.sex = rapid.SampledFrom([]byte("MFX<")).Draw(t, "sex")
	sex := map[byte]kyc.Sex{'M': kyc.SexMale, 'F': kyc.SexFemale, 'X': kyc.SexUnspecified, '<': kyc.SexUnspecified}[d.sex]
	return d, kyc.MRZ{
		Format: format, DocumentCode: d.code, IssuingState: d.state,
		Surname: strings.Join(d.surname, " "), GivenNames: strings.Join(d.given, " "),
		DocumentNumber: d.number, Nationality: d.nationality,
		DateOfBirth: kyc.DateOf(birth), Sex: sex, ExpiryDate: kyc.DateOf(expiry),
		OptionalData: d.optional, OptionalData2: d.optional2,
	}
}

func TestPropertyGeneratedMRZParsesBack(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d, want := genDoc(t)
		lines := build(d)
		got, err := kyc.ParseMRZ(lines, today)
		if err != nil {
			t.Fatalf("%v\n%s", err, strings.Join(lines, "\n"))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s\n(-want +got):\n%s", strings.Join(lines, "\n"), diff)
		}
	})
}

// protected lists, per format, the positions (line, column) that the
// composite check digit covers, plus the composite digit itself: every
// check-digit-protected field and its own check digit.
func protected(f kyc.Format) [][2]int {
	var out [][2]int
	add := func(line, from, to int) {
		for c := from; c < to; c++ {
			out = append(out, [2]int{line, c})
		}
	}
	switch f {
	case kyc.TD3:
		add(1, 0, 10)
		add(1, 13, 20)
		add(1, 21, 44)
	case kyc.TD2:
		add(1, 0, 10)
		add(1, 13, 20)
		add(1, 21, 36)
	case kyc.TD1:
		add(0, 5, 30)
		add(1, 0, 7)
		add(1, 8, 15)
		add(1, 18, 30)
	}
	return out
}

func value(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 0
}

// The 7-3-1 scheme detects every single substitution that changes the
// character's value modulo 10 (the weights are prime to 10). It cannot see
// one that keeps it: 0, A, K, U and < all weigh 0, so a misread O/0 in a
// document number may pass, which is ICAO's design, not a bug. The property
// therefore changes one protected character to one of another value modulo
// 10, and the parse must fail.
func TestPropertyOneChangedCharacterIsCaught(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d, _ := genDoc(t)
		lines := build(d)
		pos := rapid.SampledFrom(protected(d.format)).Draw(t, "position")
		old := lines[pos[0]][pos[1]]
		var choices []byte
		for i := 0; i < len(mrzSet); i++ {
			if value(mrzSet[i])%10 != value(old)%10 {
				choices = append(choices, mrzSet[i])
			}
		}
		c := rapid.SampledFrom(choices).Draw(t, "replacement")
		b := []byte(lines[pos[0]])
		b[pos[1]] = c
		lines[pos[0]] = string(b)
		if m, err := kyc.ParseMRZ(lines, today); err == nil {
			t.Fatalf("changing %c to %c at %v was not caught:\n%s\n%+v", old, c, pos, strings.Join(lines, "\n"), m)
		}
	})
}
