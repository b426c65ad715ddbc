package kyc_test

import (
	"os"
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/kyc"
)

// Every code of the ICAO 9303 Part 3 table (kept in icao_codes.txt) reads
// as issuing state and as nationality, in each of the three formats.
func TestEveryICAOCodeIsAccepted(t *testing.T) {
	b, err := os.ReadFile("icao_codes.txt")
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			codes = append(codes, f[0])
		}
	}
	// The list, so a line lost from the data file fails here.
	for _, must := range []string{"D", "GBD", "GBN", "GBO", "GBP", "GBS", "UNO", "UNA", "UNK", "XXA", "XXB", "XXC", "XXX",
		"EUE", "XOM", "XPO", "XES", "XMP", "XDC", "XIM", "XBA", "XCC", "XCE", "XCO", "XEC", "RKS"} {
		if !strings.Contains(" "+strings.Join(codes, " ")+" ", " "+must+" ") {
			t.Errorf("%s missing from icao_codes.txt", must)
		}
	}
	for _, code := range codes {
		for _, f := range []kyc.Format{kyc.TD1, kyc.TD2, kyc.TD3} {
			c := "I"
			if f == kyc.TD3 {
				c = "P"
			}
			m, err := kyc.ParseMRZ(build(doc{format: f, code: c, state: code, surname: []string{"HOLDER"}, given: []string{"ANNA"},
				number: "X1234567", nationality: code, birth: "800101", sex: 'F', expiry: "300101"}), today)
			if err != nil {
				t.Errorf("%s %s: %v", f, code, err)
				continue
			}
			if m.IssuingState != code || m.Nationality != code {
				t.Errorf("%s %s: read %q/%q", f, code, m.IssuingState, m.Nationality)
			}
		}
	}
}

func TestCanonicalNationality(t *testing.T) {
	for code, want := range map[string]string{
		"D": "DEU", "D<<": "DEU", "DEU": "DEU", "GBD": "GBR", "GBN": "GBR", "GBO": "GBR", "GBP": "GBR", "GBS": "GBR",
		"GBR": "GBR", "FRA": "FRA", "UNO": "", "XOM": "", "XXA": "", "EUE": "", "RKS": "", "ZZZ": "",
	} {
		if got := kyc.CanonicalNationality(code); got != want {
			t.Errorf("CanonicalNationality(%q) = %q, want %q", code, got, want)
		}
	}
}
