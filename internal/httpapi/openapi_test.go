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

// listenersOf says which listeners serve a documented path: those named by
// its path-level servers (by port), else the API its prefix belongs to,
// else (operational endpoints) both.
func listenersOf(path string, servers []string) []string {
	if len(servers) > 0 {
		var out []string
		for _, u := range servers {
			switch {
			case strings.HasSuffix(u, ":8080"):
				out = append(out, "partner")
			case strings.HasSuffix(u, ":8081"):
				out = append(out, "admin")
			}
		}
		return out
	}
	switch {
	case strings.HasPrefix(path, "/admin/v1/"):
		return []string{"admin"}
	case strings.HasPrefix(path, "/v1/"):
		return []string{"partner"}
	}
	return []string{"partner", "admin"}
}

// TestOpenAPIDescribesEveryRoute fails when the document is invalid (kin-openapi
// validation), when a route exists on a listener that the document lacks
// there, or when the document describes an operation on a listener that no
// route serves (so /metrics, documented for the admin listener only, must
// not be served on the partner one).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	_, doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, testenv.Embedded(t))
	routes := map[string]bool{}
	for name, h := range map[string]any{"partner": a.srv.Partner(), "admin": a.srv.Admin()} {
		for _, r := range h.(*gin.Engine).Routes() {
			routes[name+" "+r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
		}
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		var servers []string
		for _, sv := range item.Servers {
			servers = append(servers, sv.URL)
		}
		for _, l := range listenersOf(path, servers) {
			for method := range item.Operations() {
				documented[l+" "+strings.ToUpper(method)+" "+path] = true
			}
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
