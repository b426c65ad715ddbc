package main

import (
	"encoding/json"
	"testing"

	"github.com/inbound-gateway/inbound/internal/ids"
)

// TestEmbeddedRestartKeepsReconciliationClean: on the embedded default the
// in-process card network keeps its record under INBOUND_DATA_DIR, so
// after a load, a stop and a start the day's reconciliation finds the
// network's captures again: no breaks. (With the simulator in memory only,
// the restarted network reports no captures and every load is a break.)
func TestEmbeddedRestartKeepsReconciliationClean(t *testing.T) {
	const partnerKey, staffToken = "sk_restart_partner_key_000000001", "st_restart_staff_token_000000001"
	env := loopbackEnv(t)
	env["INBOUND_BOOTSTRAP_PARTNER_KEY"] = partnerKey
	env["INBOUND_BOOTSTRAP_STAFF_TOKEN"] = staffToken

	in := start(t, env)
	mrz, _ := json.Marshal(td3("UTO", "ERIKSSON", "ANNA MARIA", "R3START01", "740812", "F", "340415"))
	v := call(t, "POST", in.partner+"/v1/visitors", partnerKey, `{"mrz":`+string(mrz)+`}`, "Idempotency-Key", ids.New("k"))
	if v.status != 201 {
		t.Fatalf("visitor: %d %s", v.status, v.body)
	}
	vis := v.json(t)["id"].(string)
	c := call(t, "POST", in.partner+"/v1/visitors/"+vis+"/cards", partnerKey,
		`{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123","holder_name":"ANNA ERIKSSON"}`, "Idempotency-Key", ids.New("k"))
	if c.status != 201 {
		t.Fatalf("card: %d %s", c.status, c.body)
	}
	card := c.json(t)["id"].(string)
	q := call(t, "POST", in.partner+"/v1/fx/quotes", partnerKey, `{"card_id":"`+card+`","buy":{"value":"500.00","currency":"CNY"}}`)
	if q.status != 201 {
		t.Fatalf("quote: %d %s", q.status, q.body)
	}
	l := call(t, "POST", in.partner+"/v1/visitors/"+vis+"/loads", partnerKey, `{"card_id":"`+card+`","quote_id":"`+q.json(t)["id"].(string)+`"}`, "Idempotency-Key", ids.New("k"))
	if l.status != 201 || l.json(t)["status"] != "succeeded" {
		t.Fatalf("load: %d %s", l.status, l.body)
	}
	breaks := func(in *instance) []any {
		t.Helper()
		r := call(t, "GET", in.admin+"/admin/v1/reconciliation", staffToken, "")
		if r.status != 200 {
			t.Fatalf("reconciliation: %d %s", r.status, r.body)
		}
		b, _ := r.json(t)["breaks"].([]any)
		return b
	}
	if b := breaks(in); len(b) != 0 {
		t.Fatalf("breaks before restart: %v", b)
	}
	in.stop(t)

	again := start(t, env)
	if b := breaks(again); len(b) != 0 {
		t.Fatalf("breaks after restart: %v", b)
	}
}
