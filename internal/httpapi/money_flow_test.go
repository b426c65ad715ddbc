package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/recon"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// bindCard binds pan to the visitor and returns the card id.
func (a *api) bindCard(t *testing.T, vis, pan string) string {
	t.Helper()
	r := do(t, "POST", a.partner.URL+"/v1/visitors/"+vis+"/cards", a.partnerKey, cardBody(pan, "123", "ANNA ERIKSSON"), "Idempotency-Key", ids.New("k"))
	if r.Status != 201 {
		t.Fatalf("bind %s: %d %s", pan, r.Status, r.Body)
	}
	return r.json(t)["id"].(string)
}

func (a *api) quote(t *testing.T, card, body string) string {
	t.Helper()
	r := do(t, "POST", a.partner.URL+"/v1/fx/quotes", a.partnerKey, `{"card_id":"`+card+`",`+body+`}`)
	if r.Status != 201 {
		t.Fatalf("quote: %d %s", r.Status, r.Body)
	}
	return r.json(t)["id"].(string)
}

func (a *api) load(t *testing.T, vis, card, quote string) resp {
	t.Helper()
	return do(t, "POST", a.partner.URL+"/v1/visitors/"+vis+"/loads", a.partnerKey, `{"card_id":"`+card+`","quote_id":"`+quote+`"}`, "Idempotency-Key", ids.New("k"))
}

func post(t *testing.T, url, key, body string) resp {
	t.Helper()
	return do(t, "POST", url, key, body, "Idempotency-Key", ids.New("k"))
}

func contains(t *testing.T, r resp, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(string(r.Body), p) {
			t.Fatalf("%d %s\nlacks %s", r.Status, r.Body, p)
		}
	}
}

