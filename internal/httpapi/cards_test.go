package httpapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// approvedVisitor onboards ANNA MARIA ERIKSSON with a fresh passport number.
func (a *api) approvedVisitor(t *testing.T, key string) string {
	t.Helper()
	num := strings.ToUpper(ids.New("x")[len(ids.New("x"))-8:])
	r := a.createVisitor(t, key, td3("UTO", "ERIKSSON", "ANNA MARIA", num, "740812", "F", "340415"), "")
	if r.Status != 201 {
		t.Fatalf("visitor: %d %s", r.Status, r.Body)
	}
	if st, _ := kycOf(t, r); st != "approved" {
		t.Fatalf("visitor not approved: %s", r.Body)
	}
	return r.json(t)["id"].(string)
}

func cardBody(pan, cvc, holder string) string {
	return fmt.Sprintf(`{"number":%q,"exp_month":12,"exp_year":2030,"cvc":%q,"holder_name":%q}`, pan, cvc, holder)
}

// declineCodes maps field 39 to the decline_code the API shows.
var declineCodes = map[string]string{"05": "card_declined", "41": "lost_card", "43": "stolen_card", "54": "expired_card", "N7": "incorrect_cvc"}

// TestEveryTestCardThroughTheAPI binds every row of the test-card table of docs/TESTING.md
// through the HTTP API and checks the outcome the table promises.
func TestEveryTestCardThroughTheAPI(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		for _, tc := range cardnet.TestCards() {
			t.Run(tc.PAN, func(t *testing.T) {
				vis := a.approvedVisitor(t, a.partnerKey)
				cvc := "123"
				if tc.Network == gateway.Amex {
					cvc = "1234"
				}
				url := a.partner.URL + "/v1/visitors/" + vis + "/cards"
				r := do(t, "POST", url, a.partnerKey, cardBody(tc.PAN, cvc, "ANNA M ERIKSSON"), "Idempotency-Key", ids.New("k"))
				switch tc.Verification {
				case gateway.RCApproved:
					if r.Status != 201 {
						t.Fatalf("%d %s", r.Status, r.Body)
					}
					card := r.json(t)
					if card["status"] != "verified" || card["network"] != tc.Network.String() || card["currency"] != tc.Currency ||
						card["issuer_country"] != tc.IssuerCountry || card["last4"] != tc.PAN[len(tc.PAN)-4:] {
						t.Fatalf("card %s", r.Body)
					}
				case gateway.RCAuthenticationRequired:
					if r.Status != 201 || r.json(t)["status"] != "requires_action" {
						t.Fatalf("%d %s", r.Status, r.Body)
					}
					cardID := r.json(t)["id"].(string)
					if na, _ := r.json(t)["next_action"].(map[string]any); na["type"] != "otp" {
						t.Fatalf("next_action: %s", r.Body)
					}
					v := do(t, "POST", url+"/"+cardID+"/verify", a.partnerKey, `{"otp":"123456"}`)
					if v.Status != 200 || v.json(t)["status"] != "verified" {
						t.Fatalf("verify: %d %s", v.Status, v.Body)
					}
				default:
					if r.Status != 402 || r.errCode(t) != "card_declined" {
						t.Fatalf("%d %s", r.Status, r.Body)
					}
					e := r.json(t)["error"].(map[string]any)
					if e["type"] != "card_error" || e["decline_code"] != declineCodes[tc.Verification] {
						t.Fatalf("decline %v, want %s", e, declineCodes[tc.Verification])
					}
				}
			})
		}
		// The PANs and CVCs reach neither the logs nor any table.
		var pans []string
		for _, tc := range cardnet.TestCards() {
			pans = append(pans, tc.PAN)
		}
		for _, p := range pans {
			if strings.Contains(a.logs.String(), p) {
				t.Fatalf("PAN %s in logs", p)
			}
		}
		assertNotStored(t, b, pans...)
	})
}

