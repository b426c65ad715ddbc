package cardnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
)

func newServer(t *testing.T, s *sim) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(cardnet.NewHandler(s.e))
	t.Cleanup(srv.Close)
	return srv
}

// do sends a request and decodes a JSON answer into out (when not nil).
func do(t *testing.T, client *http.Client, method, url, body string, out any) (int, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, nil
}

func messageBody(t *testing.T, m cardnet.Message) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type errBody struct {
	Error struct{ Code, Message string } `json:"error"`
}

func TestHTTPMessagesAndErrors(t *testing.T) {
	s := newSim(t)
	srv := newServer(t, s)
	c := srv.Client()

	var r cardnet.Response
	m := s.auth("4242424242424242", 100_00, "USD")
	if st, err := do(t, c, "POST", srv.URL+"/v1/messages", messageBody(t, m), &r); err != nil || st != 200 {
		t.Fatalf("status %d %v", st, err)
	}
	if r.MTI != "0110" || r.ResponseCode != "00" || r.STAN != m.STAN || r.RRN != m.RRN || len(r.AuthCode) != 6 {
		t.Fatalf("answer %+v", r)
	}

	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown field", "POST", "/v1/messages", `{"mti":"0100","pin":"1234"}`, 400, "unknown_field"},
		{"bad json", "POST", "/v1/messages", `{"mti":`, 400, "invalid_json"},
		{"trailing", "POST", "/v1/messages", `{"mti":"0800"} {}`, 400, "invalid_json"},
		{"amount as number", "POST", "/v1/messages", `{"mti":"0100","amount":100}`, 400, "invalid_json"},
		{"unknown mti", "POST", "/v1/messages", `{"mti":"0300","stan":"000001","rrn":"000000000001"}`, 400, "bad_message"},
		{"no stan", "POST", "/v1/messages", `{"mti":"0100","rrn":"000000000001"}`, 400, "bad_message"},
		{"no route", "GET", "/v2/nothing", ``, 404, "not_found"},
		{"bad date", "GET", "/v1/settlement?date=25-11-2026", ``, 400, "invalid_date"},
		{"bad fault", "POST", "/admin/faults", `{"network":"visa","timeout_rate":1.5}`, 400, "invalid_fault"},
		{"bad fault network", "POST", "/admin/faults", `{"network":"unionpay"}`, 400, "invalid_fault"},
		{"fault unknown field", "POST", "/admin/faults", `{"network":"visa","rate":1}`, 400, "unknown_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e errBody
			st, err := do(t, c, tt.method, srv.URL+tt.path, tt.body, &e)
			if err != nil || st != tt.status || e.Error.Code != tt.code {
				t.Fatalf("status %d code %q (%s), want %d %q; %v", st, e.Error.Code, e.Error.Message, tt.status, tt.code, err)
			}
		})
	}
	var h map[string]string
	if st, _ := do(t, c, "GET", srv.URL+"/healthz", "", &h); st != 200 || h["status"] != "ok" {
		t.Fatalf("healthz %d %v", st, h)
	}
}

func TestHTTPAdminFaults(t *testing.T) {
	s := newSim(t)
	srv := newServer(t, s)
	c := srv.Client()

	var list struct{ Data []cardnet.Fault }
	do(t, c, "POST", srv.URL+"/admin/faults", `{"network":"visa","timeout_rate":0.5,"error_rate":0.1,"latency_ms":200}`, &list)
	do(t, c, "POST", srv.URL+"/admin/faults", `{"error_rate":0.25}`, &list)
	do(t, c, "GET", srv.URL+"/admin/faults", "", &list)
	want := []cardnet.Fault{
		{Network: "*", ErrorRate: 0.25},
		{Network: "visa", TimeoutRate: 0.5, ErrorRate: 0.1, LatencyMS: 200},
	}
	if diff := cmp.Diff(want, list.Data); diff != "" {
		t.Fatalf("faults (-want +got):\n%s", diff)
	}
	do(t, c, "DELETE", srv.URL+"/admin/faults?network=visa", "", &list)
	if diff := cmp.Diff(want[:1], list.Data); diff != "" {
		t.Fatalf("after deleting visa (-want +got):\n%s", diff)
	}
	do(t, c, "DELETE", srv.URL+"/admin/faults", "", &list)
	if len(list.Data) != 0 {
		t.Fatalf("after clearing: %+v", list.Data)
	}
}

