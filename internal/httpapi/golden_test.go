package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite the API response golden files in testdata/golden")

// golden walks one scenario through the real routers and compares every
// response (status, replay header, body) with testdata/golden/<step>.golden.
// Ids, timestamps and secrets are replaced by placeholders numbered in
// order of first appearance, so the files are the same on both engines.
type golden struct {
	t      *testing.T
	names  map[string]string // real id or secret -> placeholder
	counts map[string]int    // placeholder kind -> last number
	seen   map[string]bool   // step names, which must be unique
	fixed  []string          // literal replacements: real, placeholder, ...
}

var (
	goldenID     = regexp.MustCompile(`\b(vis|card|quo|load|acct|mer|pay|rfd|unl|evt|we|rev|adj|stf|ptn|req|key|aud|trf|ncl|k)_[0-9a-hjkmnp-tv-z]{26}\b`)
	goldenSecret = regexp.MustCompile(`\b(sk_|st_|whsec_)[A-Za-z0-9_-]{20,}`)
	goldenTime   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	goldenDay    = regexp.MustCompile(`"\d{4}-\d\d-\d\d"`)
	// Card network trace numbers, random in the simulator.
	goldenTrace = regexp.MustCompile(`"(auth_code|stan|rrn)":"[^"]*"`)
)

func newGolden(t *testing.T) *golden {
	return &golden{t: t, names: map[string]string{}, counts: map[string]int{}, seen: map[string]bool{}}
}

func (g *golden) placeholder(kind, real string) string {
	if p, ok := g.names[real]; ok {
		return p
	}
	g.counts[kind]++
	p := fmt.Sprintf("<%s%d>", kind, g.counts[kind])
	g.names[real] = p
	return p
}

// normalise replaces what differs from run to run by placeholders.
func (g *golden) normalise(b []byte) []byte {
	if len(g.fixed) > 0 {
		b = []byte(strings.NewReplacer(g.fixed...).Replace(string(b)))
	}
	b = goldenID.ReplaceAllFunc(b, func(m []byte) []byte {
		kind := string(m[:bytes.IndexByte(m, '_')+1])
		return []byte(g.placeholder(kind, string(m)))
	})
	b = goldenSecret.ReplaceAllFunc(b, func(m []byte) []byte {
		kind := string(goldenSecret.FindSubmatch(m)[1])
		return []byte(g.placeholder(kind+"secret_", string(m)))
	})
	b = goldenTime.ReplaceAll(b, []byte("<time>"))
	b = goldenTrace.ReplaceAll(b, []byte(`"$1":"<$1>"`))
	return goldenDay.ReplaceAll(b, []byte(`"<day>"`))
}

// render is the file text of one response.
func (g *golden) render(r resp) []byte {
	var out bytes.Buffer
	fmt.Fprintf(&out, "status: %d\n", r.Status)
	if v := r.Header.Get("Idempotent-Replayed"); v != "" {
		fmt.Fprintf(&out, "idempotent-replayed: %s\n", v)
	}
	if v := r.Header.Get("Retry-After"); v != "" {
		fmt.Fprintf(&out, "retry-after: %s\n", v)
	}
	fmt.Fprintf(&out, "content-type: %s\n\n", r.Header.Get("Content-Type"))
	body := g.normalise(r.Body)
	var ind bytes.Buffer
	if err := json.Indent(&ind, body, "", "  "); err != nil {
		out.Write(body)
	} else {
		out.Write(ind.Bytes())
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// check compares (or, with -update, writes) the golden file of step.
func (g *golden) check(step string, got []byte) {
	g.t.Helper()
	if g.seen[step] {
		g.t.Fatalf("golden step %q twice", step)
	}
	g.seen[step] = true
	path := filepath.Join("testdata", "golden", step+".golden")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			g.t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o600); err != nil {
			g.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path) //nolint:gosec // test data path built from a constant step name
	if err != nil {
		g.t.Fatalf("%s: %v (run with -update to create it)", step, err)
	}
	if !bytes.Equal(want, got) {
		g.t.Errorf("%s: response differs from %s at line %d\n--- want\n%s\n--- got\n%s", step, path, firstDiff(want, got), want, got)
	}
}

// firstDiff is the number of the first line where a and b differ.
func firstDiff(a, b []byte) int {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

// resp records r under step after checking its status, and returns it.
func (g *golden) resp(step string, want int, r resp) resp {
	g.t.Helper()
	if r.Status != want {
		g.t.Fatalf("%s: status %d, want %d: %s", step, r.Status, want, r.Body)
	}
	g.check(step, g.render(r))
	return r
}

// hookSink collects the webhook deliveries sent to it.
type hookSink struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, b)
	h.mu.Unlock()
}

