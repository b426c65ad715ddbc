package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/app"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/recon"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
)

// api is a running pair of servers over real listeners.
type api struct {
	t          *testing.T
	b          testenv.Backend
	srv        *Server
	partner    *httptest.Server
	admin      *httptest.Server
	partnerKey string
	supervisor string
	logs       *logBuffer
	vault      *vault.Vault
	cardnet    string
}

var testMasterKey = bytes.Repeat([]byte{7}, 32)

func newAPI(t *testing.T, b testenv.Backend, mutate ...func(*Deps)) *api {
	t.Helper()
	v, err := vault.New(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	network := httptest.NewServer(cardnet.NewHandler(cardnet.New(cardnet.Config{MaxHang: 3 * time.Second})))
	t.Cleanup(network.Close)
	svc, err := app.New(context.Background(), b.DB, v, log, app.Options{AllowPrivateWebhooks: true, CardnetURL: network.URL,
		NetworkTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	authSvc := svc.Auth
	d := Deps{DB: b.DB, KV: b.KV, Auth: authSvc, Vault: v, Webhooks: svc.Webhooks, KYC: svc.KYC, Accounts: svc.Accounts, FX: svc.FX, Cards: svc.Cards, Ledger: svc.Ledger, Adjustments: svc.Adjustments, Prepaid: svc.Prepaid, Escrow: svc.Escrow, Settlement: recon.HTTPReports{BaseURL: network.URL}, Log: log,
		Registry: prometheus.NewRegistry(), RateLimit: 0,
		// High enough for tests that send many requests (and failed
		// authentications) from 127.0.0.1, but on, so every test runs
		// through the throttles; their own tests set low values.
		AuthFailureLimit: 10000, AdminRateLimit: 10000}
	for _, m := range mutate {
		m(&d)
	}
	srv, err := NewServer(d)
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, b: b, srv: srv, logs: logs, vault: v, cardnet: network.URL}
	a.partner = httptest.NewServer(srv.Partner())
	a.admin = httptest.NewServer(srv.Admin())
	t.Cleanup(a.partner.Close)
	t.Cleanup(a.admin.Close)
	ctx := context.Background()
	_, a.partnerKey, err = authSvc.CreatePartner(ctx, ids.New(ids.Partner), "Test partner", "")
	if err != nil {
		t.Fatal(err)
	}
	_, a.supervisor, err = authSvc.CreateStaff(ctx, ids.New(ids.Staff), "Sue", auth.Supervisor, "", "system:test")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *api) staff(role auth.Role) string {
	a.t.Helper()
	_, tok, err := a.srv.Auth.CreateStaff(context.Background(), ids.New(ids.Staff), "Staff "+role.String(), role, "", "system:test")
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, r.Body)
	}
	return m
}

// errCode returns error.code of an error response, after checking its shape.
func (r resp) errCode(t *testing.T) string {
	t.Helper()
	m := r.json(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("not an error shape: %s", r.Body)
	}
	for _, k := range []string{"type", "code", "message", "request_id"} {
		if s, _ := e[k].(string); s == "" {
			t.Fatalf("error without %s: %s", k, r.Body)
		}
	}
	if e["request_id"] != r.Header.Get("Request-Id") {
		t.Fatalf("error request_id %v != header %q", e["request_id"], r.Header.Get("Request-Id"))
	}
	return e["code"].(string)
}

// errMessage returns error.message of an error response.
func (r resp) errMessage(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func (r resp) errParam(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	p, _ := e["param"].(string)
	return p
}

func do(t *testing.T, method, url, token, body string, headers ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.Header.Get("Request-Id") == "" {
		t.Fatalf("%s %s: no Request-Id header", method, url)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}
