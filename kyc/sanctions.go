package kyc

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Thresholds of the sanctions screening, on the same score as MatchName.
const (
	// SanctionsExactScore: every compared token is the same after
	// normalisation (transliteration variants included). Only such a name,
	// with a compatible listed birth date, is a match that rejects the
	// visitor without a person looking at it; the same name with another or
	// no listed birth date is a possible match.
	SanctionsExactScore = 1.0
	// SanctionsFuzzyThreshold: from here a name is similar enough for a
	// person to look at it, whatever the birth date (DRAKOVITCH for
	// DRAKOVIC scores 0.98).
	SanctionsFuzzyThreshold = 0.90
	// candidateFloor: weaker candidates are not worth recording. It is
	// also the bar a listed word must clear against a surname word before
	// any name holding it is scored, which keeps screening fast.
	candidateFloor = 0.85
	// maxCandidates bounds what a screening records.
	maxCandidates = 10
)

// ScreeningOutcome is the verdict of a screening, or of one candidate.
type ScreeningOutcome string

// The values of ScreeningOutcome.
const (
	ScreeningClear    ScreeningOutcome = "clear"
	ScreeningPossible ScreeningOutcome = "possible_match"
	ScreeningMatch    ScreeningOutcome = "match"
)

// DOB comparison of a candidate.
const (
	DOBMatch    = "match"
	DOBMismatch = "mismatch"
	DOBUnknown  = "unknown" // the list gives no birth date
)

// Screening is the result of screening one person. It is stored with the
// visitor, so it must say against which list it was made.
type Screening struct {
	ListVersion string           `json:"list_version"`
	Outcome     ScreeningOutcome `json:"outcome"`
	Candidates  []Candidate      `json:"candidates"`
}

// Candidate is one listed name that resembles the person.
type Candidate struct {
	EntryID   string           `json:"entry_id"` // ent_num of the list
	Name      string           `json:"name"`     // the listed name that matched, as listed
	Alias     bool             `json:"alias"`
	Program   string           `json:"program"`
	Score     float64          `json:"score"`
	BirthDate string           `json:"birth_date"` // DOBMatch, DOBMismatch or DOBUnknown
	Outcome   ScreeningOutcome `json:"outcome"`
	// NameMatch says how the name agreed: MatchExact, MatchTransliteration
	// (every compared word the same, a variant or phonetically the same)
	// or MatchFuzzy (similar spelling only).
	NameMatch string `json:"name_match,omitempty"`
	// Agreed lists the fields that agreed: "surname", "given_names" (a
	// compared word of each the same or a variant of it), "date_of_birth".
	Agreed []string `json:"agreed,omitempty"`
}

// The values of Candidate.NameMatch.
const (
	MatchExact           = "exact"
	MatchTransliteration = "transliteration"
	MatchFuzzy           = "fuzzy"
)

// Screener screens a person. *SanctionsList is one; a service that reloads
// the list while running can be another.
type Screener interface {
	Screen(surname, given string, dob Date) Screening
}

// SanctionsEntry is one listed individual.
type SanctionsEntry struct {
	ID         string
	Name       string
	Program    string
	Aliases    []string
	BirthDates []ListedDate
}

// ListedDate is a birth date as a list gives it: a full date, a month and
// year, a year, or a range of years ("DOB 1960 to 1962", "DOB circa 1970").
// Month and Day are 0 when unknown.
type ListedDate struct {
	Year, YearTo int // YearTo == Year unless a range
	Month        time.Month
	Day          int
}

// matches reports whether a passport birth date is compatible.
func (l ListedDate) matches(d Date) bool {
	if d.Year() < l.Year || d.Year() > l.YearTo {
		return false
	}
	if l.Month != 0 && l.Month != d.Month() {
		return false
	}
	return l.Day == 0 || l.Day == d.Day()
}

