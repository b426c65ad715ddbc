package kyc

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/adrg/strutil/metrics"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// MatchThreshold is the score from which MatchName accepts a holder name.
// The surname and the given names are scored separately and the score is
// the lower of the two, so a perfect surname cannot carry a wrong first
// name. 0.90 accepts one typing mistake in a name of six letters or more
// (Jaro-Winkler of ERIKSSON and ERIKSON is 0.975) but refuses a changed
// letter in a short name, which is more likely another name (ANNA and ANNE
// score 0.883), and any different name (JOHN SMITH for ANNA ERIKSSON scores
// 0). Transliteration variants (MÜLLER, MUELLER, MULLER) score 1.
const MatchThreshold = 0.90

// icaoLetters are the transliterations of ICAO 9303 Part 3 for letters that
// Unicode does not decompose into a base letter and a mark, plus the German
// and Nordic letters whose ICAO form is two letters (ä is AE, not A).
// Letters that do decompose (é, ñ, č, ...) lose their mark later.
var icaoLetters = map[rune]string{
	'Ä': "AE", 'Ö': "OE", 'Ü': "UE", 'ß': "SS", 'ẞ': "SS",
	'Å': "AA", 'Æ': "AE", 'Ø': "OE", 'Œ': "OE", 'Þ': "TH",
	'Ð': "D", 'Đ': "D", 'Ł': "L", 'Ħ': "H", 'Ŧ': "T", 'Ŋ': "N",
	'Ĳ': "IJ", 'Ŀ': "L", 'ı': "I", 'ĸ': "K", 'ŉ': "N",
}

// foldPool holds the x/text transformer chains; a chain keeps state, so
// each call needs its own, and building one per call would allocate.
var foldPool = sync.Pool{New: func() any {
	return transform.Chain(
		width.Fold, // full-width letters typed on CJK keyboards
		norm.NFC,   // so "A" + combining diaeresis is seen as Ä below
		runes.Map(unicode.ToUpper),
		icaoTransformer{},
		norm.NFD, // é -> e + accent
		runes.Remove(runes.In(unicode.Mn)),
		norm.NFC,
	)
}}

// icaoTransformer expands icaoLetters; runes.Map cannot map one rune to two.
type icaoTransformer struct{ transform.NopResetter }

func (icaoTransformer) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		r, size := rune(src[nSrc]), 1
		if r >= 0x80 {
			var ok bool
			r, size, ok = decodeRune(src[nSrc:], atEOF)
			if !ok {
				return nDst, nSrc, transform.ErrShortSrc
			}
		}
		out, mapped := icaoLetters[r]
		if !mapped {
			out = string(src[nSrc : nSrc+size])
		}
		if nDst+len(out) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += copy(dst[nDst:], out)
		nSrc += size
	}
	return nDst, nSrc, nil
}

func decodeRune(b []byte, atEOF bool) (rune, int, bool) {
	if !atEOF && !utf8.FullRune(b) {
		return 0, 0, false
	}
	r, size := utf8.DecodeRune(b)
	return r, size, true
}

