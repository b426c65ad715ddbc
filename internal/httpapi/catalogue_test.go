package httpapi

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Every code the error table or a handler names must be in the catalogue:
// newError panics on an unknown code, and a panic would turn a client's
// mistake into a 500.
func TestEveryErrorCodeIsInTheCatalogue(t *testing.T) {
	for _, m := range errorTable {
		if _, ok := catalogue[m.code]; !ok {
			t.Errorf("error table maps %v to unknown code %q", m.err, m.code)
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	literal := regexp.MustCompile(`newError\("([a-z_]+)"`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllSubmatch(b, -1) {
			if _, ok := catalogue[ErrorCode(m[1])]; !ok {
				t.Errorf("%s: newError(%q) is not in the catalogue", f, m[1])
			}
		}
	}
	for code, c := range catalogue {
		if c.status < 400 || c.typ == "" || c.message == "" {
			t.Errorf("catalogue entry %q is incomplete: %+v", code, c)
		}
	}
}
