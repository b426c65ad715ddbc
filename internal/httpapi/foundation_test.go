package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

func TestErrorShapes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		big := `{"name":"` + strings.Repeat("x", 2<<20) + `","reason":"r"}`
		cases := []struct {
			name, method, url, token, body string
			status                         int
			code, param                    string
		}{
			{"unknown route", "GET", a.partner.URL + "/v1/nothing", a.partnerKey, "", 404, "route_not_found", ""},
			{"wrong method", "DELETE", a.admin.URL + "/admin/v1/audit", a.supervisor, "", 405, "method_not_allowed", ""},
			{"no token", "GET", a.admin.URL + "/admin/v1/audit", "", "", 401, "unauthenticated", ""},
			{"bad token", "GET", a.admin.URL + "/admin/v1/audit", "st_nope", "", 401, "unauthenticated", ""},
			{"partner key on admin", "GET", a.admin.URL + "/admin/v1/audit", a.partnerKey, "", 401, "unauthenticated", ""},
			{"invalid json", "POST", a.admin.URL + "/admin/v1/partners", a.supervisor, `{"name":`, 400, "invalid_json", ""},
			{"not an object", "POST", a.admin.URL + "/admin/v1/partners", a.supervisor, `[1,2]`, 400, "invalid_json", ""},
			{"unknown field", "POST", a.admin.URL + "/admin/v1/partners", a.supervisor, `{"name":"a","reason":"r","colour":"red"}`, 400, "unknown_field", "colour"},
			{"wrong type", "POST", a.admin.URL + "/admin/v1/partners", a.supervisor, `{"name":5,"reason":"r"}`, 400, "parameter_invalid", "name"},
			{"missing reason", "POST", a.admin.URL + "/admin/v1/partners", a.supervisor, `{"name":"a"}`, 400, "parameter_missing", "reason"},
			{"bad role", "POST", a.admin.URL + "/admin/v1/staff", a.supervisor, `{"name":"a","role":"god","reason":"r"}`, 400, "parameter_invalid", "role"},
			{"too large", "POST", a.admin.URL + "/admin/v1/partners", a.supervisor, big, 413, "request_too_large", ""},
			{"bad limit", "GET", a.admin.URL + "/admin/v1/audit?limit=500", a.supervisor, "", 400, "parameter_invalid", "limit"},
			{"unknown partner", "POST", a.admin.URL + "/admin/v1/partners/ptn_nope/disable", a.supervisor, `{"reason":"r"}`, 404, "resource_missing", ""},
			{"long idempotency key", "POST", a.admin.URL + "/admin/v1/partners", a.supervisor, `{"name":"a","reason":"r"}`, 400, "idempotency_key_invalid", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var hdr []string
				if tc.name == "long idempotency key" {
					hdr = []string{"Idempotency-Key", strings.Repeat("k", 256)}
				}
				r := do(t, tc.method, tc.url, tc.token, tc.body, hdr...)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				if got := r.errCode(t); got != tc.code {
					t.Fatalf("code %q, want %q", got, tc.code)
				}
				if got := r.errParam(t); got != tc.param {
					t.Fatalf("param %q, want %q", got, tc.param)
				}
			})
		}
		var count int64
		b.DB.Gorm.Raw("SELECT count(*) FROM partners").Scan(&count)
		if count != 1 {
			t.Fatalf("failed requests wrote partners: %d rows", count)
		}
	})
}

func TestAdminRolesOnFoundationRoutes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		tokens := map[string]string{"viewer": a.staff(auth.Viewer), "agent": a.staff(auth.Agent), "supervisor": a.supervisor}
		routes := []struct {
			method, path, body string
			want               map[string]int
		}{
			{"GET", "/admin/v1/audit", "", map[string]int{"viewer": 200, "agent": 200, "supervisor": 200}},
			{"POST", "/admin/v1/partners", `{"name":"P","reason":"r"}`, map[string]int{"viewer": 403, "agent": 403, "supervisor": 201}},
			{"POST", "/admin/v1/staff", `{"name":"S","role":"viewer","reason":"r"}`, map[string]int{"viewer": 403, "agent": 403, "supervisor": 201}},
		}
		for _, rt := range routes {
			for role, want := range rt.want {
				r := do(t, rt.method, a.admin.URL+rt.path, tokens[role], rt.body)
				if r.Status != want {
					t.Errorf("%s %s as %s: %d, want %d: %s", rt.method, rt.path, role, r.Status, want, r.Body)
				}
				if want == 403 && r.errCode(t) != "forbidden" {
					t.Errorf("%s as %s: code %s", rt.path, role, r.errCode(t))
				}
			}
		}
	})
}

