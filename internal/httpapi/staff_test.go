package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/prepaid"
)

// redactedSecret is body with the secret field's value replaced the way an
// idempotent replay shows it.
func redactedSecret(t *testing.T, body []byte, field string) string {
	t.Helper()
	re := regexp.MustCompile(`"` + field + `":"[^"]*"`)
	if !re.Match(body) {
		t.Fatalf("no %s in %s", field, body)
	}
	return re.ReplaceAllString(string(body), `"`+field+`":null,"`+field+`_redacted":true`)
}

// visitorLedger makes sure the visitor's prepaid ledger account exists (it
// is made at the first load) and returns its code.
func (a *api) visitorLedger(t *testing.T, vis string) string {
	t.Helper()
	if _, err := a.srv.Ledger.EnsureAccount(context.Background(), prepaid.VisitorLedgerSpec(vis)); err != nil {
		t.Fatal(err)
	}
	return prepaid.LedgerCode(vis)
}

func (a *api) staffID(t *testing.T, token string) auth.Staff {
	t.Helper()
	st, err := a.srv.Auth.AuthenticateStaff(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestMakerCheckerCannotBeBypassedWithANewSupervisor replays the attack: a
// supervisor proposes CNY 3,000 on a visitor's account and makes a second
// supervisor to approve it. Creating a supervisor is now itself a
// two-person action, and whoever the proposer created cannot approve.
func TestMakerCheckerCannotBeBypassedWithANewSupervisor(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		A := a.admin.URL
		s1 := a.supervisor
		s3 := a.staff(auth.Supervisor) // an older, independent supervisor
		vis := a.approvedVisitor(t, a.partnerKey)
		prop := post(t, A+"/admin/v1/adjustments", s1, `{"account_id":"`+a.visitorLedger(t, vis)+`","amount":{"value":"3000.00","currency":"CNY"},"reason":"goodwill"}`)
		if prop.Status != 201 {
			t.Fatalf("propose: %d %s", prop.Status, prop.Body)
		}
		adj := prop.json(t)["id"].(string)

		// S1 creates S2: only a proposal, with no token.
		r := post(t, A+"/admin/v1/staff", s1, `{"name":"S2","role":"supervisor","reason":"new hire"}`)
		if r.Status != 202 || r.json(t)["status"] != "pending" || r.json(t)["token"] != nil {
			t.Fatalf("supervisor proposal: %d %s", r.Status, r.Body)
		}
		s2ID := r.json(t)["id"].(string)
		if r.json(t)["created_by"] != a.staffID(t, s1).ID {
			t.Fatalf("created_by: %s", r.Body)
		}
		approve := A + "/admin/v1/staff/" + s2ID + "/approve"
		if r := post(t, approve, s1, `{"reason":"me"}`); r.Status != 403 || r.errCode(t) != "approver_is_proposer" {
			t.Fatalf("proposer approved own supervisor: %d %s", r.Status, r.Body)
		}
		s4 := a.staff(auth.Supervisor) // made after both proposals
		if r := post(t, approve, s4, `{"reason":"ok"}`); r.Status != 403 || r.errCode(t) != "approver_too_recent" {
			t.Fatalf("newer supervisor approved: %d %s", r.Status, r.Body)
		}
		if r := post(t, approve, a.staff(auth.Agent), `{"reason":"ok"}`); r.Status != 403 {
			t.Fatalf("agent approved a supervisor: %d", r.Status)
		}
		r = post(t, approve, s3, `{"reason":"interviewed"}`)
		if r.Status != 200 || r.json(t)["status"] != "active" || r.json(t)["approved_by"] != a.staffID(t, s3).ID {
			t.Fatalf("approve supervisor: %d %s", r.Status, r.Body)
		}
		s2, _ := r.json(t)["token"].(string)
		if !strings.HasPrefix(s2, "st_") {
			t.Fatalf("no token on approval: %s", r.Body)
		}
		if r := post(t, approve, s3, `{"reason":"again"}`); r.Status != 409 || r.errCode(t) != "invalid_state" {
			t.Fatalf("approve twice: %d %s", r.Status, r.Body)
		}

		// S2 was created by S1 (and made after the proposal): it cannot approve.
		url := A + "/admin/v1/adjustments/" + adj + "/approve"
		if r := post(t, url, s2, `{"reason":"looks fine"}`); r.Status != 403 || r.errCode(t) != "approver_not_independent" {
			t.Fatalf("S2 approved S1's adjustment: %d %s", r.Status, r.Body)
		}
		if r := post(t, url, s4, `{"reason":"looks fine"}`); r.Status != 403 || r.errCode(t) != "approver_too_recent" {
			t.Fatalf("newer supervisor approved: %d %s", r.Status, r.Body)
		}
		contains(t, do(t, "GET", a.partner.URL+"/v1/visitors/"+vis+"/account", a.partnerKey, ""), `"balance":{"value":"0.00","currency":"CNY"}`)
		// An older, independent supervisor can.
		if r := post(t, url, s3, `{"reason":"ticket checked"}`); r.Status != 200 || r.json(t)["status"] != "approved" {
			t.Fatalf("independent approval: %d %s", r.Status, r.Body)
		}
		contains(t, do(t, "GET", a.partner.URL+"/v1/visitors/"+vis+"/account", a.partnerKey, ""), `"balance":{"value":"3000.00","currency":"CNY"}`)

		// Rotating someone's token means having seen it: S3 rotates an
		// agent's token, proposes as that agent and cannot approve it.
		agentTok := a.staff(auth.Agent)
		agentID := a.staffID(t, agentTok).ID
		rot := post(t, A+"/admin/v1/staff/"+agentID+"/rotate_token", s3, `{"reason":"lost"}`)
		if rot.Status != 200 {
			t.Fatalf("rotate: %d %s", rot.Status, rot.Body)
		}
		p2 := post(t, A+"/admin/v1/adjustments", rot.json(t)["token"].(string), `{"account_id":"`+prepaid.LedgerCode(vis)+`","amount":{"value":"1.00","currency":"CNY"},"reason":"x"}`)
		if r := post(t, A+"/admin/v1/adjustments/"+p2.json(t)["id"].(string)+"/approve", s3, `{"reason":"ok"}`); r.Status != 403 || r.errCode(t) != "approver_not_independent" {
			t.Fatalf("approval of an adjustment proposed with a token the approver issued: %d %s", r.Status, r.Body)
		}
	})
}

