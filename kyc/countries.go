package kyc

import (
	_ "embed"
	"strings"
)

//go:embed icao_codes.txt
var icaoCodesFile string

// iso3166 are the ISO 3166-1 alpha-3 codes, which ICAO 9303 uses for states.
const iso3166 = `AFG ALA ALB DZA ASM AND AGO AIA ATA ATG ARG ARM ABW AUS AUT AZE BHS BHR
BGD BRB BLR BEL BLZ BEN BMU BTN BOL BES BIH BWA BVT BRA IOT BRN BGR BFA BDI CPV KHM CMR CAN
CYM CAF TCD CHL CHN CXR CCK COL COM COG COD COK CRI CIV HRV CUB CUW CYP CZE DNK DJI DMA DOM
ECU EGY SLV GNQ ERI EST SWZ ETH FLK FRO FJI FIN FRA GUF PYF ATF GAB GMB GEO DEU GHA GIB GRC
GRL GRD GLP GUM GTM GGY GIN GNB GUY HTI HMD VAT HND HKG HUN ISL IND IDN IRN IRQ IRL IMN ISR
ITA JAM JPN JEY JOR KAZ KEN KIR PRK KOR KWT KGZ LAO LVA LBN LSO LBR LBY LIE LTU LUX MAC MDG
MWI MYS MDV MLI MLT MHL MTQ MRT MUS MYT MEX FSM MDA MCO MNG MNE MSR MAR MOZ MMR NAM NRU NPL
NLD NCL NZL NIC NER NGA NIU NFK MKD MNP NOR OMN PAK PLW PSE PAN PNG PRY PER PHL PCN POL PRT
PRI QAT REU ROU RUS RWA BLM SHN KNA LCA MAF SPM VCT WSM SMR STP SAU SEN SRB SYC SLE SGP SXM
SVK SVN SLB SOM ZAF SGS SSD ESP LKA SDN SUR SJM SWE CHE SYR TWN TJK TZA THA TLS TGO TKL TON
TTO TUN TUR TKM TCA TUV UGA UKR ARE GBR USA UMI URY UZB VUT VEN VNM VGB VIR WLF ESH YEM ZMB
ZWE`

// countryCodes maps every code ICAO 9303 Part 3 allows for issuing states
// and nationalities to its canonical ISO 3166-1 nationality, "" where there
// is none (organisations, stateless persons, refugees). The ISO codes map to
// themselves; the others come from icao_codes.txt, which cites its source.
// An MRZ with another code is most likely misread, so it is refused rather
// than stored.
var countryCodes = func() map[string]string {
	m := map[string]string{}
	for _, c := range strings.Fields(iso3166) {
		m[c] = c
	}
	for _, line := range strings.Split(icaoCodesFile, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		canonical := f[1]
		if canonical == "-" {
			canonical = ""
		}
		m[f[0]] = canonical
	}
	return m
}()

// statelessCodes are ICAO's codes for a stateless person (XXA), a refugee
// under the 1951 convention (XXB), another refugee (XXC) and an unspecified
// nationality (XXX). Such a visitor is not refused but a person decides.
var statelessCodes = map[string]bool{"XXA": true, "XXB": true, "XXC": true, "XXX": true}

// KnownCountry reports whether code is an issuing state or nationality code
// that ICAO 9303 allows (fillers already removed: "D", not "D<<").
func KnownCountry(code string) bool {
	_, ok := countryCodes[code]
	return ok
}

// CanonicalNationality is the ISO 3166-1 alpha-3 nationality an ICAO code
// stands for: "DEU" for Germany's "D", "GBR" for every kind of British
// national (GBD, GBN, GBO, GBP, GBS), the code itself for an ISO code, and
// "" for a code with no nationality behind it (UNO, XOM, XXA, ...) or an
// unknown code.
func CanonicalNationality(code string) string {
	return countryCodes[strings.TrimRight(strings.ToUpper(strings.TrimSpace(code)), "<")]
}

// canonicalState folds the two spellings of Germany into the one its MRZ
// uses, so a staff member typing "DEU" finds a German passport.
func canonicalState(code string) string {
	code = strings.ToUpper(strings.TrimSpace(strings.TrimRight(code, "<")))
	if code == "DEU" {
		return "D"
	}
	return code
}
