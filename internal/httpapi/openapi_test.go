package httpapi

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/testenv"
)

var ginParam = regexp.MustCompile(`:([a-zA-Z_]+)`)

// TestOpenAPIDescribesEveryRoute fails when the document is invalid (kin-openapi
// validation), when a route exists that the document lacks, or when the
// document describes an operation that no route serves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	_, doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, testenv.Embedded(t))
	routes := map[string]bool{}
	for _, h := range []any{a.srv.Partner(), a.srv.Admin()} {
		for _, r := range h.(*gin.Engine).Routes() {
			routes[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
		}
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	var missing, stale []string
	for r := range routes {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !routes[d] {
			stale = append(stale, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.yaml:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("openapi.yaml documents operations no route serves:\n  %s", strings.Join(stale, "\n  "))
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s: needs operationId and summary", method, path)
			}
		}
	}
}
