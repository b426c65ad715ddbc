package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/adjustment"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/console"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// httpStaff is a staff member signed in to the console with a plain HTTP
// client (its own cookie jar), for tests that need no browser.
type httpStaff struct {
	t    *testing.T
	e    *env
	c    *http.Client
	csrf string
}

var (
	csrfInput   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

func (e *env) httpSignIn(token string) *httpStaff {
	e.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	h := &httpStaff{t: e.t, e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	_, page := h.send("GET", "/console/signin", nil)
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		e.t.Fatalf("no csrf on the sign-in page: %s", page)
	}
	if st, body := h.send("POST", "/console/signin", url.Values{"csrf": {m[1]}, "token": {token}}); st != http.StatusSeeOther {
		e.t.Fatalf("sign in: %d %s", st, body)
	}
	_, home := h.send("GET", "/console/", nil)
	if m = csrfInput.FindStringSubmatch(home); m == nil {
		e.t.Fatalf("no csrf on the home page: %s", home)
	}
	h.csrf = html.UnescapeString(m[1])
	return h
}

func (h *httpStaff) send(method, path string, form url.Values) (int, string) {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, h.e.admin.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := h.c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

// preview submits an action form and returns the confirm page's form.
func (h *httpStaff) preview(action string, values url.Values) url.Values {
	h.t.Helper()
	values.Set("csrf", h.csrf)
	st, page := h.send("POST", "/console/act/"+action, values)
	i := strings.Index(page, `id="confirm-form"`)
	if st != http.StatusOK || i < 0 {
		h.t.Fatalf("preview %s: %d %s", action, st, page)
	}
	confirm := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page[i:], -1) {
		confirm.Set(m[1], html.UnescapeString(m[2]))
	}
	if len(confirm.Get("confirmation")) != 64 {
		h.t.Fatalf("no one-time confirmation token on the confirm page: %v", confirm)
	}
	return confirm
}

func (e *env) count(table, where string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.b.DB.WithContext(context.Background()).Table(table).Where(where, args...).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestConfirmationSubmittedTwiceActsOnce: the confirm page carries a
// one-time token; submitting it twice, one after the other or at the same
// time, proposes one adjustment, and the repeat says it was already done.
// A token is bound to its input: changed values are refused.
func TestConfirmationSubmittedTwiceActsOnce(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newServers(t, b)
		ctx := context.Background()
		if _, err := e.srv.Ledger.EnsureAccount(ctx, ledger.AccountSpec{Code: "test:wallet", Currency: money.CNY, Kind: ledger.Liability}); err != nil {
			t.Fatal(err)
		}
		_, tok := e.staff(auth.Agent, "Ana Agent")
		agent := e.httpSignIn(tok)
		form := func(reason string) url.Values {
			return url.Values{"account_id": {"test:wallet"}, "amount": {"-12.50"}, "reason": {reason}}
		}

		confirm := agent.preview("adjustment.propose", form("ticket 1"))
		st, body := agent.send("POST", "/console/act/adjustment.propose", confirm)
		if st != http.StatusSeeOther {
			t.Fatalf("confirm: %d %s", st, body)
		}
		st, body = agent.send("POST", "/console/act/adjustment.propose", confirm)
		if st != http.StatusConflict || !strings.Contains(body, "already submitted") {
			t.Fatalf("second submit: %d %s", st, body)
		}
		if n := e.count("adjustments", "reason = ?", "ticket 1"); n != 1 {
			t.Fatalf("adjustments proposed by one confirmation submitted twice: %d", n)
		}

		// Submissions racing: every one passes the check that the token is
		// live before any acts; the write's transaction still lets only
		// one of them act.
		confirm = agent.preview("adjustment.propose", form("ticket 2"))
		var wg sync.WaitGroup
		codes := make([]int, 6)
		var arrived sync.WaitGroup
		arrived.Add(len(codes))
		allIn := make(chan struct{})
		go func() { arrived.Wait(); close(allIn) }()
		console.SetAfterConfirmCheck(func() {
			arrived.Done()
			select {
			case <-allIn:
			case <-time.After(10 * time.Second):
			}
		})
		defer console.SetAfterConfirmCheck(nil)
		for i := range codes {
			wg.Go(func() { codes[i], _ = agent.send("POST", "/console/act/adjustment.propose", confirm) })
		}
		wg.Wait()
		console.SetAfterConfirmCheck(nil)
		slices.Sort(codes)
		if want := []int{http.StatusSeeOther, 409, 409, 409, 409, 409}; !slices.Equal(codes, want) {
			t.Fatalf("racing submissions: %v", codes)
		}
		if n := e.count("adjustments", "reason = ?", "ticket 2"); n != 1 {
			t.Fatalf("adjustments proposed by racing submissions: %d", n)
		}

		// A token confirms what was previewed, nothing else.
		confirm = agent.preview("adjustment.propose", form("ticket 3"))
		confirm.Set("amount", "-4999.00")
		if st, body := agent.send("POST", "/console/act/adjustment.propose", confirm); st != http.StatusConflict {
			t.Fatalf("changed amount: %d %s", st, body)
		}
		confirm.Del("confirmation")
		confirm.Set("amount", "-12.50")
		if st, body := agent.send("POST", "/console/act/adjustment.propose", confirm); st != http.StatusConflict {
			t.Fatalf("no token: %d %s", st, body)
		}
		if n := e.count("adjustments", "reason = ?", "ticket 3"); n != 0 {
			t.Fatalf("adjustments proposed without a valid token: %d", n)
		}
		if n := e.count("audit_log", "action = ?", "adjustment.propose"); n != 2 {
			t.Fatalf("adjustment.propose audit records: %d", n)
		}
	})
}