func TestPartnerLifecycleIsAudited(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		r := do(t, "POST", a.admin.URL+"/admin/v1/partners", a.supervisor, `{"name":"Acme","reason":"contract signed"}`)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		p := r.json(t)
		id, key := p["id"].(string), p["secret_key"].(string)
		if !strings.HasPrefix(id, "ptn_") || !strings.HasPrefix(key, "sk_") {
			t.Fatalf("bad partner %s", r.Body)
		}
		if _, err := a.srv.Auth.AuthenticatePartner(context.Background(), key); err != nil {
			t.Fatalf("new key does not authenticate: %v", err)
		}
		r = do(t, "POST", a.admin.URL+"/admin/v1/partners/"+id+"/rotate_key", a.supervisor, `{"reason":"leaked"}`)
		if r.Status != 200 {
			t.Fatalf("rotate: %d %s", r.Status, r.Body)
		}
		newKey := r.json(t)["secret_key"].(string)
		if _, err := a.srv.Auth.AuthenticatePartner(context.Background(), key); err == nil {
			t.Fatal("old key still authenticates after rotation")
		}
		if _, err := a.srv.Auth.AuthenticatePartner(context.Background(), newKey); err != nil {
			t.Fatalf("rotated key: %v", err)
		}
		r = do(t, "POST", a.admin.URL+"/admin/v1/partners/"+id+"/disable", a.supervisor, `{"reason":"offboarded"}`)
		if r.Status != 200 || r.json(t)["status"] != "disabled" {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		if _, err := a.srv.Auth.AuthenticatePartner(context.Background(), newKey); err == nil {
			t.Fatal("disabled partner still authenticates")
		}
		r = do(t, "GET", a.admin.URL+"/admin/v1/audit?target="+id, a.supervisor, "")
		data := r.json(t)["data"].([]any)
		var actions []string
		for _, d := range data {
			e := d.(map[string]any)
			actions = append(actions, e["action"].(string))
			if e["reason"] == "" || e["request_id"] == "" || e["actor"] == "" || e["role"] != "supervisor" {
				t.Errorf("incomplete audit record %v", e)
			}
			if strings.Contains(fmt.Sprint(e), "sk_") {
				t.Errorf("audit record holds a secret key: %v", e)
			}
		}
		want := "partner.disable,partner.rotate_key,partner.create"
		if strings.Join(actions, ",") != want {
			t.Fatalf("audit actions %v, want %s", actions, want)
		}
	})
}

func TestIdempotency(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		url := a.admin.URL + "/admin/v1/partners"
		body := `{"name":"Acme","reason":"r"}`
		first := do(t, "POST", url, a.supervisor, body, "Idempotency-Key", "k1")
		if first.Status != 201 || first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("first: %d %v %s", first.Status, first.Header, first.Body)
		}
		again := do(t, "POST", url, a.supervisor, body, "Idempotency-Key", "k1")
		// The replay is the first answer with the secret key redacted: a
		// secret is shown once, not for the 24 h a key lives.
		if again.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != redactedSecret(t, first.Body, "secret_key") {
			t.Fatalf("replay: %d %v %s", again.Status, again.Header, again.Body)
		}
		other := do(t, "POST", url, a.supervisor, `{"name":"Other","reason":"r"}`, "Idempotency-Key", "k1")
		if other.Status != 422 || other.errCode(t) != "idempotency_key_reused" {
			t.Fatalf("reuse: %d %s", other.Status, other.Body)
		}
		// Another staff member's key space is separate.
		sup2 := a.staff(auth.Supervisor)
		if r := do(t, "POST", url, sup2, body, "Idempotency-Key", "k1"); r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("other scope: %d %v", r.Status, r.Header)
		}
		// A new server on the same storage (a restart, another replica) replays.
		b2 := newAPI(t, b)
		r := do(t, "POST", b2.admin.URL+"/admin/v1/partners", a.supervisor, body, "Idempotency-Key", "k1")
		if r.Status != 201 || string(r.Body) != string(again.Body) {
			t.Fatalf("replay after restart: %d %s", r.Status, r.Body)
		}
		// The stored response holds the secret key: it must not be in plain text.
		var stored []string
		b.DB.Gorm.Raw("SELECT response_body FROM idempotency_keys").Scan(&stored)
		key := first.json(t)["secret_key"].(string)
		for _, s := range stored {
			if strings.Contains(s, key) || strings.Contains(s, "Acme") {
				t.Fatalf("stored response in plain text: %s", s)
			}
		}
		var n int64
		b.DB.Gorm.Raw("SELECT count(*) FROM partners WHERE name = 'Acme'").Scan(&n)
		if n != 2 {
			t.Fatalf("partners named Acme: %d, want 2 (one per scope)", n)
		}
		// Validation failures are not stored: the same key can then succeed.
		if r := do(t, "POST", url, a.supervisor, `{"name":"V"}`, "Idempotency-Key", "k2"); r.Status != 400 {
			t.Fatalf("invalid: %d", r.Status)
		}
		if r := do(t, "POST", url, a.supervisor, `{"name":"V","reason":"r"}`, "Idempotency-Key", "k2"); r.Status != 201 {
			t.Fatalf("after invalid: %d %s", r.Status, r.Body)
		}
	})
}