func TestStaffLifecycleOverTheAPI(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		A := a.admin.URL
		sup := a.supervisor
		// Only one supervisor: it cannot disable itself.
		if r := post(t, A+"/admin/v1/staff/"+a.staffID(t, sup).ID+"/disable", sup, `{"reason":"leaving"}`); r.Status != 409 || r.errCode(t) != "last_supervisor" {
			t.Fatalf("last supervisor disabled: %d %s", r.Status, r.Body)
		}
		r := post(t, A+"/admin/v1/staff", sup, `{"name":"Ana","role":"agent","reason":"new hire"}`)
		if r.Status != 201 || r.json(t)["status"] != "active" {
			t.Fatalf("create agent: %d %s", r.Status, r.Body)
		}
		id, tok := r.json(t)["id"].(string), r.json(t)["token"].(string)
		for _, path := range []string{"/disable", "/rotate_token"} {
			if r := post(t, A+"/admin/v1/staff/"+id+path, sup, `{}`); r.Status != 400 || r.errParam(t) != "reason" {
				t.Fatalf("%s without reason: %d %s", path, r.Status, r.Body)
			}
		}
		rot := post(t, A+"/admin/v1/staff/"+id+"/rotate_token", sup, `{"reason":"token leaked"}`)
		if rot.Status != 200 {
			t.Fatalf("rotate: %d %s", rot.Status, rot.Body)
		}
		newTok := rot.json(t)["token"].(string)
		if c := do(t, "GET", A+"/admin/v1/audit", tok, "").Status; c != 401 {
			t.Fatalf("old token after rotation: %d", c)
		}
		if c := do(t, "GET", A+"/admin/v1/audit", newTok, "").Status; c != 200 {
			t.Fatalf("new token: %d", c)
		}
		if r := post(t, A+"/admin/v1/staff/"+id+"/disable", sup, `{"reason":"left the company"}`); r.Status != 200 || r.json(t)["status"] != "disabled" {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", A+"/admin/v1/audit", newTok, ""); r.Status != 401 || r.errCode(t) != "unauthenticated" {
			t.Fatalf("disabled token: %d %s", r.Status, r.Body)
		}
		if r := post(t, A+"/admin/v1/staff/"+id+"/disable", sup, `{"reason":"again"}`); r.Status != 409 || r.errCode(t) != "invalid_state" {
			t.Fatalf("disable twice: %d %s", r.Status, r.Body)
		}
		if r := post(t, A+"/admin/v1/staff/"+id+"/rotate_token", sup, `{"reason":"x"}`); r.Status != 409 {
			t.Fatalf("rotate a disabled member: %d %s", r.Status, r.Body)
		}
		if r := post(t, A+"/admin/v1/staff/stf_nope/disable", sup, `{"reason":"x"}`); r.Status != 404 {
			t.Fatalf("unknown staff: %d", r.Status)
		}
		// A pending proposal can be withdrawn by disabling it.
		p := post(t, A+"/admin/v1/staff", sup, `{"name":"Bo","role":"supervisor","reason":"r"}`)
		pid := p.json(t)["id"].(string)
		if r := post(t, A+"/admin/v1/staff/"+pid+"/disable", sup, `{"reason":"withdrawn"}`); r.Status != 200 {
			t.Fatalf("withdraw: %d %s", r.Status, r.Body)
		}
		if r := post(t, A+"/admin/v1/staff/"+pid+"/approve", a.staff(auth.Supervisor), `{"reason":"x"}`); r.Status != 409 {
			t.Fatalf("approve a withdrawn proposal: %d %s", r.Status, r.Body)
		}
		au := do(t, "GET", A+"/admin/v1/audit?target="+id, sup, "")
		var actions []string
		for _, e := range au.json(t)["data"].([]any) {
			actions = append(actions, e.(map[string]any)["action"].(string))
		}
		if strings.Join(actions, ",") != "staff.disable,staff.rotate_token,staff.create" {
			t.Fatalf("audit: %v", actions)
		}
		if strings.Contains(string(au.Body), newTok) || strings.Contains(string(au.Body), tok) {
			t.Fatal("token in the audit log")
		}
	})
}

