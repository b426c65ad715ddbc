package httpapi

import (
	"testing"

	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// TestUnloadCardRoom: an unload beyond the chosen card's room is 422
// unload_exceeds_card_room with the room; with close it is split over the
// funding cards and the answer lists every unload, the same on a replay;
// reconciliation is clean, and reports a refund forced above a capture.
func TestUnloadCardRoom(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		P := a.partner.URL
		vis := a.approvedVisitor(t, a.partnerKey)
		small := a.bindCard(t, vis, "4242424242424242")
		big := a.bindCard(t, vis, "5555555555554444")
		if l := a.load(t, vis, small, a.quote(t, small, `"buy":{"value":"200.00","currency":"CNY"}`)); l.Status != 201 {
			t.Fatalf("load: %d %s", l.Status, l.Body)
		}
		if l := a.load(t, vis, big, a.quote(t, big, `"buy":{"value":"1000.00","currency":"CNY"}`)); l.Status != 201 {
			t.Fatalf("load: %d %s", l.Status, l.Body)
		}

		r := post(t, P+"/v1/visitors/"+vis+"/unloads", a.partnerKey, `{"card_id":"`+small+`"}`)
		if r.Status != 422 || r.errCode(t) != "unload_exceeds_card_room" || r.errParam(t) != "card_id" {
			t.Fatalf("unload beyond the card's room: %d %s", r.Status, r.Body)
		}
		contains(t, r, `"type":"limit_error"`, `"room":{"value":"200.00","currency":"CNY"}`,
			`"requested":{"value":"1170.00","currency":"CNY"}`, `"refund_room":{"value":"28.37","currency":"USD"}`)

		key := ids.New("k")
		body := `{"card_id":"` + small + `","close":true}`
		u := do(t, "POST", P+"/v1/visitors/"+vis+"/unloads", a.partnerKey, body, "Idempotency-Key", key)
		if u.Status != 201 {
			t.Fatalf("unload with close: %d %s", u.Status, u.Body)
		}
		got := u.json(t)
		parts, _ := got["unloads"].([]any)
		if got["card_id"] != small || got["status"] != "succeeded" || len(parts) != 2 {
			t.Fatalf("unload with close: %s", u.Body)
		}
		first, second := parts[0].(map[string]any), parts[1].(map[string]any)
		if first["id"] != got["id"] || second["card_id"] != big || second["status"] != "succeeded" {
			t.Fatalf("unloads: %s", u.Body)
		}
		contains(t, u, `"amount":{"value":"200.00","currency":"CNY"}`, `"amount":{"value":"970.00","currency":"CNY"}`)
		if again := do(t, "POST", P+"/v1/visitors/"+vis+"/unloads", a.partnerKey, body, "Idempotency-Key", key); again.Status != 201 || string(again.Body) != string(u.Body) {
			t.Fatalf("replay: %d %s", again.Status, again.Body)
		}
		contains(t, do(t, "GET", P+"/v1/visitors/"+vis+"/account", a.partnerKey, ""), `"status":"closed"`, `"balance":{"value":"0.00","currency":"CNY"}`)

		rec := do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", a.supervisor, "")
		contains(t, rec, `"breaks":[]`)
		// A refund to the small card above its capture, forced into the rows.
		if err := b.DB.Gorm.Exec("UPDATE prepaid_unloads SET refund_minor = refund_minor + 1000 WHERE card_id = ?", small).Error; err != nil {
			t.Fatal(err)
		}
		rec = do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", a.supervisor, "")
		contains(t, rec, `"rule":"refund_exceeds_capture"`, `"object":"`+small+`"`)
	})
}
