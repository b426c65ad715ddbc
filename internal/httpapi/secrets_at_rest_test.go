package httpapi

import (
	"bytes"
	"context"
	"crypto/md5"  //nolint:gosec // the test looks for MD5 digests of secrets in storage
	"crypto/sha1" //nolint:gosec // the test looks for SHA-1 digests of secrets in storage
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/testenv"
)

// needle is one forbidden value: its bytes, and a name for the failure
// message that does not repeat the secret.
type needle struct {
	name string
	b    []byte
}

// derivedNeedles are the encodings an attacker would try of every unkeyed
// digest of v: hex (both cases), raw bytes and base64 (std, raw, url).
func derivedNeedles(name string, v []byte) []needle {
	var out []needle
	sums := map[string][]byte{}
	s256 := sha256.Sum256(v)
	s1 := sha1.Sum(v) //nolint:gosec // computing the weak digest an attacker would try, to prove it is absent
	m5 := md5.Sum(v)  //nolint:gosec // computing the weak digest an attacker would try, to prove it is absent
	sums["sha256"], sums["sha1"], sums["md5"] = s256[:], s1[:], m5[:]
	for alg, sum := range sums {
		out = append(out, derivedEncodings(alg+"("+name+")", sum)...)
	}
	return out
}

func derivedEncodings(name string, sum []byte) []needle {
	return []needle{
		{name + " hex", []byte(hex.EncodeToString(sum))},
		{name + " HEX", []byte(strings.ToUpper(hex.EncodeToString(sum)))},
		{name + " raw", sum},
		{name + " base64", []byte(base64.RawStdEncoding.EncodeToString(sum))},
		{name + " base64url", []byte(base64.RawURLEncoding.EncodeToString(sum))},
	}
}

// legacyFingerprint is the unkeyed request fingerprint the idempotency
// middleware used to store: SHA-256(method 0 path 0 SHA-256(body)).
func legacyFingerprint(method, path string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	sum := sha256.Sum256(body)
	h.Write(sum[:])
	return h.Sum(nil)
}

// catalogueTables lists the tables of the database from its own catalogue,
// so a table added later is scanned too.
func catalogueTables(t *testing.T, b testenv.Backend) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
	if b.DB.Dialect == db.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
	}
	var tables []string
	if err := b.DB.Gorm.Raw(q).Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("catalogue lists only %v", tables)
	}
	return tables
}

// cellBytes renders one column value as the bytes to search.
func cellBytes(v any) []byte {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		return x
	case string:
		return []byte(x)
	case map[string]any, []any:
		j, _ := json.Marshal(x)
		return j
	default:
		return []byte(fmt.Sprint(x))
	}
}