// TestRejectAdjustmentInConsole: a supervisor rejects a proposal from the
// adjustment page; it is rejected, audited, posts nothing and can no
// longer be approved.
func TestRejectAdjustmentInConsole(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newServers(t, b)
		ctx := context.Background()
		if _, err := e.srv.Ledger.EnsureAccount(ctx, ledger.AccountSpec{Code: "test:wallet", Currency: money.CNY, Kind: ledger.Liability}); err != nil {
			t.Fatal(err)
		}
		maker, _ := e.staff(auth.Agent, "Ana Agent")
		checker, tok := e.staff(auth.Supervisor, "Chen Checker")
		acct, err := e.srv.Ledger.AccountByCode(ctx, "test:wallet")
		if err != nil {
			t.Fatal(err)
		}
		adj, err := e.srv.Adjustments.Propose(ctx, acct.ID, money.New(1234, money.CNY), "goodwill", maker.ID)
		if err != nil {
			t.Fatal(err)
		}
		sup := e.httpSignIn(tok)
		if _, page := sup.send("GET", "/console/adjustments/"+adj.ID, nil); !strings.Contains(page, `id="reject-form"`) || !strings.Contains(page, `id="approve-form"`) {
			t.Fatalf("no reject form next to approve: %s", page)
		}
		confirm := sup.preview("adjustment.reject", url.Values{"target": {adj.ID}, "reason": {"duplicate of another ticket"}})
		if st, body := sup.send("POST", "/console/act/adjustment.reject", confirm); st != http.StatusSeeOther {
			t.Fatalf("reject: %d %s", st, body)
		}
		got, err := e.srv.Adjustments.Get(ctx, adj.ID)
		if err != nil || got.Status != adjustment.Rejected || got.RejectedBy != checker.ID || got.RejectReason != "duplicate of another ticket" {
			t.Fatalf("after reject: %+v %v", got, err)
		}
		if _, err := e.srv.Adjustments.Approve(ctx, adj.ID, checker); err == nil {
			t.Fatal("a rejected adjustment was approved")
		}
		if n := e.count("ledger_transfers", "reference = ?", adj.Reference()); n != 0 {
			t.Fatalf("a rejected adjustment posted %d transfers", n)
		}
		if got := e.auditActions(adj.ID); !slices.Equal(got, []string{"adjustment.reject"}) {
			t.Fatalf("audit: %v", got)
		}
	})
}

