package httpapi

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// shapeOf lists every JSON key path of a body, so two responses can be
// compared for shape whatever their values.
func shapeOf(t *testing.T, body []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				out = append(out, prefix+k)
				walk(prefix+k+".", x)
			}
		}
	}
	walk("", v)
	sort.Strings(out)
	return out
}

// TestPassportOracleClosed: a partner cannot learn whether a passport is
// registered under another partner from an application that is rejected
// anyway (an expired, fabricated MRZ), and an approvable one lands in
// review looking like any other review.
func TestPassportOracleClosed(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		_, keyB, err := a.srv.Auth.CreatePartner(context.Background(), ids.New(ids.Partner), "Partner B", "")
		if err != nil {
			t.Fatal(err)
		}
		held := a.createVisitor(t, a.partnerKey, td3("UTO", "ERIKSSON", "ANNA", "L898902C3", "740812", "F", "340415"), "")
		if st, _ := kycOf(t, held); st != "approved" {
			t.Fatalf("holder: %s", held.Body)
		}
		heldID := held.json(t)["id"].(string)

		// Expired fabricated MRZs: a registered and an unknown number answer
		// alike (201 rejected, document_expired).
		for _, number := range []string{"L898902C3", "Q12345678"} {
			r := a.createVisitor(t, keyB, td3("UTO", "FAKE", "NAME", number, "800101", "M", "200101"), "")
			if r.Status != 201 {
				t.Fatalf("expired %s: %d %s", number, r.Status, r.Body)
			}
			if st, rs := kycOf(t, r); st != "rejected" || rs != "document_expired" {
				t.Fatalf("expired %s: %s", number, r.Body)
			}
		}

		// An approvable fabricated MRZ with the held number: a review, shaped
		// like a review for any other reason, naming nobody.
		dup := a.createVisitor(t, keyB, td3("UTO", "FAKE", "NAME", "L898902C3", "800101", "M", "340101"), "")
		if dup.Status != 201 {
			t.Fatalf("duplicate: %d %s", dup.Status, dup.Body)
		}
		if st, rs := kycOf(t, dup); st != "review" || rs != "duplicate_document" {
			t.Fatalf("duplicate: %s", dup.Body)
		}
		other := a.createVisitor(t, keyB, td3("XXA", "NOBODY", "JO", "Q7654321", "800101", "M", "340101"), "")
		if st, _ := kycOf(t, other); st != "review" {
			t.Fatalf("stateless: %s", other.Body)
		}
		if diff := cmp.Diff(shapeOf(t, other.Body), shapeOf(t, dup.Body)); diff != "" {
			t.Fatalf("a duplicate review differs in shape from another review (-other +dup):\n%s", diff)
		}
		for _, leak := range []string{heldID, "ERIKSSON", "ptn_"} {
			if strings.Contains(string(dup.Body), leak) {
				t.Fatalf("duplicate response names %q: %s", leak, dup.Body)
			}
		}
		if dup.Header.Get("Content-Type") != other.Header.Get("Content-Type") {
			t.Fatal("headers differ")
		}
	})
}