func TestCardBindingRules(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		vis := a.approvedVisitor(t, a.partnerKey)
		url := a.partner.URL + "/v1/visitors/" + vis + "/cards"
		bind := func(body string) resp {
			return do(t, "POST", url, a.partnerKey, body, "Idempotency-Key", ids.New("k"))
		}
		cases := []struct {
			name, body string
			status     int
			code       string
			param      string
		}{
			{"luhn", cardBody("4242424242424241", "123", "ANNA ERIKSSON"), 400, "incorrect_number", "number"},
			{"unionpay", cardBody("6250941006528599", "123", "ANNA ERIKSSON"), 400, "unsupported_network", "number"},
			{"amex cvc", cardBody("378282246310005", "123", "ANNA ERIKSSON"), 400, "invalid_cvc", "cvc"},
			{"expired", `{"number":"4242424242424242","exp_month":1,"exp_year":2020,"cvc":"123","holder_name":"ANNA ERIKSSON"}`, 400, "invalid_expiry", "exp_month"},
			{"name", cardBody("4242424242424242", "123", "JOHN SMITH"), 422, "holder_name_mismatch", "holder_name"},
			{"number as json number", `{"number":4242424242424242,"exp_month":12,"exp_year":2030,"cvc":"123","holder_name":"A"}`, 400, "parameter_invalid", "number"},
			{"missing cvc", `{"number":"4242424242424242","exp_month":12,"exp_year":2030,"holder_name":"ANNA ERIKSSON"}`, 400, "parameter_missing", "cvc"},
		}
		for _, tc := range cases {
			r := bind(tc.body)
			if r.Status != tc.status || r.errCode(t) != tc.code || r.errParam(t) != tc.param {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
			}
		}
		// Diacritics and order are tolerated.
		// 4111 1111 1111 1111 is not a published test card: one visitor
		// at a time may hold it.
		r := bind(cardBody("4111111111111111", "123", "Eriksson Anna María"))
		if r.Status != 201 {
			t.Fatalf("bind: %d %s", r.Status, r.Body)
		}
		cardID := r.json(t)["id"].(string)
		// Same card on another visitor of any partner.
		other := a.approvedVisitor(t, a.partnerKey)
		if r := do(t, "POST", a.partner.URL+"/v1/visitors/"+other+"/cards", a.partnerKey, cardBody("4111111111111111", "123", "ANNA ERIKSSON"), "Idempotency-Key", ids.New("k")); r.Status != 409 || r.errCode(t) != "card_bound_elsewhere" ||
			!strings.Contains(r.errMessage(t), "delete the card from the other visitor or close that account") {
			t.Fatalf("bound elsewhere: %d %s", r.Status, r.Body)
		}
		// A published test card binds to any number of visitors.
		test1 := bind(cardBody("4242424242424242", "123", "ANNA ERIKSSON"))
		test2 := do(t, "POST", a.partner.URL+"/v1/visitors/"+other+"/cards", a.partnerKey, cardBody("4242424242424242", "123", "ANNA ERIKSSON"), "Idempotency-Key", ids.New("k"))
		if test1.Status != 201 || test2.Status != 201 {
			t.Fatalf("test card on two visitors: %d %s / %d %s", test1.Status, test1.Body, test2.Status, test2.Body)
		}
		if d := do(t, "DELETE", a.partner.URL+"/v1/visitors/"+other+"/cards/"+test2.json(t)["id"].(string), a.partnerKey, ""); d.Status != 200 {
			t.Fatalf("unbind test card: %d %s", d.Status, d.Body)
		}
		// At most 5 active cards.
		for _, pan := range []string{"5555555555554444", "2223003122003222", "6011111111111117"} {
			if r := bind(cardBody(pan, "123", "ANNA ERIKSSON")); r.Status != 201 {
				t.Fatalf("bind %s: %d %s", pan, r.Status, r.Body)
			}
		}
		if r := bind(cardBody("4000056655665556", "123", "ANNA ERIKSSON")); r.Status != 422 || r.errCode(t) != "too_many_cards" {
			t.Fatalf("sixth card: %d %s", r.Status, r.Body)
		}
		l := do(t, "GET", url, a.partnerKey, "")
		if n := len(l.json(t)["data"].([]any)); n != 5 {
			t.Fatalf("list: %d cards", n)
		}
		if d := do(t, "DELETE", url+"/"+cardID, a.partnerKey, ""); d.Status != 200 || d.json(t)["status"] != "removed" {
			t.Fatalf("unbind: %d %s", d.Status, d.Body)
		}
		// Unbinding freed the card for the other visitor.
		if r := do(t, "POST", a.partner.URL+"/v1/visitors/"+other+"/cards", a.partnerKey, cardBody("4111111111111111", "123", "ANNA ERIKSSON"), "Idempotency-Key", ids.New("k")); r.Status != 201 {
			t.Fatalf("after unbind: %d %s", r.Status, r.Body)
		}
		// Three wrong OTPs fail the card.
		r = do(t, "POST", a.partner.URL+"/v1/visitors/"+other+"/cards", a.partnerKey, cardBody("4000000000003220", "123", "ANNA ERIKSSON"), "Idempotency-Key", ids.New("k"))
		otpCard := r.json(t)["id"].(string)
		for range 3 {
			v := do(t, "POST", a.partner.URL+"/v1/visitors/"+other+"/cards/"+otpCard+"/verify", a.partnerKey, `{"otp":"000000"}`)
			if v.Status != 402 || v.json(t)["error"].(map[string]any)["decline_code"] != "authentication_failed" {
				t.Fatalf("wrong otp: %d %s", v.Status, v.Body)
			}
		}
		// Another partner cannot see or use the visitor's cards.
		_, otherKey, _ := a.srv.Auth.CreatePartner(t.Context(), ids.New("ptn"), "O", "")
		if r := do(t, "GET", url, otherKey, ""); r.Status != 404 {
			t.Fatalf("cross-partner list: %d", r.Status)
		}
		var events []string
		b.DB.Gorm.Raw("SELECT type FROM events WHERE type LIKE 'card.%'").Scan(&events)
		if len(events) < 7 {
			t.Fatalf("card events %v", events)
		}
	})
}

