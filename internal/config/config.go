// Package config reads Inbound's settings from INBOUND_* environment
// variables into one struct with defaults, validates them at start and
// prints them with secrets masked.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/redact"
)

// Config is every setting of the service. Field tags name the variable.
type Config struct {
	DatabaseURL       string        `env:"INBOUND_DATABASE_URL"`
	RedisURL          string        `env:"INBOUND_REDIS_URL"`
	RedisCluster      []string      `env:"INBOUND_REDIS_CLUSTER"`
	CardnetURL        string        `env:"INBOUND_CARDNET_URL"`
	DataDir           string        `env:"INBOUND_DATA_DIR"`
	PartnerAddr       string        `env:"INBOUND_PARTNER_ADDR"`
	AdminAddr         string        `env:"INBOUND_ADMIN_ADDR"`
	MasterKey         string        `env:"INBOUND_MASTER_KEY"`
	MasterKeyPrevious string        `env:"INBOUND_MASTER_KEY_PREVIOUS"`
	BootstrapKey      string        `env:"INBOUND_BOOTSTRAP_PARTNER_KEY"`
	BootstrapStaff    string        `env:"INBOUND_BOOTSTRAP_STAFF_TOKEN"`
	SanctionsDir      string        `env:"INBOUND_SANCTIONS_DIR"`
	FXRates           string        `env:"INBOUND_FX_RATES"`
	AutoRelease       time.Duration `env:"INBOUND_ESCROW_AUTO_RELEASE"`
	QuoteTTL          time.Duration `env:"INBOUND_QUOTE_TTL"`
	AccountValid      time.Duration `env:"INBOUND_ACCOUNT_VALIDITY"`
	Retention         time.Duration `env:"INBOUND_RETENTION"`
	JobInterval       time.Duration `env:"INBOUND_JOB_INTERVAL"`
	// JobLease is how long a replica's claim on a job run lasts without
	// renewal (renewed every third of it while the job runs).
	JobLease time.Duration `env:"INBOUND_JOB_LEASE"`
	// IdempotencyLockTTL is how long an in-flight idempotency lock lasts
	// without renewal (renewed every third of it while the request runs).
	IdempotencyLockTTL   time.Duration `env:"INBOUND_IDEMPOTENCY_LOCK_TTL"`
	RateLimit            int           `env:"INBOUND_RATE_LIMIT"`
	LogLevel             string        `env:"INBOUND_LOG_LEVEL"`
	MaxBodyBytes         int64         `env:"INBOUND_MAX_BODY_BYTES"`
	ShutdownGrace        time.Duration `env:"INBOUND_SHUTDOWN_GRACE"`
	AllowPrivateWebhooks bool          `env:"INBOUND_WEBHOOK_ALLOW_PRIVATE"`
	// AdjustmentCeiling bounds the absolute value of one staff adjustment.
	AdjustmentCeiling money.Amount `env:"INBOUND_ADJUSTMENT_CEILING"`
	// MetricsAddr gives /metrics its own listener; empty serves it on the
	// admin listener. Never on the partner listener.
	MetricsAddr string `env:"INBOUND_METRICS_ADDR"`
	// AdminRateLimit is requests per second per staff member; 0 is off.
	AdminRateLimit int `env:"INBOUND_ADMIN_RATE_LIMIT"`
	// AuthFailureLimit is failed authentications per minute per client
	// address on each API before it gets 429; 0 is off.
	AuthFailureLimit int `env:"INBOUND_AUTH_FAILURE_LIMIT"`
	// TrustedProxies are reverse proxies (addresses or CIDRs) whose
	// X-Forwarded-For is believed for the client address.
	TrustedProxies []string `env:"INBOUND_TRUSTED_PROXIES"`
}

// Defaults returns the configuration with nothing set.
func Defaults() Config {
	return Config{
		DataDir:      "./.inbound",
		PartnerAddr:  ":8080",
		AdminAddr:    ":8081",
		AutoRelease:  240 * time.Hour,
		QuoteTTL:     60 * time.Second,
		AccountValid: 2160 * time.Hour,
		Retention:    43800 * time.Hour,
		JobInterval:  5 * time.Second,
		JobLease:     5 * time.Second,
		// A crashed request blocks its retries at most this long.
		IdempotencyLockTTL: 5 * time.Second,
		RateLimit:          100,
		LogLevel:           "info",
		MaxBodyBytes:       1 << 20,
		ShutdownGrace:      20 * time.Second,
		// CNY 5,000.00: the balance cap of a verified prepaid account; no
		// single correction should need more.
		AdjustmentCeiling: money.New(500000, money.CNY),

		// A support agent clicking through the admin tools stays far
		// below 20/s; a script sweeping the visitor base does not.
		AdminRateLimit: 20,
		// 20 wrong keys a minute is far beyond typos and misconfigured
		// clients, and far too few to guess a 256-bit key or token.
		AuthFailureLimit: 20,
	}
}