func TestIdempotencyInFlightAndConcurrentTwins(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		st, err := a.srv.Auth.AuthenticateStaff(context.Background(), a.supervisor)
		if err != nil {
			t.Fatal(err)
		}
		url := a.admin.URL + "/admin/v1/partners"
		body := `{"name":"Twin","reason":"r"}`
		// A request holding the in-flight lock: its twin gets 409.
		ok, err := b.KV.TryLock(context.Background(), b.KV.Key("idem", st.ID, "busy"), "other", a.srv.IdempotencyLockTTL)
		if err != nil || !ok {
			t.Fatalf("lock: %v %v", ok, err)
		}
		r := do(t, "POST", url, a.supervisor, body, "Idempotency-Key", "busy")
		if r.Status != 409 || r.errCode(t) != "idempotency_in_progress" {
			t.Fatalf("in flight: %d %s", r.Status, r.Body)
		}
		// Many concurrent twins: one partner, every answer is the same 201 or a 409.
		const n = 16
		var wg sync.WaitGroup
		results := make([]resp, n)
		for i := range n {
			wg.Go(func() { results[i] = do(t, "POST", url, a.supervisor, body, "Idempotency-Key", "twin") })
		}
		wg.Wait()
		var created string
		for _, r := range results {
			switch r.Status {
			case 201:
				// The one execution shows the key; replays show it redacted.
				body := string(r.Body)
				if r.Header.Get("Idempotent-Replayed") != "true" {
					body = redactedSecret(t, r.Body, "secret_key")
				}
				if created == "" {
					created = body
				} else if body != created {
					t.Fatalf("two different 201 bodies:\n%s\n%s", created, r.Body)
				}
			case 409:
			default:
				t.Fatalf("unexpected %d %s", r.Status, r.Body)
			}
		}
		var count int64
		b.DB.Gorm.Raw("SELECT count(*) FROM partners WHERE name = 'Twin'").Scan(&count)
		if count != 1 {
			t.Fatalf("%d partners created by concurrent twins", count)
		}
	})
}

func TestSecondExecutionRollsBackWhenTwinCommittedFirst(t *testing.T) {
	// The Redis lock can be lost (expiry, a Redis restart). The database
	// row still stops a second execution: when a twin has stored its
	// response first, this execution's transaction fails as a whole and
	// its change is rolled back.
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		st, err := a.srv.Auth.AuthenticateStaff(context.Background(), a.supervisor)
		if err != nil {
			t.Fatal(err)
		}
		p := &pending{scope: st.ID, key: "race", method: "POST", path: "/admin/v1/partners", fingerprint: "f"}
		if err := a.srv.idem.Save(context.Background(), a.srv.record(p, 201, []byte(`{"winner":true}`))); err != nil {
			t.Fatal(err)
		}
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/admin/v1/partners", nil)
		c.Set(ctxIdem, p)
		var err2 error
		mutate(a.srv, c, reply(201, func(p auth.Partner) any { return p }), func(ctx context.Context, then ...db.Then[auth.Partner]) (auth.Partner, error) {
			p, _, err := a.srv.Auth.CreatePartner(ctx, "ptn_race", "Race", "", then...)
			err2 = err
			return p, err
		})
		if !errors.Is(err2, idempotency.ErrAlreadySaved) {
			t.Fatalf("second execution: err %v, want ErrAlreadySaved", err2)
		}
		var n int64
		b.DB.Gorm.Raw("SELECT count(*) FROM partners WHERE id = 'ptn_race'").Scan(&n)
		if n != 0 {
			t.Fatal("second execution's change was not rolled back")
		}
	})
}

