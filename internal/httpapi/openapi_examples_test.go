package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// example returns the request body example of an operation of doc, with
// the placeholder ids of the examples replaced by real ones.
func (c *conformance) example(method, path string, ids *strings.Replacer) string {
	c.t.Helper()
	item := c.doc.Paths.Find(path)
	if item == nil || item.GetOperation(method) == nil {
		c.t.Fatalf("%s %s: not in the document", method, path)
	}
	op := item.GetOperation(method)
	if op.RequestBody == nil {
		c.t.Fatalf("%s %s: no request body", method, path)
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Example == nil {
		c.t.Fatalf("%s %s (%s): no request example", method, path, op.OperationID)
	}
	b, err := json.Marshal(mt.Example)
	if err != nil {
		c.t.Fatal(err)
	}
	return ids.Replace(string(b))
}

// TestOpenAPIRequestBodiesHaveExamples: every request body of both
// documents has an example (the partner ones are sent for real below).
func TestOpenAPIRequestBodiesHaveExamples(t *testing.T) {
	for _, api := range []string{PartnerAPI, AdminAPI} {
		_, doc, err := OpenAPIFor(api)
		if err != nil {
			t.Fatal(err)
		}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				if op.RequestBody == nil {
					continue
				}
				if mt := op.RequestBody.Value.Content.Get("application/json"); mt == nil || mt.Example == nil {
					t.Errorf("%s: %s %s has no request example", api, method, path)
				}
			}
		}
	}
}