// events returns the delivered events ordered by id (creation order).
func (h *hookSink) events(t *testing.T) [][]byte {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	type ev struct {
		id   string
		body []byte
	}
	var evs []ev
	for _, b := range h.bodies {
		var m struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("webhook body: %v: %s", err, b)
		}
		evs = append(evs, ev{m.ID, b})
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].id < evs[j].id })
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = e.body
	}
	return out
}

// TestGoldenResponses sends one request of every resource shape and error
// of both APIs and compares the responses with the golden files, so a
// refactor that changes a byte of an answer fails here. Run with -update
// (go test ./internal/httpapi -run TestGoldenResponses -update) to rewrite
// them, and review the diff.
func TestGoldenResponses(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		g := newGolden(t)
		// The harness made a partner and a supervisor: name them first.
		g.normalise([]byte(a.partnerKey + " " + a.supervisor))
		sink := &hookSink{}
		hook := httptest.NewServer(sink)
		t.Cleanup(hook.Close)
		g.fixed = []string{hook.URL, "http://hooks.test"}
		goldenPartner(t, g, a, hook.URL)
		goldenAdmin(t, g, a)
		goldenErrors(t, g, a)

		if _, err := a.srv.Webhooks.DispatchOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		evs := sink.events(t)
		if len(evs) == 0 {
			t.Fatal("no webhook delivered")
		}
		var all bytes.Buffer
		for _, e := range evs {
			var ind bytes.Buffer
			if err := json.Indent(&ind, g.normalise(e), "", "  "); err != nil {
				t.Fatal(err)
			}
			all.Write(ind.Bytes())
			all.WriteString("\n")
		}
		g.check("webhook_events", all.Bytes())
	})
}

