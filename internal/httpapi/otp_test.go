package httpapi

import (
	"sync"
	"testing"

	"github.com/inbound-gateway/inbound/internal/testenv"
)

// otpError checks a 402 authentication_failed and returns attempts_remaining.
func otpError(t *testing.T, r resp) int {
	t.Helper()
	if r.Status != 402 || r.errCode(t) != "authentication_failed" {
		t.Fatalf("want 402 authentication_failed: %d %s", r.Status, r.Body)
	}
	e := r.json(t)["error"].(map[string]any)
	n, ok := e["attempts_remaining"].(float64)
	if !ok || e["decline_code"] != "authentication_failed" || e["type"] != "card_error" {
		t.Fatalf("error body %s", r.Body)
	}
	return int(n)
}

func cardStatus(t *testing.T, b testenv.Backend, id string) string {
	t.Helper()
	var st string
	if err := b.DB.Gorm.Raw("SELECT status FROM cards WHERE id = ?", id).Scan(&st).Error; err != nil {
		t.Fatal(err)
	}
	return st
}

// A card binding allows three OTPs: two wrong ones leave it waiting with
// the attempts left, the right one then verifies it; three wrong ones fail
// it. A load's authentication does the same.
func TestOTPAllowsThreeAttempts(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		vis := a.approvedVisitor(t, a.partnerKey)
		cards := a.partner.URL + "/v1/visitors/" + vis + "/cards"
		bind := func() string {
			r := post(t, cards, a.partnerKey, cardBody("4000000000003220", "123", "ANNA ERIKSSON"))
			if r.Status != 201 || r.json(t)["status"] != "requires_action" {
				t.Fatalf("bind: %d %s", r.Status, r.Body)
			}
			return r.json(t)["id"].(string)
		}

		card := bind()
		verify := cards + "/" + card + "/verify"
		for want := 2; want >= 1; want-- {
			if got := otpError(t, post(t, verify, a.partnerKey, `{"otp":"000000"}`)); got != want {
				t.Fatalf("attempts_remaining %d, want %d", got, want)
			}
			if st := cardStatus(t, b, card); st != "requires_action" {
				t.Fatalf("card after a wrong OTP: %s", st)
			}
		}
		if v := post(t, verify, a.partnerKey, `{"otp":"123456"}`); v.Status != 200 || v.json(t)["status"] != "verified" {
			t.Fatalf("third attempt right: %d %s", v.Status, v.Body)
		}
		do(t, "DELETE", cards+"/"+card, a.partnerKey, "")

		card = bind()
		verify = cards + "/" + card + "/verify"
		for _, want := range []int{2, 1, 0} {
			if got := otpError(t, post(t, verify, a.partnerKey, `{"otp":"999999"}`)); got != want {
				t.Fatalf("attempts_remaining %d, want %d", got, want)
			}
		}
		if st := cardStatus(t, b, card); st != "failed" {
			t.Fatalf("card after three wrong OTPs: %s", st)
		}
		if v := post(t, verify, a.partnerKey, `{"otp":"123456"}`); v.Status != 409 {
			t.Fatalf("OTP after the last attempt: %d %s", v.Status, v.Body)
		}

		// A load: two wrong OTPs, then the right one.
		card = bind()
		if v := post(t, cards+"/"+card+"/verify", a.partnerKey, `{"otp":"123456"}`); v.Status != 200 {
			t.Fatalf("verify: %d %s", v.Status, v.Body)
		}
		load := func() string {
			r := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"100.00","currency":"CNY"}`))
			if r.Status != 201 || r.json(t)["status"] != "requires_action" {
				t.Fatalf("otp load: %d %s", r.Status, r.Body)
			}
			return a.partner.URL + "/v1/loads/" + r.json(t)["id"].(string) + "/authenticate"
		}
		auth := load()
		for want := 2; want >= 1; want-- {
			if got := otpError(t, post(t, auth, a.partnerKey, `{"otp":"000000"}`)); got != want {
				t.Fatalf("load attempts_remaining %d, want %d", got, want)
			}
		}
		if ok := post(t, auth, a.partnerKey, `{"otp":"123456"}`); ok.Status != 200 || ok.json(t)["status"] != "succeeded" {
			t.Fatalf("load third attempt: %d %s", ok.Status, ok.Body)
		}
		// Three wrong OTPs fail the load, which the last error shows.
		auth = load()
		for _, want := range []int{2, 1, 0} {
			r := post(t, auth, a.partnerKey, `{"otp":"000000"}`)
			if got := otpError(t, r); got != want {
				t.Fatalf("load attempts_remaining %d, want %d", got, want)
			}
			if want == 0 && r.json(t)["error"].(map[string]any)["load"].(map[string]any)["status"] != "failed" {
				t.Fatalf("load not failed: %s", r.Body)
			}
		}
		contains(t, do(t, "GET", a.partner.URL+"/v1/visitors/"+vis+"/account", a.partnerKey, ""), `"balance":{"value":"100.00","currency":"CNY"}`)
		contains(t, do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", a.supervisor, ""), `"breaks":[]`)
	})
}

// Wrong OTPs sent at once never buy more than three attempts: each OTP is
// counted under the call's row lock before it goes out, and one sent while
// another is out is refused, not counted.
func TestParallelWrongOTPsCountOnce(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		vis := a.approvedVisitor(t, a.partnerKey)
		cards := a.partner.URL + "/v1/visitors/" + vis + "/cards"
		r := post(t, cards, a.partnerKey, cardBody("4000000000003220", "123", "ANNA ERIKSSON"))
		verify := cards + "/" + r.json(t)["id"].(string) + "/verify"
		const parallel = 6
		results := make([]resp, parallel)
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = post(t, verify, a.partnerKey, `{"otp":"000000"}`)
			}()
		}
		wg.Wait()
		counted := map[int]bool{}
		for _, r := range results {
			switch r.Status {
			case 402:
				n := otpError(t, r)
				if counted[n] {
					t.Fatalf("attempts_remaining %d given twice", n)
				}
				counted[n] = true
			case 409:
			default:
				t.Fatalf("parallel OTP: %d %s", r.Status, r.Body)
			}
		}
		// Finish sequentially: exactly three wrong OTPs are ever counted.
		for len(counted) < 3 {
			n := otpError(t, post(t, verify, a.partnerKey, `{"otp":"000000"}`))
			if counted[n] {
				t.Fatalf("attempts_remaining %d given twice", n)
			}
			counted[n] = true
		}
		if !counted[0] {
			t.Fatalf("the last attempt was not reported: %v", counted)
		}
		if v := post(t, verify, a.partnerKey, `{"otp":"000000"}`); v.Status != 409 {
			t.Fatalf("a fourth attempt: %d %s", v.Status, v.Body)
		}
		var attempts int
		b.DB.Gorm.Raw("SELECT max(otp_attempts) FROM network_calls").Scan(&attempts)
		if attempts != 3 {
			t.Fatalf("otp_attempts %d", attempts)
		}
	})
}