// TestMoneyFlow walks a visitor through the whole life of the money: load,
// pay into escrow, release, refund, dispute, unload, and checks after each
// step what the partner sees; the ledger reconciles at the end.
func TestMoneyFlow(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		P := a.partner.URL
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")

		// Load CNY 1000.00 (the worked example of docs/API.md): 970.00 credited.
		q := a.quote(t, card, `"buy":{"value":"1000.00","currency":"CNY"}`)
		l := a.load(t, vis, card, q)
		if l.Status != 201 || l.json(t)["status"] != "succeeded" {
			t.Fatalf("load: %d %s", l.Status, l.Body)
		}
		contains(t, l, `"charged":{"value":"141.83","currency":"USD"}`, `"credited":{"value":"970.00","currency":"CNY"}`, `"response_code":"00"`)
		// The quote is used up.
		if r := a.load(t, vis, card, q); r.Status != 409 || r.errCode(t) != "quote_expired" {
			t.Fatalf("reused quote: %d %s", r.Status, r.Body)
		}
		acct := do(t, "GET", P+"/v1/visitors/"+vis+"/account", a.partnerKey, "")
		contains(t, acct, `"balance":{"value":"970.00","currency":"CNY"}`, `"available":{"value":"970.00","currency":"CNY"}`, `"profile":"basic"`)

		// A load over the basic balance cap (CNY 2,000) says which limit and the room left.
		q2 := a.quote(t, card, `"buy":{"value":"1500.00","currency":"CNY"}`)
		if r := a.load(t, vis, card, q2); r.Status != 422 || r.errCode(t) != "limit_exceeded" {
			t.Fatalf("over cap: %d %s", r.Status, r.Body)
		} else {
			contains(t, r, `"limit":"balance_cap"`, `"room":{"value":"1030.00","currency":"CNY"}`, `"type":"limit_error"`)
		}

		// A merchant and a payment into escrow.
		m := post(t, P+"/v1/merchants", a.partnerKey, `{"name":"Tea House","mcc":"5812"}`)
		if m.Status != 201 {
			t.Fatalf("merchant: %d %s", m.Status, m.Body)
		}
		mer := m.json(t)["id"].(string)
		payBody := `{"visitor_id":"` + vis + `","merchant_id":"` + mer + `","amount":{"value":"88.88","currency":"CNY"},"out_trade_no":"ORDER-1","description":"Green tea"}`
		p := post(t, P+"/v1/payments", a.partnerKey, payBody)
		if p.Status != 201 || p.json(t)["status"] != "held" || p.json(t)["auto_release_at"] == nil {
			t.Fatalf("payment: %d %s", p.Status, p.Body)
		}
		pay := p.json(t)["id"].(string)
		// Same out_trade_no and fields: the same payment, 200. Other fields: 409.
		if r := post(t, P+"/v1/payments", a.partnerKey, payBody); r.Status != 200 || r.json(t)["id"] != pay {
			t.Fatalf("out_trade_no replay: %d %s", r.Status, r.Body)
		}
		if r := post(t, P+"/v1/payments", a.partnerKey, strings.Replace(payBody, "88.88", "99.99", 1)); r.Status != 409 || r.errCode(t) != "out_trade_no_conflict" {
			t.Fatalf("out_trade_no conflict: %d %s", r.Status, r.Body)
		}
		contains(t, do(t, "GET", P+"/v1/visitors/"+vis+"/account", a.partnerKey, ""), `"available":{"value":"881.12","currency":"CNY"}`,
			`"held":{"value":"88.88","currency":"CNY"}`)
		// More than the available balance.
		if r := post(t, P+"/v1/payments", a.partnerKey, strings.NewReplacer("88.88", "900.00", "ORDER-1", "ORDER-2").Replace(payBody)); r.Status != 402 || r.errCode(t) != "insufficient_funds" {
			t.Fatalf("insufficient: %d %s", r.Status, r.Body)
		}

		// Confirm: released, merchant paid less 0.6 %.
		c := post(t, P+"/v1/payments/"+pay+"/confirm", a.partnerKey, `{}`)
		if c.Status != 200 || c.json(t)["status"] != "released" {
			t.Fatalf("confirm: %d %s", c.Status, c.Body)
		}
		if r := post(t, P+"/v1/payments/"+pay+"/confirm", a.partnerKey, `{}`); r.Status != 409 || r.errCode(t) != "invalid_state" {
			t.Fatalf("confirm twice: %d %s", r.Status, r.Body)
		}
		contains(t, do(t, "GET", P+"/v1/merchants/"+mer, a.partnerKey, ""), `"balance":{"value":"88.35","currency":"CNY"}`)
		// A partial refund after release comes from the merchant's balance.
		rf := post(t, P+"/v1/payments/"+pay+"/refunds", a.partnerKey, `{"amount":{"value":"8.88","currency":"CNY"},"reason":"one cup short"}`)
		if rf.Status != 201 || rf.json(t)["source"] != "merchant" {
			t.Fatalf("refund: %d %s", rf.Status, rf.Body)
		}
		if r := post(t, P+"/v1/payments/"+pay+"/refunds", a.partnerKey, `{"amount":{"value":"500.00","currency":"CNY"}}`); r.Status/100 != 4 {
			t.Fatalf("over-refund: %d %s", r.Status, r.Body)
		}

		// A disputed payment waits for support staff.
		p2 := post(t, P+"/v1/payments", a.partnerKey, strings.NewReplacer("88.88", "50.00", "ORDER-1", "ORDER-3").Replace(payBody))
		pay2 := p2.json(t)["id"].(string)
		if r := post(t, P+"/v1/payments/"+pay2+"/dispute", a.partnerKey, `{"reason":"never arrived"}`); r.Status != 200 || r.json(t)["status"] != "disputed" {
			t.Fatalf("dispute: %d %s", r.Status, r.Body)
		}
		if r := post(t, P+"/v1/payments/"+pay2+"/confirm", a.partnerKey, `{}`); r.Status != 409 {
			t.Fatalf("confirm while disputed: %d %s", r.Status, r.Body)
		}
		agent := a.staff(auth.Agent)
		res := post(t, a.admin.URL+"/admin/v1/payments/"+pay2+"/resolve", agent, `{"outcome":"refund","amount":{"value":"20.00","currency":"CNY"},"reason":"partial delivery"}`)
		if res.Status != 200 {
			t.Fatalf("resolve: %d %s", res.Status, res.Body)
		}
		if au := do(t, "GET", a.admin.URL+"/admin/v1/audit?target="+pay2, agent, ""); len(au.json(t)["data"].([]any)) != 1 {
			t.Fatalf("resolution not audited: %s", au.Body)
		}
		l2 := do(t, "GET", P+"/v1/payments?visitor_id="+vis, a.partnerKey, "")
		if n := len(l2.json(t)["data"].([]any)); n != 2 {
			t.Fatalf("payments list: %d %s", n, l2.Body)
		}

		// Frozen accounts refuse payments, and the confirm of a payment
		// held before the freeze (an outflow too).
		held := post(t, P+"/v1/payments", a.partnerKey, strings.NewReplacer("88.88", "2.00", "ORDER-1", "ORDER-5").Replace(payBody)).json(t)["id"].(string)
		post(t, a.admin.URL+"/admin/v1/visitors/"+vis+"/freeze", agent, `{"reason":"check"}`)
		if r := post(t, P+"/v1/payments/"+held+"/confirm", a.partnerKey, `{}`); r.Status != 403 || r.errCode(t) != "account_frozen" {
			t.Fatalf("frozen confirm: %d %s", r.Status, r.Body)
		}
		if r := post(t, P+"/v1/payments", a.partnerKey, strings.NewReplacer("88.88", "1.00", "ORDER-1", "ORDER-4").Replace(payBody)); r.Status != 403 || r.errCode(t) != "account_frozen" {
			t.Fatalf("frozen payment: %d %s", r.Status, r.Body)
		}
		if r := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"100.00","currency":"CNY"}`)); r.Status != 403 || r.errCode(t) != "account_frozen" {
			t.Fatalf("frozen load: %d %s", r.Status, r.Body)
		}
		post(t, a.admin.URL+"/admin/v1/visitors/"+vis+"/unfreeze", agent, `{"reason":"ok"}`)
		if r := post(t, P+"/v1/payments/"+held+"/confirm", a.partnerKey, `{}`); r.Status != 200 || r.json(t)["status"] != "released" {
			t.Fatalf("confirm after unfreeze: %d %s", r.Status, r.Body)
		}

		tx := do(t, "GET", P+"/v1/visitors/"+vis+"/transactions", a.partnerKey, "")
		contains(t, tx, `"type":"load"`, `"type":"payment"`, `"type":"refund"`)

		// Unload the rest to the card, closing the account.
		u := post(t, P+"/v1/visitors/"+vis+"/unloads", a.partnerKey, `{"card_id":"`+card+`","close":true}`)
		if u.Status != 201 || u.json(t)["status"] != "succeeded" {
			t.Fatalf("unload: %d %s", u.Status, u.Body)
		}
		rec := do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", agent, "")
		contains(t, rec, `"breaks":[]`)
	})
}

func TestLoadDeclines(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		vis := a.approvedVisitor(t, a.partnerKey)
		cases := []struct{ pan, decline string }{
			{"4000000000009995", "insufficient_funds"},
			{"5105105105105100", "insufficient_funds"},
			{"4000000000000119", "processing_error"},
			{"4000000000000259", "issuer_unavailable"},
		}
		for _, tc := range cases {
			card := a.bindCard(t, vis, tc.pan)
			r := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"200.00","currency":"CNY"}`))
			if r.Status != 402 || r.errCode(t) != "card_declined" {
				t.Fatalf("%s: %d %s", tc.pan, r.Status, r.Body)
			}
			e := r.json(t)["error"].(map[string]any)
			if e["decline_code"] != tc.decline || e["load"].(map[string]any)["status"] != "failed" {
				t.Fatalf("%s: %v", tc.pan, e)
			}
			do(t, "DELETE", a.partner.URL+"/v1/visitors/"+vis+"/cards/"+card, a.partnerKey, "")
		}
		// Issuer authentication on a load, then the OTP.
		card := a.bindCard(t, vis, "4000000000003220")
		if v := do(t, "POST", a.partner.URL+"/v1/visitors/"+vis+"/cards/"+card+"/verify", a.partnerKey, `{"otp":"123456"}`); v.Status != 200 {
			t.Fatalf("verify: %d %s", v.Status, v.Body)
		}
		r := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"300.00","currency":"CNY"}`))
		if r.Status != 201 || r.json(t)["status"] != "requires_action" {
			t.Fatalf("otp load: %d %s", r.Status, r.Body)
		}
		ld := r.json(t)["id"].(string)
		ok := post(t, a.partner.URL+"/v1/loads/"+ld+"/authenticate", a.partnerKey, `{"otp":"123456"}`)
		if ok.Status != 200 || ok.json(t)["status"] != "succeeded" {
			t.Fatalf("authenticate: %d %s", ok.Status, ok.Body)
		}
		contains(t, do(t, "GET", a.partner.URL+"/v1/visitors/"+vis+"/account", a.partnerKey, ""), `"balance":{"value":"291.00","currency":"CNY"}`)
		contains(t, do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", a.supervisor, ""), `"breaks":[]`)
	})
}

// TestReconciliationReportsSettlementBreaks makes both kinds of break on
// purpose: a capture at the network that no load credited, and a credited
// load whose capture the network's settlement does not show.
func TestReconciliationReportsSettlementBreaks(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "5555555555554444")
		if l := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"500.00","currency":"CNY"}`)); l.Status != 201 {
			t.Fatalf("load: %d %s", l.Status, l.Body)
		}
		rec := do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", a.supervisor, "")
		contains(t, rec, `"breaks":[]`)

		// 1. A capture sent to the network behind the gateway's back.
		msg := `{"mti":"0200","processing_code":"00","pan":"4000056655665556","expiry":"3012","cvc":"123","amount":"1234","currency":"USD","stan":"424242","rrn":"RECON0000001"}`
		res, err := http.Post(a.cardnet+"/v1/messages", "application/json", strings.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(raw), `"response_code":"00"`) {
			t.Fatalf("direct capture: %d %s", res.StatusCode, raw)
		}
		// 2. A credited load whose network reference no longer matches any
		// settlement line (as if the capture had been lost).
		if err := b.DB.Gorm.Exec("UPDATE prepaid_loads SET rrn = 'LOSTCAPTURE1' WHERE status = 'succeeded'").Error; err != nil {
			t.Fatal(err)
		}
		rec = do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", a.supervisor, "")
		breaks := rec.json(t)["breaks"].([]any)
		rules := map[string]map[string]any{}
		for _, x := range breaks {
			br := x.(map[string]any)
			rules[br["rule"].(string)+"/"+br["rrn"].(string)] = br
		}
		if br := rules["capture_without_credit/RECON0000001"]; br == nil || br["stan"] != "424242" || br["network"] != "visa" {
			t.Errorf("direct capture not reported: %s", rec.Body)
		}
		if br := rules["credit_without_capture/LOSTCAPTURE1"]; br == nil || !strings.HasPrefix(br["object"].(string), "load_") {
			t.Errorf("load without capture not reported: %s", rec.Body)
		}
		// The load's real capture is now unmatched too.
		if len(breaks) != 3 {
			t.Errorf("want 3 breaks, got %d: %s", len(breaks), rec.Body)
		}
		if r := do(t, "GET", a.admin.URL+"/admin/v1/reconciliation?date=tomorrow", a.supervisor, ""); r.Status != 400 || r.errParam(t) != "date" {
			t.Fatalf("bad date: %d %s", r.Status, r.Body)
		}
		// Grouped by rule, each with the id it is about.
		var got struct {
			Date   string `json:"date"`
			ByRule []struct {
				Rule    string   `json:"rule"`
				Count   int      `json:"count"`
				Objects []string `json:"objects"`
			} `json:"by_rule"`
		}
		if err := json.Unmarshal(rec.Body, &got); err != nil {
			t.Fatal(err)
		}
		byRule := map[string][]string{}
		for _, r := range got.ByRule {
			byRule[r.Rule] = r.Objects
			if r.Count == 0 {
				t.Errorf("rule %s with count 0", r.Rule)
			}
		}
		loadID := rules["credit_without_capture/LOSTCAPTURE1"]["object"]
		if len(got.ByRule) != 2 || len(byRule["capture_without_credit"]) != 0 || len(byRule["credit_without_capture"]) != 1 ||
			byRule["credit_without_capture"][0] != loadID {
			t.Errorf("by_rule: %s", rec.Body)
		}
		// day names the settlement day (date is its older name): a day
		// without traffic has no settlement break.
		today := time.Now().UTC().Format(time.DateOnly)
		if r := do(t, "GET", a.admin.URL+"/admin/v1/reconciliation?day="+today, a.supervisor, ""); r.Status != 200 || len(r.json(t)["breaks"].([]any)) != 3 {
			t.Errorf("day=today: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", a.admin.URL+"/admin/v1/reconciliation?day=2001-02-03", a.supervisor, ""); r.Status != 200 ||
			!strings.Contains(string(r.Body), `"breaks":[]`) || !strings.Contains(string(r.Body), `"date":"2001-02-03"`) {
			t.Errorf("quiet day: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", a.admin.URL+"/admin/v1/reconciliation?day=03/02/2001", a.supervisor, ""); r.Status != 400 || r.errParam(t) != "day" {
			t.Fatalf("bad day: %d %s", r.Status, r.Body)
		}
	})
}

