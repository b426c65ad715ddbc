package httpapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/inbound-gateway/inbound/internal/limits"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// TestOpenAPILimits: every length limit openapi.yaml gives a request field
// is the Go constant the handler validates and the domain checks
// (internal/limits), and every such field has one.
func TestOpenAPILimits(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openapiYAML)
	if err != nil {
		t.Fatal(err)
	}
	// by property name, or "METHOD path property" where a name has
	// different limits on different routes.
	want := map[string]int{
		"reason":                                 limits.Reason,
		"name":                                   limits.Name,
		"out_trade_no":                           limits.OutTradeNo,
		"url":                                    limits.URL,
		"POST /v1/payments description":          limits.PaymentDescription,
		"POST /v1/webhook_endpoints description": limits.WebhookDescription,
	}
	seen := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			mt := op.RequestBody.Value.Content.Get("application/json")
			if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
				continue
			}
			for prop, ref := range mt.Schema.Value.Properties {
				key := method + " " + path + " " + prop
				limit, ok := want[key]
				if !ok {
					limit, ok = want[prop]
				} else {
					seen[key] = true
				}
				if !ok || ref.Value == nil || !ref.Value.Type.Is("string") {
					continue
				}
				seen[prop] = true
				if ref.Value.MaxLength == nil || *ref.Value.MaxLength != uint64(limit) { //nolint:gosec // limits are small positive constants
					got := "none"
					if ref.Value.MaxLength != nil {
						got = fmt.Sprint(*ref.Value.MaxLength)
					}
					t.Errorf("%s: maxLength %s in openapi.yaml, %d in internal/limits", key, got, limit)
				}
			}
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("openapi.yaml has no request field %q", k)
		}
	}
	// The handler's validator tags are the same constants.
	for tag, limit := range limitTags {
		if limit <= 0 {
			t.Errorf("validator tag %s has limit %d", tag, limit)
		}
	}
}

// TestReasonLimitEndToEnd: a reason of 501-1000 characters, which the
// spec and the handler accept, is accepted by the domain too (escrow once
// refused it above 500); one of 1001 is refused by the handler with the
// field named.
func TestReasonLimitEndToEnd(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		P := a.partner.URL
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "5555555555554444")
		if l := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"500.00","currency":"CNY"}`)); l.Status != 201 {
			t.Fatalf("load: %d %s", l.Status, l.Body)
		}
		m := post(t, P+"/v1/merchants", a.partnerKey, `{"name":"Tea House","mcc":"5812"}`)
		if m.Status != 201 {
			t.Fatalf("merchant: %d %s", m.Status, m.Body)
		}
		p := post(t, P+"/v1/payments", a.partnerKey, `{"visitor_id":"`+vis+`","merchant_id":"`+m.json(t)["id"].(string)+
			`","amount":{"value":"10.00","currency":"CNY"},"out_trade_no":"LIMIT-1"}`)
		if p.Status != 201 {
			t.Fatalf("payment: %d %s", p.Status, p.Body)
		}
		pay := p.json(t)["id"].(string)
		long := strings.Repeat("é", limits.Reason) // characters, not bytes
		if r := post(t, P+"/v1/payments/"+pay+"/refunds", a.partnerKey, `{"amount":{"value":"1.00","currency":"CNY"},"reason":"`+long[:len("é")*800]+`"}`); r.Status != 201 {
			t.Fatalf("refund with an 800-character reason: %d %s", r.Status, r.Body)
		}
		if r := post(t, P+"/v1/payments/"+pay+"/dispute", a.partnerKey, `{"reason":"`+long+`"}`); r.Status != 200 {
			t.Fatalf("dispute with a %d-character reason: %d %s", limits.Reason, r.Status, r.Body)
		}
		r := post(t, P+"/v1/payments/"+pay+"/refunds", a.partnerKey, `{"amount":{"value":"1.00","currency":"CNY"},"reason":"`+long+`x"}`)
		if r.Status != 400 || r.errCode(t) != "parameter_invalid" || r.errParam(t) != "reason" {
			t.Fatalf("refund with a %d-character reason: %d %s", limits.Reason+1, r.Status, r.Body)
		}
	})
}
