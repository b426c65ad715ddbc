package httpapi

import (
	"testing"

	"github.com/inbound-gateway/inbound/internal/testenv"
)

// TestVisitorIDNaming: requests name the visitor visitor_id (payment body,
// payment list filter); the old name "visitor" still works, with a
// Deprecation header and a Warning; both with different values is 400.
func TestVisitorIDNaming(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		P := a.partner.URL
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")
		l := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"500.00","currency":"CNY"}`))
		if l.Status != 201 {
			t.Fatalf("load: %d %s", l.Status, l.Body)
		}
		loadID := l.json(t)["id"].(string)
		m := post(t, P+"/v1/merchants", a.partnerKey, `{"name":"Tea House","mcc":"5812"}`)
		mer := m.json(t)["id"].(string)
		body := func(field, order string) string {
			return `{"` + field + `":"` + vis + `","merchant_id":"` + mer + `","amount":{"value":"8.88","currency":"CNY"},"out_trade_no":"` + order + `"}`
		}

		cur := post(t, P+"/v1/payments", a.partnerKey, body("visitor_id", "N-1"))
		if cur.Status != 201 || cur.Header.Get("Deprecation") != "" || cur.Header.Get("Warning") != "" {
			t.Fatalf("visitor_id: %d %v %s", cur.Status, cur.Header, cur.Body)
		}
		old := post(t, P+"/v1/payments", a.partnerKey, body("visitor", "N-2"))
		if old.Status != 201 || old.Header.Get("Deprecation") != "true" || old.Header.Get("Warning") == "" {
			t.Fatalf("visitor (deprecated): %d %v %s", old.Status, old.Header, old.Body)
		}
		if r := post(t, P+"/v1/payments", a.partnerKey, `{"visitor_id":"`+vis+`","visitor":"vis_other","merchant_id":"`+mer+`","amount":{"value":"1.00","currency":"CNY"},"out_trade_no":"N-3"}`); r.Status != 400 || r.errCode(t) != "parameter_invalid" {
			t.Fatalf("both names, different: %d %s", r.Status, r.Body)
		}
		if r := post(t, P+"/v1/payments", a.partnerKey, `{"merchant_id":"`+mer+`","amount":{"value":"1.00","currency":"CNY"},"out_trade_no":"N-4"}`); r.Status != 400 || r.errCode(t) != "parameter_missing" || r.errParam(t) != "visitor_id" {
			t.Fatalf("no visitor: %d %s", r.Status, r.Body)
		}

		// Response objects carry visitor_id too (beside the deprecated
		// visitor on the objects that had it).
		cards := do(t, "GET", P+"/v1/visitors/"+vis+"/cards", a.partnerKey, "").json(t)["data"].([]any)
		cardObj := cards[0].(map[string]any)
		if cardObj["id"] != card || cardObj["object"] != "card" {
			t.Fatalf("card list: %v", cards)
		}
		loadObj := do(t, "GET", P+"/v1/loads/"+loadID, a.partnerKey, "").json(t)
		for name, obj := range map[string]map[string]any{"card": cardObj, "load": loadObj, "payment": cur.json(t)} {
			if obj["visitor_id"] != vis {
				t.Errorf("%s visitor_id = %v, want %s", name, obj["visitor_id"], vis)
			}
		}
		if cardObj["visitor"] != vis || loadObj["visitor"] != vis {
			t.Errorf("deprecated visitor dropped: %v %v", cardObj["visitor"], loadObj["visitor"])
		}
		list := do(t, "GET", P+"/v1/payments?visitor_id="+vis, a.partnerKey, "")
		if n := len(list.json(t)["data"].([]any)); list.Status != 200 || n != 2 || list.Header.Get("Deprecation") != "" {
			t.Fatalf("list by visitor_id: %d %d %s", list.Status, n, list.Body)
		}
		oldList := do(t, "GET", P+"/v1/payments?visitor="+vis, a.partnerKey, "")
		if n := len(oldList.json(t)["data"].([]any)); oldList.Status != 200 || n != 2 || oldList.Header.Get("Deprecation") != "true" {
			t.Fatalf("list by visitor (deprecated): %d %d %s", oldList.Status, n, oldList.Body)
		}
		if other := do(t, "GET", P+"/v1/payments?visitor=vis_nobody", a.partnerKey, ""); len(other.json(t)["data"].([]any)) != 0 {
			t.Fatalf("the deprecated filter filters: %s", other.Body)
		}
	})
}

// TestLimitCurrencies: every limit figure of the account says its
// currency: the balance cap and load room in CNY (the account's
// currency), the annual figures in USD (the rule is set in US dollars).
func TestLimitCurrencies(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		P := a.partner.URL
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")
		if l := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"500.00","currency":"CNY"}`)); l.Status != 201 {
			t.Fatalf("load: %d %s", l.Status, l.Body)
		}
		acct := do(t, "GET", P+"/v1/visitors/"+vis+"/account", a.partnerKey, "")
		limits := acct.json(t)["limits"].(map[string]any)
		for field, want := range map[string]string{"balance_cap": "CNY", "loaded_this_year": "USD", "load_room": "CNY"} {
			m, ok := limits[field].(map[string]any)
			if !ok || m["currency"] != want || m["value"] == "" {
				t.Errorf("limits.%s = %v, want a Money in %s", field, limits[field], want)
			}
		}
		if v, ok := limits["annual_load_cap"]; !ok || v != nil {
			t.Errorf("basic profile annual_load_cap = %v, want null", v)
		}
	})
}