// TestOpenAPIPartnerExamplesWork sends the documented request example of
// every partner operation that takes a body through the real API (ids of
// earlier steps substituted) and, through the conformance transport,
// checks every request and response against the partner document; every
// partner operation must have answered 2xx once. So the examples work, the
// required fields are what the server always sends, and the documented
// statuses and headers are the real ones.
func TestOpenAPIPartnerExamplesWork(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
		t.Cleanup(hook.Close)
		c := newConformance(t, PartnerAPI, a.partner.URL)
		P := a.partner.URL
		key := a.partnerKey
		sub := map[string]string{"https://partner.example.com/inbound/webhooks": hook.URL + "/inbound/webhooks"}
		repl := func() *strings.Replacer {
			var kv []string
			for k, v := range sub {
				kv = append(kv, k, v)
			}
			return strings.NewReplacer(kv...)
		}
		// post sends the documented example of method path (or body, when
		// given) and wants status.
		send := func(method, docPath, url, body string, want int) map[string]any {
			t.Helper()
			if body == "" {
				body = c.example(method, docPath, repl())
			}
			r := c.call(method, url, key, body, "Idempotency-Key", ids.New("k"))
			if r.Status != want {
				t.Fatalf("%s %s: %d %s (sent %s)", method, docPath, r.Status, r.Body, body)
			}
			return r.json(t)
		}
		get := func(url string) map[string]any {
			t.Helper()
			r := c.call("GET", url, key, "")
			if r.Status != 200 {
				t.Fatalf("GET %s: %d %s", url, r.Status, r.Body)
			}
			return r.json(t)
		}

		v := send("POST", "/v1/visitors", P+"/v1/visitors", "", 201)
		if v["kyc"].(map[string]any)["status"] != "approved" {
			t.Fatalf("example visitor not approved: %v", v)
		}
		vis := v["id"].(string)
		sub["vis_EXAMPLE"] = vis
		card := send("POST", "/v1/visitors/{id}/cards", P+"/v1/visitors/"+vis+"/cards", "", 201)
		if card["status"] != "verified" {
			t.Fatalf("example card: %v", card)
		}
		sub["card_EXAMPLE"] = card["id"].(string)
		// A card whose issuer asks for an OTP, verified with the example.
		otpCard := send("POST", "/v1/visitors/{id}/cards", P+"/v1/visitors/"+vis+"/cards", cardBody("4000000000003220", "123", "ANNA ERIKSSON"), 201)
		otpID := otpCard["id"].(string)
		send("POST", "/v1/visitors/{id}/cards/{card_id}/verify", P+"/v1/visitors/"+vis+"/cards/"+otpID+"/verify", "", 200)

		q := send("POST", "/v1/fx/quotes", P+"/v1/fx/quotes", "", 201)
		sub["quo_EXAMPLE"] = q["id"].(string)
		l := send("POST", "/v1/visitors/{id}/loads", P+"/v1/visitors/"+vis+"/loads", "", 201)
		if l["status"] != "succeeded" {
			t.Fatalf("example load: %v", l)
		}
		get(P + "/v1/loads/" + l["id"].(string))
		// A load on the OTP card waits for the example OTP.
		q2 := send("POST", "/v1/fx/quotes", P+"/v1/fx/quotes", `{"card_id":"`+otpID+`","buy":{"value":"100.00","currency":"CNY"}}`, 201)
		l2 := send("POST", "/v1/visitors/{id}/loads", P+"/v1/visitors/"+vis+"/loads", `{"card_id":"`+otpID+`","quote_id":"`+q2["id"].(string)+`"}`, 201)
		if l2["status"] == "requires_action" {
			send("POST", "/v1/loads/{id}/authenticate", P+"/v1/loads/"+l2["id"].(string)+"/authenticate", "", 200)
		} else {
			t.Fatalf("load on the OTP card: %v", l2)
		}

		mer := send("POST", "/v1/merchants", P+"/v1/merchants", "", 201)
		sub["mer_EXAMPLE"] = mer["id"].(string)
		pay := send("POST", "/v1/payments", P+"/v1/payments", "", 201)
		payID := pay["id"].(string)
		send("POST", "/v1/payments/{id}/confirm", P+"/v1/payments/"+payID+"/confirm", "", 200)
		send("POST", "/v1/payments/{id}/refunds", P+"/v1/payments/"+payID+"/refunds", "", 201)
		pay2 := send("POST", "/v1/payments", P+"/v1/payments", strings.Replace(c.example("POST", "/v1/payments", repl()), "ORDER-1001", "ORDER-1002", 1), 201)
		send("POST", "/v1/payments/{id}/dispute", P+"/v1/payments/"+pay2["id"].(string)+"/dispute", "", 200)
		get(P + "/v1/payments/" + payID)
		get(P + "/v1/payments?visitor_id=" + vis)
		get(P + "/v1/merchants/" + sub["mer_EXAMPLE"])

		wh := send("POST", "/v1/webhook_endpoints", P+"/v1/webhook_endpoints", "", 201)
		get(P + "/v1/webhook_endpoints")
		get(P + "/v1/webhook_endpoints/" + wh["id"].(string))
		if r := c.call("DELETE", P+"/v1/webhook_endpoints/"+wh["id"].(string), key, ""); r.Status != 200 {
			t.Fatalf("delete webhook endpoint: %d %s", r.Status, r.Body)
		}

		get(P + "/v1/visitors/" + vis)
		get(P + "/v1/visitors/" + vis + "/cards")
		get(P + "/v1/visitors/" + vis + "/account")
		get(P + "/v1/visitors/" + vis + "/transactions")
		get(P + "/v1/fx/rates")
		send("POST", "/v1/visitors/{id}/unloads", P+"/v1/visitors/"+vis+"/unloads", "", 201)
		if r := c.call("DELETE", P+"/v1/visitors/"+vis+"/cards/"+otpID, key, ""); r.Status != 200 {
			t.Fatalf("unbind: %d %s", r.Status, r.Body)
		}
		for _, p := range []string{"/", "/healthz", "/readyz", "/openapi.json"} {
			if r := c.call("GET", P+p, "", ""); r.Status != 200 {
				t.Fatalf("%s: %d", p, r.Status)
			}
		}
		if m := c.missing(); len(m) > 0 {
			t.Errorf("partner operations never exercised with a 2xx answer: %v", m)
		}
	})
}
