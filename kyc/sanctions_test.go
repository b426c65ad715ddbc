package kyc_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/inbound-gateway/inbound/kyc"
)

func TestScreenBuiltinList(t *testing.T) {
	list := kyc.BuiltinSanctions()
	type cand struct {
		EntryID, Name, BirthDate string
		Alias                    bool
		Outcome                  kyc.ScreeningOutcome
	}
	tests := []struct {
		name           string
		surname, given string
		dob            string
		outcome        kyc.ScreeningOutcome
		first          *cand
	}{
		{"exact name and birth date", "DRAKOVIC", "MIRKO", "1970-03-03", kyc.ScreeningMatch,
			&cand{"9000001", "DRAKOVIC, Mirko", kyc.DOBMatch, false, kyc.ScreeningMatch}},
		{"name order swapped", "MIRKO", "DRAKOVIC", "1970-03-03", kyc.ScreeningMatch,
			&cand{"9000001", "DRAKOVIC, Mirko", kyc.DOBMatch, false, kyc.ScreeningMatch}},
		{"an extra middle name", "DRAKOVIC", "MIRKO JAN", "1970-03-03", kyc.ScreeningMatch,
			&cand{"9000001", "DRAKOVIC, Mirko", kyc.DOBMatch, false, kyc.ScreeningMatch}},
		{"exact name, another birth date", "DRAKOVIC", "MIRKO", "1971-03-03", kyc.ScreeningPossible,
			&cand{"9000001", "DRAKOVIC, Mirko", kyc.DOBMismatch, false, kyc.ScreeningPossible}},
		{"transliteration (TCH for CH), same birth date", "DRAKOVITCH", "MIRKO", "1970-03-03", kyc.ScreeningMatch,
			&cand{"9000001", "DRAKOVICH, Mirko", kyc.DOBMatch, true, kyc.ScreeningMatch}},
		{"fuzzy name, same birth date", "DRAKOVIT", "MIRKO", "1970-03-03", kyc.ScreeningPossible,
			&cand{"9000001", "DRAKOVIC, Mirko", kyc.DOBMatch, false, kyc.ScreeningPossible}},
		{"alias hit", "KOVAC", "MIRKO", "1970-03-03", kyc.ScreeningMatch,
			&cand{"9000001", "KOVAC, Mirko", kyc.DOBMatch, true, kyc.ScreeningMatch}},
		{"second listed birth date", "KESTREL", "VIKTOR", "1974-08-13", kyc.ScreeningMatch,
			&cand{"9000003", "KESTREL, Viktor", kyc.DOBMatch, false, kyc.ScreeningMatch}},
		{"year-only birth date", "OBERHOLT", "KARLA JOHANNA", "1965-11-30", kyc.ScreeningMatch,
			&cand{"9000002", "OBERHOLT, Karla Johanna", kyc.DOBMatch, false, kyc.ScreeningMatch}},
		{"month and year", "TESTOV", "IVAN", "1981-04-17", kyc.ScreeningMatch,
			&cand{"9000008", "TESTOV, Ivan", kyc.DOBMatch, false, kyc.ScreeningMatch}},
		{"circa year", "AL RAMADI", "FARIS HAMID", "1981-06-01", kyc.ScreeningMatch,
			&cand{"9000006", "AL-RAMADI, Faris Hamid", kyc.DOBMatch, false, kyc.ScreeningMatch}},
		{"transliterated passport name", "MOELLER STRAND", "JOERGEN", "1960-01-01", kyc.ScreeningMatch,
			&cand{"9000007", "MØLLER-STRAND, Jørgen", kyc.DOBMatch, false, kyc.ScreeningMatch}},
		{"no listed birth date", "QUILLFEATHER", "ORSON", "1980-01-01", kyc.ScreeningPossible,
			&cand{"9000009", "QUILLFEATHER, Orson", kyc.DOBUnknown, false, kyc.ScreeningPossible}},
		{"single-name holder (no primary identifier)", "", "DRAKOVIC MIRKO", "1970-03-03", kyc.ScreeningMatch,
			&cand{"9000001", "DRAKOVIC, Mirko", kyc.DOBMatch, false, kyc.ScreeningMatch}},
		{"clean", "ERIKSSON", "ANNA MARIA", "1974-08-12", kyc.ScreeningClear, nil},
		{"same surname, another first name", "DRAKOVIC", "ZORAN", "1970-03-03", kyc.ScreeningClear, nil},
		{"entities and vessels are not screened", "NORTHWIND", "TRADING", "1970-03-03", kyc.ScreeningClear, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := list.Screen(tt.surname, tt.given, date(t, tt.dob))
			if s.Outcome != tt.outcome || s.ListVersion != list.Version() {
				t.Fatalf("outcome %s, version %s: %+v", s.Outcome, s.ListVersion, s.Candidates)
			}
			if tt.first == nil {
				for _, c := range s.Candidates {
					if c.Outcome != kyc.ScreeningClear {
						t.Fatalf("unexpected candidate %+v", c)
					}
				}
				return
			}
			if len(s.Candidates) == 0 {
				t.Fatal("no candidates")
			}
			c := s.Candidates[0]
			got := cand{c.EntryID, c.Name, c.BirthDate, c.Alias, c.Outcome}
			if diff := cmp.Diff(*tt.first, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if c.Score < kyc.SanctionsFuzzyThreshold || c.Score > 1 {
				t.Errorf("score %v", c.Score)
			}
		})
	}
}

