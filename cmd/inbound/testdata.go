package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/kyc"
)

// testdataCmd prints test data for partners: `testdata passport` writes a
// request body for POST /v1/visitors with a valid MRZ, so nobody has to
// compute ICAO check digits by hand (docs/TESTING.md).
func testdataCmd(args []string, now time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "passport" {
		return errors.New("usage: inbound testdata passport [flags] (see inbound testdata passport -h)")
	}
	spec, err := passportFlags(args[1:], now, stderr)
	if err != nil {
		return err
	}
	lines, err := kyc.BuildMRZ(spec)
	if err != nil {
		return fmt.Errorf("testdata passport: %w", err)
	}
	// One line, fillers as they are (not \u003c): easy to paste and to
	// pass to curl -d.
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(map[string][]string{"mrz": lines})
}

// passportFlags reads the flags of `testdata passport`. The default is an
// adult passport valid for five more years, approved by the KYC rules, with
// a random document number so that running the same example twice does not
// hit duplicate_document.
func passportFlags(args []string, now time.Time, stderr io.Writer) (kyc.Specimen, error) {
	fs := flag.NewFlagSet("inbound testdata passport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	surname := fs.String("surname", "MARTIN", "surname (letters A-Z, spaces or hyphens between words)")
	given := fs.String("given", "ANNA", "given names")
	nationality := fs.String("nationality", "UTO", "nationality and issuing state, an ICAO code (UTO is ICAO's fictional Utopia)")
	sex := fs.String("sex", "F", "M, F or X")
	born := fs.String("born", "1990-01-15", "date of birth, YYYY-MM-DD")
	expires := fs.String("expires", now.AddDate(5, 0, 0).Format(time.DateOnly), "expiry date, YYYY-MM-DD")
	number := fs.String("number", "", "document number, A-Z and 0-9 (default: random, 9 characters)")
	format := fs.String("format", "td3", "td3 (passport book, 2x44), td2 (2x36) or td1 (ID card, 3x30)")
	if err := fs.Parse(args); err != nil {
		return kyc.Specimen{}, fmt.Errorf("testdata passport: %w", err)
	}
	if fs.NArg() > 0 {
		return kyc.Specimen{}, fmt.Errorf("testdata passport: unexpected argument %q", fs.Arg(0))
	}
	spec := kyc.Specimen{
		Format: kyc.Format(strings.ToUpper(*format)), Surname: *surname, GivenNames: *given,
		Nationality: *nationality, Sex: kyc.Sex(strings.ToUpper(*sex)), DocumentNumber: *number,
	}
	switch spec.Format {
	case kyc.TD1, kyc.TD2, kyc.TD3:
	default:
		return kyc.Specimen{}, fmt.Errorf("testdata passport: -format must be td1, td2 or td3, not %q", *format)
	}
	var err error
	if spec.DateOfBirth, err = kyc.ParseDate(*born); err != nil {
		return kyc.Specimen{}, fmt.Errorf("testdata passport: -born must be a date YYYY-MM-DD, not %q", *born)
	}
	if spec.ExpiryDate, err = kyc.ParseDate(*expires); err != nil {
		return kyc.Specimen{}, fmt.Errorf("testdata passport: -expires must be a date YYYY-MM-DD, not %q", *expires)
	}
	if spec.DocumentNumber == "" {
		spec.DocumentNumber = randomDocumentNumber()
	}
	return spec, nil
}

// randomDocumentNumber is two letters and seven digits (about 3.4e11
// numbers, so two runs practically never collide). It is test data, not a
// secret; crypto/rand only because it needs no seeding.
func randomDocumentNumber() string {
	const letters, digits = "ABCDEFGHJKLMNPRSTUVWXYZ", "0123456789"
	var b strings.Builder
	for i := range 9 {
		set := digits
		if i < 2 {
			set = letters
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b.WriteByte(set[n.Int64()])
	}
	return b.String()
}