// TestRetryFailedWebhookDelivery: a supervisor sees an endpoint's failed
// delivery in the console and retries it; it is pending again, audited as
// webhook.redeliver, and the dispatcher delivers it to the endpoint.
func TestRetryFailedWebhookDelivery(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newServers(t, b)
		ctx := context.Background()
		var up atomic.Bool
		var delivered atomic.Int64
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if !up.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			delivered.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		defer receiver.Close()
		ptn, _, err := e.srv.Auth.CreatePartner(ctx, ids.New(ids.Partner), "Hook partner", "")
		if err != nil {
			t.Fatal(err)
		}
		ep, _, err := e.srv.Webhooks.CreateEndpoint(ctx, ptn.ID, receiver.URL, []string{"*"}, "")
		if err != nil {
			t.Fatal(err)
		}
		var eventID string
		if err := b.DB.Transact(ctx, func(tx *db.Tx) error {
			eventID, err = e.srv.Webhooks.Emit(tx, ptn.ID, "account.frozen", map[string]string{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n, err := e.srv.Webhooks.DispatchOnce(ctx); err != nil || n != 1 {
			t.Fatalf("dispatch: %d %v", n, err)
		}
		ds, err := e.srv.Webhooks.Deliveries(ctx, eventID)
		if err != nil || len(ds) != 1 || ds[0].LastStatusCode != http.StatusServiceUnavailable {
			t.Fatalf("deliveries: %+v %v", ds, err)
		}
		// The remaining day of retries (webhook's own tests walk it) ends
		// in failed.
		if err := b.DB.WithContext(ctx).Exec("UPDATE webhook_deliveries SET status = 'failed' WHERE id = ?", ds[0].ID).Error; err != nil {
			t.Fatal(err)
		}
		target := strconv.FormatInt(ds[0].ID, 10)

		_, agentTok := e.staff(auth.Agent, "Ana Agent")
		agent := e.httpSignIn(agentTok)
		if _, page := agent.send("GET", "/console/webhooks/"+ep.ID, nil); !strings.Contains(page, `id="failed-deliveries"`) || strings.Contains(page, "retry-form") {
			t.Fatalf("agent's endpoint page: %s", page)
		}
		_, tok := e.staff(auth.Supervisor, "Sam Supervisor")
		sup := e.httpSignIn(tok)
		if _, page := sup.send("GET", "/console/webhooks", nil); !strings.Contains(page, "/console/webhooks/"+ep.ID) {
			t.Fatalf("failing endpoint not linked: %s", page)
		}
		if _, page := sup.send("GET", "/console/webhooks/"+ep.ID, nil); !strings.Contains(page, `name="target" value="`+target+`"`) {
			t.Fatalf("no retry for the failed delivery: %s", page)
		}
		confirm := sup.preview("webhook.redeliver", url.Values{"target": {target}, "reason": {"partner fixed their receiver"}})
		if st, body := sup.send("POST", "/console/act/webhook.redeliver", confirm); st != http.StatusSeeOther {
			t.Fatalf("retry: %d %s", st, body)
		}
		if d, err := e.srv.Webhooks.Delivery(ctx, ds[0].ID); err != nil || d.Status != "pending" {
			t.Fatalf("after retry: %+v %v", d, err)
		}
		if got := e.auditActions(target); !slices.Equal(got, []string{"webhook.redeliver"}) {
			t.Fatalf("audit: %v", got)
		}
		up.Store(true)
		if n, err := e.srv.Webhooks.DispatchOnce(ctx); err != nil || n != 1 {
			t.Fatalf("dispatch after retry: %d %v", n, err)
		}
		if d, _ := e.srv.Webhooks.Delivery(ctx, ds[0].ID); d.Status != "succeeded" || delivered.Load() != 1 {
			t.Fatalf("after redelivery: %+v, delivered %d", d, delivered.Load())
		}
	})
}