// TestSecretsAreRedactedInReplays: a secret is shown once. A replay of the
// same request answers the stored response with the secret null and
// marked redacted, and the stored response does not hold it.
func TestSecretsAreRedactedInReplays(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		A := a.admin.URL
		older := a.staff(auth.Supervisor)
		once := func(name, url, token, body, field string, status int) map[string]any {
			t.Helper()
			key := ids.New("k")
			first := do(t, "POST", url, token, body, "Idempotency-Key", key)
			secret, _ := first.json(t)[field].(string)
			if first.Status != status || secret == "" || first.json(t)[field+"_redacted"] != nil {
				t.Fatalf("%s: %d %s", name, first.Status, first.Body)
			}
			again := do(t, "POST", url, token, body, "Idempotency-Key", key)
			if again.Status != status || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != redactedSecret(t, first.Body, field) {
				t.Fatalf("%s replay: %d %s", name, again.Status, again.Body)
			}
			if strings.Contains(string(again.Body), secret) {
				t.Fatalf("%s replay shows the secret", name)
			}
			return first.json(t)
		}
		p := once("partner create", A+"/admin/v1/partners", a.supervisor, `{"name":"Acme","reason":"r"}`, "secret_key", 201)
		once("rotate key", A+"/admin/v1/partners/"+p["id"].(string)+"/rotate_key", a.supervisor, `{"reason":"r"}`, "secret_key", 200)
		st := once("staff create", A+"/admin/v1/staff", a.supervisor, `{"name":"Ana","role":"agent","reason":"r"}`, "token", 201)
		once("rotate token", A+"/admin/v1/staff/"+st["id"].(string)+"/rotate_token", a.supervisor, `{"reason":"r"}`, "token", 200)
		prop := post(t, A+"/admin/v1/staff", a.supervisor, `{"name":"Sam","role":"supervisor","reason":"r"}`)
		once("staff approve", A+"/admin/v1/staff/"+prop.json(t)["id"].(string)+"/approve", older, `{"reason":"r"}`, "token", 200)
	})
}

