package httpapi

import (
	"encoding/json"
	"strings"

	"github.com/inbound-gateway/inbound/kyc"
)

// td3 builds a valid passport MRZ with correct check digits.
func td3(state, surname, given, number, dob, sex, expiry string) []string {
	pad := func(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }
	name := surname + "<<" + strings.ReplaceAll(given, " ", "<")
	l1 := pad("P<"+pad(state, 3)+name, 44)
	doc := pad(number, 9)
	opt := pad("", 14)
	cd := func(s string) string { return string(kyc.CheckDigit(s)) }
	docPart := doc + cd(doc)
	dobPart := dob + cd(dob)
	expPart := expiry + cd(expiry)
	optPart := opt + cd(opt)
	composite := cd(docPart + dobPart + expPart + optPart)
	l2 := docPart + pad(state, 3) + dobPart + sex + expPart + optPart + composite
	return []string{l1, l2}
}

func mrzJSON(lines []string) string {
	b, _ := json.Marshal(lines)
	return string(b)
}
