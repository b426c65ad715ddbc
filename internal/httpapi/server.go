// Package httpapi is the HTTP layer: the gin routers of the partner and the
// admin API, their middleware (request ids, logging, metrics, recovery,
// authentication, rate limits, idempotency, body limits), request decoding
// and the one table that maps domain errors to API errors. It is the only
// package that imports gin.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/inbound-gateway/inbound/fx"
	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/adjustment"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/escrow"
	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/kv"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/recon"
	"github.com/inbound-gateway/inbound/internal/vault"
	"github.com/inbound-gateway/inbound/internal/webhook"
	"github.com/inbound-gateway/inbound/kyc"
	"github.com/inbound-gateway/inbound/prepaid"
)

// Deps are what the servers need; run builds them explicitly.
type Deps struct {
	DB       *db.DB
	KV       *kv.Store
	Auth     *auth.Service
	Vault    *vault.Vault
	Webhooks *webhook.Service
	KYC      *kyc.Service
	Accounts *prepaid.Store
	FX       *fx.Service
	Cards    *gateway.Binder
	Ledger   *ledger.Ledger
	// Adjustments are the maker-checker ledger corrections.
	Adjustments *adjustment.Service
	Prepaid     *prepaid.Service
	Escrow      *escrow.Service
	// Settlement reads the card networks' settlement reports.
	Settlement recon.Reports
	Log        *slog.Logger
	Registry   *prometheus.Registry
	// RateLimit is requests per second per partner; 0 turns it off.
	RateLimit    int
	MaxBodyBytes int64
	Now          func() time.Time

	// AdminRateLimit is requests per second per staff member on the admin
	// API; 0 turns it off.
	AdminRateLimit int
	// AuthFailureLimit is how many failed authentications one client
	// address may make per AuthFailureWindow on each API before it is
	// refused with 429 (even with correct credentials) until the budget
	// refills; 0 turns it off.
	AuthFailureLimit int
	// AuthFailureWindow is the window of AuthFailureLimit; 0 is a minute.
	AuthFailureWindow time.Duration
	// TrustedProxies are the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For names the client; empty trusts none, so the client
	// address is the peer's.
	TrustedProxies []string
	// SeparateMetrics serves /metrics only through Metrics (its own
	// listener) instead of on the admin API.
	SeparateMetrics bool
	// IdempotencyLockTTL is how long an in-flight idempotency lock lives
	// without renewal (renewed every third of it while the request runs),
	// so a request whose process died blocks its retries at most this
	// long; 0 is 5 s.
	IdempotencyLockTTL time.Duration
	// Console is the support console (internal/console), served under
	// /console on the admin listener; nil serves none. It is set after
	// NewServer, since the console is built over the server.
	Console http.Handler
}

// Server holds the shared state of both routers.
type Server struct {
	Deps
	validate *validator.Validate
	idem     *idempotency.Store
	limiter  *redis_rate.Limiter
	local    *localLimiter
	locks    *idempotency.Locks
	metrics  *metrics
	recon    *recon.Service
}

// NewServer builds the server; Partner and Admin return its two handlers.
func NewServer(d Deps) (*Server, error) {
	if d.DB == nil || d.KV == nil || d.Auth == nil || d.Vault == nil || d.Webhooks == nil || d.KYC == nil || d.Accounts == nil || d.FX == nil || d.Cards == nil || d.Ledger == nil || d.Adjustments == nil || d.Prepaid == nil || d.Escrow == nil || d.Settlement == nil || d.Log == nil || d.Registry == nil {
		return nil, errors.New("httpapi: missing dependency")
	}
	if d.Now == nil {
		d.Now = func() time.Time { return time.Now().UTC() }
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.AuthFailureWindow <= 0 {
		d.AuthFailureWindow = time.Minute
	}
	if err := gin.New().SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, fmt.Errorf("httpapi: trusted proxies: %w", err)
	}
	m, err := newMetrics(d.Registry)
	if err != nil {
		return nil, err
	}
	if d.IdempotencyLockTTL <= 0 {
		d.IdempotencyLockTTL = 5 * time.Second
	}
	rc, err := recon.New(recon.Deps{Ledger: d.Ledger, Escrow: d.Escrow, Prepaid: d.Accounts, Reports: d.Settlement, Now: d.Now})
	if err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{
		recon:    rc,
		Deps:     d,
		validate: newValidator(),
		idem:     idempotency.NewStore(d.DB, d.Vault),
		limiter:  redis_rate.NewLimiter(d.KV.Client),
		local:    newLocalLimiter(),
		metrics:  m,
	}
	s.locks = &idempotency.Locks{
		Primary: d.KV, Fallback: idempotency.NewDBLocker(d.DB), TTL: d.IdempotencyLockTTL,
		Available: d.KV.Available, MarkDown: d.KV.MarkDown,
		OnRenewFailed: func(key string, err error) {
			d.Log.Warn("idempotency: in-flight lock not renewed", "err", err)
		},
	}
	return s, nil
}

func (s *Server) engine(api string) *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.ContextWithFallback = true
	// Checked in NewServer.
	_ = r.SetTrustedProxies(s.TrustedProxies)
	r.Use(s.requestID, s.observe(api), s.recoverPanic, s.limitBody)
	r.NoRoute(func(c *gin.Context) { s.fail(c, newError("route_not_found", "", "")) })
	r.NoMethod(func(c *gin.Context) { s.fail(c, newError("method_not_allowed", "", "")) })
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/openapi.json", s.openapi(api))
	r.GET("/", index(api))
	return r
}

