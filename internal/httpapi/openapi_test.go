package httpapi

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/testenv"
)

var ginParam = regexp.MustCompile(`:([a-zA-Z_]+)`)

var updateOpenAPI = flag.Bool("update-openapi", false, "rewrite api/openapi-*.json from internal/httpapi/openapi.yaml")

// openapiFile is where the generated document of an API is committed, for
// tools (the lint, the generated client) and readers.
func openapiFile(api string) string {
	return filepath.Join("..", "..", "api", "openapi-"+api+".json")
}

// TestOpenAPIDescribesEveryRoute fails, per listener, when its document is
// invalid (kin-openapi validation), when a route the listener serves is
// missing from its document, or when its document describes an operation
// the listener does not serve (so the partner document holds no admin
// path and no /metrics, and the admin document no partner path).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	a := newAPI(t, testenv.Embedded(t))
	for api, h := range map[string]any{PartnerAPI: a.srv.Partner(), AdminAPI: a.srv.Admin()} {
		t.Run(api, func(t *testing.T) {
			_, doc, err := OpenAPIFor(api)
			if err != nil {
				t.Fatal(err)
			}
			routes := map[string]bool{}
			for _, r := range h.(*gin.Engine).Routes() {
				routes[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
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
				t.Errorf("routes missing from the %s document:\n  %s", api, strings.Join(missing, "\n  "))
			}
			if len(stale) > 0 {
				t.Errorf("the %s document describes operations no route serves:\n  %s", api, strings.Join(stale, "\n  "))
			}
			if len(doc.Servers) != 1 || doc.Servers[0].URL != openapiServers[api] {
				t.Errorf("servers = %v, want only %s", doc.Servers, openapiServers[api])
			}
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					if op.OperationID == "" || op.Summary == "" {
						t.Errorf("%s %s: needs operationId and summary", method, path)
					}
					if op.Responses.Default() != nil && op.Responses.Len() == 1 {
						t.Errorf("%s %s: only a default response", method, path)
					}
				}
			}
		})
	}
}

// TestOpenAPIServedPerListener: each listener serves its own document.
func TestOpenAPIServedPerListener(t *testing.T) {
	a := newAPI(t, testenv.Embedded(t))
	for api, base := range map[string]string{PartnerAPI: a.partner.URL, AdminAPI: a.admin.URL} {
		r := do(t, "GET", base+"/openapi.json", "", "")
		want, _, err := OpenAPIFor(api)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 200 || !bytes.Equal(r.Body, want) {
			t.Errorf("%s /openapi.json: %d, not the %s document", api, r.Status, api)
		}
	}
}

// TestOpenAPIFilesCurrent fails when the committed api/openapi-*.json
// differ from what openapi.yaml generates. Regenerate with
// go test ./internal/httpapi -run TestOpenAPIFilesCurrent -update-openapi
func TestOpenAPIFilesCurrent(t *testing.T) {
	for _, api := range []string{PartnerAPI, AdminAPI} {
		want, _, err := OpenAPIFor(api)
		if err != nil {
			t.Fatal(err)
		}
		if *updateOpenAPI {
			if err := os.WriteFile(openapiFile(api), want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(openapiFile(api))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go test ./internal/httpapi -run TestOpenAPIFilesCurrent -update-openapi", openapiFile(api))
		}
	}
}
