package kyc

import (
	_ "embed"
	"strings"
)

// Transliteration-aware comparison for sanctions screening. Two tools:
//
//   - a table of variant groups (name_variants.txt): romanisations of one
//     Arabic or Cyrillic name and the short forms of a given name. Forms
//     of one group are the same name.
//   - a phonetic key, a compact relative of Double Metaphone written for
//     romanised names: it folds the spellings that transliteration systems
//     disagree on (KH/H, PH/F, Q/K, W/V, Z/S, X/KS, DJ/DZH/J, TCH/CH, OU/U,
//     Y between vowels, doubled letters, a final H after a vowel) and keeps
//     vowel positions, collapsed to one mark, so that LEILA and LEYLA agree
//     but LEILA and LOLA or MAHMOUD and MOHAMED do not. No maintained Go
//     Double Metaphone with tagged releases was available to depend on,
//     and full Double Metaphone codes English spelling rules that do not
//     help with romanised names while colliding more (it drops vowels).
//
// Neither replaces the similarity score: a phonetic key agreeing is trusted
// only when the spellings are also reasonably close (phoneticFloor), so a
// key collision between unrelated names cannot carry a match.

//go:embed name_variants.txt
var nameVariantsFile string

// variantGroup maps each form to its group's first form.
var variantGroup = func() map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(nameVariantsFile, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		// A form listed in two lines joins the lines (ALEXANDER is both a
		// romanisation of АЛЕКСАНДР and the long form of ALEX).
		group := f[0]
		for _, form := range f {
			if g, ok := m[form]; ok {
				group = g
				break
			}
		}
		for _, form := range f {
			if _, dup := m[form]; !dup {
				m[form] = group
			}
		}
	}
	return m
}()

// sameVariant reports whether a and b are forms of one variant group.
func sameVariant(a, b string) bool {
	ga, ok := variantGroup[a]
	return ok && ga == variantGroup[b]
}

var phoneticRewrites = strings.NewReplacer(
	"DZH", "J", "DJ", "J", "ZH", "J", "TCH", "C", "TSCH", "C", "SCH", "S", "SH", "S", "CH", "C",
	"KH", "H", "GH", "G", "PH", "F", "TH", "T", "CK", "K", "Q", "K", "W", "V", "X", "KS",
	"TZ", "S", "TS", "S", "Z", "S", "OU", "U", "EE", "I", "OO", "U",
)

func isVowel(c byte) bool {
	return c == 'A' || c == 'E' || c == 'I' || c == 'O' || c == 'U' || c == 'Y'
}

// phoneticSpelling rewrites a normalised token into one spelling of its
// sounds, letters kept: CE/CI/CY is S and other C is K, then the rewrites
// above, and a Y after the first letter is I (LEYLA, LEILA; SMYTHE, SMITHE).
func phoneticSpelling(t string) string {
	var pre strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == 'C' && (i+1 == len(t) || (t[i+1] != 'H' && t[i+1] != 'K')) {
			if i+1 < len(t) && (t[i+1] == 'E' || t[i+1] == 'I' || t[i+1] == 'Y') {
				c = 'S'
			} else {
				c = 'K'
			}
		}
		pre.WriteByte(c)
	}
	s := []byte(phoneticRewrites.Replace(pre.String()))
	for i := 1; i < len(s); i++ {
		if s[i] == 'Y' {
			s[i] = 'I'
		}
	}
	return string(s)
}

// phoneticKey is the phonetic key of a normalised token (see above):
// phoneticSpelling with each run of vowels one "A", each run of one
// consonant one letter, a final E dropped (SMYTHE, SMITH) and a final F
// read as V (IVANOFF, IVANOV).
func phoneticKey(t string) string {
	s := phoneticSpelling(t)
	var b strings.Builder
	var last byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 'Y' && i == 0:
			// An initial Y is a consonant (YURI).
		case isVowel(c):
			c = 'A'
		case c == 'H' && i > 0 && isVowel(s[i-1]) && (i+1 == len(s) || !isVowel(s[i+1])):
			continue // ABDULLAH, ABDULLA; MAHMOUD keeps its vowels apart from MOHAMED's
		}
		if c == last {
			continue
		}
		b.WriteByte(c)
		last = c
	}
	k := b.String()
	if n := len(k); n > 2 && k[n-1] == 'A' && s[len(s)-1] == 'E' {
		k = k[:n-1] // a silent final E: SMYTHE, SMITH; BROWNE, BROWN
	}
	if n := len(k); n > 2 && k[n-1] == 'F' {
		k = k[:n-1] + "V"
	}
	return k
}

// phoneticFloor: a phonetic key agreeing counts only when the phonetic
// spellings are at least this similar (Jaro-Winkler), so short keys that
// collide by chance (LEILA and LOLA are both L-A-L-A) do not make a match.
const phoneticFloor = 0.85

// Token scores of the transliteration-aware comparison.
const (
	variantScore  = 0.97 // forms of one variant group
	phoneticScore = 0.95 // same phonetic key, close spelling
	// extensionCap caps the score of a token that is another plus a
	// suffix (BROWN and BROWNING, VLADIMIR and VLADIMIROV, HADI and
	// HADID): Jaro-Winkler rewards the shared prefix, yet such pairs are
	// usually different names (a patronymic, a family name built on a
	// given one).
	extensionCap = 0.85
)

// screenTokenScore compares a listed token with a person's token for
// screening. equivalent reports an exact, variant or phonetic agreement,
// which with a matching birth date confirms a hit.
func screenTokenScore(a, sa, b, sb string, givenName bool) (score float64, equivalent bool) {
	if a == b {
		return 1, true
	}
	s := tokenScoreSimplified(a, sa, b, sb, givenName)
	if len(a) == 1 || len(b) == 1 {
		return s, false
	}
	if sameVariant(a, b) {
		return max(s, variantScore), true
	}
	if isExtension(a, b) || isExtension(b, a) {
		s = min(s, extensionCap)
	}
	if phoneticKey(a) == phoneticKey(b) && jaroWinkler.Compare(phoneticSpelling(a), phoneticSpelling(b)) >= phoneticFloor {
		return max(s, phoneticScore), true
	}
	return s, false
}

// isExtension reports whether long is short plus a suffix long enough to
// make another name: two letters, or one after a short name (HADI, HADID).
// DRAKOVIC and DRAKOVICH (one letter after eight) are spelling variants.
func isExtension(short, long string) bool {
	if !strings.HasPrefix(long, short) || len(long) == len(short) {
		return false
	}
	extra := len(long) - len(short)
	return extra >= 2 || len(short) <= 4
}