func TestParseSanctionsFormat(t *testing.T) {
	sdn := "ent_num,SDN_Name,SDN_Type,Program,Title,Call_Sign,Vess_type,Tonnage,GRT,Vess_flag,Vess_owner,Remarks\n" +
		`36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Havana, Cuba."` + "\n" +
		`173,"ANGLO-CARIBBEAN CO., LTD.",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ` + "\n" +
		`306,"PERSON, Fictitious Test",individual,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 1960 to 1962; alt. DOB 05 May 1970; POB Nowhere."` + "\n" +
		"\x1a\n"
	alt := `306,219,"aka","PERSONNE, Fictif",-0- ` + "\n" + `999,1,"aka","ORPHAN, Alias",-0- ` + "\n"
	l, err := kyc.ParseSanctions([]byte(sdn), []byte(alt), "test")
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 1 || l.Source() != "test" || !strings.HasPrefix(l.Version(), "sha256:") {
		t.Fatalf("len %d source %s version %s", l.Len(), l.Source(), l.Version())
	}
	for _, tc := range []struct {
		surname, given, dob string
		want                kyc.ScreeningOutcome
	}{
		{"PERSON", "FICTITIOUS TEST", "1961-07-01", kyc.ScreeningMatch},
		{"PERSON", "FICTITIOUS TEST", "1970-05-05", kyc.ScreeningMatch},
		{"PERSON", "FICTITIOUS TEST", "1963-01-01", kyc.ScreeningPossible},
		{"PERSONNE", "FICTIF", "1961-01-01", kyc.ScreeningMatch},
		{"ORPHAN", "ALIAS", "1961-01-01", kyc.ScreeningClear},
		{"AEROCARIBBEAN", "AIRLINES", "1961-01-01", kyc.ScreeningClear},
	} {
		if got := l.Screen(tc.surname, tc.given, date(t, tc.dob)).Outcome; got != tc.want {
			t.Errorf("%s %s %s: %s, want %s", tc.surname, tc.given, tc.dob, got, tc.want)
		}
	}
	other, _ := kyc.ParseSanctions([]byte(sdn), nil, "test")
	if other.Version() == l.Version() {
		t.Fatal("the version ignores alt.csv")
	}
}