func TestQuotes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		vis := a.approvedVisitor(t, a.partnerKey)
		r := do(t, "POST", a.partner.URL+"/v1/visitors/"+vis+"/cards", a.partnerKey, cardBody("4242424242424242", "123", "ANNA ERIKSSON"), "Idempotency-Key", ids.New("k"))
		card := r.json(t)["id"].(string)
		q := do(t, "POST", a.partner.URL+"/v1/fx/quotes", a.partnerKey, `{"card_id":"`+card+`","buy":{"value":"1000.00","currency":"CNY"}}`)
		if q.Status != 201 {
			t.Fatalf("quote: %d %s", q.Status, q.Body)
		}
		// the worked example of docs/API.md: CNY 1000.00 at mid 7.1220, 1% spread, 3% fee.
		want := map[string]string{"sell": `{"value":"141.83","currency":"USD"}`, "fee": `{"value":"30.00","currency":"CNY"}`,
			"credited": `{"value":"970.00","currency":"CNY"}`}
		for k, v := range want {
			if !strings.Contains(string(q.Body), `"`+k+`":`+v) {
				t.Errorf("quote %s: want %s in %s", k, v, q.Body)
			}
		}
		if q.json(t)["rate"] != "7.0507" || q.json(t)["mid_rate"] != "7.1220" {
			t.Fatalf("rates: %s", q.Body)
		}
		cases := []struct{ body, code, param string }{
			{`{"card_id":"` + card + `"}`, "parameter_invalid", "buy"},
			{`{"card_id":"` + card + `","buy":{"value":"10.00","currency":"CNY"},"sell":{"value":"1.00","currency":"USD"}}`, "parameter_invalid", "buy"},
			{`{"card_id":"` + card + `","buy":{"value":1000,"currency":"CNY"}}`, "amount_invalid", "buy.value"},
			{`{"card_id":"` + card + `","buy":{"value":"10.001","currency":"CNY"}}`, "amount_invalid", "buy.value"},
			{`{"card_id":"` + card + `","buy":{"value":"10.00","currency":"XYZ"}}`, "currency_unsupported", "buy.currency"},
			{`{"card_id":"` + card + `","buy":{"value":"10.00","currency":"USD"}}`, "currency_unsupported", "buy.currency"},
			{`{"card_id":"` + card + `","sell":{"value":"10.00","currency":"EUR"}}`, "currency_unsupported", "sell.currency"},
			{`{"card_id":"` + card + `","sell":{"value":"-1.00","currency":"USD"}}`, "amount_invalid", "sell.value"},
			{`{"card_id":"card_nope","sell":{"value":"1.00","currency":"USD"}}`, "resource_missing", "card_id"},
		}
		for _, tc := range cases {
			r := do(t, "POST", a.partner.URL+"/v1/fx/quotes", a.partnerKey, tc.body)
			if r.Status/100 != 4 || r.errCode(t) != tc.code || r.errParam(t) != tc.param {
				t.Errorf("%s: %d %s", tc.body, r.Status, r.Body)
			}
		}
	})
}