func TestPanicBecomes500InErrorShape(t *testing.T) {
	b := testenv.Embedded(t)
	a := newAPI(t, b)
	eng := a.srv.engine("test")
	eng.GET("/boom", func(c *gin.Context) { panic("secret internals") })
	ts := httptest.NewServer(eng)
	defer ts.Close()
	r := do(t, "GET", ts.URL+"/boom", "", "")
	if r.Status != 500 || r.errCode(t) != "internal_error" || strings.Contains(string(r.Body), "secret internals") {
		t.Fatalf("panic: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(a.logs.String(), "secret internals") {
		t.Fatal("panic not logged")
	}
}

func TestOpsEndpoints(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		for _, base := range []string{a.partner.URL, a.admin.URL} {
			if r := do(t, "GET", base+"/healthz", "", ""); r.Status != 200 {
				t.Fatalf("healthz %d", r.Status)
			}
			if r := do(t, "GET", base+"/readyz", "", ""); r.Status != 200 {
				t.Fatalf("readyz %d %s", r.Status, r.Body)
			}
			if r := do(t, "GET", base+"/openapi.json", "", ""); r.Status != 200 || r.json(t)["openapi"] != "3.1.0" {
				t.Fatalf("openapi %d", r.Status)
			}
		}
		do(t, "GET", a.admin.URL+"/admin/v1/audit", a.supervisor, "")
		m := do(t, "GET", a.admin.URL+"/metrics", "", "")
		want := `inbound_http_requests_total{api="admin",method="GET",route="/admin/v1/audit",status="200"} 1`
		if !strings.Contains(string(m.Body), want) {
			t.Fatalf("metrics lack %s", want)
		}
		if !strings.Contains(string(m.Body), "inbound_http_request_duration_seconds_bucket") {
			t.Fatal("metrics lack the latency histogram")
		}
		// Logs are JSON lines without bodies or secrets.
		if strings.Contains(a.logs.String(), a.supervisor) {
			t.Fatal("staff token in logs")
		}
	})
}

// Redis down is reported, but the replica stays ready: requests are
// served without it (TestRedisDownCostsNoRequest), and an unready answer
// from every replica at once would take the whole service out.
func TestReadyzReportsRedisDown(t *testing.T) {
	b := testenv.Embedded(t)
	a := newAPI(t, b)
	_ = b.KV.Close()
	r := do(t, "GET", a.partner.URL+"/readyz", "", "")
	if r.Status != 200 || !strings.Contains(string(r.Body), `"redis":"degraded"`) {
		t.Fatalf("readyz with Redis down: %d %s", r.Status, r.Body)
	}
}

func TestStaffCreationIsAuditedAndTokenWorks(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		r := do(t, "POST", a.admin.URL+"/admin/v1/staff", a.supervisor, `{"name":"Ana","role":"agent","reason":"new hire"}`)
		if r.Status != 201 {
			t.Fatalf("create staff: %d %s", r.Status, r.Body)
		}
		st := r.json(t)
		id, token := st["id"].(string), st["token"].(string)
		if code := do(t, "GET", a.admin.URL+"/admin/v1/audit", token, "").Status; code != 200 {
			t.Fatalf("new agent token: %d", code)
		}
		au := do(t, "GET", a.admin.URL+"/admin/v1/audit?target="+id, a.supervisor, "")
		entries := au.json(t)["data"].([]any)
		if len(entries) != 1 || entries[0].(map[string]any)["action"] != "staff.create" || strings.Contains(string(au.Body), token) {
			t.Fatalf("audit of staff creation: %s", au.Body)
		}
	})
}