// TestReconciliationNetworkDownIs503: a settlement report the network does
// not give is the gateway's outage, 503 service_unavailable with
// Retry-After, never a 500.
func TestReconciliationNetworkDownIs503(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		a := newAPI(t, b, func(d *Deps) { d.Settlement = recon.HTTPReports{BaseURL: dead.URL} })
		r := do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", a.supervisor, "")
		if r.Status != 503 || r.errCode(t) != "service_unavailable" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("settlement down: %d %v %s", r.Status, r.Header, r.Body)
		}
	})
}

// A visitor with entry details and a verified card whose holder name
// matched moves to the verified tier and limit profile (CNY 5,000 cap); a
// visitor without entry details stays basic.
func TestVerifiedProfile(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		r := a.createVisitor(t, a.partnerKey, td3("UTO", "ERIKSSON", "ANNA MARIA", "V1234567", "740812", "F", "340415"),
			`,"entry":{"visa_type":"L","entry_date":"2026-11-20","planned_departure":"2026-12-10"}`)
		vis := r.json(t)["id"].(string)
		if tier := r.json(t)["kyc"].(map[string]any)["tier"]; tier != "basic" {
			t.Fatalf("tier before a card: %v", tier)
		}
		a.bindCard(t, vis, "4242424242424242")
		v := do(t, "GET", a.partner.URL+"/v1/visitors/"+vis, a.partnerKey, "")
		if v.json(t)["kyc"].(map[string]any)["tier"] != "verified" {
			t.Fatalf("tier after a verified card: %s", v.Body)
		}
		contains(t, do(t, "GET", a.partner.URL+"/v1/visitors/"+vis+"/account", a.partnerKey, ""), `"profile":"verified"`,
			`"balance_cap":{"value":"5000.00","currency":"CNY"}`)

		basic := a.approvedVisitor(t, a.partnerKey)
		a.bindCard(t, basic, "5555555555554444")
		contains(t, do(t, "GET", a.partner.URL+"/v1/visitors/"+basic+"/account", a.partnerKey, ""), `"profile":"basic"`)
	})
}