// Load reads the variables through getenv over the defaults and validates.
func Load(getenv func(string) string) (Config, error) {
	c := Defaults()
	var errs []error
	str := func(name string, dst *string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a positive duration", name, v))
				return
			}
			*dst = d
		}
	}
	str("INBOUND_DATABASE_URL", &c.DatabaseURL)
	str("INBOUND_REDIS_URL", &c.RedisURL)
	if v := strings.TrimSpace(getenv("INBOUND_REDIS_CLUSTER")); v != "" {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.RedisCluster = append(c.RedisCluster, a)
			}
		}
	}
	str("INBOUND_CARDNET_URL", &c.CardnetURL)
	str("INBOUND_DATA_DIR", &c.DataDir)
	str("INBOUND_PARTNER_ADDR", &c.PartnerAddr)
	str("INBOUND_ADMIN_ADDR", &c.AdminAddr)
	str("INBOUND_MASTER_KEY", &c.MasterKey)
	str("INBOUND_MASTER_KEY_PREVIOUS", &c.MasterKeyPrevious)
	str("INBOUND_BOOTSTRAP_PARTNER_KEY", &c.BootstrapKey)
	str("INBOUND_BOOTSTRAP_STAFF_TOKEN", &c.BootstrapStaff)
	str("INBOUND_SANCTIONS_DIR", &c.SanctionsDir)
	str("INBOUND_FX_RATES", &c.FXRates)
	str("INBOUND_LOG_LEVEL", &c.LogLevel)
	dur("INBOUND_ESCROW_AUTO_RELEASE", &c.AutoRelease)
	dur("INBOUND_QUOTE_TTL", &c.QuoteTTL)
	dur("INBOUND_ACCOUNT_VALIDITY", &c.AccountValid)
	dur("INBOUND_RETENTION", &c.Retention)
	dur("INBOUND_JOB_INTERVAL", &c.JobInterval)
	dur("INBOUND_JOB_LEASE", &c.JobLease)
	dur("INBOUND_IDEMPOTENCY_LOCK_TTL", &c.IdempotencyLockTTL)
	dur("INBOUND_SHUTDOWN_GRACE", &c.ShutdownGrace)
	if v := strings.TrimSpace(getenv("INBOUND_RATE_LIMIT")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("INBOUND_RATE_LIMIT: %q is not a whole number >= 0", v))
		} else {
			c.RateLimit = n
		}
	}
	if v := strings.TrimSpace(getenv("INBOUND_MAX_BODY_BYTES")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			errs = append(errs, fmt.Errorf("INBOUND_MAX_BODY_BYTES: %q must be a number >= 1024", v))
		} else {
			c.MaxBodyBytes = n
		}
	}
	if v := strings.TrimSpace(getenv("INBOUND_WEBHOOK_ALLOW_PRIVATE")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("INBOUND_WEBHOOK_ALLOW_PRIVATE: %q is not a boolean", v))
		}
		c.AllowPrivateWebhooks = b
	}
	if v := strings.TrimSpace(getenv("INBOUND_ADJUSTMENT_CEILING")); v != "" {
		a, err := money.ParsePositive(v, "CNY")
		if err != nil {
			errs = append(errs, fmt.Errorf("INBOUND_ADJUSTMENT_CEILING: %q must be a positive CNY amount with at most 2 decimals, such as 5000.00", v))
		} else {
			c.AdjustmentCeiling = a
		}
	}
	str("INBOUND_METRICS_ADDR", &c.MetricsAddr)
	for name, dst := range map[string]*int{"INBOUND_ADMIN_RATE_LIMIT": &c.AdminRateLimit, "INBOUND_AUTH_FAILURE_LIMIT": &c.AuthFailureLimit} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number >= 0", name, v))
				continue
			}
			*dst = n
		}
	}
	if v := strings.TrimSpace(getenv("INBOUND_TRUSTED_PROXIES")); v != "" {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks values that parsing alone cannot.
func (c Config) Validate() error {
	var errs []error
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, errors.New("INBOUND_DATABASE_URL: must be a postgres:// URL"))
		}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			errs = append(errs, errors.New("INBOUND_REDIS_URL: must be a redis:// or rediss:// URL"))
		}
	}
	if c.RedisURL != "" && len(c.RedisCluster) > 0 {
		errs = append(errs, errors.New("set INBOUND_REDIS_URL or INBOUND_REDIS_CLUSTER, not both"))
	}
	if c.CardnetURL != "" {
		u, err := url.Parse(c.CardnetURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("INBOUND_CARDNET_URL: must be an http(s) URL"))
		}
	}
	for name, addr := range map[string]string{"INBOUND_PARTNER_ADDR": c.PartnerAddr, "INBOUND_ADMIN_ADDR": c.AdminAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", name, addr))
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("INBOUND_METRICS_ADDR: %q is not host:port", c.MetricsAddr))
		} else if !strings.HasSuffix(c.MetricsAddr, ":0") && (c.MetricsAddr == c.PartnerAddr || c.MetricsAddr == c.AdminAddr) {
			errs = append(errs, errors.New("INBOUND_METRICS_ADDR must differ from the partner and admin addresses"))
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				errs = append(errs, fmt.Errorf("INBOUND_TRUSTED_PROXIES: %q is not an address or CIDR", p))
			}
		}
	}
	// Port 0 asks the kernel for a free port, so two ":0" do not clash.
	if c.PartnerAddr == c.AdminAddr && !strings.HasSuffix(c.PartnerAddr, ":0") {
		errs = append(errs, errors.New("INBOUND_PARTNER_ADDR and INBOUND_ADMIN_ADDR must differ"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("INBOUND_DATA_DIR: must not be empty"))
	}
	if c.BootstrapKey != "" && (!strings.HasPrefix(c.BootstrapKey, "sk_") || len(c.BootstrapKey) < 24) {
		errs = append(errs, errors.New("INBOUND_BOOTSTRAP_PARTNER_KEY: must start with sk_ and be at least 24 characters"))
	}
	if c.BootstrapStaff != "" && len(c.BootstrapStaff) < 24 {
		errs = append(errs, errors.New("INBOUND_BOOTSTRAP_STAFF_TOKEN: must be at least 24 characters"))
	}
	if c.AdjustmentCeiling.Currency() != money.CNY || !c.AdjustmentCeiling.IsPositive() {
		errs = append(errs, errors.New("INBOUND_ADJUSTMENT_CEILING: must be a positive CNY amount"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("INBOUND_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// Embedded reports whether storage is the embedded SQLite file.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// String prints every setting with secrets masked.
func (c Config) String() string {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, v) }
	row("INBOUND_DATABASE_URL", orDefault(redact.URL(c.DatabaseURL), "(embedded sqlite)"))
	row("INBOUND_REDIS_URL", orDefault(redact.URL(c.RedisURL), "(in-process)"))
	cluster := make([]string, len(c.RedisCluster))
	for i, a := range c.RedisCluster {
		cluster[i] = redact.URL(a)
	}
	row("INBOUND_REDIS_CLUSTER", strings.Join(cluster, ","))
	row("INBOUND_CARDNET_URL", orDefault(redact.URL(c.CardnetURL), "(in-process simulator)"))
	row("INBOUND_DATA_DIR", c.DataDir)
	row("INBOUND_PARTNER_ADDR", c.PartnerAddr)
	row("INBOUND_ADMIN_ADDR", c.AdminAddr)
	row("INBOUND_MASTER_KEY", mask(c.MasterKey))
	row("INBOUND_MASTER_KEY_PREVIOUS", mask(c.MasterKeyPrevious))
	row("INBOUND_BOOTSTRAP_PARTNER_KEY", mask(c.BootstrapKey))
	row("INBOUND_BOOTSTRAP_STAFF_TOKEN", mask(c.BootstrapStaff))
	row("INBOUND_SANCTIONS_DIR", orDefault(c.SanctionsDir, "(built-in sample)"))
	row("INBOUND_FX_RATES", orDefault(redact.URL(c.FXRates), "(built-in)"))
	row("INBOUND_ESCROW_AUTO_RELEASE", c.AutoRelease.String())
	row("INBOUND_QUOTE_TTL", c.QuoteTTL.String())
	row("INBOUND_ACCOUNT_VALIDITY", c.AccountValid.String())
	row("INBOUND_JOB_INTERVAL", c.JobInterval.String())
	row("INBOUND_JOB_LEASE", c.JobLease.String())
	row("INBOUND_IDEMPOTENCY_LOCK_TTL", c.IdempotencyLockTTL.String())
	row("INBOUND_RATE_LIMIT", strconv.Itoa(c.RateLimit))
	row("INBOUND_LOG_LEVEL", c.LogLevel)
	row("INBOUND_ADJUSTMENT_CEILING", c.AdjustmentCeiling.Value())
	row("INBOUND_METRICS_ADDR", orDefault(c.MetricsAddr, "(admin listener)"))
	row("INBOUND_ADMIN_RATE_LIMIT", strconv.Itoa(c.AdminRateLimit))
	row("INBOUND_AUTH_FAILURE_LIMIT", strconv.Itoa(c.AuthFailureLimit))
	row("INBOUND_TRUSTED_PROXIES", strings.Join(c.TrustedProxies, ","))
	return b.String()
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return "****"
}
