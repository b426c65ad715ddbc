package kyc_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/kyc"
)

func TestBuildMRZParsesBack(t *testing.T) {
	tests := []struct {
		name string
		spec kyc.Specimen
		want kyc.MRZ
		mrz  []string // when set, the exact lines
	}{
		{
			name: "ICAO TD3 specimen",
			spec: kyc.Specimen{Format: kyc.TD3, IssuingState: "UTO", Surname: "Eriksson", GivenNames: "Anna Maria",
				DocumentNumber: "L898902C3", Nationality: "UTO", DateOfBirth: date(t, "1974-08-12"), Sex: kyc.SexFemale,
				ExpiryDate: date(t, "2012-04-15")},
			mrz: []string{"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159<<<<<<<<<<<<<<<" +
				cd("L898902C36"+"7408122"+"1204159"+strings.Repeat("<", 15))},
			want: kyc.MRZ{Format: kyc.TD3, DocumentCode: "P", IssuingState: "UTO", Surname: "ERIKSSON", GivenNames: "ANNA MARIA",
				DocumentNumber: "L898902C3", Nationality: "UTO", DateOfBirth: date(t, "1974-08-12"), Sex: kyc.SexFemale,
				ExpiryDate: date(t, "2012-04-15")},
		},
		{
			name: "TD2 with a hyphenated surname",
			spec: kyc.Specimen{Format: kyc.TD2, Surname: "Smith-Jones", GivenNames: "Tom", DocumentNumber: "AB1234567",
				Nationality: "GBR", DateOfBirth: date(t, "1990-01-31"), Sex: kyc.SexMale, ExpiryDate: date(t, "2035-12-31")},
			want: kyc.MRZ{Format: kyc.TD2, DocumentCode: "I", IssuingState: "GBR", Surname: "SMITH JONES", GivenNames: "TOM",
				DocumentNumber: "AB1234567", Nationality: "GBR", DateOfBirth: date(t, "1990-01-31"), Sex: kyc.SexMale,
				ExpiryDate: date(t, "2035-12-31")},
		},
		{
			name: "TD1 with a long number",
			spec: kyc.Specimen{Format: kyc.TD1, IssuingState: "D", Surname: "Muster", GivenNames: "Erika", DocumentNumber: "T22000129XY7",
				Nationality: "D", DateOfBirth: date(t, "1983-08-12"), ExpiryDate: date(t, "2035-10-31")},
			want: kyc.MRZ{Format: kyc.TD1, DocumentCode: "I", IssuingState: "D", Surname: "MUSTER", GivenNames: "ERIKA",
				DocumentNumber: "T22000129XY7", Nationality: "D", DateOfBirth: date(t, "1983-08-12"), Sex: kyc.SexUnspecified,
				ExpiryDate: date(t, "2035-10-31")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, err := kyc.BuildMRZ(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if tt.mrz != nil {
				if diff := cmp.Diff(tt.mrz, lines); diff != "" {
					t.Errorf("lines (-want +got):\n%s", diff)
				}
			}
			got, err := kyc.ParseMRZ(lines, today)
			if err != nil {
				t.Fatalf("%v\n%s", err, strings.Join(lines, "\n"))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildMRZRefuses(t *testing.T) {
	ok := kyc.Specimen{Surname: "Doe", GivenNames: "Jane", DocumentNumber: "X1", Nationality: "UTO",
		DateOfBirth: date(t, "1990-01-01"), ExpiryDate: date(t, "2035-01-01")}
	if _, err := kyc.BuildMRZ(ok); err != nil {
		t.Fatalf("base specimen: %v", err)
	}
	tests := []struct {
		name   string
		change func(*kyc.Specimen)
		want   string
	}{
		{"format", func(s *kyc.Specimen) { s.Format = "TD4" }, "format"},
		{"nationality", func(s *kyc.Specimen) { s.Nationality = "ZZZ" }, "nationality"},
		{"name characters", func(s *kyc.Specimen) { s.Surname = "Müller" }, "letters"},
		{"no name", func(s *kyc.Specimen) { s.Surname, s.GivenNames = "", "" }, "name is required"},
		{"long name", func(s *kyc.Specimen) { s.Surname = strings.Repeat("A", 40) }, "longer than"},
		{"long TD3 number", func(s *kyc.Specimen) { s.DocumentNumber = "1234567890" }, "1-9 characters"},
		{"number characters", func(s *kyc.Specimen) { s.DocumentNumber = "AB-12" }, "A-Z and 0-9"},
		{"sex", func(s *kyc.Specimen) { s.Sex = "Q" }, "sex"},
		{"no expiry", func(s *kyc.Specimen) { s.ExpiryDate = kyc.Date{} }, "required"},
		{"TD1 passport code", func(s *kyc.Specimen) { s.Format, s.DocumentCode = kyc.TD1, "P" }, "I, A or C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.change(&s)
			_, err := kyc.BuildMRZ(s)
			if !errors.Is(err, kyc.ErrSpecimenInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrSpecimenInvalid mentioning %q", err, tt.want)
			}
		})
	}
}
