package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/internal/webhook"
	"github.com/inbound-gateway/inbound/kyc"
)

// With INBOUND_DATABASE_URL set, a start without INBOUND_MASTER_KEY is
// refused before anything else: a key generated per replica (what an
// emptyDir data dir gives every pod) splits sealed data and lookup indexes
// between replicas.
func TestRefusesDatabaseURLWithoutMasterKey(t *testing.T) {
	// A URL nothing listens on: the refusal must come before any connection.
	dbURL := "postgres://inbound@127.0.0.1:1/inbound?sslmode=disable"
	if testenv.HasReal() {
		dbURL = testenv.Real(t).DBURL
	}
	for _, args := range [][]string{{"serve"}, {"keys", "reseal"}, {"keys", "status"}} {
		env := loopbackEnv(t)
		env["INBOUND_DATABASE_URL"] = dbURL
		err := run(context.Background(), args, func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "INBOUND_MASTER_KEY is required") || !strings.Contains(err.Error(), "inbound keys generate") {
			t.Fatalf("%v: want a refusal naming INBOUND_MASTER_KEY and how to make one, got %v", args, err)
		}
	}
}

func TestKeysGenerate(t *testing.T) {
	var a, b bytes.Buffer
	env := loopbackEnv(t)
	env["INBOUND_DATABASE_URL"] = "postgres://inbound@127.0.0.1:1/inbound?sslmode=disable" // not needed, not touched
	getenv := func(k string) string { return env[k] }
	if err := run(context.Background(), []string{"keys", "generate"}, getenv, &a, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"keys", "generate"}, getenv, &b, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.ParseKey(a.String()); err != nil || a.String() == b.String() {
		t.Fatalf("generated %q and %q", a.String(), b.String())
	}
	if err := run(context.Background(), []string{"keys", "frob"}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown keys verb accepted")
	}
}

// td3 builds a valid passport MRZ.
func td3(state, surname, given, number, dob, sex, expiry string) []string {
	pad := func(s string, n int) string { return s + strings.Repeat("<", n-len(s)) }
	l1 := pad("P<"+pad(state, 3)+surname+"<<"+strings.ReplaceAll(given, " ", "<"), 44)
	cd := func(s string) string { return string(kyc.CheckDigit(s)) }
	doc := pad(number, 9)
	opt := pad("", 14)
	docPart, dobPart, expPart, optPart := doc+cd(doc), dob+cd(dob), expiry+cd(expiry), opt+cd(opt)
	l2 := docPart + pad(state, 3) + dobPart + sex + expPart + optPart + cd(docPart+dobPart+expPart+optPart)
	return []string{l1, l2}
}

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func (r httpResult) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON: %s", r.body)
	}
	return m
}

