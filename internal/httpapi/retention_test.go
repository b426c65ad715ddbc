package httpapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/app"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/kyc"
)

// Retention with a clock: a visitor whose account closed, and a rejected
// visitor, keep their personal data for the retention period; after it the
// job erases name, birth date, passport number (sealed and indexed), phone
// and email, while the transactions and the ledger stay and reconcile.
func TestRetentionErasesPersonalDataAfterFiveYears(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		P := a.partner.URL
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")
		if l := a.load(t, vis, card, a.quote(t, card, `"buy":{"value":"100.00","currency":"CNY"}`)); l.Status != 201 {
			t.Fatalf("load: %d %s", l.Status, l.Body)
		}
		if u := post(t, P+"/v1/visitors/"+vis+"/unloads", a.partnerKey, `{"card_id":"`+card+`","close":true}`); u.Status != 201 {
			t.Fatalf("unload: %d %s", u.Status, u.Body)
		}
		minor := a.createVisitor(t, a.partnerKey, td3("UTO", "YOUNG", "TIM", "Y7777777", "150101", "M", "320101"), `,"phone":"+4915112345678"`)
		if st, _ := kycOf(t, minor); st != "rejected" {
			t.Fatalf("minor: %s", minor.Body)
		}
		rejected := minor.json(t)["id"].(string)
		before := do(t, "GET", P+"/v1/visitors/"+vis+"/transactions", a.partnerKey, "")

		at := func(d time.Duration) *app.Services {
			now := time.Now().UTC().Add(d)
			svc, err := app.New(context.Background(), b.DB, a.vault, a.srv.Log, app.Options{CardnetURL: a.cardnet,
				NetworkTimeout: time.Second, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			return svc
		}
		// A day short of five years: nothing is erased.
		early := at(kyc.DefaultRetention - 24*time.Hour)
		if n, err := early.EraseExpired(context.Background(), time.Now().Add(kyc.DefaultRetention-24*time.Hour), 0); err != nil || n != 0 {
			t.Fatalf("before the end of retention: %d %v", n, err)
		}
		late := at(kyc.DefaultRetention + 24*time.Hour)
		if n, err := late.EraseExpired(context.Background(), time.Now().Add(kyc.DefaultRetention+24*time.Hour), 0); err != nil || n != 2 {
			t.Fatalf("after retention: %d %v", n, err)
		}
		for _, id := range []string{vis, rejected} {
			g := do(t, "GET", P+"/v1/visitors/"+id, a.partnerKey, "")
			if g.Status != 200 {
				t.Fatalf("get erased visitor: %d %s", g.Status, g.Body)
			}
			body := string(g.Body)
			for _, pii := range []string{"ERIKSSON", "ANNA", "YOUNG", "1974-08-12", "2015-01-01", "+4915112345678", `"number_masked":"Y7`} {
				if strings.Contains(body, pii) {
					t.Fatalf("%s still in %s", pii, body)
				}
			}
			var sealed, index, dob string
			b.DB.Gorm.Raw("SELECT number_sealed, number_index, date_of_birth FROM visitors WHERE id = ?", id).Row().Scan(&sealed, &index, &dob)
			if sealed != "" || dob != "" || index != "erased:"+id {
				t.Fatalf("row not erased: %q %q %q", sealed, index, dob)
			}
		}
		// The money history stays as it was, and the books balance.
		after := do(t, "GET", P+"/v1/visitors/"+vis+"/transactions", a.partnerKey, "")
		if string(after.Body) != string(before.Body) {
			t.Fatalf("transactions changed:\n%s\n%s", before.Body, after.Body)
		}
		contains(t, do(t, "GET", a.admin.URL+"/admin/v1/reconciliation", a.supervisor, ""), `"breaks":[]`)
		// Running again erases nothing more; the same passport may apply again.
		if n, err := late.EraseExpired(context.Background(), time.Now().Add(kyc.DefaultRetention+24*time.Hour), 0); err != nil || n != 0 {
			t.Fatalf("second run: %d %v", n, err)
		}
	})
}