func goldenPartner(t *testing.T, g *golden, a *api, hookURL string) {
	P, key := a.partner.URL, a.partnerKey
	send := func(step string, want int, method, path, body string, headers ...string) resp {
		t.Helper()
		if len(headers) == 0 && method == "POST" {
			headers = []string{"Idempotency-Key", ids.New("k")}
		}
		return g.resp(step, want, do(t, method, P+path, key, body, headers...))
	}
	id := func(r resp) string { t.Helper(); return r.json(t)["id"].(string) }

	// Webhooks first, so every later event is delivered.
	we := send("partner_webhook_endpoint_create", 201, "POST", "/v1/webhook_endpoints",
		`{"url":"`+hookURL+`/hooks","events":["*"],"description":"all"}`)
	send("partner_webhook_endpoint_list", 200, "GET", "/v1/webhook_endpoints", "")
	send("partner_webhook_endpoint_get", 200, "GET", "/v1/webhook_endpoints/"+id(we), "")
	we2 := send("partner_webhook_endpoint_create_second", 201, "POST", "/v1/webhook_endpoints",
		`{"url":"`+hookURL+`/other","events":["payment.released"]}`)
	send("partner_webhook_endpoint_delete", 200, "DELETE", "/v1/webhook_endpoints/"+id(we2), "")

	anna := `{"mrz":` + mrzJSON(td3("UTO", "ERIKSSON", "ANNA MARIA", "L898902C3", "740812", "F", "340415")) +
		`,"phone":"+4915112345678","email":"anna@example.com"}`
	visKey := ids.New("k")
	v := send("partner_visitor_create", 201, "POST", "/v1/visitors", anna, "Idempotency-Key", visKey)
	send("partner_visitor_create_replay", 201, "POST", "/v1/visitors", anna, "Idempotency-Key", visKey)
	vis := id(v)
	send("partner_visitor_review", 201, "POST", "/v1/visitors",
		`{"mrz":`+mrzJSON(td3("XXA", "NOMAD", "LEA", "X1112223", "900101", "F", "320101"))+`}`)
	send("partner_visitor_get", 200, "GET", "/v1/visitors/"+vis, "")

	cardKey := ids.New("k")
	body := cardBody("4242424242424242", "123", "ANNA ERIKSSON")
	card := id(send("partner_card_bind", 201, "POST", "/v1/visitors/"+vis+"/cards", body, "Idempotency-Key", cardKey))
	send("partner_card_bind_replay", 201, "POST", "/v1/visitors/"+vis+"/cards", body, "Idempotency-Key", cardKey)
	otp := id(send("partner_card_bind_requires_action", 201, "POST", "/v1/visitors/"+vis+"/cards",
		cardBody("4000000000003220", "123", "ANNA ERIKSSON")))
	send("partner_card_verify", 200, "POST", "/v1/visitors/"+vis+"/cards/"+otp+"/verify", `{"otp":"123456"}`)
	send("partner_card_bind_declined", 402, "POST", "/v1/visitors/"+vis+"/cards",
		cardBody("4000000000000002", "123", "ANNA ERIKSSON"))
	send("partner_card_list", 200, "GET", "/v1/visitors/"+vis+"/cards", "")

	send("partner_fx_rates", 200, "GET", "/v1/fx/rates", "")
	q := id(send("partner_fx_quote", 201, "POST", "/v1/fx/quotes", `{"card_id":"`+card+`","buy":{"value":"1000.00","currency":"CNY"}}`))
	l := send("partner_load_create", 201, "POST", "/v1/visitors/"+vis+"/loads", `{"card_id":"`+card+`","quote_id":"`+q+`"}`)
	send("partner_load_get", 200, "GET", "/v1/loads/"+id(l), "")
	send("partner_load_quote_used", 409, "POST", "/v1/visitors/"+vis+"/loads", `{"card_id":"`+card+`","quote_id":"`+q+`"}`)
	q2 := id(send("partner_fx_quote_sell", 201, "POST", "/v1/fx/quotes", `{"card_id":"`+otp+`","sell":{"value":"20.00","currency":"USD"}}`))
	l2 := send("partner_load_requires_action", 201, "POST", "/v1/visitors/"+vis+"/loads", `{"card_id":"`+otp+`","quote_id":"`+q2+`"}`)
	send("partner_load_authenticate", 200, "POST", "/v1/loads/"+id(l2)+"/authenticate", `{"otp":"123456"}`)
	q3 := id(send("partner_fx_quote_over_cap", 201, "POST", "/v1/fx/quotes", `{"card_id":"`+card+`","buy":{"value":"1500.00","currency":"CNY"}}`))
	send("partner_load_over_cap", 422, "POST", "/v1/visitors/"+vis+"/loads", `{"card_id":"`+card+`","quote_id":"`+q3+`"}`)
	poor := id(send("partner_card_bind_insufficient", 201, "POST", "/v1/visitors/"+vis+"/cards",
		cardBody("4000000000009995", "123", "ANNA ERIKSSON")))
	q4 := id(send("partner_fx_quote_declined", 201, "POST", "/v1/fx/quotes", `{"card_id":"`+poor+`","buy":{"value":"200.00","currency":"CNY"}}`))
	send("partner_load_declined", 402, "POST", "/v1/visitors/"+vis+"/loads", `{"card_id":"`+poor+`","quote_id":"`+q4+`"}`)

	mer := id(send("partner_merchant_create", 201, "POST", "/v1/merchants", `{"name":"Tea House","mcc":"5812"}`))
	payBody := `{"visitor_id":"` + vis + `","merchant_id":"` + mer + `","amount":{"value":"88.88","currency":"CNY"},"out_trade_no":"ORDER-1","description":"Green tea"}`
	pay := id(send("partner_payment_create", 201, "POST", "/v1/payments", payBody))
	send("partner_payment_create_same_out_trade_no", 200, "POST", "/v1/payments", payBody)
	send("partner_payment_out_trade_no_conflict", 409, "POST", "/v1/payments", strings.Replace(payBody, "88.88", "99.99", 1))
	send("partner_payment_insufficient_funds", 402, "POST", "/v1/payments", strings.NewReplacer("88.88", "9000.00", "ORDER-1", "ORDER-2").Replace(payBody))
	confirmKey := ids.New("k")
	send("partner_payment_confirm", 200, "POST", "/v1/payments/"+pay+"/confirm", `{}`, "Idempotency-Key", confirmKey)
	send("partner_payment_confirm_replay", 200, "POST", "/v1/payments/"+pay+"/confirm", `{}`, "Idempotency-Key", confirmKey)
	send("partner_payment_confirm_twice", 409, "POST", "/v1/payments/"+pay+"/confirm", `{}`)
	send("partner_refund_create", 201, "POST", "/v1/payments/"+pay+"/refunds", `{"amount":{"value":"8.88","currency":"CNY"},"reason":"one cup short"}`)
	send("partner_refund_merchant_insufficient", 402, "POST", "/v1/payments/"+pay+"/refunds", `{}`)
	pay2 := id(send("partner_payment_create_second", 201, "POST", "/v1/payments", strings.NewReplacer("88.88", "50.00", "ORDER-1", "ORDER-3").Replace(payBody)))
	send("partner_payment_dispute", 200, "POST", "/v1/payments/"+pay2+"/dispute", `{"reason":"never arrived"}`)
	send("partner_payment_get", 200, "GET", "/v1/payments/"+pay, "")
	send("partner_payment_list", 200, "GET", "/v1/payments?visitor_id="+vis, "")
	send("partner_merchant_get", 200, "GET", "/v1/merchants/"+mer, "")
	send("partner_account_get", 200, "GET", "/v1/visitors/"+vis+"/account", "")
	send("partner_transactions_list", 200, "GET", "/v1/visitors/"+vis+"/transactions", "")
	send("partner_transactions_page", 200, "GET", "/v1/visitors/"+vis+"/transactions?limit=1", "")

	// The disputed payment is resolved by an agent (admin part), then the
	// rest is unloaded and the account closed.
	goldenDispute(t, g, a, pay2)
	send("partner_unload_exceeds_card_room", 422, "POST", "/v1/visitors/"+vis+"/unloads", `{"card_id":"`+otp+`"}`)
	send("partner_unload_close", 201, "POST", "/v1/visitors/"+vis+"/unloads", `{"card_id":"`+card+`","close":true}`)
	send("partner_card_unbind", 200, "DELETE", "/v1/visitors/"+vis+"/cards/"+otp, "")
	send("partner_account_closed", 200, "GET", "/v1/visitors/"+vis+"/account", "")
}

