package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inbound-gateway/inbound/internal/money"
)

func TestAdjustmentCeiling(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.AdjustmentCeiling.Value() != "5000.00" || c.AdjustmentCeiling.Currency() != money.CNY {
		t.Fatalf("default ceiling %v %v", c.AdjustmentCeiling, err)
	}
	c, err = Load(env(map[string]string{"INBOUND_ADJUSTMENT_CEILING": "1234.5"}))
	if err != nil || c.AdjustmentCeiling.Minor() != 123450 {
		t.Fatalf("ceiling %v %v", c.AdjustmentCeiling, err)
	}
	if !strings.Contains(c.String(), "INBOUND_ADJUSTMENT_CEILING=1234.50") {
		t.Fatalf("String() lacks the ceiling:\n%s", c.String())
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Defaults(), c, cmp.Comparer(func(a, b money.Amount) bool { return a == b })); diff != "" {
		t.Fatal(diff)
	}
	if !c.Embedded() || c.PartnerAddr != ":8080" || c.AdminAddr != ":8081" || c.AutoRelease != 240*time.Hour ||
		c.QuoteTTL != time.Minute || c.AccountValid != 2160*time.Hour || c.JobInterval != 5*time.Second || c.RateLimit != 100 {
		t.Fatalf("defaults differ from docs/OPERATIONS.md: %+v", c)
	}
}