// NormalizeName folds a name as printed anywhere (passport, card, sanctions
// list) to the ICAO form: upper-case Latin letters, ICAO transliterations
// (Ä→AE, Ø→OE, ß→SS, Þ→TH, ...), accents removed, full-width letters
// narrowed. Apostrophes vanish (O'BRIEN→OBRIEN, as ICAO writes it); any
// other non-letter (space, hyphen, comma, "<") separates tokens. Honorifics
// are not removed here; MatchName drops them from card names.
func NormalizeName(s string) []string {
	t := foldPool.Get().(transform.Transformer)
	folded, _, err := transform.String(t, s)
	t.Reset()
	foldPool.Put(t)
	if err != nil {
		folded = strings.ToUpper(s)
	}
	var tokens []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			tokens = append(tokens, b.String())
			b.Reset()
		}
	}
	for _, r := range folded {
		switch {
		case r == '\'' || r == '’' || r == '`' || r == 'ʼ':
			// dropped, not a separator
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return tokens
}

// honorifics appear on cards ("MR JOHN SMITH") but never in an MRZ.
var honorifics = map[string]bool{"MR": true, "MRS": true, "MS": true, "MISS": true, "DR": true, "PROF": true, "MX": true}

// MatchName compares a card holder name with the passport name. Tokens may
// come in any order; a one-letter token of the holder matches a given name
// with that initial ("ANNA M ERIKSSON" matches ERIKSSON<<ANNA<MARIA); given
// names may be left out ("ANNA ERIKSSON"), but every holder token must match
// some passport token and the surname must be there. A single-name holder
// with an empty surname (P<IND<<FIRST<NAME) matches on the given names
// alone, at least one written out. Diacritics and ICAO
// transliteration variants are tolerated (MÜLLER, MUELLER and MULLER are the
// same). The score is the lower of the surname score and the given-name
// score, each a mean of Jaro-Winkler token similarities; ok is
// score >= MatchThreshold.
func MatchName(holder, surname, given string) (score float64, ok bool) {
	var h []string
	for _, t := range NormalizeName(holder) {
		if !honorifics[t] {
			h = append(h, t)
		}
	}
	sur, giv := NormalizeName(surname), NormalizeName(given)
	person := append(sur, giv...)
	score = scoreName(len(h), len(sur), len(giv), func(o, p int) float64 {
		return tokenScore(h[o], person[p], p >= len(sur))
	}, true)
	if len(sur) == 0 && !slices.ContainsFunc(h, func(t string) bool { return len(t) > 1 }) {
		// A single-name holder whose name is in the given names only: the
		// card must show at least one of them written out, not initials.
		score = 0
	}
	return score, score >= MatchThreshold
}

// scoreName is the scorer shared by MatchName and sanctions screening. It
// compares nOther tokens of another name with a person's nSur surname and
// nGiv given-name tokens; sim(o, p) is the similarity of other token o and
// person token p (surname first, then given names), so the screening can
// cache it. strict (card holders): every token of the other name must be
// matched, and the whole surname must be there. Otherwise (sanctions
// lists): extra tokens on either side do not count against the match,
// because lists carry more or fewer names than passports.
func scoreName(nOther, nSur, nGiv int, sim func(o, p int) float64, strict bool) float64 {
	if nOther == 0 || nSur+nGiv == 0 {
		return 0
	}
	type pair struct {
		o, p  int // index in other; index in surname then given
		score float64
	}
	nPerson := nSur + nGiv
	pairs := make([]pair, 0, nOther*nPerson)
	for i := range nOther {
		for j := range nPerson {
			if s := sim(i, j); s > 0 {
				pairs = append(pairs, pair{i, j, s})
			}
		}
	}
	// Greedy assignment, best pairs first: names have a handful of tokens,
	// and for names greedy equals the optimum in all but contrived cases.
	slices.SortStableFunc(pairs, func(a, b pair) int { return cmp.Compare(b.score, a.score) })
	usedO := make([]bool, nOther)
	best := make([]float64, nPerson)
	matched := make([]bool, nPerson)
	nMatched := 0
	for _, pr := range pairs {
		if usedO[pr.o] || matched[pr.p] {
			continue
		}
		usedO[pr.o], matched[pr.p], best[pr.p] = true, true, pr.score
		nMatched++
	}
	if strict && nMatched < nOther {
		return 0
	}
	// A card must show the whole surname. A list entry may show only part of
	// a compound surname, so there only the matched tokens count.
	var sur float64
	switch {
	case nSur == 0:
		// A single-name holder written in the given names only (no primary
		// identifier): the given names below carry the match alone.
		sur = 1
	case strict:
		sur = mean(best[:nSur], nil)
	default:
		sur = mean(best[:nSur], matched[:nSur])
	}
	// Left-out given names do not count (cards and lists often drop middle
	// names), but at least one must be there, or the score is 0.
	giv := mean(best[nSur:], matched[nSur:])
	if nGiv == 0 {
		// A person with one name: nothing to compare, nothing to hold
		// against the match (a card holder's extra tokens were refused
		// above).
		giv = 1
	}
	return min(sur, giv)
}

// mean of xs; with only, just of those marked (0 when none is).
func mean(xs []float64, only []bool) float64 {
	sum, n := 0.0, 0
	for i, x := range xs {
		if only != nil && !only[i] {
			continue
		}
		sum += x
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

var jaroWinkler = metrics.NewJaroWinkler()

// tokenScore compares two normalised tokens. An initial stands for a given
// name (never for a surname). Otherwise it is Jaro-Winkler, also computed
// on the forms with ICAO's two-letter transliterations reduced to one
// letter, because the same MÜLLER appears as MUELLER on a passport and as
// MULLER on a card.
func tokenScore(a, b string, givenName bool) float64 {
	return tokenScoreSimplified(a, simplify(a), b, simplify(b), givenName)
}

// tokenScoreSimplified is tokenScore with the simplified forms already
// computed, which the sanctions index does once per listed token.
func tokenScoreSimplified(a, sa, b, sb string, givenName bool) float64 {
	if a == b {
		return 1
	}
	if len(a) == 1 || len(b) == 1 {
		if givenName && a[0] == b[0] {
			// Slightly below a full match, so a written-out name wins the
			// greedy assignment over an initial.
			return 0.95
		}
		return 0
	}
	s := jaroWinkler.Compare(a, b)
	if sa != a || sb != b {
		s = max(s, jaroWinkler.Compare(sa, sb))
	}
	return s
}

// simplify reduces the two-letter ICAO transliterations of vowels to their
// base letter (AE→A, OE→O, UE→U, AA→A). It is used only to compare, on both
// sides alike. SS is left alone: ß is written SS nearly everywhere, and
// folding it would make ERIKSSON and ERIKSON the same name.
var simplifier = strings.NewReplacer("AE", "A", "OE", "O", "UE", "U", "AA", "A")

func simplify(s string) string { return simplifier.Replace(s) }