func goldenDispute(t *testing.T, g *golden, a *api, pay string) {
	t.Helper()
	agent := a.staff(auth.Agent)
	g.normalise([]byte(agent))
	g.resp("admin_payment_resolve", 200, post(t, a.admin.URL+"/admin/v1/payments/"+pay+"/resolve", agent,
		`{"outcome":"refund","amount":{"value":"20.00","currency":"CNY"},"reason":"partial delivery"}`))
}

func goldenAdmin(t *testing.T, g *golden, a *api) {
	A, sup := a.admin.URL, a.supervisor
	send := func(step string, want int, method, path, token, body string, headers ...string) resp {
		t.Helper()
		if len(headers) == 0 && method == "POST" {
			headers = []string{"Idempotency-Key", ids.New("k")}
		}
		return g.resp(step, want, do(t, method, A+path, token, body, headers...))
	}
	id := func(r resp) string { t.Helper(); return r.json(t)["id"].(string) }

	ptnKey := ids.New("k")
	ptn := send("admin_partner_create", 201, "POST", "/admin/v1/partners", sup, `{"name":"Second partner","reason":"onboarding"}`, "Idempotency-Key", ptnKey)
	send("admin_partner_create_replay", 201, "POST", "/admin/v1/partners", sup, `{"name":"Second partner","reason":"onboarding"}`, "Idempotency-Key", ptnKey)
	send("admin_partner_rotate_key", 200, "POST", "/admin/v1/partners/"+id(ptn)+"/rotate_key", sup, `{"reason":"leaked"}`)
	send("admin_partner_disable", 200, "POST", "/admin/v1/partners/"+id(ptn)+"/disable", sup, `{"reason":"paused"}`)
	send("admin_partner_enable", 200, "POST", "/admin/v1/partners/"+id(ptn)+"/enable", sup, `{"reason":"resumed"}`)

	agentRes := send("admin_staff_create", 201, "POST", "/admin/v1/staff", sup, `{"name":"Alex","role":"agent","reason":"new hire"}`)
	if _, ok := agentRes.json(t)["token"].(string); !ok {
		t.Fatal("staff create shows no token")
	}
	viewerRes := send("admin_staff_create_viewer", 201, "POST", "/admin/v1/staff", sup, `{"name":"Vic","role":"viewer","reason":"new hire"}`)
	other := a.staff(auth.Supervisor)
	g.normalise([]byte(other))
	prop := send("admin_staff_propose_supervisor", 202, "POST", "/admin/v1/staff", sup, `{"name":"Sam","role":"supervisor","reason":"promotion"}`)
	send("admin_staff_approve", 200, "POST", "/admin/v1/staff/"+id(prop)+"/approve", other, `{"reason":"agreed"}`)
	send("admin_staff_rotate_token", 200, "POST", "/admin/v1/staff/"+id(agentRes)+"/rotate_token", sup, `{"reason":"lost"}`)
	agent := a.staff(auth.Agent)
	g.normalise([]byte(agent))
	send("admin_staff_disable", 200, "POST", "/admin/v1/staff/"+id(viewerRes)+"/disable", sup, `{"reason":"left"}`)

	// A visitor of its own, for the admin views.
	r := a.createVisitor(t, a.partnerKey, td3("UTO", "LIND", "EVA", "M1234567", "800101", "F", "330101"), "")
	if r.Status != 201 {
		t.Fatalf("visitor: %d %s", r.Status, r.Body)
	}
	vis := id(r)
	send("admin_visitor_find", 200, "GET", "/admin/v1/visitors?passport_number=M1234567&issuing_state=UTO", agent, "")
	send("admin_visitor_get", 200, "GET", "/admin/v1/visitors/"+vis, agent, "")
	send("admin_visitor_freeze", 200, "POST", "/admin/v1/visitors/"+vis+"/freeze", agent, `{"reason":"check"}`)
	send("admin_visitor_unfreeze", 200, "POST", "/admin/v1/visitors/"+vis+"/unfreeze", agent, `{"reason":"ok"}`)
	send("admin_visitor_release_document", 200, "POST", "/admin/v1/visitors/"+vis+"/release_document", agent, `{"reason":"customer asked"}`)

	rv := a.createVisitor(t, a.partnerKey, td3("XXA", "NOMAD", "KIM", "X9998887", "900101", "M", "320101"), "")
	if rv.Status != 201 {
		t.Fatalf("review visitor: %d %s", rv.Status, rv.Body)
	}
	revs := send("admin_review_list", 200, "GET", "/admin/v1/reviews", agent, "")
	data := revs.json(t)["data"].([]any)
	if len(data) == 0 {
		t.Fatalf("no review: %s", revs.Body)
	}
	rev := data[len(data)-1].(map[string]any)["id"].(string)
	send("admin_review_decide", 200, "POST", "/admin/v1/reviews/"+rev+"/decision", agent, `{"decision":"approve","reason":"papers checked"}`)

	acct := a.visitorLedger(t, vis)
	adj := send("admin_adjustment_propose", 201, "POST", "/admin/v1/adjustments", agent,
		`{"account_id":"`+acct+`","amount":{"value":"10.00","currency":"CNY"},"reason":"goodwill"}`)
	send("admin_adjustment_get", 200, "GET", "/admin/v1/adjustments/"+id(adj), agent, "")
	send("admin_adjustment_approve", 200, "POST", "/admin/v1/adjustments/"+id(adj)+"/approve", sup, `{"reason":"agreed"}`)
	send("admin_ledger_account", 200, "GET", "/admin/v1/ledger/accounts/"+acct, agent, "")
	send("admin_ledger_transfers", 200, "GET", "/admin/v1/ledger/transfers?account_id="+acct, agent, "")
	send("admin_audit_list", 200, "GET", "/admin/v1/audit?limit=5", agent, "")
}