// TestNothingDerivedFromCardOrPassportIsStored onboards a visitor, binds a
// card with its CVC and loads money through the real router, then scans
// every column of every table (from the catalogue) and the logs for the
// PAN, the CVC next to its name, the passport number and any unkeyed
// digest of them or of the request bodies, including the old idempotency
// fingerprint. Such a digest is as good as the value: a PAN with BIN, last
// four and expiry known leaves about 10^8 candidates, CVC included.
func TestNothingDerivedFromCardOrPassportIsStored(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		const (
			pan      = "4000056655665556"
			cvc      = "947"
			passport = "K7Q31ZX84"
		)
		type request struct{ method, path, body string }
		var sent []request
		send := func(path, body string, want int) resp {
			t.Helper()
			r := do(t, "POST", a.partner.URL+path, a.partnerKey, body, "Idempotency-Key", ids.New("k"))
			if r.Status != want {
				t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
			}
			sent = append(sent, request{"POST", path, body})
			return r
		}

		visBody := `{"mrz":` + mrzJSON(td3("UTO", "ERIKSSON", "ANNA MARIA", passport, "740812", "F", "340415")) +
			`,"phone":"+4915112345678","email":"anna@example.com"}`
		vis := send("/v1/visitors", visBody, 201).json(t)["id"].(string)
		cardPath := "/v1/visitors/" + vis + "/cards"
		card := send(cardPath, cardBody(pan, cvc, "ANNA M ERIKSSON"), 201).json(t)["id"].(string)
		quote := a.quote(t, card, `"buy":{"value":"100.00","currency":"CNY"}`)
		l := send("/v1/visitors/"+vis+"/loads", `{"card_id":"`+card+`","quote_id":"`+quote+`"}`, 201)
		if l.json(t)["status"] != "succeeded" {
			t.Fatalf("load: %s", l.Body)
		}

		// Plain values; the CVC only next to its name, since three digits
		// turn up by chance inside ids and ciphertexts.
		plain := []needle{{"PAN", []byte(pan)}, {"passport number", []byte(passport)}}
		cvcInContext := regexp.MustCompile(`(?i)(cvc|cvv|csc|cvn)[^0-9A-Za-z]{0,6}` + cvc + `([^0-9]|$)`)
		var hashed []needle
		hashed = append(hashed, derivedNeedles("PAN", []byte(pan))...)
		hashed = append(hashed, derivedNeedles("CVC", []byte(cvc))...)
		hashed = append(hashed, derivedNeedles("passport number", []byte(passport))...)
		hashed = append(hashed, derivedNeedles("PAN+CVC", []byte(pan+cvc))...)
		for _, r := range sent {
			hashed = append(hashed, derivedNeedles("body of "+r.path, []byte(r.body))...)
			hashed = append(hashed, derivedEncodings("old fingerprint of "+r.path, legacyFingerprint(r.method, r.path, []byte(r.body)))...)
		}
		all := append(plain, hashed...)

		check := func(where string, v []byte) {
			t.Helper()
			for _, n := range all {
				if bytes.Contains(v, n.b) {
					t.Errorf("%s holds the %s", where, n.name)
				}
			}
			if cvcInContext.Match(v) {
				t.Errorf("%s holds the CVC", where)
			}
		}

		scanned := 0
		for _, table := range catalogueTables(t, b) {
			var rows []map[string]any
			if err := b.DB.Gorm.Raw(`SELECT * FROM "` + table + `"`).Scan(&rows).Error; err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			for _, row := range rows {
				for col, v := range row {
					check(table+"."+col, cellBytes(v))
					scanned++
				}
			}
		}
		// The scan must have seen the rows the flow wrote.
		var n int64
		b.DB.Gorm.Raw("SELECT count(*) FROM idempotency_keys").Scan(&n)
		if n < 3 || scanned < 100 {
			t.Fatalf("scanned %d cells, %d idempotency records: the flow stored nothing?", scanned, n)
		}
		check("logs", []byte(a.logs.String()))
	})
}

// TestRetryAcrossTheFingerprintUpgrade stores a card binding's response
// with the old unkeyed fingerprint (as before the upgrade), runs migration
// 0800, and retries: the retry replays the stored response and binds
// nothing twice; the key on another route is still refused.
func TestRetryAcrossTheFingerprintUpgrade(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		a := newAPI(t, b)
		ctx := context.Background()
		vis := a.approvedVisitor(t, a.partnerKey)
		path := "/v1/visitors/" + vis + "/cards"
		body := cardBody("4242424242424242", "947", "ANNA ERIKSSON")
		first := do(t, "POST", a.partner.URL+path, a.partnerKey, body, "Idempotency-Key", "bind-1")
		if first.Status != 201 {
			t.Fatalf("bind: %d %s", first.Status, first.Body)
		}
		old := hex.EncodeToString(legacyFingerprint("POST", path, []byte(body)))
		if err := b.DB.Gorm.Exec("UPDATE idempotency_keys SET fingerprint = ? WHERE idem_key = 'bind-1'", old).Error; err != nil {
			t.Fatal(err)
		}
		if err := b.DB.Gorm.Exec("DELETE FROM schema_migrations WHERE version = 800").Error; err != nil {
			t.Fatal(err)
		}
		if _, err := b.DB.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var stored []string
		b.DB.Gorm.Raw("SELECT fingerprint FROM idempotency_keys WHERE idem_key = 'bind-1'").Scan(&stored)
		if len(stored) != 1 || stored[0] != "" {
			t.Fatalf("fingerprint after the migration: %q", stored)
		}

		again := do(t, "POST", a.partner.URL+path, a.partnerKey, body, "Idempotency-Key", "bind-1")
		if again.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
			t.Fatalf("retry after the upgrade: %d %v %s", again.Status, again.Header, again.Body)
		}
		var cards int64
		b.DB.Gorm.Raw("SELECT count(*) FROM cards WHERE visitor_id = ?", vis).Scan(&cards)
		if cards != 1 {
			t.Fatalf("%d cards bound, want 1", cards)
		}
		other := do(t, "POST", a.partner.URL+"/v1/visitors", a.partnerKey, `{"mrz":[]}`, "Idempotency-Key", "bind-1")
		if other.Status != 422 || other.errCode(t) != "idempotency_key_reused" {
			t.Fatalf("same key on another route: %d %s", other.Status, other.Body)
		}
	})
}
