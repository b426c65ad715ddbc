package httpapi

import (
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// TestMoneyAtTheInt64EdgeIsNever500 sends, on every route that takes money,
// the largest amount that fits int64 minor units and the smallest that does
// not: each is a 4xx in the error shape, never a 500 (a huge adjustment's
// approval used to be one), and an overflow names the field.
func TestMoneyAtTheInt64EdgeIsNever500(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		A, P := a.admin.URL, a.partner.URL
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")
		if r := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"1000.00","currency":"CNY"}`)); r.Status != 201 {
			t.Fatalf("load: %d %s", r.Status, r.Body)
		}
		mer := post(t, P+"/v1/merchants", a.partnerKey, `{"name":"Tea House","mcc":"5812"}`).json(t)["id"].(string)
		pay := post(t, P+"/v1/payments", a.partnerKey, `{"visitor_id":"`+vis+`","merchant_id":"`+mer+`","amount":{"value":"10.00","currency":"CNY"},"out_trade_no":"O-1"}`).json(t)["id"].(string)
		disputed := post(t, P+"/v1/payments", a.partnerKey, `{"visitor_id":"`+vis+`","merchant_id":"`+mer+`","amount":{"value":"10.00","currency":"CNY"},"out_trade_no":"O-2"}`).json(t)["id"].(string)
		post(t, P+"/v1/payments/"+disputed+"/dispute", a.partnerKey, `{"reason":"late"}`)
		agent := a.staff(auth.Agent)
		wallet := a.visitorLedger(t, vis)
		routes := []struct {
			name, url, token, body, param string
		}{
			{"quote buy", P + "/v1/fx/quotes", a.partnerKey, `{"card_id":"` + card + `","buy":{"value":"V","currency":"CNY"}}`, "buy.value"},
			{"quote sell", P + "/v1/fx/quotes", a.partnerKey, `{"card_id":"` + card + `","sell":{"value":"V","currency":"USD"}}`, "sell.value"},
			{"payment", P + "/v1/payments", a.partnerKey, `{"visitor_id":"` + vis + `","merchant_id":"` + mer + `","amount":{"value":"V","currency":"CNY"},"out_trade_no":"O-9"}`, "amount.value"},
			{"refund", P + "/v1/payments/" + pay + "/refunds", a.partnerKey, `{"amount":{"value":"V","currency":"CNY"},"reason":"x"}`, "amount.value"},
			{"resolve", A + "/admin/v1/payments/" + disputed + "/resolve", agent, `{"outcome":"refund","amount":{"value":"V","currency":"CNY"},"reason":"x"}`, "amount.value"},
			{"adjustment", A + "/admin/v1/adjustments", agent, `{"account_id":"` + wallet + `","amount":{"value":"V","currency":"CNY"},"reason":"x"}`, "amount.value"},
		}
		for _, rt := range routes {
			for _, v := range []string{"92233720368547758.07", "92233720368547758.08", "-92233720368547758.08"} {
				r := post(t, rt.url, rt.token, strings.Replace(rt.body, "V", v, 1))
				if r.Status >= 500 || r.Status < 400 {
					t.Errorf("%s %s: %d %s", rt.name, v, r.Status, r.Body)
					continue
				}
				code := r.errCode(t)
				if v != "92233720368547758.07" && (code != "amount_invalid" || r.errParam(t) != rt.param) {
					t.Errorf("%s %s: %s param %q, want amount_invalid on %s", rt.name, v, code, r.errParam(t), rt.param)
				}
			}
		}
	})
}