// SanctionsList is a loaded list with its token index. It is immutable and
// safe for concurrent use.
type SanctionsList struct {
	version string
	source  string
	entries []SanctionsEntry
	names   []listedName
	// The index is over distinct tokens, not names: a list of ten thousand
	// names has far fewer distinct words, so a screening compares each
	// word once and scores in full only the names holding a close word.
	tokens     []string           // distinct normalised tokens
	simple     []string           // their simplified forms (see simplify)
	tokenID    map[string]int32   // token -> position in tokens
	tokenNames [][]int32          // token -> names holding it
	index      map[string][]int32 // blocking key -> tokens
}

type listedName struct {
	entry  int32
	alias  bool
	text   string
	tokens []int32 // positions in SanctionsList.tokens
}

//go:embed sanctions_sample/sdn.csv sanctions_sample/alt.csv
var sampleFS embed.FS

// BuiltinSanctions is the small fictitious list shipped for development and
// tests; no real person is on it. Its "DRAKOVIC, Mirko" (born 3 March 1970,
// alias "KOVAC, Mirko") is the person tests can hit.
func BuiltinSanctions() *SanctionsList {
	sdn, _ := fs.ReadFile(sampleFS, "sanctions_sample/sdn.csv")
	alt, _ := fs.ReadFile(sampleFS, "sanctions_sample/alt.csv")
	l, err := ParseSanctions(sdn, alt, "builtin")
	if err != nil {
		panic("kyc: built-in sanctions list: " + err.Error()) // a broken build, not an input
	}
	return l
}

// LoadSanctions reads sdn.csv and, when present, alt.csv from dir. An empty
// dir gives the built-in list, as the configuration documents.
func LoadSanctions(dir string) (*SanctionsList, error) {
	if dir == "" {
		return BuiltinSanctions(), nil
	}
	sdn, err := os.ReadFile(filepath.Join(dir, "sdn.csv")) //nolint:gosec // the operator configures the sanctions dir (INBOUND_SANCTIONS_DIR)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSanctionsList, err)
	}
	alt, err := os.ReadFile(filepath.Join(dir, "alt.csv")) //nolint:gosec // the operator configures the sanctions dir (INBOUND_SANCTIONS_DIR)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrSanctionsList, err)
	}
	return ParseSanctions(sdn, alt, dir)
}