// TestReleaseDocument: a partner squats a stranger's passport number; the
// real holder's application lands in review; staff cannot approve it until
// an agent releases the squatter's claim, which is audited.
func TestReleaseDocument(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		_, keyB, err := a.srv.Auth.CreatePartner(context.Background(), ids.New(ids.Partner), "Partner B", "")
		if err != nil {
			t.Fatal(err)
		}
		squat := a.createVisitor(t, keyB, td3("UTO", "SQUATTER", "SAM", "L898902C3", "800101", "M", "340101"), "")
		if st, _ := kycOf(t, squat); st != "approved" {
			t.Fatalf("squat: %s", squat.Body)
		}
		squatID := squat.json(t)["id"].(string)
		real := a.createVisitor(t, a.partnerKey, td3("UTO", "ERIKSSON", "ANNA", "L898902C3", "740812", "F", "340415"), "")
		if st, rs := kycOf(t, real); st != "review" || rs != "duplicate_document" {
			t.Fatalf("real holder: %s", real.Body)
		}
		realID := real.json(t)["id"].(string)
		l := do(t, "GET", a.admin.URL+"/admin/v1/reviews", a.supervisor, "")
		data := l.json(t)["data"].([]any)
		if len(data) != 1 || data[0].(map[string]any)["visitor"] != realID {
			t.Fatalf("queue: %s", l.Body)
		}
		if rs := data[0].(map[string]any)["reasons"].([]any); len(rs) != 1 || rs[0] != "duplicate_document" {
			t.Fatalf("review reasons: %s", l.Body)
		}
		decide := a.admin.URL + "/admin/v1/reviews/" + data[0].(map[string]any)["id"].(string) + "/decision"
		agent := a.staff(auth.Agent)
		if d := do(t, "POST", decide, agent, `{"decision":"approve","reason":"passport seen"}`); d.Status != 409 || d.errCode(t) != "duplicate_document" {
			t.Fatalf("approve while squatted: %d %s", d.Status, d.Body)
		}

		release := a.admin.URL + "/admin/v1/visitors/" + squatID + "/release_document"
		if r := do(t, "POST", release, a.staff(auth.Viewer), `{"reason":"x"}`); r.Status != 403 {
			t.Fatalf("viewer released: %d", r.Status)
		}
		if r := do(t, "POST", release, agent, `{}`); r.Status != 400 || r.errParam(t) != "reason" {
			t.Fatalf("no reason: %d %s", r.Status, r.Body)
		}
		if r := do(t, "POST", a.admin.URL+"/admin/v1/visitors/vis_nope/release_document", agent, `{"reason":"x"}`); r.Status != 404 {
			t.Fatalf("unknown visitor: %d %s", r.Status, r.Body)
		}
		r := do(t, "POST", release, agent, `{"reason":"holder showed the passport, ticket 42"}`, "Idempotency-Key", "rel-1")
		if r.Status != 200 || r.json(t)["id"] != squatID || r.json(t)["document_released_at"] == nil {
			t.Fatalf("release: %d %s", r.Status, r.Body)
		}
		if again := do(t, "POST", release, agent, `{"reason":"holder showed the passport, ticket 42"}`, "Idempotency-Key", "rel-1"); again.Status != 200 || string(again.Body) != string(r.Body) {
			t.Fatalf("replay: %d %s", again.Status, again.Body)
		}
		if twice := do(t, "POST", release, agent, `{"reason":"again"}`); twice.Status != 409 || twice.errCode(t) != "invalid_state" {
			t.Fatalf("second release: %d %s", twice.Status, twice.Body)
		}
		au := do(t, "GET", a.admin.URL+"/admin/v1/audit?target="+squatID, a.supervisor, "")
		entries := au.json(t)["data"].([]any)
		if len(entries) != 1 {
			t.Fatalf("audit: %s", au.Body)
		}
		e := entries[0].(map[string]any)
		if e["action"] != "visitor.release_document" || e["reason"] != "holder showed the passport, ticket 42" || e["role"] != "agent" {
			t.Fatalf("audit entry: %v", e)
		}
		// The partner does not see the staff-only field.
		if g := do(t, "GET", a.partner.URL+"/v1/visitors/"+squatID, keyB, ""); strings.Contains(string(g.Body), "document_released_at") {
			t.Fatalf("partner sees the release: %s", g.Body)
		}

		d := do(t, "POST", decide, agent, `{"decision":"approve","reason":"passport seen"}`)
		if d.Status != 200 {
			t.Fatalf("approve after release: %d %s", d.Status, d.Body)
		}
		vis := d.json(t)["visitor"].(map[string]any)
		if vis["kyc"].(map[string]any)["status"] != "approved" || vis["account"] == nil {
			t.Fatalf("approval: %s", d.Body)
		}
	})
}
