package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/app"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/console"
	"github.com/inbound-gateway/inbound/internal/httpapi"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/recon"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/kyc"
)

// -update-screenshots writes the screenshots of the main screens to
// docs/console/ (docs/CONSOLE.md shows them).
var updateScreenshots = flag.Bool("update-screenshots", false, "write the console screenshots to docs/console/")

const chromiumPath = "/usr/bin/chromium"

// One headless Chromium serves every test of the package; each signed-in
// person gets their own browser context (separate cookies).
var (
	browser    context.Context
	browserErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runWithBrowser(m))
}

func runWithBrowser(m *testing.M) int {
	if _, err := os.Stat(chromiumPath); err != nil {
		browserErr = fmt.Errorf("no browser at %s (apt-get install chromium): %w", chromiumPath, err)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "console-chromium-")
	if err != nil {
		browserErr = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		browserErr = fmt.Errorf("start %s: %w", chromiumPath, err)
	}
	browser = ctx
	return m.Run()
}

// needBrowser fails the test when there is no browser in CI or with the
// real services configured, and skips it only in a plain local run.
func needBrowser(t *testing.T) {
	t.Helper()
	if browserErr == nil {
		return
	}
	if os.Getenv("CI") == "true" || testenv.HasReal() {
		t.Fatalf("browser tests need Chromium: %v", browserErr)
	}
	t.Skipf("no browser (%v); CI runs these", browserErr)
}

var testMasterKey = bytes.Repeat([]byte{9}, 32)

// env is a running admin listener (API and console) and partner listener.
type env struct {
	t          *testing.T
	b          testenv.Backend
	srv        *httpapi.Server
	admin      *httptest.Server
	partner    *httptest.Server
	partnerKey string
}

func newEnv(t *testing.T, b testenv.Backend) *env {
	t.Helper()
	needBrowser(t)
	return newServers(t, b)
}