func TestDisabledPartnerCanBeEnabled(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		A := a.admin.URL
		r := post(t, A+"/admin/v1/partners", a.supervisor, `{"name":"Acme","reason":"contract"}`)
		id, key := r.json(t)["id"].(string), r.json(t)["secret_key"].(string)
		if r := post(t, A+"/admin/v1/partners/"+id+"/disable", a.supervisor, `{"reason":"unpaid"}`); r.Status != 200 {
			t.Fatalf("disable: %d", r.Status)
		}
		if c := do(t, "GET", a.partner.URL+"/v1/fx/rates", key, "").Status; c != 401 {
			t.Fatalf("disabled partner: %d", c)
		}
		if r := post(t, A+"/admin/v1/partners/"+id+"/enable", a.staff(auth.Agent), `{"reason":"paid"}`); r.Status != 403 {
			t.Fatalf("agent enabled: %d", r.Status)
		}
		if r := post(t, A+"/admin/v1/partners/"+id+"/enable", a.supervisor, `{}`); r.Status != 400 || r.errParam(t) != "reason" {
			t.Fatalf("enable without reason: %d %s", r.Status, r.Body)
		}
		if r := post(t, A+"/admin/v1/partners/"+id+"/enable", a.supervisor, `{"reason":"paid"}`); r.Status != 200 || r.json(t)["status"] != "active" {
			t.Fatalf("enable: %d %s", r.Status, r.Body)
		}
		if c := do(t, "GET", a.partner.URL+"/v1/fx/rates", key, "").Status; c != 200 {
			t.Fatalf("enabled partner: %d", c)
		}
		if r := post(t, A+"/admin/v1/partners/ptn_nope/enable", a.supervisor, `{"reason":"x"}`); r.Status != 404 {
			t.Fatalf("unknown partner: %d", r.Status)
		}
		au := do(t, "GET", A+"/admin/v1/audit?target="+id, a.supervisor, "")
		if !strings.Contains(string(au.Body), `"action":"partner.enable"`) {
			t.Fatalf("enable not audited: %s", au.Body)
		}
	})
}

