package httpapi

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

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

// TestOpenAPIIdempotencyKeyRequiredWhereTheServerRequiresIt sends every
// documented POST without an Idempotency-Key: the server answers 400
// idempotency_key_missing exactly where the document marks the header
// required.
func TestOpenAPIIdempotencyKeyRequiredWhereTheServerRequiresIt(t *testing.T) {
	a := newAPI(t, testenv.Embedded(t))
	for api, base := range map[string]string{PartnerAPI: a.partner.URL, AdminAPI: a.admin.URL} {
		_, doc, err := OpenAPIFor(api)
		if err != nil {
			t.Fatal(err)
		}
		token := a.partnerKey
		if api == AdminAPI {
			token = a.supervisor
		}
		for path, item := range doc.Paths.Map() {
			op := item.Post
			if op == nil {
				continue
			}
			documented := false
			for _, p := range op.Parameters {
				if p.Value.In == "header" && p.Value.Name == "Idempotency-Key" {
					documented = p.Value.Required
				}
			}
			url := base + strings.NewReplacer("{id}", "x_1", "{card_id}", "card_1").Replace(path)
			r := do(t, "POST", url, token, `{}`)
			missing := r.Status == 400 && r.errCode(t) == "idempotency_key_missing"
			if missing != documented {
				t.Errorf("%s POST %s: Idempotency-Key documented required=%v, server requires it=%v (%d %s)", api, path, documented, missing, r.Status, r.Body)
			}
		}
	}
}

// TestOpenAPIErrorTypesPerStatus: the error type enum of each per-status
// error schema is exactly the set of types the catalogue uses with that
// status, and every 4xx/5xx response of an operation refers to it.
func TestOpenAPIErrorTypesPerStatus(t *testing.T) {
	want := map[string]map[string]bool{}
	for _, c := range catalogue {
		s := strconv.Itoa(c.status)
		if want[s] == nil {
			want[s] = map[string]bool{}
		}
		want[s][c.typ] = true
	}
	for _, api := range []string{PartnerAPI, AdminAPI} {
		_, doc, err := OpenAPIFor(api)
		if err != nil {
			t.Fatal(err)
		}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				for status, rr := range op.Responses.Map() {
					if status == "default" || status[0] < '4' || !strings.HasPrefix(path, "/") {
						continue
					}
					mt := rr.Value.Content.Get("application/json")
					if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Error"+status {
						if path != "/readyz" {
							t.Errorf("%s %s %s: %s response is not the Error%s schema", api, method, path, status, status)
						}
						continue
					}
					got := map[string]bool{}
					for _, e := range mt.Schema.Value.Properties["error"].Value.AllOf[1].Value.Properties["type"].Value.Enum {
						got[e.(string)] = true
					}
					if !cmp.Equal(got, want[status]) {
						t.Errorf("Error%s type enum %v, the catalogue uses %v", status, got, want[status])
					}
				}
			}
		}
	}
}