// newServers starts the listeners without needing a browser, for tests
// that speak HTTP to the console directly.
func newServers(t *testing.T, b testenv.Backend) *env {
	t.Helper()
	v, err := vault.New(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	network := httptest.NewServer(cardnet.NewHandler(cardnet.New(cardnet.Config{MaxHang: 3 * time.Second})))
	t.Cleanup(network.Close)
	svc, err := app.New(context.Background(), b.DB, v, log, app.Options{AllowPrivateWebhooks: true, CardnetURL: network.URL, NetworkTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpapi.NewServer(httpapi.Deps{DB: b.DB, KV: b.KV, Auth: svc.Auth, Vault: v, Webhooks: svc.Webhooks, KYC: svc.KYC,
		Accounts: svc.Accounts, FX: svc.FX, Cards: svc.Cards, Ledger: svc.Ledger, Adjustments: svc.Adjustments, Prepaid: svc.Prepaid,
		Escrow: svc.Escrow, Settlement: recon.HTTPReports{BaseURL: network.URL}, Log: log, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Console, err = console.New(srv, console.Options{}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, b: b, srv: srv, admin: httptest.NewServer(srv.Admin()), partner: httptest.NewServer(srv.Partner())}
	t.Cleanup(e.admin.Close)
	t.Cleanup(e.partner.Close)
	if _, e.partnerKey, err = svc.Auth.CreatePartner(context.Background(), ids.New(ids.Partner), "Test partner", ""); err != nil {
		t.Fatal(err)
	}
	return e
}

// staff creates an active member and returns the member and token.
func (e *env) staff(role auth.Role, name string) (auth.Staff, string) {
	e.t.Helper()
	st, tok, err := e.srv.Auth.CreateStaff(context.Background(), ids.New(ids.Staff), name, role, "", "system:test")
	if err != nil {
		e.t.Fatal(err)
	}
	return st, tok
}

// call sends a partner API request and decodes the JSON answer.
func (e *env) call(method, path, body string) map[string]any {
	e.t.Helper()
	req, err := http.NewRequest(method, e.partner.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.partnerKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", ids.New("k"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		e.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// td3 builds a passport MRZ with correct check digits.
func td3(state, surname, given, number, dob, sex, expiry string) []string {
	pad := func(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }
	l1 := pad("P<"+pad(state, 3)+surname+"<<"+strings.ReplaceAll(given, " ", "<"), 44)
	cd := func(s string) string { return string(kyc.CheckDigit(s)) }
	doc, opt := pad(number, 9), pad("", 14)
	docPart, dobPart, expPart, optPart := doc+cd(doc), dob+cd(dob), expiry+cd(expiry), opt+cd(opt)
	return []string{l1, docPart + pad(state, 3) + dobPart + sex + expPart + optPart + cd(docPart+dobPart+expPart+optPart)}
}

func (e *env) visitor(mrz []string) (id, status string) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"mrz": mrz})
	v := e.call("POST", "/v1/visitors", string(b))
	return v["id"].(string), v["kyc"].(map[string]any)["status"].(string)
}

func passportNumber() string { id := ids.New("x"); return strings.ToUpper(id[len(id)-8:]) }

// fundedVisitor is an approved visitor with CNY 970.00 loaded.
func (e *env) fundedVisitor() string {
	e.t.Helper()
	vis, st := e.visitor(td3("UTO", "ERIKSSON", "ANNA MARIA", passportNumber(), "740812", "F", "340415"))
	if st != "approved" {
		e.t.Fatalf("visitor %s is %s", vis, st)
	}
	card := e.call("POST", "/v1/visitors/"+vis+"/cards", `{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123","holder_name":"ANNA ERIKSSON"}`)["id"].(string)
	q := e.call("POST", "/v1/fx/quotes", `{"card_id":"`+card+`","buy":{"value":"1000.00","currency":"CNY"}}`)["id"].(string)
	if l := e.call("POST", "/v1/visitors/"+vis+"/loads", `{"card_id":"`+card+`","quote_id":"`+q+`"}`); l["status"] != "succeeded" {
		e.t.Fatalf("load: %v", l)
	}
	return vis
}

// payment pays amount from vis to a new merchant; it stays held.
func (e *env) payment(vis, amount, description string) string {
	e.t.Helper()
	mer := e.call("POST", "/v1/merchants", `{"name":"Tea House","mcc":"5812"}`)["id"].(string)
	b, _ := json.Marshal(map[string]any{"visitor_id": vis, "merchant_id": mer, "amount": map[string]string{"value": amount, "currency": "CNY"},
		"out_trade_no": "ORDER-" + ids.New("o")[2:12], "description": description})
	return e.call("POST", "/v1/payments", string(b))["id"].(string)
}

// person is one signed-in browser session (its own cookie jar).
type person struct {
	t   *testing.T
	e   *env
	ctx context.Context
}

func (e *env) person() *person {
	e.t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	e.t.Cleanup(cancel)
	// The first run opens the tab, which lives as long as the context of
	// that run: run once without a deadline.
	if err := chromedp.Do(ctx); err != nil {
		e.t.Fatalf("open a browser tab: %v", err)
	}
	return &person{t: e.t, e: e, ctx: ctx}
}

// do runs browser actions with a deadline, failing the test on error.
func (p *person) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	run(p, what, chromedp.Steps(actions...))
}

// run runs one action with a deadline and returns its value, failing the
// test (with the page's address and text) on error.
func run[T any](p *person, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		short, cancel2 := context.WithTimeout(p.ctx, 2*time.Second)
		defer cancel2()
		loc, _ := chromedp.Run(short, chromedp.Location())
		body, _ := chromedp.Run(short, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		p.t.Fatalf("%s: %v (at %s)\n%s", what, err, loc, body)
	}
	return v
}

func (p *person) open(path string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate(p.e.admin.URL+path), chromedp.WaitReady(chromedp.CSS("body")))
}

func (p *person) signIn(token string) {
	p.t.Helper()
	p.open("/console/signin")
	p.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#who")))
}

func (p *person) text(sel string) string {
	p.t.Helper()
	return run(p, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (p *person) has(sel string) bool {
	p.t.Helper()
	return run(p, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel))) > 0
}

// eval runs a script in the page (scripts run through the DevTools
// protocol, not through the page's CSP).
func (p *person) eval(what, script string) {
	p.t.Helper()
	run(p, what, chromedp.Evaluate[bool]("(function(){"+script+"; return true})()"))
}

// fill types into a field after clearing it.
func (p *person) fill(sel, value string) {
	p.t.Helper()
	p.do("fill "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	p.eval("clear "+sel, fmt.Sprintf("document.querySelector(%q).value = ''", sel))
	p.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
}

func (p *person) choose(sel, value string) {
	p.t.Helper()
	p.do("choose "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
}

// submit clicks a button and waits for the next page.
func (p *person) submit(button, waitFor string) {
	p.t.Helper()
	p.do("submit "+button, chromedp.Click(chromedp.CSS(button)), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

func (p *person) contains(sel string, parts ...string) {
	p.t.Helper()
	got := p.text(sel)
	for _, part := range parts {
		if !strings.Contains(got, part) {
			p.t.Fatalf("%s lacks %q:\n%s", sel, part, got)
		}
	}
}

func (p *person) value(sel string) string {
	p.t.Helper()
	return run(p, "value "+sel, chromedp.Value(chromedp.CSS(sel)))
}

func (p *person) location() string {
	p.t.Helper()
	return run(p, "location", chromedp.Location())
}

// screenshot saves the viewport as docs/console/name.png with
// -update-screenshots (embedded backend only, so one run writes them).
func (p *person) screenshot(name string) {
	p.t.Helper()
	if !*updateScreenshots || p.e.b.Name != "embedded" {
		return
	}
	p.do("viewport", chromedp.EmulateViewport(1280, 800))
	png := run(p, "screenshot", chromedp.CaptureScreenshot())
	path := filepath.Join("..", "..", "docs", "console", name+".png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		p.t.Fatal(err)
	}
}

// auditActions lists the audit actions recorded for target.
func (e *env) auditActions(target string) []string {
	e.t.Helper()
	var out []string
	if err := e.b.DB.WithContext(context.Background()).Table("audit_log").Where("target = ?", target).Order("id").Pluck("action", &out).Error; err != nil {
		e.t.Fatal(err)
	}
	return out
}
