package httpapi

import (
	"context"
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

func TestLedgerBrowsingAndReconciliation(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		ctx := context.Background()
		l := a.srv.Ledger
		src, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: "test:source", Currency: money.CNY, Kind: ledger.Asset})
		if err != nil {
			t.Fatal(err)
		}
		dst, err := l.EnsureAccount(ctx, ledger.AccountSpec{Code: "test:wallet", Currency: money.CNY, Kind: ledger.Liability, NoNegative: true})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range []int64{10000, 2550, 1} {
			if _, err := l.Post(ctx, ledger.Batch{Reference: "test:" + string(rune('a'+i)), Ops: []ledger.Op{ledger.Move(src.ID, dst.ID, money.New(v, money.CNY))}}); err != nil {
				t.Fatal(err)
			}
		}
		viewer := a.staff(auth.Viewer)
		r := do(t, "GET", a.admin.URL+"/admin/v1/ledger/accounts/test:wallet", viewer, "")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"posted":{"value":"125.51","currency":"CNY"}`) {
			t.Fatalf("account: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", a.admin.URL+"/admin/v1/ledger/accounts/"+dst.ID, viewer, ""); r.Status != 200 {
			t.Fatalf("by id: %d", r.Status)
		}
		p1 := do(t, "GET", a.admin.URL+"/admin/v1/ledger/transfers?limit=2&account_id="+dst.ID, viewer, "")
		page := p1.json(t)
		if len(page["data"].([]any)) != 2 || page["has_more"] != true {
			t.Fatalf("page 1: %s", p1.Body)
		}
		p2 := do(t, "GET", a.admin.URL+"/admin/v1/ledger/transfers?limit=2&account_id="+dst.ID+"&cursor="+page["next_cursor"].(string), viewer, "")
		last := p2.json(t)["data"].([]any)
		if len(last) != 1 || !strings.Contains(string(p2.Body), `"balance_after":{"value":"125.51","currency":"CNY"}`) {
			t.Fatalf("page 2: %s", p2.Body)
		}
		if r := do(t, "GET", a.admin.URL+"/admin/v1/ledger/transfers", viewer, ""); r.Status != 400 || r.errParam(t) != "account_id" {
			t.Fatalf("no account: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", a.admin.URL+"/admin/v1/ledger/accounts/nope:nope", viewer, ""); r.Status != 404 {
			t.Fatalf("unknown account: %d", r.Status)
		}

		rec := do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", viewer, "")
		if rec.Status != 200 || !strings.Contains(string(rec.Body), `"breaks":[]`) {
			t.Fatalf("clean reconciliation: %d %s", rec.Status, rec.Body)
		}
		// A stored balance that no longer equals its entries is a break.
		if err := b.DB.Gorm.Exec("UPDATE ledger_balances SET credits_posted = credits_posted + 1 WHERE account_id = ?", dst.ID).Error; err != nil {
			t.Fatal(err)
		}
		rec = do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", viewer, "")
		if !strings.Contains(string(rec.Body), "test:wallet") {
			t.Fatalf("tampered balance not reported: %s", rec.Body)
		}
	})
}

func TestMakerCheckerAdjustments(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		ctx := context.Background()
		wallet, err := a.srv.Ledger.EnsureAccount(ctx, ledger.AccountSpec{Code: "test:wallet", Currency: money.CNY, Kind: ledger.Liability, NoNegative: true})
		if err != nil {
			t.Fatal(err)
		}
		agent := a.staff(auth.Agent)
		p := do(t, "POST", a.admin.URL+"/admin/v1/adjustments", agent, `{"account_id":"test:wallet","amount":{"value":"12.34","currency":"CNY"},"reason":"goodwill for ticket 42"}`)
		if p.Status != 201 || p.json(t)["status"] != "proposed" {
			t.Fatalf("propose: %d %s", p.Status, p.Body)
		}
		id := p.json(t)["id"].(string)
		if bal, _ := a.srv.Ledger.Balance(ctx, wallet.ID); !bal.Posted().IsZero() {
			t.Fatal("a proposal moved money")
		}
		url := a.admin.URL + "/admin/v1/adjustments/" + id + "/approve"
		if r := do(t, "POST", url, agent, `{"reason":"ok"}`); r.Status != 403 {
			t.Fatalf("agent approved: %d", r.Status)
		}
		// The proposer cannot approve their own proposal, even as supervisor.
		p2 := do(t, "POST", a.admin.URL+"/admin/v1/adjustments", a.supervisor, `{"account_id":"`+wallet.ID+`","amount":{"value":"1.00","currency":"CNY"},"reason":"self"}`)
		if r := do(t, "POST", a.admin.URL+"/admin/v1/adjustments/"+p2.json(t)["id"].(string)+"/approve", a.supervisor, `{"reason":"mine"}`); r.Status != 403 || r.errCode(t) != "approver_is_proposer" {
			t.Fatalf("self-approval: %d %s", r.Status, r.Body)
		}
		if r := do(t, "POST", url, a.supervisor, `{"reason":"checked ticket 42"}`); r.Status != 200 || r.json(t)["status"] != "approved" {
			t.Fatalf("approve: %d %s", r.Status, r.Body)
		}
		if r := do(t, "POST", url, a.staff(auth.Supervisor), `{"reason":"again"}`); r.Status != 409 || r.errCode(t) != "invalid_state" {
			t.Fatalf("approve twice: %d %s", r.Status, r.Body)
		}
		bal, _ := a.srv.Ledger.Balance(ctx, wallet.ID)
		if bal.Posted().Minor() != 1234 {
			t.Fatalf("balance after adjustment %v", bal.Posted())
		}
		// Lowering a no-negative account below zero is refused at approval.
		neg := do(t, "POST", a.admin.URL+"/admin/v1/adjustments", agent, `{"account_id":"test:wallet","amount":{"value":"-20.00","currency":"CNY"},"reason":"claw back"}`)
		if r := do(t, "POST", a.admin.URL+"/admin/v1/adjustments/"+neg.json(t)["id"].(string)+"/approve", a.supervisor, `{"reason":"ok"}`); r.Status != 402 || r.errCode(t) != "insufficient_funds" {
			t.Fatalf("overdraw: %d %s", r.Status, r.Body)
		}
		for _, bad := range []string{
			`{"account_id":"test:wallet","amount":{"value":"0.00","currency":"CNY"},"reason":"x"}`,
			`{"account_id":"test:wallet","amount":{"value":"1.00","currency":"USD"},"reason":"x"}`,
			`{"account_id":"nope:nope","amount":{"value":"1.00","currency":"CNY"},"reason":"x"}`,
			`{"account_id":"test:wallet","amount":{"value":"1.00","currency":"CNY"}}`,
		} {
			if r := do(t, "POST", a.admin.URL+"/admin/v1/adjustments", agent, bad); r.Status/100 != 4 {
				t.Errorf("%s: %d %s", bad, r.Status, r.Body)
			}
		}
		au := do(t, "GET", a.admin.URL+"/admin/v1/audit?target="+id, a.supervisor, "")
		if n := len(au.json(t)["data"].([]any)); n != 2 {
			t.Fatalf("audit records for the adjustment: %d", n)
		}
		if rec := do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", agent, ""); !strings.Contains(string(rec.Body), `"breaks":[]`) {
			t.Fatalf("reconciliation after adjustments: %s", rec.Body)
		}
	})
}

// TestAdjustmentReject: a supervisor rejects a proposal; nothing posts, it
// records who, when and why, it is audited, and a rejected adjustment can
// be neither approved nor rejected again (409 invalid_state).
func TestAdjustmentReject(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		ctx := context.Background()
		wallet, err := a.srv.Ledger.EnsureAccount(ctx, ledger.AccountSpec{Code: "test:wallet", Currency: money.CNY, Kind: ledger.Liability})
		if err != nil {
			t.Fatal(err)
		}
		agent := a.staff(auth.Agent)
		p := do(t, "POST", a.admin.URL+"/admin/v1/adjustments", agent, `{"account_id":"test:wallet","amount":{"value":"12.34","currency":"CNY"},"reason":"goodwill for ticket 42"}`)
		if p.Status != 201 {
			t.Fatalf("propose: %d %s", p.Status, p.Body)
		}
		id := p.json(t)["id"].(string)
		url := a.admin.URL + "/admin/v1/adjustments/" + id
		if r := do(t, "POST", url+"/reject", agent, `{"reason":"no"}`); r.Status != 403 {
			t.Fatalf("agent rejected: %d %s", r.Status, r.Body)
		}
		if r := do(t, "POST", url+"/reject", a.supervisor, `{}`); r.Status != 400 {
			t.Fatalf("reject without reason: %d %s", r.Status, r.Body)
		}
		r := do(t, "POST", url+"/reject", a.supervisor, `{"reason":"already refunded by the partner"}`)
		if r.Status != 200 {
			t.Fatalf("reject: %d %s", r.Status, r.Body)
		}
		got := r.json(t)
		if got["status"] != "rejected" || got["rejected_by"] == "" || got["rejected_at"] == nil || got["reject_reason"] != "already refunded by the partner" || got["approved_by"] != nil {
			t.Fatalf("rejected adjustment: %s", r.Body)
		}
		if r := do(t, "POST", url+"/approve", a.staff(auth.Supervisor), `{"reason":"ok"}`); r.Status != 409 || r.errCode(t) != "invalid_state" {
			t.Fatalf("approve after reject: %d %s", r.Status, r.Body)
		}
		if r := do(t, "POST", url+"/reject", a.staff(auth.Supervisor), `{"reason":"again"}`); r.Status != 409 || r.errCode(t) != "invalid_state" {
			t.Fatalf("reject twice: %d %s", r.Status, r.Body)
		}
		if g := do(t, "GET", url, agent, ""); g.json(t)["status"] != "rejected" {
			t.Fatalf("get: %s", g.Body)
		}
		var entries int64
		if err := b.DB.Gorm.Table("ledger_transfers").Where("reference = ?", "adj:"+id).Count(&entries).Error; err != nil {
			t.Fatal(err)
		}
		if bal, _ := a.srv.Ledger.Balance(ctx, wallet.ID); entries != 0 || !bal.Posted().IsZero() {
			t.Fatalf("a rejected adjustment posted: %d entries, balance %v", entries, bal.Posted())
		}
		au := do(t, "GET", a.admin.URL+"/admin/v1/audit?target="+id, a.supervisor, "")
		if !strings.Contains(string(au.Body), `"adjustment.reject"`) {
			t.Fatalf("no adjustment.reject audit record: %s", au.Body)
		}
	})
}
