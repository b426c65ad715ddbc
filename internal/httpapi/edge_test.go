package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// serveHandler serves h on a real listener for the test and returns its URL.
func serveHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestBearerSchemeIsCaseInsensitive: RFC 9110 makes the scheme name
// case-insensitive; both APIs take any casing and any run of spaces before
// the credentials, and nothing else.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		targets := []struct{ name, url, secret string }{
			{"partner", a.partner.URL + "/v1/fx/rates", a.partnerKey},
			{"admin", a.admin.URL + "/admin/v1/audit", a.supervisor},
		}
		for _, tg := range targets {
			for _, tc := range []struct {
				header string
				status int
			}{
				{"Bearer " + tg.secret, 200},
				{"bearer " + tg.secret, 200},
				{"BEARER " + tg.secret, 200},
				{"bEaReR " + tg.secret, 200},
				{"Bearer   " + tg.secret, 200},
				{"bearer   " + tg.secret + "  ", 200},
				{"Bearer" + tg.secret, 401},
				{"Bearer", 401},
				{"Bearer ", 401},
				{"Basic " + tg.secret, 401},
				{"Bearerx " + tg.secret, 401},
				{tg.secret, 401},
				{"Bearer " + tg.secret + " extra", 401},
			} {
				r := do(t, "GET", tg.url, "", "", "Authorization", tc.header)
				if r.Status != tc.status {
					t.Errorf("%s %q: %d, want %d: %s", tg.name, strings.ReplaceAll(tc.header, tg.secret, "<secret>"), r.Status, tc.status, r.Body)
				}
				if tc.status == 401 && r.errCode(t) != "unauthenticated" {
					t.Errorf("%s: %s", tg.name, r.Body)
				}
			}
		}
	})
}

// TestMetricsOnlyOnAdminListener: the partner port does not serve /metrics;
// the admin port does, unless it has its own listener.
func TestMetricsOnlyOnAdminListener(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		if r := do(t, "GET", a.partner.URL+"/metrics", "", ""); r.Status != 404 || r.errCode(t) != "route_not_found" {
			t.Fatalf("partner /metrics: %d %s", r.Status, r.Body)
		}
		if r := do(t, "GET", a.admin.URL+"/metrics", "", ""); r.Status != 200 || !strings.Contains(string(r.Body), "inbound_http_requests_total") {
			t.Fatalf("admin /metrics: %d", r.Status)
		}
		sep := newAPI(t, b, func(d *Deps) { d.SeparateMetrics = true })
		if r := do(t, "GET", sep.admin.URL+"/metrics", "", ""); r.Status != 404 || r.errCode(t) != "route_not_found" {
			t.Fatalf("admin /metrics with its own listener: %d %s", r.Status, r.Body)
		}
		m := serveHandler(t, sep.srv.Metrics())
		if r := do(t, "GET", m+"/metrics", "", ""); r.Status != 200 || !strings.Contains(string(r.Body), "inbound_http_requests_total") {
			t.Fatalf("metrics listener: %d", r.Status)
		}
		if r := do(t, "GET", m+"/v1/fx/rates", sep.partnerKey, ""); r.Status != 404 || r.errCode(t) != "route_not_found" {
			t.Fatalf("metrics listener serves the API: %d %s", r.Status, r.Body)
		}
	})
}

// TestFailedAuthThrottle: after the allowed number of failed
// authentications from one address, that address gets 429 with
// Retry-After on the API, even with correct credentials, until the budget
// refills. Counting is per listener; forged X-Forwarded-For headers do not
// give a fresh budget.
func TestFailedAuthThrottle(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b, func(d *Deps) { d.AuthFailureLimit = 3; d.AuthFailureWindow = 3 * time.Second })
		targets := []struct{ name, url, secret string }{
			{"partner", a.partner.URL + "/v1/fx/rates", a.partnerKey},
			{"admin", a.admin.URL + "/admin/v1/audit", a.supervisor},
		}
		for _, tg := range targets {
			if r := do(t, "GET", tg.url, tg.secret, ""); r.Status != 200 {
				t.Fatalf("%s: good credentials first: %d", tg.name, r.Status)
			}
			for i := range 3 {
				bad := "sk_wrong" + strconv.Itoa(i)
				if r := do(t, "GET", tg.url, bad, "", "X-Forwarded-For", "203.0.113."+strconv.Itoa(i)); r.Status != 401 {
					t.Fatalf("%s failure %d: %d %s", tg.name, i, r.Status, r.Body)
				}
			}
			for _, tok := range []string{"sk_wrong9", tg.secret, ""} {
				r := do(t, "GET", tg.url, tok, "", "X-Forwarded-For", "198.51.100.7")
				if r.Status != 429 || r.errCode(t) != "rate_limited" {
					t.Fatalf("%s locked out: %d %s", tg.name, r.Status, r.Body)
				}
				if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 3 {
					t.Fatalf("%s Retry-After %q", tg.name, r.Header.Get("Retry-After"))
				}
			}
		}
		// Unauthenticated operational endpoints stay open.
		if r := do(t, "GET", a.partner.URL+"/healthz", "", ""); r.Status != 200 {
			t.Fatalf("healthz: %d", r.Status)
		}
		// The budget refills: one window/limit later one more try passes.
		time.Sleep(1200 * time.Millisecond)
		if r := do(t, "GET", targets[0].url, targets[0].secret, ""); r.Status != 200 {
			t.Fatalf("after the wait: %d %s", r.Status, r.Body)
		}
	})
}