func TestHTTPFaultError(t *testing.T) {
	s := newSim(t)
	srv := newServer(t, s)
	if err := s.e.SetFault(cardnet.Fault{Network: "visa", ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	m := s.purchase("4242424242424242", 100_00, "USD")
	var e errBody
	if st, _ := do(t, srv.Client(), "POST", srv.URL+"/v1/messages", messageBody(t, m), &e); st != 503 {
		t.Fatalf("status %d", st)
	}
	// Other networks are not affected, and nothing was decided.
	var r cardnet.Response
	do(t, srv.Client(), "POST", srv.URL+"/v1/messages", messageBody(t, s.purchase("5555555555554444", 1, "USD")), &r)
	if r.ResponseCode != "00" {
		t.Fatalf("mastercard %+v", r)
	}
	s.e.ClearFaults("")
	if r := s.expect(m, "00"); r.Replayed {
		t.Fatal("a 503 decided the message")
	}
}

// TestHTTPFaultTimeoutDecidesAndHolds: the answer is lost, not the message.
func TestHTTPFaultTimeoutDecidesAndHolds(t *testing.T) {
	s := newSim(t)
	srv := newServer(t, s)
	if err := s.e.SetFault(cardnet.Fault{Network: "mastercard", TimeoutRate: 1}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 200 * time.Millisecond}
	m := s.purchase("5555555555554444", 100_00, "USD")
	start := time.Now()
	if _, err := do(t, client, "POST", srv.URL+"/v1/messages", messageBody(t, m), nil); err == nil {
		t.Fatal("answered despite timeout fault")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("client waited %v", d)
	}
	s.e.ClearFaults("mastercard")
	if r := s.expect(m, "00"); !r.Replayed {
		t.Fatal("the message was not decided before the answer was withheld")
	}
}

func TestHTTPLatencyAndMaxHang(t *testing.T) {
	s := newSim(t)
	s.e = cardnet.New(cardnet.Config{Now: s.clock.Now, Seed: 1, MaxHang: 300 * time.Millisecond})
	srv := newServer(t, s)
	if err := s.e.SetFault(cardnet.Fault{Network: "jcb", LatencyMS: 250}); err != nil {
		t.Fatal(err)
	}
	var r cardnet.Response
	start := time.Now()
	do(t, srv.Client(), "POST", srv.URL+"/v1/messages", messageBody(t, s.auth("3566002020360505", 0, "")), &r)
	if d := time.Since(start); d < 250*time.Millisecond || r.ResponseCode != "00" {
		t.Fatalf("latency %v, answer %+v", d, r)
	}
	// The no-answer card is held at most MaxHang, then 504.
	var e errBody
	start = time.Now()
	st, err := do(t, srv.Client(), "POST", srv.URL+"/v1/messages", messageBody(t, s.auth("4000000000000259", 100, "USD")), &e)
	if err != nil || st != 504 || e.Error.Code != "no_answer" {
		t.Fatalf("status %d %+v %v", st, e, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Fatalf("held %v", d)
	}
}

func TestHTTPLatencyCancelledDecidesNothing(t *testing.T) {
	s := newSim(t)
	srv := newServer(t, s)
	if err := s.e.SetFault(cardnet.Fault{LatencyMS: 500}); err != nil {
		t.Fatal(err)
	}
	m := s.purchase("4242424242424242", 100_00, "USD")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/messages", bytes.NewReader([]byte(messageBody(t, m))))
	resp, err := srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	time.Sleep(600 * time.Millisecond) // past the latency
	s.e.ClearFaults("")
	if r := s.expect(m, "00"); r.Replayed {
		t.Fatal("a cancelled request was decided")
	}
}

func TestHTTPSettlement(t *testing.T) {
	s := newSim(t)
	srv := newServer(t, s)
	s.expect(s.purchase("6011111111111117", 42_00, "USD"), "00")
	var rep cardnet.Report
	if st, _ := do(t, srv.Client(), "GET", srv.URL+"/v1/settlement?date=2026-11-25", "", &rep); st != 200 {
		t.Fatalf("status %d", st)
	}
	if len(rep.Groups) != 1 || rep.Groups[0].Network != "discover" || rep.Groups[0].Net != "4200" ||
		rep.Groups[0].Lines[0].PAN != "601111******1117" {
		t.Fatalf("report %+v", rep)
	}
	do(t, srv.Client(), "GET", srv.URL+"/v1/settlement?date=2026-11-24", "", &rep)
	if rep.Groups == nil || len(rep.Groups) != 0 {
		t.Fatalf("empty day %+v", rep)
	}
}

func TestLogsKeepNoPANOrCVC(t *testing.T) {
	var logs bytes.Buffer
	c := &clock{now: testDay}
	s := &sim{t: t, clock: c, e: cardnet.New(cardnet.Config{Now: c.Now, Seed: 1,
		Logger: slogJSON(&logs)})}
	srv := newServer(t, s)
	for _, card := range cardnet.TestCards() {
		if card.NoAnswer() {
			continue
		}
		m := s.auth(card.PAN, 0, "")
		m.OTP = cardnet.OTP
		do(t, srv.Client(), "POST", srv.URL+"/v1/messages", messageBody(t, m), nil)
	}
	out := logs.String()
	for _, card := range cardnet.TestCards() {
		if strings.Contains(out, card.PAN) {
			t.Errorf("log contains %s", card.PAN)
		}
	}
	if strings.Contains(out, `"cvc"`) || strings.Contains(out, cardnet.OTP) {
		t.Errorf("log contains the CVC or OTP:\n%s", out)
	}
	if !strings.Contains(out, "424242******4242") {
		t.Errorf("log lacks masked PANs:\n%s", out)
	}
}
