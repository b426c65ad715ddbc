package config

import (
	"strings"
	"testing"
)

func TestLoadReadsThrottlesAndMetricsAddr(t *testing.T) {
	d, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.MetricsAddr != "" || d.AdminRateLimit != 20 || d.AuthFailureLimit != 20 || len(d.TrustedProxies) != 0 {
		t.Fatalf("defaults: %+v", d)
	}
	c, err := Load(env(map[string]string{
		"INBOUND_METRICS_ADDR":       "127.0.0.1:9100",
		"INBOUND_ADMIN_RATE_LIMIT":   "0",
		"INBOUND_AUTH_FAILURE_LIMIT": "5",
		"INBOUND_TRUSTED_PROXIES":    "10.0.0.0/8, 192.168.1.1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "127.0.0.1:9100" || c.AdminRateLimit != 0 || c.AuthFailureLimit != 5 ||
		strings.Join(c.TrustedProxies, ",") != "10.0.0.0/8,192.168.1.1" {
		t.Fatalf("not read: %+v", c)
	}
	for name, vars := range map[string]map[string]string{
		"metrics addr":     {"INBOUND_METRICS_ADDR": "9100"},
		"metrics on admin": {"INBOUND_METRICS_ADDR": ":8081"},
		"admin rate":       {"INBOUND_ADMIN_RATE_LIMIT": "-1"},
		"auth failures":    {"INBOUND_AUTH_FAILURE_LIMIT": "many"},
		"proxy":            {"INBOUND_TRUSTED_PROXIES": "proxy.local"},
	} {
		if _, err := Load(env(vars)); err == nil {
			t.Errorf("%s: accepted %v", name, vars)
		}
	}
}