// ParseSanctions reads the OFAC CSV formats: sdn.csv (ent_num, SDN_Name,
// SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag,
// Vess_owner, Remarks) and alt.csv (ent_num, alt_num, alt_type, alt_name,
// alt_remarks). "-0-" means empty; a header row is skipped if present.
// Only individuals are kept: visitors are people, and a vessel or company
// sharing a word with a name would only add noise. Birth dates are read
// from the remarks ("DOB 12 Aug 1974", "DOB Aug 1974", "DOB 1974",
// "DOB circa 1974", "DOB 1960 to 1962", "alt. DOB ..."). The version is the
// SHA-256 of both files.
func ParseSanctions(sdn, alt []byte, source string) (*SanctionsList, error) {
	h := sha256.New()
	fmt.Fprintf(h, "sdn.csv %d\n", len(sdn))
	h.Write(sdn)
	fmt.Fprintf(h, "alt.csv %d\n", len(alt))
	h.Write(alt)
	l := &SanctionsList{
		version: "sha256:" + hex.EncodeToString(h.Sum(nil)),
		source:  source,
		tokenID: map[string]int32{},
		index:   map[string][]int32{},
	}
	byID := map[string]int{}
	err := readCSV(sdn, func(rec []string) error {
		if len(rec) < 4 || !strings.EqualFold(field(rec, 2), "individual") {
			return nil
		}
		id, name := field(rec, 0), field(rec, 1)
		if id == "" || name == "" || !strings.ContainsFunc(id, isDigitRune) {
			return nil // header row or garbage such as OFAC's trailing EOF byte
		}
		byID[id] = len(l.entries)
		l.entries = append(l.entries, SanctionsEntry{
			ID: id, Name: name, Program: field(rec, 3),
			BirthDates: parseDOBs(field(rec, 11)),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readCSV(alt, func(rec []string) error {
		i, ok := byID[field(rec, 0)]
		if !ok || field(rec, 3) == "" {
			return nil
		}
		l.entries[i].Aliases = append(l.entries[i].Aliases, field(rec, 3))
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, e := range l.entries {
		l.add(int32(i), e.Name, false)
		for _, a := range e.Aliases {
			l.add(int32(i), a, true)
		}
	}
	return l, nil
}

func isDigitRune(r rune) bool { return r >= '0' && r <= '9' }

func readCSV(b []byte, fn func([]string) error) error {
	if len(b) == 0 {
		return nil
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSanctionsList, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// field is rec[i] with OFAC's "-0-" placeholder read as empty.
func field(rec []string, i int) string {
	if i >= len(rec) {
		return ""
	}
	s := strings.TrimSpace(rec[i])
	if s == "-0-" {
		return ""
	}
	return s
}

var dobRE = regexp.MustCompile(`DOB (circa )?((?:\d{1,2} )?(?:[A-Za-z]{3} )?\d{4})(?: to ((?:\d{1,2} )?(?:[A-Za-z]{3} )?\d{4}))?`)

var months = map[string]time.Month{
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
	"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}

func parseDOBs(remarks string) []ListedDate {
	var out []ListedDate
	for _, m := range dobRE.FindAllStringSubmatch(remarks, -1) {
		d, ok := parseListedDate(m[2])
		if !ok {
			continue
		}
		if m[3] != "" {
			if to, ok := parseListedDate(m[3]); ok && to.Year >= d.Year {
				d = ListedDate{Year: d.Year, YearTo: to.Year}
			}
		}
		if m[1] != "" {
			d = ListedDate{Year: d.Year - 1, YearTo: d.YearTo + 1}
		}
		out = append(out, d)
	}
	return out
}

func parseListedDate(s string) (ListedDate, bool) {
	parts := strings.Fields(s)
	year, err := strconv.Atoi(parts[len(parts)-1])
	if err != nil {
		return ListedDate{}, false
	}
	d := ListedDate{Year: year, YearTo: year}
	if len(parts) >= 2 {
		mon, ok := months[strings.ToLower(parts[len(parts)-2])]
		if !ok {
			return ListedDate{Year: year, YearTo: year}, true
		}
		d.Month = mon
	}
	if len(parts) == 3 {
		d.Day, _ = strconv.Atoi(parts[0])
	}
	return d, true
}

func (l *SanctionsList) add(entry int32, name string, alias bool) {
	tokens := NormalizeName(name)
	if len(tokens) == 0 {
		return
	}
	pos := int32(len(l.names)) //nolint:gosec // a list has far fewer than 2^31 names
	n := listedName{entry: entry, alias: alias, text: name}
	for i, t := range tokens {
		id, ok := l.tokenID[t]
		if !ok {
			id = int32(len(l.tokens)) //nolint:gosec // a list has far fewer than 2^31 distinct tokens
			l.tokenID[t] = id
			l.tokens = append(l.tokens, t)
			l.simple = append(l.simple, simplify(t))
			l.tokenNames = append(l.tokenNames, nil)
			for _, k := range append(blockingKeys(t), variantKeys(t)...) {
				l.index[k] = append(l.index[k], id)
			}
		}
		n.tokens = append(n.tokens, id)
		if !slices.Contains(tokens[:i], t) {
			l.tokenNames[id] = append(l.tokenNames[id], pos)
		}
	}
	l.names = append(l.names, n)
}

// blockingKeys are the index keys of a token. A screening scores only the
// listed names sharing a key with a surname token; that is what keeps it
// to milliseconds on a list of tens of thousands of names. Three keys, so
// that one typing mistake leaves at least one intact: the first three
// letters, the last three, and the consonant skeleton (vowels dropped,
// doubled letters collapsed: ERIKSSON and ERIKSON are both RKSN, MUELLER and
// MULLER both MLR).
func blockingKeys(t string) []string {
	if len(t) < 2 {
		return nil
	}
	keys := []string{"f" + t[:min(3, len(t))], "l" + t[max(0, len(t)-3):]}
	if sk := skeleton(t); len(sk) >= 2 {
		keys = append(keys, "s"+sk)
	}
	return keys
}

// variantKeys are the index keys that find a transliteration whose
// spelling shares no blocking key: its variant group and its phonetic key.
func variantKeys(t string) []string {
	if len(t) < 2 {
		return nil
	}
	keys := []string{"p" + phoneticKey(t)}
	if g, ok := variantGroup[t]; ok {
		keys = append(keys, "v"+g)
	}
	return keys
}

func skeleton(t string) string {
	var b strings.Builder
	var last rune
	for _, r := range t {
		if strings.ContainsRune("AEIOUYHW", r) || r == last {
			continue
		}
		b.WriteRune(r)
		last = r
	}
	return b.String()
}

// Version is "sha256:" and the hash of the list files.
func (l *SanctionsList) Version() string { return l.version }

// Source is the directory the list came from, or "builtin".
func (l *SanctionsList) Source() string { return l.source }

// Len is the number of listed individuals.
func (l *SanctionsList) Len() int { return len(l.entries) }

// Screen compares a person with every listed name that shares a blocking
// key with the person's surname. An exact name (SanctionsExactScore) with a
// compatible listed birth date is a match; an exact name with another or
// no listed birth date, or a name scoring SanctionsFuzzyThreshold or more,
// is a possible match. The outcome is the strongest candidate's.
func (l *SanctionsList) Screen(surname, given string, dob Date) Screening {
	res := Screening{ListVersion: l.version, Outcome: ScreeningClear, Candidates: []Candidate{}}
	sur, giv := NormalizeName(surname), NormalizeName(given)
	if len(sur) == 0 {
		// A single-name holder with the name in the given names only: that
		// name is all there is to screen, so it blocks like a surname.
		sur, giv = giv, nil
	}
	if len(sur) == 0 {
		return res
	}
	// Particles (AL, EL, DE) would pull in half the list; block on the
	// real words of the surname when there are any.
	block := slices.DeleteFunc(slices.Clone(sur), func(t string) bool { return len(t) < 3 })
	if len(block) == 0 {
		block = sur
	}
	// First the distinct listed tokens near a surname token, then the
	// names holding one of them: a name can only reach candidateFloor if
	// one of its tokens is that close to the surname.
	seenTok := map[int32]bool{}
	var names []int32
	for _, t := range block {
		for _, k := range append(append(blockingKeys(t), blockingKeys(simplify(t))...), variantKeys(t)...) {
			for _, id := range l.index[k] {
				if seenTok[id] {
					continue
				}
				seenTok[id] = true
				if sc, eq := screenTokenScore(l.tokens[id], l.simple[id], t, simplify(t), false); eq || sc >= candidateFloor {
					names = append(names, l.tokenNames[id]...)
				}
			}
		}
	}
	// Names share tokens, so each (listed token, person token) similarity
	// is computed once per screening.
	person := append(slices.Clone(sur), giv...)
	personSimple := make([]string, len(person))
	for i, p := range person {
		personSimple[i] = simplify(p)
	}
	type pairScore struct {
		score float64
		eq    bool
	}
	cache := map[uint64]pairScore{}
	sim := func(tok int32, p int) pairScore {
		key := uint64(tok)<<16 | uint64(p) //nolint:gosec // tok is a non-negative token index
		if s, ok := cache[key]; ok {
			return s
		}
		sc, eq := screenTokenScore(l.tokens[tok], l.simple[tok], person[p], personSimple[p], p >= len(sur))
		cache[key] = pairScore{sc, eq}
		return cache[key]
	}
	seen := map[int32]bool{}
	best := map[int32]Candidate{} // per entry, its best name
	for _, pos := range names {
		if seen[pos] {
			continue
		}
		seen[pos] = true
		n := l.names[pos]
		score := scoreName(len(n.tokens), len(sur), len(giv), func(o, p int) float64 { return sim(n.tokens[o], p).score }, false)
		// Equivalent: the best-matched words are all the same name (exact,
		// variant, phonetic); the scorer sees 1 for those and 0 otherwise.
		equivalent := scoreName(len(n.tokens), len(sur), len(giv), func(o, p int) float64 {
			if sim(n.tokens[o], p).eq {
				return 1
			}
			return 0
		}, false) >= 1
		if score < candidateFloor && !equivalent {
			continue
		}
		c := l.candidate(n, score, equivalent, dob)
		if prev, ok := best[n.entry]; ok && !stronger(c, prev) {
			continue
		}
		c.Agreed = agreedFields(len(n.tokens), len(sur), len(giv), func(o, p int) bool { return sim(n.tokens[o], p).eq }, c.BirthDate == DOBMatch)
		best[n.entry] = c
	}
	for _, c := range best {
		res.Candidates = append(res.Candidates, c)
		res.Outcome = strongest(res.Outcome, c.Outcome)
	}
	slices.SortFunc(res.Candidates, func(a, b Candidate) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.EntryID, b.EntryID)
	})
	if len(res.Candidates) > maxCandidates {
		res.Candidates = res.Candidates[:maxCandidates]
	}
	return res
}

func (l *SanctionsList) candidate(n listedName, score float64, equivalent bool, dob Date) Candidate {
	e := l.entries[n.entry]
	c := Candidate{
		EntryID: e.ID, Name: n.text, Alias: n.alias, Program: e.Program,
		// Four decimals are plenty and keep stored JSON stable.
		Score:     float64(int(score*10000+0.5)) / 10000,
		BirthDate: DOBUnknown,
		Outcome:   ScreeningClear,
		NameMatch: MatchFuzzy,
	}
	switch {
	case score >= SanctionsExactScore:
		c.NameMatch = MatchExact
	case equivalent:
		c.NameMatch = MatchTransliteration
	}
	if len(e.BirthDates) > 0 {
		c.BirthDate = DOBMismatch
		for _, d := range e.BirthDates {
			if d.matches(dob) {
				c.BirthDate = DOBMatch
				break
			}
		}
	}
	switch {
	case c.NameMatch != MatchFuzzy && c.BirthDate == DOBMatch:
		// The same name, allowing for transliteration, and the same birth
		// date: a confirmed hit.
		c.Outcome = ScreeningMatch
	case c.NameMatch == MatchExact, score >= SanctionsFuzzyThreshold:
		c.Outcome = ScreeningPossible
	case c.NameMatch == MatchTransliteration && c.BirthDate == DOBUnknown:
		// A transliteration variant with nothing to tell the persons apart.
		c.Outcome = ScreeningPossible
	}
	// A transliteration variant whose listed birth date differs, and whose
	// spelling is not close enough on its own, stays clear: that is what
	// keeps the variants from flooding the review queue.
	return c
}

// stronger orders two candidates of one entry: outcome, then score.
func stronger(a, b Candidate) bool {
	if a.Outcome != b.Outcome {
		return strongest(a.Outcome, b.Outcome) == a.Outcome
	}
	return a.Score > b.Score
}

// agreedFields lists which of the person's fields agreed with the listed
// name: a surname word and a given-name word that are the same name
// (exact, variant or phonetic), and the birth date.
func agreedFields(nOther, nSur, nGiv int, eq func(o, p int) bool, dob bool) []string {
	var sur, giv bool
	for o := range nOther {
		for p := range nSur + nGiv {
			if eq(o, p) {
				if p < nSur {
					sur = true
				} else {
					giv = true
				}
			}
		}
	}
	var out []string
	if sur {
		out = append(out, "surname")
	}
	if giv {
		out = append(out, "given_names")
	}
	if dob {
		out = append(out, "date_of_birth")
	}
	return out
}

func strongest(a, b ScreeningOutcome) ScreeningOutcome {
	rank := map[ScreeningOutcome]int{ScreeningClear: 0, ScreeningPossible: 1, ScreeningMatch: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}