func (r httpResult) code(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func call(t *testing.T, method, url, token, body string, headers ...string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return httpResult{res.StatusCode, res.Header, b}
}

// hookReceiver records webhook deliveries and whether their signature
// verified under the secret the endpoint was created with.
type hookReceiver struct {
	mu       sync.Mutex
	secret   string
	verified map[string]bool // event type -> a delivery verified
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var ev struct{ Type string }
	_ = json.Unmarshal(b, &ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	if webhook.Verify(h.secret, r.Header.Get("Inbound-Signature"), b, time.Now(), 5*time.Minute) {
		h.verified[ev.Type] = true
	}
	w.WriteHeader(200)
}

func (h *hookReceiver) waitVerified(t *testing.T, typ string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		ok := h.verified[typ]
		h.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s delivery signed with the endpoint's secret", typ)
}

// TestKeyRotationEndToEnd seals everything under K1, rotates to K2 with K1
// as previous, re-seals, drops K1, and checks after each step that what was
// sealed reads (idempotent replay, card payment, webhook signing) and that
// the lookups by keyed index still find it (duplicate passport, passport
// search, card fingerprint).
func TestKeyRotationEndToEnd(t *testing.T) {
	type backend struct {
		name string
		env  func(t *testing.T) map[string]string
	}
	backends := []backend{{"embedded", func(t *testing.T) map[string]string { return loopbackEnv(t) }}}
	if testenv.HasReal() {
		backends = append(backends, backend{"postgres", func(t *testing.T) map[string]string {
			b := testenv.Real(t)
			env := loopbackEnv(t)
			env["INBOUND_DATABASE_URL"] = b.DBURL
			env["INBOUND_REDIS_URL"] = b.Redis
			return env
		}})
	}
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			const partnerKey, staffToken = "sk_rotation_partner_key_00000001", "st_rotation_staff_token_00000001"
			k1, k2, k3 := vault.GenerateKey(), vault.GenerateKey(), vault.GenerateKey()
			k1ID := keyIDOf(t, k1)
			env := bk.env(t)
			env["INBOUND_BOOTSTRAP_PARTNER_KEY"] = partnerKey
			env["INBOUND_BOOTSTRAP_STAFF_TOKEN"] = staffToken
			env["INBOUND_WEBHOOK_ALLOW_PRIVATE"] = "true"
			env["INBOUND_JOB_INTERVAL"] = "100ms"
			env["INBOUND_MASTER_KEY"] = k1
			getenv := func(k string) string { return env[k] }

			hooks := &hookReceiver{verified: map[string]bool{}}
			recv := httptest.NewServer(hooks)
			t.Cleanup(recv.Close)

			mrz, _ := json.Marshal(td3("UTO", "ERIKSSON", "ANNA MARIA", "R0TAT10N1", "740812", "F", "340415"))
			visitorBody := `{"mrz":` + string(mrz) + `}`

			// 1. Everything sealed under K1.
			in := start(t, env)
			first := call(t, "POST", in.partner+"/v1/visitors", partnerKey, visitorBody, "Idempotency-Key", "rotation-visitor")
			if first.status != 201 || first.json(t)["kyc"].(map[string]any)["status"] != "approved" {
				t.Fatalf("visitor: %d %s", first.status, first.body)
			}
			vis := first.json(t)["id"].(string)
			// A card of the visitor's own (not a published test card,
			// which any visitor may bind), so the fingerprint lookup refuses
			// it to a second visitor.
			cardBody := `{"number":"4111111111111111","exp_month":12,"exp_year":2030,"cvc":"123","holder_name":"ANNA ERIKSSON"}`
			bound := call(t, "POST", in.partner+"/v1/visitors/"+vis+"/cards", partnerKey, cardBody, "Idempotency-Key", ids.New("k"))
			if bound.status != 201 || bound.json(t)["status"] != "verified" {
				t.Fatalf("card: %d %s", bound.status, bound.body)
			}
			card := bound.json(t)["id"].(string)
			ep := call(t, "POST", in.partner+"/v1/webhook_endpoints", partnerKey, `{"url":"`+recv.URL+`","events":["*"]}`, "Idempotency-Key", ids.New("k"))
			if ep.status != 201 {
				t.Fatalf("webhook endpoint: %d %s", ep.status, ep.body)
			}
			hooks.mu.Lock()
			hooks.secret = ep.json(t)["secret"].(string)
			hooks.mu.Unlock()
			in.stop(t)

			// everythingReads checks, on a running instance, every sealed
			// column and every keyed lookup.
			loads := 0
			everythingReads := func(t *testing.T, in *instance) {
				t.Helper()
				replay := call(t, "POST", in.partner+"/v1/visitors", partnerKey, visitorBody, "Idempotency-Key", "rotation-visitor")
				if replay.status != 201 || replay.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(replay.body, first.body) {
					t.Fatalf("replay of a stored response: %d %v %s", replay.status, replay.header, replay.body)
				}
				if r := call(t, "POST", in.partner+"/v1/visitors", partnerKey, visitorBody, "Idempotency-Key", ids.New("k")); r.status != 409 || r.code(t) != "duplicate_document" {
					t.Fatalf("same passport again (index lookup): %d %s", r.status, r.body)
				}
				found := call(t, "GET", in.admin+"/admin/v1/visitors?issuing_state=UTO&passport_number=R0TAT10N1", staffToken, "")
				if found.status != 200 || !strings.Contains(string(found.body), vis) {
					t.Fatalf("passport search (index lookup): %d %s", found.status, found.body)
				}
				other := call(t, "POST", in.partner+"/v1/visitors", partnerKey,
					`{"mrz":`+mustJSON(td3("UTO", "ERIKSSON", "ANNA MARIA", strings.ToUpper(ids.New("x")[len(ids.New("x"))-9:]), "740812", "F", "340415"))+`}`, "Idempotency-Key", ids.New("k"))
				if other.status != 201 {
					t.Fatalf("second visitor: %d %s", other.status, other.body)
				}
				if r := call(t, "POST", in.partner+"/v1/visitors/"+other.json(t)["id"].(string)+"/cards", partnerKey, cardBody, "Idempotency-Key", ids.New("k")); r.status != 409 || r.code(t) != "card_bound_elsewhere" {
					t.Fatalf("same card for another visitor (fingerprint lookup): %d %s", r.status, r.body)
				}
				q := call(t, "POST", in.partner+"/v1/fx/quotes", partnerKey, `{"card_id":"`+card+`","buy":{"value":"100.00","currency":"CNY"}}`)
				if q.status != 201 {
					t.Fatalf("quote: %d %s", q.status, q.body)
				}
				l := call(t, "POST", in.partner+"/v1/visitors/"+vis+"/loads", partnerKey, `{"card_id":"`+card+`","quote_id":"`+q.json(t)["id"].(string)+`"}`, "Idempotency-Key", ids.New("k"))
				if l.status != 201 || l.json(t)["status"] != "succeeded" {
					t.Fatalf("load (opens the PAN): %d %s", l.status, l.body)
				}
				loads++
				hooks.mu.Lock()
				clear(hooks.verified)
				hooks.mu.Unlock()
				hooks.waitVerified(t, "load.succeeded")
			}

			// 2. K2 current, K1 previous: all of it still reads.
			env["INBOUND_MASTER_KEY"], env["INBOUND_MASTER_KEY_PREVIOUS"] = k2, k1
			in = start(t, env)
			everythingReads(t, in)
			in.stop(t)

			// Dropping K1 before the re-seal is refused at start.
			early := maps.Clone(env)
			delete(early, "INBOUND_MASTER_KEY_PREVIOUS")
			err := run(context.Background(), []string{"serve"}, func(k string) string { return early[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), k1ID) || !strings.Contains(err.Error(), "INBOUND_MASTER_KEY_PREVIOUS") {
				t.Fatalf("start without the key that sealed the data: %v", err)
			}

			// 3. Re-seal, twice: the second run has nothing to do.
			var out bytes.Buffer
			if err := run(context.Background(), []string{"keys", "reseal", "-batch", "2"}, getenv, &out, io.Discard); err != nil || !strings.Contains(out.String(), "done") {
				t.Fatalf("reseal: %v\n%s", err, out.String())
			}
			for _, col := range []string{"visitors.number_sealed", "cards.pan_sealed", "webhook_endpoints.secret_sealed", "idempotency_keys.response_body", "vault_keys.sealed"} {
				if !strings.Contains(out.String(), col+": ") || strings.Contains(out.String(), col+": 0 resealed") {
					t.Fatalf("reseal did not reseal %s:\n%s", col, out.String())
				}
			}
			out.Reset()
			if err := run(context.Background(), []string{"keys", "reseal"}, getenv, &out, io.Discard); err != nil || strings.Count(out.String(), ": 0 resealed") != 5 {
				t.Fatalf("second reseal: %v\n%s", err, out.String())
			}
			out.Reset()
			if err := run(context.Background(), []string{"keys", "status"}, getenv, &out, io.Discard); err != nil || strings.Contains(out.String(), "under "+k1ID) {
				t.Fatalf("status after reseal: %v\n%s", err, out.String())
			}

			// 4. K1 dropped: all of it still reads, lookups still match.
			delete(env, "INBOUND_MASTER_KEY_PREVIOUS")
			in = start(t, env)
			everythingReads(t, in)
			in.stop(t)

			// A key this database never saw is refused at start.
			env["INBOUND_MASTER_KEY"] = k3
			err = run(context.Background(), []string{"serve"}, getenv, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "not in the keyring") {
				t.Fatalf("start with a foreign key: %v", err)
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func keyIDOf(t *testing.T, b64 string) string {
	t.Helper()
	k, err := vault.ParseKey(b64)
	if err != nil {
		t.Fatal(err)
	}
	return vault.KeyID(k)
}

func TestConfigMasksPreviousKeys(t *testing.T) {
	env := loopbackEnv(t)
	prev := vault.GenerateKey() + "," + vault.GenerateKey()
	env["INBOUND_MASTER_KEY_PREVIOUS"] = prev
	var out bytes.Buffer
	if err := run(context.Background(), []string{"config"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "INBOUND_MASTER_KEY_PREVIOUS=****") || strings.Contains(out.String(), strings.Split(prev, ",")[1]) {
		t.Fatalf("previous keys not masked:\n%s", out.String())
	}
	env["INBOUND_MASTER_KEY_PREVIOUS"] = "not-a-key"
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "INBOUND_MASTER_KEY_PREVIOUS") || strings.Contains(err.Error(), "not-a-key") {
		t.Fatalf("bad previous key: %v", err)
	}
}