// index answers GET / with where to go next, so someone who points a
// browser or curl at a port learns which API it is and where its
// description and guides are, instead of a bare 404.
func index(api string) gin.HandlerFunc {
	body := gin.H{
		"api":      api,
		"openapi":  "/openapi.json",
		"health":   "/healthz",
		"docs":     docLinks,
		"readme":   "README.md in the Inbound repository",
		"versions": []string{"v1"},
	}
	switch api {
	case "partner":
		body["description"] = "Inbound partner API: visitors (KYC), cards, FX quotes, loads, payments into escrow, unloads and webhooks under /v1, authenticated with Authorization: Bearer sk_..."
		body["base_path"] = "/v1"
	default:
		body["description"] = "Inbound admin API for support staff: reviews, freezes, disputes, adjustments, staff and partners under /admin/v1, authenticated with Authorization: Bearer st_...; /metrics for Prometheus"
		body["base_path"] = "/admin/v1"
	}
	return func(c *gin.Context) { c.JSON(http.StatusOK, body) }
}

// docLinks are the guides in the repository (docs/).
var docLinks = gin.H{
	"quickstart": "docs/QUICKSTART.md",
	"api":        "docs/API.md",
	"testing":    "docs/TESTING.md",
	"admin":      "docs/ADMIN.md",
	"operations": "docs/OPERATIONS.md",
}

// Partner is the partner API handler (default :8080).
func (s *Server) Partner() http.Handler {
	r := s.engine("partner")
	s.partnerRoutes(r)
	return r
}

// Admin is the admin API handler (default :8081). It serves /metrics too,
// unless SeparateMetrics: the metrics describe traffic of every partner and
// are not for the partner port.
func (s *Server) Admin() http.Handler {
	r := s.engine("admin")
	if !s.SeparateMetrics {
		r.GET("/metrics", gin.WrapH(s.metrics.handler))
	}
	s.adminRoutes(r)
	if s.Console != nil {
		h := gin.WrapH(s.Console)
		r.Any("/console", h)
		r.Any("/console/*path", h)
	}
	return r
}

// Metrics is the handler of a dedicated metrics listener: /metrics only.
func (s *Server) Metrics() http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(s.requestID, s.recoverPanic)
	r.NoRoute(func(c *gin.Context) { s.fail(c, newError("route_not_found", "", "")) })
	r.NoMethod(func(c *gin.Context) { s.fail(c, newError("method_not_allowed", "", "")) })
	r.GET("/metrics", gin.WrapH(s.metrics.handler))
	return r
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := gin.H{"database": "ok", "redis": "ok"}
	ready := true
	if err := s.DB.Ping(ctx); err != nil {
		checks["database"] = "unavailable"
		ready = false
		s.Log.WarnContext(ctx, "readyz: database", "err", err)
	}
	if err := s.KV.Ping(ctx); err != nil {
		// Requests are still served without Redis (locks in the database,
		// rate limits in process): degraded, not unready, or every
		// replica would leave the load balancer at once.
		checks["redis"] = "degraded"
		s.Log.WarnContext(ctx, "readyz: redis", "err", err)
	}
	if !ready {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": checks})
}

// retryAfterUnavailable is the Retry-After (seconds) of 503 answers.
const retryAfterUnavailable = "30"

// retryAfterTransient is the Retry-After of a 503 for a dependency that is
// down (database restarting, network unreachable): such outages last
// seconds, and a client that waits 30 s turns a short fault into a long one.
const retryAfterTransient = "2"

// fail writes err in the error shape and stops the chain. Errors that are
// not client errors are logged with their full chain; the client sees a
// clean message.
func (s *Server) fail(c *gin.Context, err error) {
	if p := pendingOf(c); p != nil && !errors.Is(err, idempotency.ErrAlreadySaved) {
		// mutate may have stored a response in a transaction that then did
		// not commit: what is answered now is this error, so let the
		// middleware store it (or not) after the fact.
		p.saved, p.body = false, nil
	}
	if errors.Is(err, idempotency.ErrAlreadySaved) {
		// A twin execution committed first: answer with its response.
		if s.replayStored(c) {
			return
		}
	}
	ae, known := toAPIError(err)
	if ae.Code == CodeQuoteExpired {
		ae = quoteExpired(s.FX.Config().TTL)
	}

	if known && ae.Code == CodeServiceUnavailable && !errors.Is(err, vault.ErrUnknownKey) {
		s.Log.WarnContext(c.Request.Context(), "dependency unavailable", "err", err, "route", c.FullPath(), "request_id", requestIDOf(c))
	}
	if !known {
		s.Log.ErrorContext(c.Request.Context(), "request failed", "err", err, "route", c.FullPath(), "request_id", requestIDOf(c))
	}
	var uk *vault.UnknownKeyError
	if errors.As(err, &uk) {
		// Only the key id (a short public hash) goes in the log.
		s.Log.ErrorContext(c.Request.Context(), "sealed data needs a master key that is not in the keyring: add it back to INBOUND_MASTER_KEY_PREVIOUS and run `inbound keys reseal`",
			"key_id", uk.KeyID, "keyring", s.Vault.KeyIDs(), "route", c.FullPath(), "request_id", requestIDOf(c))
	}
	if ae.Code == CodeServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		if errors.Is(err, vault.ErrUnknownKey) {
			c.Header("Retry-After", retryAfterUnavailable)
		} else {
			c.Header("Retry-After", retryAfterTransient)
		}
	}
	e := *ae
	e.RequestID = requestIDOf(c)
	body := map[string]any{"error": e}
	if len(e.Extra) > 0 {
		inner := map[string]any{}
		b, _ := json.Marshal(e)
		_ = json.Unmarshal(b, &inner)
		for k, v := range e.Extra {
			inner[k] = v
		}
		body = map[string]any{"error": inner}
	}
	c.AbortWithStatusJSON(e.Status, body)
}