func TestLoadSanctions(t *testing.T) {
	builtin, err := kyc.LoadSanctions("")
	if err != nil || builtin.Source() != "builtin" || builtin.Len() == 0 {
		t.Fatalf("%v %v", builtin, err)
	}
	dir := t.TempDir()
	sdn := `1,"ROE, Richard",individual,"X",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 01 Jan 1950"` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "sdn.csv"), []byte(sdn), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := kyc.LoadSanctions(dir) // alt.csv is optional
	if err != nil || l.Len() != 1 {
		t.Fatalf("%v %v", l, err)
	}
	if got := l.Screen("ROE", "RICHARD", date(t, "1950-01-01")).Outcome; got != kyc.ScreeningMatch {
		t.Fatal(got)
	}
	if _, err := kyc.LoadSanctions(filepath.Join(dir, "missing")); !errors.Is(err, kyc.ErrSanctionsList) {
		t.Fatal(err)
	}
}

// generatedList builds an OFAC-format list of n individuals with made-up
// names from syllables, with a fixed seed.
func generatedList(tb testing.TB, n int) (*kyc.SanctionsList, [][2]string) {
	tb.Helper()
	syll := strings.Fields(`ka lo mi ra ten vos dar el ix un bor zen ha qui pe sto lan mar vik ol fe
		gru tan is ab cor dim fal gen hul jor kes lim mun nor pav rus sel tor ul val wen yak zor
		bri cha dro fle gna kru pli sha tri vel`)
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // a seeded generator keeps the synthetic list reproducible
	w := func(parts int) string {
		var b strings.Builder
		for range parts {
			b.WriteString(syll[r.IntN(len(syll))])
		}
		return strings.ToUpper(b.String())
	}
	var sdn, alt strings.Builder
	var names [][2]string
	for i := range n {
		sur, giv := w(2+r.IntN(2)), w(2)+" "+w(2)
		names = append(names, [2]string{sur, giv})
		fmt.Fprintf(&sdn, "%d,\"%s, %s\",individual,\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB %d %s %d\"\n",
			i+1, sur, giv, 1+r.IntN(28), []string{"Jan", "Feb", "Mar", "Apr", "Oct"}[r.IntN(5)], 1940+r.IntN(60))
		if i%3 == 0 {
			fmt.Fprintf(&alt, "%d,%d,\"aka\",\"%s, %s\",-0- \n", i+1, i+1, w(3), giv)
		}
	}
	l, err := kyc.ParseSanctions([]byte(sdn.String()), []byte(alt.String()), "generated")
	if err != nil {
		tb.Fatal(err)
	}
	return l, names
}

func TestScreenFindsEveryoneInAGeneratedList(t *testing.T) {
	l, names := generatedList(t, 2000)
	for _, n := range names[:200] {
		s := l.Screen(n[0], n[1], date(t, "2001-01-01"))
		if s.Outcome == kyc.ScreeningClear || !cmp.Equal(s.Candidates[0].Score, 1.0, cmpopts.EquateApprox(0, 1e-9)) {
			t.Fatalf("%v not found: %+v", n, s)
		}
	}
}

func BenchmarkScreen(b *testing.B) {
	l, names := generatedList(b, 12000)
	dob := date(b, "1970-03-03")
	queries := [][2]string{
		names[17], names[5000], // listed
		{"ERIKSSON", "ANNA MARIA"}, {"KALOMI", "RATEN VOS"}, {"MARVIK", "OLFE"}, // not listed, some close
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := queries[i%len(queries)]
		l.Screen(q[0], q[1], dob)
	}
}

// BenchmarkScreenLinearBaseline is what Screen's token index saves: the same
// queries scored against every entry of the list, one by one.
func BenchmarkScreenLinearBaseline(b *testing.B) {
	_, names := generatedList(b, 12000)
	queries := [][2]string{names[17], names[5000], {"ERIKSSON", "ANNA MARIA"}, {"KALOMI", "RATEN VOS"}, {"MARVIK", "OLFE"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := queries[i%len(queries)]
		for _, n := range names {
			kyc.MatchName(q[1]+" "+q[0], n[0], n[1])
		}
	}
}
