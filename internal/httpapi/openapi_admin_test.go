package httpapi

import (
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// TestOpenAPIAdminConforms walks every admin operation once with its
// documented request example (ids substituted) and checks every request
// and response against the admin document, so its required fields,
// statuses and headers are what the server sends.
func TestOpenAPIAdminConforms(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		P, A := a.partner.URL, a.admin.URL
		c := newConformance(t, AdminAPI, A)
		sup := a.supervisor
		// Older than every proposal below and created by neither side.
		checker := a.staff(auth.Supervisor)
		agent := a.staff(auth.Agent)
		sub := map[string]string{}
		repl := func() *strings.Replacer {
			var kv []string
			for k, v := range sub {
				kv = append(kv, k, v)
			}
			return strings.NewReplacer(kv...)
		}
		send := func(token, docPath, path, body string, want int) map[string]any {
			t.Helper()
			if body == "" {
				body = c.example("POST", docPath, repl())
			}
			r := c.call("POST", A+path, token, body, "Idempotency-Key", ids.New("k"))
			if r.Status != want {
				t.Fatalf("POST %s: %d %s (sent %s)", path, r.Status, r.Body, body)
			}
			return r.json(t)
		}
		get := func(path string) map[string]any {
			t.Helper()
			r := c.call("GET", A+path, sup, "")
			if r.Status != 200 {
				t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
			}
			return r.json(t)
		}

		// A visitor with money in escrow and a disputed payment.
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")
		if r := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"500.00","currency":"CNY"}`)); r.Status != 201 {
			t.Fatalf("load: %d %s", r.Status, r.Body)
		}
		mer := post(t, P+"/v1/merchants", a.partnerKey, `{"name":"Tea House","mcc":"5812"}`).json(t)["id"].(string)
		pay := post(t, P+"/v1/payments", a.partnerKey, `{"visitor_id":"`+vis+`","merchant_id":"`+mer+`","amount":{"value":"50.00","currency":"CNY"},"out_trade_no":"O-1"}`).json(t)["id"].(string)
		if r := post(t, P+"/v1/payments/"+pay+"/dispute", a.partnerKey, `{"reason":"never arrived"}`); r.Status != 200 {
			t.Fatalf("dispute: %d %s", r.Status, r.Body)
		}
		send(agent, "/admin/v1/payments/{id}/resolve", "/admin/v1/payments/"+pay+"/resolve", "", 200)

		// A visitor in review, decided with the example.
		rv := a.createVisitor(t, a.partnerKey, td3("XXA", "NOMAD", "LEA", "X1112223", "900101", "F", "350101"), "")
		if st, _ := kycOf(t, rv); st != "review" {
			t.Fatalf("not in review: %s", rv.Body)
		}
		reviews := get("/admin/v1/reviews")["data"].([]any)
		if len(reviews) != 1 {
			t.Fatalf("reviews: %v", reviews)
		}
		send(agent, "/admin/v1/reviews/{id}/decision", "/admin/v1/reviews/"+reviews[0].(map[string]any)["id"].(string)+"/decision", "", 200)

		get("/admin/v1/visitors/" + vis)
		get("/admin/v1/visitors?passport_number=X1112223&issuing_state=XXA")
		send(agent, "/admin/v1/visitors/{id}/freeze", "/admin/v1/visitors/"+vis+"/freeze", "", 200)
		send(agent, "/admin/v1/visitors/{id}/unfreeze", "/admin/v1/visitors/"+vis+"/unfreeze", "", 200)
		send(agent, "/admin/v1/visitors/{id}/release_document", "/admin/v1/visitors/"+vis+"/release_document", "", 200)

		sub["lac_EXAMPLE"] = a.visitorLedger(t, vis)
		adj := send(sup, "/admin/v1/adjustments", "/admin/v1/adjustments", "", 201)["id"].(string)
		get("/admin/v1/adjustments/" + adj)
		send(checker, "/admin/v1/adjustments/{id}/approve", "/admin/v1/adjustments/"+adj+"/approve", "", 200)
		rej := send(sup, "/admin/v1/adjustments", "/admin/v1/adjustments", "", 201)["id"].(string)
		send(checker, "/admin/v1/adjustments/{id}/reject", "/admin/v1/adjustments/"+rej+"/reject", "", 200)
		lac := get("/admin/v1/ledger/accounts/" + sub["lac_EXAMPLE"])["id"].(string)
		get("/admin/v1/ledger/transfers?account_id=" + lac)
		get("/admin/v1/reconciliation")

		ptn := send(sup, "/admin/v1/partners", "/admin/v1/partners", "", 201)["id"].(string)
		send(sup, "/admin/v1/partners/{id}/rotate_key", "/admin/v1/partners/"+ptn+"/rotate_key", "", 200)
		send(sup, "/admin/v1/partners/{id}/disable", "/admin/v1/partners/"+ptn+"/disable", "", 200)
		send(sup, "/admin/v1/partners/{id}/enable", "/admin/v1/partners/"+ptn+"/enable", "", 200)

		st := send(sup, "/admin/v1/staff", "/admin/v1/staff", "", 201)["id"].(string)
		send(sup, "/admin/v1/staff/{id}/rotate_token", "/admin/v1/staff/"+st+"/rotate_token", "", 200)
		send(sup, "/admin/v1/staff/{id}/disable", "/admin/v1/staff/"+st+"/disable", "", 200)
		prop := send(sup, "/admin/v1/staff", "/admin/v1/staff", `{"name":"Wang Fang","role":"supervisor","reason":"Second shift lead"}`, 202)["id"].(string)
		send(checker, "/admin/v1/staff/{id}/approve", "/admin/v1/staff/"+prop+"/approve", "", 200)

		get("/admin/v1/audit")
		for _, p := range []string{"/", "/healthz", "/readyz", "/openapi.json", "/metrics"} {
			if r := c.call("GET", A+p, "", ""); r.Status != 200 {
				t.Fatalf("%s: %d", p, r.Status)
			}
		}
		if m := c.missing(); len(m) > 0 {
			t.Errorf("admin operations never exercised with a 2xx answer: %v", m)
		}
	})
}
