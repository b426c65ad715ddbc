package ids

import (
	"sort"
	"testing"
)

func TestIDsArePrefixedUniqueAndOrdered(t *testing.T) {
	const n = 10000
	got := make([]string, n)
	seen := map[string]bool{}
	for i := range got {
		got[i] = New(Payment)
		if !HasPrefix(got[i], Payment) || seen[got[i]] {
			t.Fatalf("bad or repeated id %q", got[i])
		}
		seen[got[i]] = true
	}
	if !sort.StringsAreSorted(got) {
		t.Fatal("ids made one after another do not sort in creation order")
	}
	if HasPrefix("pay_short", Payment) || HasPrefix(got[0], Visitor) {
		t.Fatal("HasPrefix accepts wrong ids")
	}
}