// TestAdminRateLimitPerStaff: each staff member has their own request
// budget on the admin API.
func TestAdminRateLimitPerStaff(t *testing.T) {
	testenv.EachInfra(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b, func(d *Deps) { d.AdminRateLimit = 2 })
		limited := 0
		for range 8 {
			r := do(t, "GET", a.admin.URL+"/admin/v1/audit", a.supervisor, "")
			if r.Status == 429 {
				limited++
				if r.errCode(t) != "rate_limited" || r.Header.Get("Retry-After") == "" {
					t.Fatalf("429 without code or Retry-After: %v %s", r.Header, r.Body)
				}
			} else if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		}
		if limited == 0 {
			t.Fatal("8 admin requests at 2/s were never limited")
		}
		if r := do(t, "GET", a.admin.URL+"/admin/v1/audit", a.staff(auth.Viewer), ""); r.Status != 200 {
			t.Fatalf("another staff member limited too: %d", r.Status)
		}
	})
}

// TestFreeTextRefusesControlAndBidiCharacters: every free-text field of a
// request refuses control, format (bidi, zero-width) characters with 400
// and the field's name, and writes nothing.
func TestFreeTextRefusesControlAndBidiCharacters(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		vis := a.approvedVisitor(t, a.partnerKey)
		mer := do(t, "POST", a.partner.URL+"/v1/merchants", a.partnerKey, `{"name":"Tea House","mcc":"5812"}`, "Idempotency-Key", ids.New("test"))
		if mer.Status != 201 {
			t.Fatalf("merchant: %d %s", mer.Status, mer.Body)
		}
		merID := mer.json(t)["id"].(string)
		bad := []string{`\u202e`, `\u202a`, `\u2066`, `\u2069`, `\u200b`, `\u200f`, `\ufeff`, `\u061c`, `\u0000`, `\u0007`, `\n`, `\u00ad`}
		cases := []struct {
			name, url, token, body, param string
		}{
			{"merchant name", a.partner.URL + "/v1/merchants", a.partnerKey, `{"name":"Tea%sHouse","mcc":"5812"}`, "name"},
			{"payment description", a.partner.URL + "/v1/payments", a.partnerKey, `{"visitor_id":"` + vis + `","merchant_id":"` + merID + `","amount":{"value":"1.00","currency":"CNY"},"out_trade_no":"O-1","description":"tea%s"}`, "description"},
			{"out_trade_no", a.partner.URL + "/v1/payments", a.partnerKey, `{"visitor_id":"` + vis + `","merchant_id":"` + merID + `","amount":{"value":"1.00","currency":"CNY"},"out_trade_no":"O%s-2"}`, "out_trade_no"},
			{"holder name", a.partner.URL + "/v1/visitors/" + vis + "/cards", a.partnerKey, `{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123","holder_name":"ANNA%s ERIKSSON"}`, "holder_name"},
			{"webhook description", a.partner.URL + "/v1/webhook_endpoints", a.partnerKey, `{"url":"https://example.com/h","events":["*"],"description":"hooks%s"}`, "description"},
			{"webhook events", a.partner.URL + "/v1/webhook_endpoints", a.partnerKey, `{"url":"https://example.com/h","events":["*%s"]}`, "events[0]"},
			{"mrz line", a.partner.URL + "/v1/visitors", a.partnerKey, `{"mrz":["x%s","y"]}`, "mrz[0]"},
			{"entry visa type", a.partner.URL + "/v1/visitors", a.partnerKey, `{"mrz":["x","y"],"entry":{"visa_type":"L%s","entry_date":"2026-01-01","planned_departure":"2026-01-02"}}`, "entry.visa_type"},
			{"partner name", a.admin.URL + "/admin/v1/partners", a.supervisor, `{"name":"Evil%sCorp","reason":"onboarding"}`, "name"},
			{"partner reason", a.admin.URL + "/admin/v1/partners", a.supervisor, `{"name":"Corp","reason":"on%sboarding"}`, "reason"},
			{"staff name", a.admin.URL + "/admin/v1/staff", a.supervisor, `{"name":"Sam%s","role":"viewer","reason":"hire"}`, "name"},
			{"freeze reason", a.admin.URL + "/admin/v1/visitors/" + vis + "/freeze", a.supervisor, `{"reason":"fraud%s"}`, "reason"},
		}
		for _, tc := range cases {
			for _, ch := range bad {
				body := strings.Replace(tc.body, "%s", ch, 1)
				r := do(t, "POST", tc.url, tc.token, body, "Idempotency-Key", ids.New("test"))
				if r.Status != 400 || r.errCode(t) != "parameter_invalid" || r.errParam(t) != tc.param {
					t.Errorf("%s with %s: %d %s", tc.name, ch, r.Status, r.Body)
				}
			}
		}
		// Ordinary non-ASCII text is fine.
		if r := do(t, "POST", a.partner.URL+"/v1/merchants", a.partnerKey, `{"name":"茶馆 Café – Zoë","mcc":"5812"}`, "Idempotency-Key", ids.New("test")); r.Status != 201 {
			t.Fatalf("plain unicode refused: %d %s", r.Status, r.Body)
		}
		var n int64
		b.DB.Gorm.Raw("SELECT count(*) FROM partners").Scan(&n)
		if n != 1 {
			t.Fatalf("%d partners", n)
		}
	})
}
