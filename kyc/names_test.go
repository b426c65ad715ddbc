package kyc_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/kyc"
)

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"ERIKSSON<<ANNA<MARIA", []string{"ERIKSSON", "ANNA", "MARIA"}},
		{"  anna   maria eriksson ", []string{"ANNA", "MARIA", "ERIKSSON"}},
		{"Müller-Lüdenscheidt, Jürgen", []string{"MUELLER", "LUEDENSCHEIDT", "JUERGEN"}},
		{"Mu\u0308ller", []string{"MUELLER"}}, // decomposed ü
		{"Straße", []string{"STRASSE"}},
		{"Ångström Ærø", []string{"AANGSTROEM", "AEROE"}},
		{"Jørgen Ørsted", []string{"JOERGEN", "OERSTED"}},
		{"Þórunn Guðmundsdóttir", []string{"THORUNN", "GUDMUNDSDOTTIR"}},
		{"Łukasz Żółć", []string{"LUKASZ", "ZOLC"}},
		{"François Dvořák Núñez", []string{"FRANCOIS", "DVORAK", "NUNEZ"}},
		{"O'Brien D’Arcy", []string{"OBRIEN", "DARCY"}},
		{"ＡＮＮＡ　ＬＩ", []string{"ANNA", "LI"}}, // full-width, ideographic space
		{"Œuvre Ĳssel", []string{"OEUVRE", "IJSSEL"}},
		{"", nil},
		{"<<<", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, kyc.NormalizeName(tt.in)); diff != "" {
			t.Errorf("NormalizeName(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestMatchName(t *testing.T) {
	tests := []struct {
		name, holder, surname, given string
		ok                           bool
	}{
		{"same order", "ERIKSSON ANNA MARIA", "ERIKSSON", "ANNA MARIA", true},
		{"western order", "ANNA MARIA ERIKSSON", "ERIKSSON", "ANNA MARIA", true},
		{"initial", "ANNA M ERIKSSON", "ERIKSSON", "ANNA MARIA", true},
		{"initials only", "A M ERIKSSON", "ERIKSSON", "ANNA MARIA", true},
		{"middle name left out", "ANNA ERIKSSON", "ERIKSSON", "ANNA MARIA", true},
		{"honorific", "MRS ANNA ERIKSSON", "ERIKSSON", "ANNA MARIA", true},
		{"lower case and commas", "eriksson, anna", "ERIKSSON", "ANNA MARIA", true},
		{"one typo in a long surname", "ANNA ERIKSON", "ERIKSSON", "ANNA MARIA", true},
		{"diacritics on the card", "Hans Müller", "MUELLER", "HANS", true},
		{"card without the umlaut", "HANS MULLER", "MUELLER", "HANS", true},
		{"passport with a plain vowel", "HANS MUELLER", "MULLER", "HANS", true},
		{"Ø as OE or O", "JORGEN ORSTED", "OERSTED", "JOERGEN", true},
		{"Þ", "Þór Jónsson", "THOR", "", false},
		{"thorn transliterated", "THOR JONSSON", "JONSSON", "THOR", true},
		{"mononym", "SUKARNO", "SUKARNO", "", true},
		{"another person", "JOHN SMITH", "ERIKSSON", "ANNA MARIA", false},
		{"surname alone", "ERIKSSON", "ERIKSSON", "ANNA MARIA", false},
		{"another first name", "JOHN ERIKSSON", "ERIKSSON", "ANNA MARIA", false},
		{"a short name with one letter changed", "ANNE ERIKSSON", "ERIKSSON", "ANNA", false},
		{"an extra name", "ANNA MARIA ERIKSSON SMITH", "ERIKSSON", "ANNA MARIA", false},
		{"initial of the surname", "ANNA E", "ERIKSSON", "ANNA", false},
		{"wrong initial", "ANNA K ERIKSSON", "ERIKSSON", "ANNA MARIA", false},
		{"empty holder", "", "ERIKSSON", "ANNA", false},
		{"no primary identifier, full name", "ANNA MARIA", "", "ANNA MARIA", true},
		{"no primary identifier, in another order", "MARIA ANNA", "", "ANNA MARIA", true},
		{"no primary identifier, one of the names", "FIRST", "", "FIRST NAME", true},
		{"no primary identifier, initial and name", "F NAME", "", "FIRST NAME", true},
		{"no primary identifier, initials only", "F N", "", "FIRST NAME", false},
		{"no primary identifier, another name", "JOHN", "", "FIRST NAME", false},
		{"no primary identifier, an extra name", "FIRST NAME SMITH", "", "FIRST NAME", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			score, ok := kyc.MatchName(tt.holder, tt.surname, tt.given)
			if ok != tt.ok {
				t.Fatalf("MatchName(%q, %q, %q) = %.3f, %v; want ok %v", tt.holder, tt.surname, tt.given, score, ok, tt.ok)
			}
			if ok != (score >= kyc.MatchThreshold) {
				t.Fatalf("ok %v disagrees with score %.3f", ok, score)
			}
		})
	}
}
