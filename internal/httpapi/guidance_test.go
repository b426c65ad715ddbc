package httpapi

import (
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/webhook"
)

// errMessage returns error.message after checking the code.
func errMessage(t *testing.T, r resp, status int, code string) string {
	t.Helper()
	if r.Status != status || r.errCode(t) != code {
		t.Fatalf("want %d %s, got %d %s", status, code, r.Status, r.Body)
	}
	e, _ := r.json(t)["error"].(map[string]any)
	return e["message"].(string)
}

func mustContain(t *testing.T, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("message %q lacks %q", msg, p)
		}
	}
}

// TestErrorMessagesSayWhatToDo: the errors partners met first in a trial
// tell them what to do next, with the codes unchanged.
func TestErrorMessagesSayWhatToDo(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		P, A := a.partner.URL, a.admin.URL

		t.Run("missing and invalid keys differ", func(t *testing.T) {
			for _, tc := range []struct {
				url, token, want string
			}{
				{P + "/v1/fx/rates", "", "No API key provided: send Authorization: Bearer sk_..."},
				{P + "/v1/fx/rates", "sk_wrong_key_of_no_partner", "Invalid API key provided"},
				{A + "/admin/v1/audit", "", "No staff token provided: send Authorization: Bearer st_..."},
				{A + "/admin/v1/audit", "st_wrong_token_of_nobody", "Invalid staff token provided"},
			} {
				r := do(t, "GET", tc.url, tc.token, "")
				mustContain(t, errMessage(t, r, 401, "unauthenticated"), tc.want)
			}
		})

		t.Run("idempotency key reuse explains the scope", func(t *testing.T) {
			// The trial's case: a key first used on another route.
			r := do(t, "POST", P+"/v1/merchants", a.partnerKey, `{"name":"Tea House","mcc":"5812"}`, "Idempotency-Key", "card-1")
			if r.Status != 201 {
				t.Fatalf("merchant: %d %s", r.Status, r.Body)
			}
			r = do(t, "POST", P+"/v1/merchants", a.partnerKey, `{"name":"Noodle Bar","mcc":"5812"}`, "Idempotency-Key", "card-1")
			mustContain(t, errMessage(t, r, 422, "idempotency_key_reused"),
				"per partner across all routes", "error answers included", "fresh key", "UUID")
		})

		t.Run("quote expired says how long quotes live", func(t *testing.T) {
			vis := a.approvedVisitor(t, a.partnerKey)
			card := a.bindCard(t, vis, "4242424242424242")
			q := a.quote(t, card, `"buy":{"value":"100.00","currency":"CNY"}`)
			if r := a.load(t, vis, card, q); r.Status != 201 {
				t.Fatalf("load: %d %s", r.Status, r.Body)
			}
			r := a.load(t, vis, card, q)
			mustContain(t, errMessage(t, r, 409, "quote_expired"), "60 seconds", "Request a new quote")
			if e, _ := r.json(t)["error"].(map[string]any); e["quote_ttl_seconds"] != float64(60) {
				t.Errorf("quote_ttl_seconds: %s", r.Body)
			}
		})

		t.Run("unknown route points to the index", func(t *testing.T) {
			r := do(t, "GET", P+"/v2/visitors", a.partnerKey, "")
			mustContain(t, errMessage(t, r, 404, "route_not_found"), "GET /", "/openapi.json")
		})
	})
}

// TestUnresolvableWebhookHostIsNamed: the README's old example used a host
// that does not resolve; the answer must say so instead of calling the
// URL malformed.
func TestUnresolvableWebhookHostIsNamed(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b, func(d *Deps) {
			d.Webhooks = webhook.New(b.DB, d.Vault, d.Log, webhook.Options{AllowPrivate: false})
		})
		// .invalid never resolves (RFC 6761).
		r := post(t, a.partner.URL+"/v1/webhook_endpoints", a.partnerKey, `{"url":"https://hooks.partner.invalid/inbound","events":["*"]}`)
		msg := errMessage(t, r, 400, "parameter_invalid")
		mustContain(t, msg, "does not resolve", "INBOUND_WEBHOOK_ALLOW_PRIVATE")
		if r.errParam(t) != "url" {
			t.Errorf("param: %s", r.Body)
		}
		if strings.Contains(msg, "partner.invalid") {
			t.Errorf("message echoes the input: %q", msg)
		}
		r = post(t, a.partner.URL+"/v1/webhook_endpoints", a.partnerKey, `{"url":"ftp://example.com/x","events":["*"]}`)
		mustContain(t, errMessage(t, r, 400, "parameter_invalid"), "absolute http(s) URL")
	})
}

// TestIndexOnBothListeners: GET / says which API the port serves and where
// its description and guides are.
func TestIndexOnBothListeners(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		for _, tc := range []struct{ url, api, base string }{
			{a.partner.URL + "/", "partner", "/v1"},
			{a.admin.URL + "/", "admin", "/admin/v1"},
		} {
			r := do(t, "GET", tc.url, "", "")
			if r.Status != 200 {
				t.Fatalf("%s: %d %s", tc.url, r.Status, r.Body)
			}
			m := r.json(t)
			if m["api"] != tc.api || m["base_path"] != tc.base || m["openapi"] != "/openapi.json" {
				t.Errorf("%s: %s", tc.url, r.Body)
			}
			docs, _ := m["docs"].(map[string]any)
			if docs["quickstart"] != "docs/QUICKSTART.md" || docs["api"] != "docs/API.md" {
				t.Errorf("%s docs: %s", tc.url, r.Body)
			}
			if r := do(t, "GET", a.partner.URL+m["openapi"].(string), "", ""); r.Status != 200 {
				t.Errorf("openapi link: %d", r.Status)
			}
		}
	})
}
