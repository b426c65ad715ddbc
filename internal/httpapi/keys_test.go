package httpapi

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/internal/vault"
)

// Data sealed under a master key the keyring lacks (an old key dropped
// before the re-seal finished) is the operator's error: the client gets
// 503 service_unavailable with Retry-After, never a 500, and the log names
// the key id without any secret.
func TestUnknownKeyIDIsServiceUnavailable(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		vis := a.approvedVisitor(t, a.partnerKey)
		card := a.bindCard(t, vis, "4242424242424242")
		oldID := vault.KeyID(testMasterKey)

		check := func(t *testing.T, r resp, logs *logBuffer) {
			t.Helper()
			if r.Status != 503 || r.errCode(t) != "service_unavailable" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("want 503 service_unavailable with Retry-After: %d %v %s", r.Status, r.Header, r.Body)
			}
			if strings.Contains(string(r.Body), "keyring") || strings.Contains(string(r.Body), oldID) {
				t.Fatalf("operator detail shown to the client: %s", r.Body)
			}
			l := logs.String()
			if !strings.Contains(l, "INBOUND_MASTER_KEY_PREVIOUS") || !strings.Contains(l, oldID) {
				t.Fatalf("log does not name the missing key id:\n%s", l)
			}
			if strings.Contains(l, "4242424242424242") || strings.Contains(l, base64Key(testMasterKey)) {
				t.Fatalf("secret in the log:\n%s", l)
			}
		}

		// A stored idempotent response, replayed by a replica whose keyring
		// lacks the key that sealed it.
		key := ids.New("k")
		body := `{"name":"Ops","reason":"test"}`
		first := do(t, "POST", a.admin.URL+"/admin/v1/partners", a.supervisor, body, "Idempotency-Key", key)
		if first.Status != 201 {
			t.Fatalf("create: %d %s", first.Status, first.Body)
		}
		other, err := vault.New(bytes.Repeat([]byte{9}, 32))
		if err != nil {
			t.Fatal(err)
		}
		b2 := newAPI(t, b, func(d *Deps) { d.Vault = other })
		replay := do(t, "POST", b2.admin.URL+"/admin/v1/partners", a.supervisor, body, "Idempotency-Key", key)
		check(t, replay, b2.logs)

		// A card whose PAN is sealed under a key this keyring lacks.
		stranger, _ := vault.New(bytes.Repeat([]byte{5}, 32))
		var original string
		if err := b.DB.Gorm.Raw(`SELECT pan_sealed FROM cards WHERE id = ?`, card).Scan(&original).Error; err != nil {
			t.Fatal(err)
		}
		if err := b.DB.Gorm.Exec(`UPDATE cards SET pan_sealed = ? WHERE id = ?`, stranger.Seal("pan", []byte("4242424242424242")), card).Error; err != nil {
			t.Fatal(err)
		}
		oldID = vault.KeyID(bytes.Repeat([]byte{5}, 32))
		q := a.quote(t, card, `"buy":{"value":"100.00","currency":"CNY"}`)
		check(t, a.load(t, vis, card, q), a.logs)
		// Nothing was written: once the key is back, the same quote loads.
		if err := b.DB.Gorm.Exec(`UPDATE cards SET pan_sealed = ? WHERE id = ?`, original, card).Error; err != nil {
			t.Fatal(err)
		}
		if r := a.load(t, vis, card, q); r.Status != 201 {
			t.Fatalf("load with the key back: %d %s", r.Status, r.Body)
		}
	})
}

func base64Key(k []byte) string { return base64.StdEncoding.EncodeToString(k) }
