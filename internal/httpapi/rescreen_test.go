package httpapi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/app"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/kyc"
)

// When a new list is loaded, the re-screening job screens every active
// visitor again: one newly listed (an OFAC entry, MADURO MOROS Nicolas,
// with his published birth date) goes to review with his account frozen
// and an audit record by system:rescreen; a visitor not listed only gets a
// screening against the new version; a second run does nothing.
func TestRescreenOnNewList(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		maduro := a.createVisitor(t, a.partnerKey, td3("VEN", "MADURO<MOROS", "NICOLAS", "M1962112", "621123", "M", "320101"), "")
		if st, _ := kycOf(t, maduro); st != "approved" {
			t.Fatalf("not approved under the sample list: %s", maduro.Body)
		}
		anna := a.approvedVisitor(t, a.partnerKey)
		id := maduro.json(t)["id"].(string)

		dir := t.TempDir()
		for _, f := range []string{"sdn.csv", "alt.csv"} {
			src, err := os.ReadFile(filepath.Join("..", "..", "kyc", "testdata", "ofac", f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), src, 0o600); err != nil { //nolint:gosec // a test temp dir and a fixed file name
				t.Fatal(err)
			}
		}
		svc, err := app.New(context.Background(), b.DB, a.vault, a.srv.Log, app.Options{SanctionsDir: dir, CardnetURL: a.cardnet,
			NetworkTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.KYC.Rescreen(context.Background())
		if err != nil || res.Screened != 2 || res.Flagged != 1 || !strings.HasPrefix(res.ListVersion, "sha256:") {
			t.Fatalf("rescreen: %+v %v", res, err)
		}
		g := do(t, "GET", a.partner.URL+"/v1/visitors/"+id, a.partnerKey, "")
		if st, rs := kycOf(t, g); st != "review" || rs != "sanctions_match" {
			t.Fatalf("after rescreen: %s %s", st, rs)
		}
		acct := do(t, "GET", a.partner.URL+"/v1/visitors/"+id+"/account", a.partnerKey, "")
		if acct.json(t)["status"] != "frozen" {
			t.Fatalf("account: %s", acct.Body)
		}
		if g := do(t, "GET", a.partner.URL+"/v1/visitors/"+anna, a.partnerKey, ""); !strings.Contains(string(g.Body), `"status":"approved"`) {
			t.Fatalf("unlisted visitor changed: %s", g.Body)
		}
		au := do(t, "GET", a.admin.URL+"/admin/v1/audit?actor="+kyc.ActorRescreen, a.supervisor, "")
		entries := au.json(t)["data"].([]any)
		if len(entries) != 1 || entries[0].(map[string]any)["target"] != id || entries[0].(map[string]any)["action"] != "visitor.rescreen" {
			t.Fatalf("audit: %s", au.Body)
		}
		// Every screening records the list it was made against.
		recs, err := svc.KYC.Screenings(context.Background(), id)
		if err != nil || len(recs) != 2 || recs[0].ListVersion == recs[1].ListVersion || recs[1].ListVersion != res.ListVersion {
			t.Fatalf("screenings %+v %v", recs, err)
		}
		// The review shows the entry that matched.
		l := do(t, "GET", a.admin.URL+"/admin/v1/reviews", a.supervisor, "")
		if !strings.Contains(string(l.Body), `"entry_id":"22790"`) {
			t.Fatalf("review: %s", l.Body)
		}
		// Same list again: nothing to do.
		if res, err := svc.KYC.Rescreen(context.Background()); err != nil || res.Screened != 0 || res.Flagged != 0 {
			t.Fatalf("second run: %+v %v", res, err)
		}
	})
}