// An account cannot close while a payment is held in escrow: a later refund
// would land in a closed account.
func TestCloseWaitsForEscrow(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		P := a.partner.URL
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")
		if l := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"300.00","currency":"CNY"}`)); l.Status != 201 {
			t.Fatalf("load: %d %s", l.Status, l.Body)
		}
		mer := post(t, P+"/v1/merchants", a.partnerKey, `{"name":"Shop","mcc":"5411"}`).json(t)["id"].(string)
		pay := post(t, P+"/v1/payments", a.partnerKey, `{"visitor_id":"`+vis+`","merchant_id":"`+mer+`","amount":{"value":"10.00","currency":"CNY"},"out_trade_no":"X-1"}`)
		if pay.Status != 201 {
			t.Fatalf("payment: %d %s", pay.Status, pay.Body)
		}
		u := post(t, P+"/v1/visitors/"+vis+"/unloads", a.partnerKey, `{"card_id":"`+card+`","close":true}`)
		if u.Status != 409 || u.errCode(t) != "account_busy" {
			t.Fatalf("close with escrow held: %d %s", u.Status, u.Body)
		}
		post(t, P+"/v1/payments/"+pay.json(t)["id"].(string)+"/refunds", a.partnerKey, `{}`)
		if u := post(t, P+"/v1/visitors/"+vis+"/unloads", a.partnerKey, `{"card_id":"`+card+`","close":true}`); u.Status != 201 {
			t.Fatalf("close after the refund: %d %s", u.Status, u.Body)
		}
		contains(t, do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", a.supervisor, ""), `"breaks":[]`)
	})
}

// A retry of a load request whose first attempt committed but never
// answered (a crash; the stored response is lost) gets the load it started,
// not "quote already used".
func TestLoadRetryAfterCrashFindsItsLoad(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")
		q := a.quote(t, card, `"buy":{"value":"200.00","currency":"CNY"}`)
		body := `{"card_id":"` + card + `","quote_id":"` + q + `"}`
		url := a.partner.URL + "/v1/visitors/" + vis + "/loads"
		first := do(t, "POST", url, a.partnerKey, body, "Idempotency-Key", "load-crash-1")
		if first.Status != 201 {
			t.Fatalf("load: %d %s", first.Status, first.Body)
		}
		// Simulate the lost response: the load and its credit committed,
		// the stored response did not survive.
		if err := b.DB.Gorm.Exec("DELETE FROM idempotency_keys").Error; err != nil {
			t.Fatal(err)
		}
		retry := do(t, "POST", url, a.partnerKey, body, "Idempotency-Key", "load-crash-1")
		if retry.Status != 201 || retry.json(t)["id"] != first.json(t)["id"] || retry.json(t)["status"] != "succeeded" {
			t.Fatalf("retry: %d %s", retry.Status, retry.Body)
		}
		// Another key with the same quote is a second load: refused.
		if r := do(t, "POST", url, a.partnerKey, body, "Idempotency-Key", "load-crash-2"); r.Status != 409 || r.errCode(t) != "quote_expired" {
			t.Fatalf("other key, same quote: %d %s", r.Status, r.Body)
		}
		contains(t, do(t, "GET", a.partner.URL+"/v1/visitors/"+vis+"/account", a.partnerKey, ""), `"balance":{"value":"200.00","currency":"CNY"}`)
	})
}

// TestBadInputIsA4xx sends malformed or foreign ids and values to every
// money route: each answer is a 4xx in the error shape, never a 500.
func TestBadInputIsA4xx(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		P := a.partner.URL
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")
		_, otherKey, _ := a.srv.Auth.CreatePartner(t.Context(), ids.New("ptn"), "Other", "")
		otherVis := a.approvedVisitor(t, otherKey)
		mer := post(t, P+"/v1/merchants", a.partnerKey, `{"name":"M","mcc":"5812"}`).json(t)["id"].(string)
		cases := []struct{ method, path, body string }{
			{"POST", "/v1/visitors/" + vis + "/loads", `{"card_id":"card_nope","quote_id":"quo_nope"}`},
			{"POST", "/v1/visitors/" + vis + "/loads", `{"card_id":"` + card + `","quote_id":"quo_nope"}`},
			{"POST", "/v1/visitors/vis_nope/loads", `{"card_id":"` + card + `","quote_id":"quo_nope"}`},
			{"POST", "/v1/visitors/" + otherVis + "/loads", `{"card_id":"` + card + `","quote_id":"quo_nope"}`},
			{"POST", "/v1/visitors/" + vis + "/loads", `{"card_id":"` + card + `"}`},
			{"POST", "/v1/loads/load_nope/authenticate", `{"otp":"123456"}`},
			{"GET", "/v1/loads/load_nope", ``},
			{"GET", "/v1/visitors/vis_nope/account", ``},
			{"GET", "/v1/visitors/" + otherVis + "/account", ``},
			{"GET", "/v1/visitors/" + vis + "/transactions?cursor=garbage", ``},
			{"GET", "/v1/visitors/" + vis + "/transactions?limit=0", ``},
			{"POST", "/v1/visitors/" + vis + "/unloads", `{"card_id":"card_nope"}`},
			{"POST", "/v1/visitors/" + vis + "/unloads", `{"card_id":"` + card + `","close":"yes"}`},
			{"POST", "/v1/visitors/" + vis + "/unloads", `{"card_id":"` + card + `"}`},
			{"POST", "/v1/merchants", `{"name":"","mcc":"58"}`},
			{"POST", "/v1/merchants", `{"name":"X","mcc":"abcd"}`},
			{"GET", "/v1/merchants/mer_nope", ``},
			{"POST", "/v1/payments", `{"visitor_id":"vis_nope","merchant_id":"` + mer + `","amount":{"value":"1.00","currency":"CNY"},"out_trade_no":"A"}`},
			{"POST", "/v1/payments", `{"visitor_id":"` + otherVis + `","merchant_id":"` + mer + `","amount":{"value":"1.00","currency":"CNY"},"out_trade_no":"B"}`},
			{"POST", "/v1/payments", `{"visitor_id":"` + vis + `","merchant_id":"mer_nope","amount":{"value":"1.00","currency":"CNY"},"out_trade_no":"C"}`},
			{"POST", "/v1/payments", `{"visitor_id":"` + vis + `","merchant_id":"` + mer + `","amount":{"value":"1.00","currency":"USD"},"out_trade_no":"D"}`},
			{"POST", "/v1/payments", `{"visitor_id":"` + vis + `","merchant_id":"` + mer + `","amount":{"value":"0.00","currency":"CNY"},"out_trade_no":"E"}`},
			{"POST", "/v1/payments", `{"visitor_id":"` + vis + `","merchant_id":"` + mer + `","amount":{"value":"99999999999999999.99","currency":"CNY"},"out_trade_no":"F"}`},
			{"POST", "/v1/payments", `{"visitor_id":"` + vis + `","merchant_id":"` + mer + `","amount":{"value":"1.00","currency":"CNY"},"out_trade_no":"G","auto_release_after":"forever"}`},
			{"POST", "/v1/payments", `{"visitor_id":"` + vis + `","merchant_id":"` + mer + `","amount":{"value":"1.00","currency":"CNY"},"out_trade_no":"H","auto_release_after":"-5h"}`},
			{"POST", "/v1/payments", `{"visitor_id":"` + vis + `","merchant_id":"` + mer + `","amount":{"value":"1.00","currency":"CNY"},"out_trade_no":"` + strings.Repeat("x", 65) + `"}`},
			{"GET", "/v1/payments?status=lost", ``},
			{"GET", "/v1/payments/pay_nope", ``},
			{"POST", "/v1/payments/pay_nope/confirm", `{}`},
			{"POST", "/v1/payments/pay_nope/refunds", `{"amount":{"value":"1.00","currency":"CNY"}}`},
			{"POST", "/v1/payments/pay_nope/dispute", `{"reason":"x"}`},
			{"POST", "/v1/fx/quotes", `{"card_id":"` + card + `","buy":{"value":"99999999999999999.99","currency":"CNY"}}`},
		}
		for _, tc := range cases {
			r := do(t, tc.method, P+tc.path, a.partnerKey, tc.body, "Idempotency-Key", ids.New("k"))
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("%s %s %s: %d %s", tc.method, tc.path, tc.body, r.Status, r.Body)
				continue
			}
			r.errCode(t)
		}
		resolve := post(t, a.admin.URL+"/admin/v1/payments/pay_nope/resolve", a.staff(auth.Agent), `{"outcome":"refund","reason":"x"}`)
		if resolve.Status != 404 {
			t.Errorf("resolve unknown payment: %d %s", resolve.Status, resolve.Body)
		}
		contains(t, do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", a.supervisor, ""), `"breaks":[]`)
	})
}
