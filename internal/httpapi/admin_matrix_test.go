package httpapi

import (
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// adminMinRole is the least role each admin route needs (docs/ADMIN.md). Every
// admin route must be listed: the matrix test fails on a route missing here.
var adminMinRole = map[string]auth.Role{
	"GET /admin/v1/audit":                    auth.Viewer,
	"GET /admin/v1/visitors":                 auth.Viewer,
	"GET /admin/v1/visitors/:id":             auth.Viewer,
	"GET /admin/v1/reviews":                  auth.Viewer,
	"GET /admin/v1/ledger/accounts/:id":      auth.Viewer,
	"GET /admin/v1/ledger/transfers":         auth.Viewer,
	"GET /admin/v1/reconciliation":           auth.Viewer,
	"POST /admin/v1/adjustments":             auth.Agent,
	"POST /admin/v1/payments/:id/resolve":    auth.Agent,
	"GET /admin/v1/adjustments/:id":          auth.Viewer,
	"POST /admin/v1/adjustments/:id/approve": auth.Supervisor,
	"POST /admin/v1/adjustments/:id/reject":  auth.Supervisor,
	"POST /admin/v1/reviews/:id/decision":    auth.Agent,
	"POST /admin/v1/visitors/:id/freeze":     auth.Agent,
	"POST /admin/v1/visitors/:id/unfreeze":   auth.Agent,
	"POST /admin/v1/partners":                auth.Supervisor,
	"POST /admin/v1/partners/:id/rotate_key": auth.Supervisor,
	"POST /admin/v1/partners/:id/disable":    auth.Supervisor,
	"POST /admin/v1/partners/:id/enable":     auth.Supervisor,
	"POST /admin/v1/staff":                   auth.Supervisor,
	"POST /admin/v1/staff/:id/approve":       auth.Supervisor,
	"POST /admin/v1/staff/:id/disable":       auth.Supervisor,
	"POST /admin/v1/staff/:id/rotate_token":  auth.Supervisor,

	// Ending a visitor's claim on its passport.
	"POST /admin/v1/visitors/:id/release_document": auth.Agent,
}

// TestAdminRouteRoleMatrix calls every admin route as nobody, a partner,
// and each role: no credentials is 401, a role below the route's minimum is
// 403, and a role at or above it gets past authorisation (whatever the
// handler then says about the empty body or the unknown id).
func TestAdminRouteRoleMatrix(t *testing.T) {
	a := newAPI(t, testenv.Embedded(t))
	tokens := map[auth.Role]string{auth.Viewer: a.staff(auth.Viewer), auth.Agent: a.staff(auth.Agent), auth.Supervisor: a.supervisor}
	seen := 0
	for _, r := range a.srv.Admin().(*gin.Engine).Routes() {
		if !strings.HasPrefix(r.Path, "/admin/v1/") {
			continue
		}
		key := r.Method + " " + r.Path
		min, ok := adminMinRole[key]
		if !ok {
			t.Errorf("%s: no entry in adminMinRole", key)
			continue
		}
		seen++
		url := a.admin.URL + strings.ReplaceAll(r.Path, ":id", "x_unknown")
		body := ""
		if r.Method == "POST" {
			body = `{}`
		}
		if res := do(t, r.Method, url, "", body); res.Status != 401 {
			t.Errorf("%s without credentials: %d", key, res.Status)
		}
		if res := do(t, r.Method, url, a.partnerKey, body); res.Status != 401 {
			t.Errorf("%s with a partner key: %d", key, res.Status)
		}
		for role, tok := range tokens {
			res := do(t, r.Method, url, tok, body)
			allowed := role.Allows(min)
			switch {
			case !allowed && res.Status != 403:
				t.Errorf("%s as %s: %d, want 403", key, role, res.Status)
			case allowed && (res.Status == 401 || res.Status == 403 || res.Status >= 500):
				t.Errorf("%s as %s: %d %s", key, role, res.Status, res.Body)
			}
		}
	}
	if seen != len(adminMinRole) {
		t.Errorf("matrix covers %d routes, table lists %d", seen, len(adminMinRole))
	}
}