func goldenErrors(t *testing.T, g *golden, a *api) {
	P, A, key := a.partner.URL, a.admin.URL, a.partnerKey
	g.resp("error_unauthenticated", 401, do(t, "GET", P+"/v1/visitors/vis_x", "sk_wrong", ""))
	g.resp("error_not_found", 404, do(t, "GET", P+"/v1/visitors/vis_01jabcdefghjkmnpqrstvwxyz0", key, ""))
	g.resp("error_bad_json", 400, post(t, P+"/v1/merchants", key, `{"name":`))
	g.resp("error_missing_field", 400, post(t, P+"/v1/merchants", key, `{"name":"x"}`))
	g.resp("error_unknown_field", 400, post(t, P+"/v1/merchants", key, `{"name":"x","mcc":"5812","colour":"red"}`))
	g.resp("error_no_idempotency_key", 400, do(t, "POST", P+"/v1/merchants", key, `{"name":"x","mcc":"5812"}`))
	k := ids.New("k")
	g.resp("error_key_first", 201, do(t, "POST", P+"/v1/merchants", key, `{"name":"x","mcc":"5812"}`, "Idempotency-Key", k))
	g.resp("error_key_reused", 422, do(t, "POST", P+"/v1/merchants", key, `{"name":"y","mcc":"5812"}`, "Idempotency-Key", k))
	g.resp("error_route_not_found", 404, do(t, "GET", P+"/v1/nothing", key, ""))
	g.resp("error_admin_forbidden", 403, post(t, A+"/admin/v1/partners", a.staff(auth.Viewer), `{"name":"x","reason":"y"}`))
}