// TestAdjustmentCeilingAndClosedAccounts: a huge amount is a 400 at the
// proposal (it used to be accepted, and its approval was a 500), the
// ceiling bounds every adjustment, and a closed account takes none.
func TestAdjustmentCeilingAndClosedAccounts(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		A := a.admin.URL
		agent := a.staff(auth.Agent)
		vis := a.approvedVisitor(t, a.partnerKey)
		acct := a.visitorLedger(t, vis)
		body := func(v string) string {
			return `{"account_id":"` + acct + `","amount":{"value":"` + v + `","currency":"CNY"},"reason":"x"}`
		}
		cases := []struct {
			value, code string
			status      int
		}{
			{"92233720368547758.07", "amount_above_ceiling", 400},
			{"-92233720368547758.07", "amount_above_ceiling", 400},
			{"92233720368547758.08", "amount_invalid", 400},
			{"99999999999999999999999.00", "amount_invalid", 400},
			{"5000.01", "amount_above_ceiling", 400},
			{"-5000.01", "amount_above_ceiling", 400},
		}
		for _, tc := range cases {
			r := post(t, A+"/admin/v1/adjustments", agent, body(tc.value))
			if r.Status != tc.status || r.errCode(t) != tc.code || r.errParam(t) != "amount.value" {
				t.Errorf("%s: %d %s", tc.value, r.Status, r.Body)
			}
		}
		ok := post(t, A+"/admin/v1/adjustments", agent, body("5000.00"))
		if ok.Status != 201 {
			t.Fatalf("at the ceiling: %d %s", ok.Status, ok.Body)
		}
		// A proposal stored before the ceiling existed is refused at
		// approval, not a 500.
		if err := b.DB.Gorm.Exec("UPDATE adjustments SET amount_minor = ? WHERE id = ?", int64(math.MaxInt64), ok.json(t)["id"]).Error; err != nil {
			t.Fatal(err)
		}
		if r := post(t, A+"/admin/v1/adjustments/"+ok.json(t)["id"].(string)+"/approve", a.supervisor, `{"reason":"ok"}`); r.Status != 400 || r.errCode(t) != "amount_above_ceiling" {
			t.Fatalf("legacy huge approval: %d %s", r.Status, r.Body)
		}
		// Closed accounts take no adjustment, proposed or approved.
		open := post(t, A+"/admin/v1/adjustments", agent, body("10.00"))
		if err := b.DB.Gorm.Exec("UPDATE prepaid_accounts SET status = 'closed' WHERE visitor_id = ?", vis).Error; err != nil {
			t.Fatal(err)
		}
		if r := post(t, A+"/admin/v1/adjustments", agent, body("10.00")); r.Status != 409 || r.errCode(t) != "adjustment_account_closed" {
			t.Fatalf("propose on closed: %d %s", r.Status, r.Body)
		}
		if r := post(t, A+"/admin/v1/adjustments/"+open.json(t)["id"].(string)+"/approve", a.supervisor, `{"reason":"ok"}`); r.Status != 409 || r.errCode(t) != "adjustment_account_closed" {
			t.Fatalf("approve on closed: %d %s", r.Status, r.Body)
		}
	})
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkState fails unless raw is a JSON object whose keys, at every depth,
// are snake_case.
func checkState(t *testing.T, where string, raw json.RawMessage) {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Errorf("%s: not JSON: %s", where, raw)
		return
	}
	if _, ok := v.(map[string]any); !ok {
		t.Errorf("%s: not a JSON object: %s", where, raw)
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if !snakeCase.MatchString(k) {
					t.Errorf("%s: key %q is not snake_case: %s", where, k, raw)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

// TestAuditRowsHoldNoPersonalData performs every audited admin action
// through the API and checks each audit record: before/after are JSON
// objects with snake_case keys, holding none of the visitor's personal data
// or any secret.
func TestAuditRowsHoldNoPersonalData(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		A, P := a.admin.URL, a.partner.URL
		sup, older := a.supervisor, a.staff(auth.Supervisor)
		agent := a.staff(auth.Agent)
		must := func(r resp, status int) resp {
			t.Helper()
			if r.Status != status {
				t.Fatalf("%d (want %d) %s", r.Status, status, r.Body)
			}
			return r
		}
		const phone, email = "+4915112345678", "omar@example.com"
		personal := []string{"REFUGE", "OMAR", "NADIA", "1988-01-01", "880101", "1974-08-12", "740812", phone, email, "omar@", "ERIKSSON", "ANNA", "R9988770", "R9988771"}
		contact := `,"phone":"` + phone + `","email":"` + email + `"`

		// Partners.
		p := must(post(t, A+"/admin/v1/partners", sup, `{"name":"Acme","reason":"r"}`), 201).json(t)
		ptn := p["id"].(string)
		secrets := []string{p["secret_key"].(string)}
		secrets = append(secrets, must(post(t, A+"/admin/v1/partners/"+ptn+"/rotate_key", sup, `{"reason":"r"}`), 200).json(t)["secret_key"].(string))
		must(post(t, A+"/admin/v1/partners/"+ptn+"/disable", sup, `{"reason":"r"}`), 200)
		must(post(t, A+"/admin/v1/partners/"+ptn+"/enable", sup, `{"reason":"r"}`), 200)
		// Staff.
		st := must(post(t, A+"/admin/v1/staff", sup, `{"name":"Ana","role":"agent","reason":"r"}`), 201).json(t)
		secrets = append(secrets, st["token"].(string))
		secrets = append(secrets, must(post(t, A+"/admin/v1/staff/"+st["id"].(string)+"/rotate_token", sup, `{"reason":"r"}`), 200).json(t)["token"].(string))
		must(post(t, A+"/admin/v1/staff/"+st["id"].(string)+"/disable", sup, `{"reason":"r"}`), 200)
		prop := must(post(t, A+"/admin/v1/staff", sup, `{"name":"Sam","role":"supervisor","reason":"r"}`), 202).json(t)
		secrets = append(secrets, must(post(t, A+"/admin/v1/staff/"+prop["id"].(string)+"/approve", older, `{"reason":"r"}`), 200).json(t)["token"].(string))
		// Reviews, with contact details on the visitors.
		for i := range 2 {
			given := []string{"OMAR", "NADIA"}[i]
			v := a.createVisitor(t, a.partnerKey, td3("XXB", "REFUGE", given, fmt.Sprintf("R998877%d", i), "880101", "M", "320101"), contact)
			if s, _ := kycOf(t, v); s != "review" {
				t.Fatalf("not in review: %s", v.Body)
			}
		}
		revs := do(t, "GET", A+"/admin/v1/reviews?status=open", sup, "").json(t)["data"].([]any)
		if len(revs) != 2 {
			t.Fatalf("reviews: %v", revs)
		}
		must(post(t, A+"/admin/v1/reviews/"+revs[0].(map[string]any)["id"].(string)+"/decision", agent, `{"decision":"approve","reason":"documents checked"}`), 200)
		must(post(t, A+"/admin/v1/reviews/"+revs[1].(map[string]any)["id"].(string)+"/decision", agent, `{"decision":"reject","reason":"forged"}`), 200)
		// Money: load, two disputed payments resolved both ways, freeze, adjustment.
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")
		must(a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"1000.00","currency":"CNY"}`)), 201)
		mer := must(post(t, P+"/v1/merchants", a.partnerKey, `{"name":"Tea House","mcc":"5812"}`), 201).json(t)["id"].(string)
		for i, outcome := range []string{"refund", "release"} {
			pay := must(post(t, P+"/v1/payments", a.partnerKey, `{"visitor_id":"`+vis+`","merchant_id":"`+mer+`","amount":{"value":"10.00","currency":"CNY"},"out_trade_no":"O-`+fmt.Sprint(i)+`"}`), 201).json(t)["id"].(string)
			must(post(t, P+"/v1/payments/"+pay+"/dispute", a.partnerKey, `{"reason":"late"}`), 200)
			must(post(t, A+"/admin/v1/payments/"+pay+"/resolve", agent, `{"outcome":"`+outcome+`","reason":"r"}`), 200)
		}
		must(post(t, A+"/admin/v1/visitors/"+vis+"/freeze", agent, `{"reason":"r"}`), 200)
		must(post(t, A+"/admin/v1/visitors/"+vis+"/unfreeze", agent, `{"reason":"r"}`), 200)
		adj := must(post(t, A+"/admin/v1/adjustments", agent, `{"account_id":"`+prepaid.LedgerCode(vis)+`","amount":{"value":"1.00","currency":"CNY"},"reason":"r"}`), 201).json(t)["id"].(string)
		must(post(t, A+"/admin/v1/adjustments/"+adj+"/approve", sup, `{"reason":"r"}`), 200)

		want := []string{"account.freeze", "account.unfreeze", "adjustment.approve", "adjustment.propose", "partner.create",
			"partner.disable", "partner.enable", "partner.rotate_key", "payment.resolve.refund", "payment.resolve.release",
			"review.approve", "review.reject", "staff.approve", "staff.create", "staff.disable", "staff.propose", "staff.rotate_token"}
		// The stored rows, as they are in the database.
		var rows []struct {
			Action      string
			BeforeState string
			AfterState  string
		}
		if err := b.DB.Gorm.Raw("SELECT action, before_state, after_state FROM audit_log").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range rows {
			seen[r.Action] = true
			if r.AfterState == "" {
				t.Errorf("%s: no after state", r.Action)
			} else {
				checkState(t, r.Action+" after", json.RawMessage(r.AfterState))
			}
			if r.BeforeState != "" {
				checkState(t, r.Action+" before", json.RawMessage(r.BeforeState))
			}
			for _, s := range append(append([]string{}, personal...), secrets...) {
				if strings.Contains(strings.ToUpper(r.BeforeState+r.AfterState), strings.ToUpper(s)) {
					t.Errorf("%s: audit row holds %q: %s", r.Action, s, r.AfterState)
				}
			}
		}
		var got []string
		for k := range seen {
			got = append(got, k)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("audited actions\n got %v\nwant %v", got, want)
		}
		// Through the API, after is an object too.
		au := do(t, "GET", A+"/admin/v1/audit?limit=100", sup, "")
		for _, e := range au.json(t)["data"].([]any) {
			m := e.(map[string]any)
			if _, ok := m["after"].(map[string]any); !ok {
				t.Errorf("%s: after over the API is %T", m["action"], m["after"])
			}
		}
	})
}
