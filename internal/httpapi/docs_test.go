package httpapi

import (
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var docCodeRow = regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([0-9]{3}) \\|")

// TestEveryErrorCodeIsDocumented: docs/API.md lists every code of the
// catalogue, with its status, and no code the API does not have. A new
// code without a line in the guide fails here.
func TestEveryErrorCodeIsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "<!-- error codes -->")
	if !ok {
		t.Fatal("docs/API.md has no <!-- error codes --> table")
	}
	documented := map[ErrorCode]int{}
	for _, m := range docCodeRow.FindAllStringSubmatch(table, -1) {
		status, _ := strconv.Atoi(m[2])
		documented[ErrorCode(m[1])] = status
	}
	var missing []string
	for code, c := range catalogue {
		status, ok := documented[code]
		switch {
		case !ok:
			missing = append(missing, string(code))
		case status != c.status:
			t.Errorf("docs/API.md gives %s status %d, the catalogue %d", code, status, c.status)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/API.md does not document: %s", strings.Join(missing, ", "))
	}
	for code := range documented {
		if _, ok := catalogue[code]; !ok {
			t.Errorf("docs/API.md documents %s, which is not in the catalogue", code)
		}
	}
}