func TestLoadReadsEverything(t *testing.T) {
	c, err := Load(env(map[string]string{ //nolint:gosec // fake credentials: the test checks they are masked
		"INBOUND_DATABASE_URL":          "postgres://u:pw@db/inbound",
		"INBOUND_REDIS_URL":             "redis://:redispw@cache:6379/0",
		"INBOUND_CARDNET_URL":           "http://cardnet:8090",
		"INBOUND_DATA_DIR":              "/var/lib/inbound",
		"INBOUND_PARTNER_ADDR":          "0.0.0.0:9080",
		"INBOUND_ADMIN_ADDR":            "127.0.0.1:9081",
		"INBOUND_MASTER_KEY":            "bWFzdGVy",
		"INBOUND_BOOTSTRAP_PARTNER_KEY": "sk_0123456789abcdefghijklmn",
		"INBOUND_BOOTSTRAP_STAFF_TOKEN": "st_0123456789abcdefghijklmn",
		"INBOUND_ESCROW_AUTO_RELEASE":   "1h",
		"INBOUND_QUOTE_TTL":             "30s",
		"INBOUND_ACCOUNT_VALIDITY":      "24h",
		"INBOUND_JOB_INTERVAL":          "1s",
		"INBOUND_RATE_LIMIT":            "0",
		"INBOUND_SANCTIONS_DIR":         "/lists",
		"INBOUND_FX_RATES":              "/rates.json",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Embedded() || c.RateLimit != 0 || c.QuoteTTL != 30*time.Second || c.AdminAddr != "127.0.0.1:9081" || c.SanctionsDir != "/lists" {
		t.Fatalf("not read: %+v", c)
	}
	s := c.String()
	for _, secret := range []string{"pw@", "redispw", "bWFzdGVy", "sk_0123456789", "st_0123456789"} {
		if strings.Contains(s, secret) {
			t.Errorf("String() shows a secret %q:\n%s", secret, s)
		}
	}
	if !strings.Contains(s, "INBOUND_MASTER_KEY=****") || !strings.Contains(s, "postgres://u:xxxxx@db/inbound") {
		t.Errorf("String() does not mask as expected:\n%s", s)
	}
}

func TestLoadRefusesBadValues(t *testing.T) {
	cases := map[string]map[string]string{
		"mysql url":       {"INBOUND_DATABASE_URL": "mysql://x"},
		"redis url":       {"INBOUND_REDIS_URL": "http://x"},
		"both redis":      {"INBOUND_REDIS_URL": "redis://x", "INBOUND_REDIS_CLUSTER": "a:1,b:2"},
		"duration":        {"INBOUND_QUOTE_TTL": "soon"},
		"negative":        {"INBOUND_JOB_INTERVAL": "-1s"},
		"rate":            {"INBOUND_RATE_LIMIT": "-5"},
		"addr":            {"INBOUND_PARTNER_ADDR": "8080"},
		"same addr":       {"INBOUND_PARTNER_ADDR": ":9000", "INBOUND_ADMIN_ADDR": ":9000"},
		"short bootstrap": {"INBOUND_BOOTSTRAP_PARTNER_KEY": "sk_short"},
		"no sk_ prefix":   {"INBOUND_BOOTSTRAP_PARTNER_KEY": "pk_0123456789abcdefghijklmn"},
		"log level":       {"INBOUND_LOG_LEVEL": "loud"},
		"cardnet":         {"INBOUND_CARDNET_URL": "cardnet:8090"},
		"ceiling text":    {"INBOUND_ADJUSTMENT_CEILING": "lots"},
		"ceiling zero":    {"INBOUND_ADJUSTMENT_CEILING": "0.00"},
		"ceiling neg":     {"INBOUND_ADJUSTMENT_CEILING": "-1.00"},
		"ceiling fen":     {"INBOUND_ADJUSTMENT_CEILING": "1.001"},
		"ceiling huge":    {"INBOUND_ADJUSTMENT_CEILING": "92233720368547758.08"},
		"ceiling exp":     {"INBOUND_ADJUSTMENT_CEILING": "5e3"},
	}
	for name, m := range cases {
		if _, err := Load(env(m)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestStringMasksCredentialsInEveryURL sets each URL-valued setting to
// shapes that carry credentials (userinfo, password= and sslpassword=
// query keys, tokens, libpq key=value DSNs) and checks that String shows
// none of them while still naming the host.
func TestStringMasksCredentialsInEveryURL(t *testing.T) {
	type setter func(*Config, string)
	settings := map[string]setter{
		"INBOUND_DATABASE_URL":  func(c *Config, v string) { c.DatabaseURL = v },
		"INBOUND_REDIS_URL":     func(c *Config, v string) { c.RedisURL = v },
		"INBOUND_REDIS_CLUSTER": func(c *Config, v string) { c.RedisCluster = []string{"plain-node:6379", v} },
		"INBOUND_CARDNET_URL":   func(c *Config, v string) { c.CardnetURL = v },
		"INBOUND_FX_RATES":      func(c *Config, v string) { c.FXRates = v },
	}
	shapes := []struct {
		name, value, secret, host string
	}{
		{"userinfo password", "postgres://inbound:Pw0rdA@db.internal:5432/inbound", "Pw0rdA", "db.internal"},
		{"password query", "postgres://db.internal/inbound?user=inbound&password=Pw0rdB", "Pw0rdB", "db.internal"},
		{"sslpassword query", "postgres://inbound@db.internal/inbound?sslpassword=Pw0rdC&sslmode=verify-full", "Pw0rdC", "db.internal"},
		{"redis password", "rediss://:Pw0rdD@cache.internal:6380/0", "Pw0rdD", "cache.internal"},
		{"redis user and password", "redis://default:Pw0rdE@cache.internal:6379", "Pw0rdE", "cache.internal"},
		{"http basic auth", "https://acquirer:Pw0rdF@cardnet.internal:8443", "Pw0rdF", "cardnet.internal"},
		{"token as user", "https://Pw0rdG@rates.internal/latest.json", "Pw0rdG", "rates.internal"},
		{"api key query", "https://rates.internal/latest.json?app_id=x&api_key=Pw0rdH", "Pw0rdH", "rates.internal"},
		{"libpq dsn", "host=db.internal user=inbound password=Pw0rdI dbname=inbound", "Pw0rdI", "db.internal"},
		{"libpq dsn quoted", "host=db.internal password='Pw0rdJ x' sslpassword=Pw0rdK", "Pw0rdJ", "db.internal"},
		{"host:port with userinfo", "inbound:Pw0rdL@cache.internal:6379", "Pw0rdL", "cache.internal"},
	}
	for name, set := range settings {
		for _, s := range shapes {
			t.Run(name+"/"+s.name, func(t *testing.T) {
				c := Defaults()
				set(&c, s.value)
				out := c.String()
				if strings.Contains(out, s.secret) || strings.Contains(out, "Pw0rdK") {
					t.Fatalf("String() shows a credential:\n%s", out)
				}
				if !strings.Contains(out, s.host) {
					t.Fatalf("String() no longer shows the host %s:\n%s", s.host, out)
				}
			})
		}
	}
}
