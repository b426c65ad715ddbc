package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-redis/redis_rate/v10"

	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/ids"
)

const (
	ctxRequestID = "inbound.request_id"
	ctxPartner   = "inbound.partner"
	ctxStaff     = "inbound.staff"
	ctxIdem      = "inbound.idempotency"
	ctxBody      = "inbound.body"
)

func (s *Server) requestID(c *gin.Context) {
	id := ids.New(ids.Request)
	c.Set(ctxRequestID, id)
	c.Header("Request-Id", id)
	c.Next()
}

func requestIDOf(c *gin.Context) string {
	v, _ := c.Get(ctxRequestID)
	id, _ := v.(string)
	return id
}

func partnerOf(c *gin.Context) (auth.Partner, bool) {
	v, ok := c.Get(ctxPartner)
	if !ok {
		return auth.Partner{}, false
	}
	p, ok := v.(auth.Partner)
	return p, ok
}

func staffOf(c *gin.Context) (auth.Staff, bool) {
	v, ok := c.Get(ctxStaff)
	if !ok {
		return auth.Staff{}, false
	}
	st, ok := v.(auth.Staff)
	return st, ok
}

// recoverPanic turns a panic into a 500 in the error shape; the stack goes
// to the log, nothing of it to the client.
func (s *Server) recoverPanic(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.Log.ErrorContext(c.Request.Context(), "panic", "panic", fmt.Sprint(p), "route", c.FullPath(), "request_id", requestIDOf(c))
			s.fail(c, fmt.Errorf("panic: %v", p))
		}
	}()
	c.Next()
}

// limitBody caps and reads the body once, so decoding and the idempotency
// fingerprint see the same bytes.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body == nil || c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Next()
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(c, newError("request_too_large", "", fmt.Sprintf("The request body is larger than %d bytes.", s.MaxBodyBytes)))
			return
		}
		s.fail(c, newError("invalid_json", "", "The request body could not be read."))
		return
	}
	// Bodies are always read as JSON whatever the Content-Type says, so a
	// bare `curl -d` works; anything that is not JSON is invalid_json.
	c.Set(ctxBody, body)
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	c.Next()
}

func bodyOf(c *gin.Context) []byte {
	v, _ := c.Get(ctxBody)
	b, _ := v.([]byte)
	return b
}

// bearer returns the credentials of an "Authorization: Bearer <token>"
// header. The scheme name is case-insensitive (RFC 9110 section 11.1) and
// may be followed by any run of spaces; anything else (another scheme, no
// space, a token with spaces in it) gives "" or a token that fails.
func bearer(c *gin.Context) string {
	h := strings.TrimSpace(c.GetHeader("Authorization"))
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimLeft(tok, " ")
}

// partnerAuth puts the partner owning the bearer key on the context.
func (s *Server) partnerAuth(c *gin.Context) {
	if s.authLockedOut(c, "partner") {
		return
	}
	key := bearer(c)
	p, err := s.Auth.AuthenticatePartner(c.Request.Context(), key)
	if err != nil {
		s.authFailed(c, "partner", err)
		c.Header("WWW-Authenticate", `Bearer realm="inbound"`)
		if errors.Is(err, auth.ErrUnauthenticated) {
			s.fail(c, authError("partner", key == ""))
			return
		}
		s.fail(c, err)
		return
	}
	c.Set(ctxPartner, p)
	c.Next()
}

// staffAuth puts the staff member owning the bearer token on the context.
func (s *Server) staffAuth(c *gin.Context) {
	if s.authLockedOut(c, "admin") {
		return
	}
	token := bearer(c)
	st, err := s.Auth.AuthenticateStaff(c.Request.Context(), token)
	if err != nil {
		s.authFailed(c, "admin", err)
		c.Header("WWW-Authenticate", `Bearer realm="inbound-admin"`)
		if errors.Is(err, auth.ErrUnauthenticated) {
			s.fail(c, authError("admin", token == ""))
			return
		}
		s.fail(c, err)
		return
	}
	c.Set(ctxStaff, st)
	c.Next()
}

// authFailureLimit is the budget of failed authentications per client
// address and API: AuthFailureLimit per AuthFailureWindow (GCRA, so it
// refills steadily, one failure every window/limit).
func (s *Server) authFailureLimit() redis_rate.Limit {
	return redis_rate.Limit{Rate: s.AuthFailureLimit, Burst: s.AuthFailureLimit, Period: s.AuthFailureWindow}
}

func (s *Server) authFailureKey(c *gin.Context, api string) string {
	// ClientIP honours forwarding headers only from TrustedProxies (none
	// by default), so a client cannot pick a fresh address per attempt.
	return s.KV.Key("authfail", api, c.ClientIP())
}

// authLockedOut answers 429 when the client address has used up its
// budget of failed authentications on this API. Like the lockouts of
// Stripe's and GitHub's APIs, the lockout holds even for correct
// credentials, so a guesser learns nothing until the budget refills; only
// failures are counted, so well-behaved clients are never affected. If
// Redis fails the request goes on, as with the partner rate limit.
func (s *Server) authLockedOut(c *gin.Context, api string) bool {
	if s.AuthFailureLimit <= 0 {
		return false
	}
	if !s.KV.Available() {
		return false
	}
	limit := s.authFailureLimit()
	// A cost of 0 reads the budget without spending any of it.
	ctx, cancel := context.WithTimeout(c.Request.Context(), redisLimiterTimeout)
	res, err := s.limiter.AllowN(ctx, s.authFailureKey(c, api), limit, 0)
	cancel()
	if err != nil {
		s.KV.MarkDown()
		s.Log.WarnContext(c.Request.Context(), "auth failure limiter unavailable", "err", err)
		return false
	}
	if res.Remaining >= 1 {
		return false
	}
	// The budget is below one failure: the next one is available once
	// the bucket has drained to Burst-1 failures.
	perFailure := limit.Period / time.Duration(limit.Rate)
	s.tooMany(c, res.ResetAfter-time.Duration(limit.Burst-1)*perFailure)
	return true
}

// authFailed spends one failure of the client address's budget.
func (s *Server) authFailed(c *gin.Context, api string, err error) {
	if s.AuthFailureLimit <= 0 || !errors.Is(err, auth.ErrUnauthenticated) || !s.KV.Available() {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), redisLimiterTimeout)
	defer cancel()
	if _, err := s.limiter.AllowN(ctx, s.authFailureKey(c, api), s.authFailureLimit(), 1); err != nil {
		s.KV.MarkDown()
		s.Log.WarnContext(c.Request.Context(), "auth failure limiter unavailable", "err", err)
	}
}

// tooMany answers 429 rate_limited with Retry-After in whole seconds.
func (s *Server) tooMany(c *gin.Context, wait time.Duration) {
	c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	s.fail(c, newError("rate_limited", "", ""))
}

// role refuses staff below min.
func (s *Server) role(min auth.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		st, ok := staffOf(c)
		if !ok || !st.Role.Allows(min) {
			s.fail(c, newError("forbidden", "", fmt.Sprintf("This action needs the %s role.", min)))
			return
		}
		c.Next()
	}
}

// rateLimit allows RateLimit requests per second per partner (GCRA in Redis,
// burst equal to the rate). If Redis fails the request goes through: a rate
// limit protects capacity, and losing Redis must not stop payments.
func (s *Server) rateLimit(c *gin.Context) {
	if s.RateLimit <= 0 {
		c.Next()
		return
	}
	p, _ := partnerOf(c)
	res, err := s.allow(c, s.KV.Key("rate", p.ID), s.RateLimit)
	if err != nil {
		s.Log.WarnContext(c.Request.Context(), "rate limiter unavailable", "err", err)
		c.Next()
		return
	}
	c.Header("RateLimit-Limit", strconv.Itoa(s.RateLimit))
	c.Header("RateLimit-Remaining", strconv.Itoa(res.Remaining))
	if res.Allowed == 0 {
		s.tooMany(c, res.RetryAfter)
		return
	}
	c.Next()
}

// redisLimiterTimeout bounds a rate-limiter call to Redis: a Redis that
// hangs must not hold every request for a dial timeout.
const redisLimiterTimeout = 300 * time.Millisecond

// allow runs the shared (Redis) limiter for key at perSecond, burst equal
// to the rate. When Redis is down it falls back to a limiter in this
// process: each replica then enforces the limit on its own share of the
// traffic, which lets through at most replicas × the rate, but never stops
// payments and still caps a runaway client.
func (s *Server) allow(c *gin.Context, key string, perSecond int) (*redis_rate.Result, error) {
	if s.KV.Available() {
		ctx, cancel := context.WithTimeout(c.Request.Context(), redisLimiterTimeout)
		res, err := s.limiter.Allow(ctx, key, redis_rate.PerSecond(perSecond))
		cancel()
		if err == nil {
			return res, nil
		}
		s.KV.MarkDown()
		s.Log.WarnContext(c.Request.Context(), "rate limiter: redis unavailable, limiting in process", "err", err)
	}
	return s.local.allow(key, perSecond), nil
}

// staffRateLimit allows AdminRateLimit requests per second per staff
// member on the admin API (GCRA, burst equal to the rate): a leaked or
// scripted staff token cannot sweep the visitor base. Like rateLimit, it
// lets requests through when Redis fails.
func (s *Server) staffRateLimit(c *gin.Context) {
	if s.AdminRateLimit <= 0 {
		c.Next()
		return
	}
	st, _ := staffOf(c)
	res, err := s.allow(c, s.KV.Key("rate_staff", st.ID), s.AdminRateLimit)
	if err != nil {
		s.Log.WarnContext(c.Request.Context(), "rate limiter unavailable", "err", err)
		c.Next()
		return
	}
	c.Header("RateLimit-Limit", strconv.Itoa(s.AdminRateLimit))
	c.Header("RateLimit-Remaining", strconv.Itoa(res.Remaining))
	if res.Allowed == 0 {
		s.tooMany(c, res.RetryAfter)
		return
	}
	c.Next()
}

// pending is the idempotency state of one request. saved is set once its
// response is stored (by mutate, in the transaction of the change); body
// and status are then the stored answer, or body is nil when this request
// answers with more than was stored (a secret shown once).
type pending struct {
	scope, key, fingerprint, method, path string
	saved                                 bool
	body                                  []byte
	status                                int
}

// requestKeyOf is the scoped idempotency key of the request, which a
// multi-step money movement records (prepaid loads and unloads), or "".
func requestKeyOf(c *gin.Context) string {
	if p := pendingOf(c); p != nil {
		return idempotency.ScopedKey(p.scope, p.key)
	}
	return ""
}

// pendingOf returns the idempotency state of the request, or nil when it
// carries no Idempotency-Key.
func pendingOf(c *gin.Context) *pending {
	v, ok := c.Get(ctxIdem)
	if !ok {
		return nil
	}
	p, _ := v.(*pending)
	return p
}

func (s *Server) scopeOf(c *gin.Context) string {
	if p, ok := partnerOf(c); ok {
		return p.ID
	}
	if st, ok := staffOf(c); ok {
		return st.ID
	}
	return ""
}

// idempotent implements docs/API.md idempotency for a POST route. With
// required, a missing key is a 400.
func (s *Server) idempotent(required bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader("Idempotency-Key")
		if key == "" {
			if required {
				s.fail(c, idempotency.ErrKeyMissing)
				return
			}
			c.Next()
			return
		}
		if err := idempotency.ValidKey(key); err != nil {
			s.fail(c, err)
			return
		}
		ctx := c.Request.Context()
		p := &pending{scope: s.scopeOf(c), key: key, method: c.Request.Method, path: c.Request.URL.Path}
		p.fingerprint = idempotency.Fingerprint(s.Vault, p.method, p.path, bodyOf(c))
		if s.replayIfStored(c, p) {
			return
		}
		guard, ok, err := s.locks.Lock(ctx, s.KV.Key("idem", p.scope, key))
		if err != nil {
			s.fail(c, err)
			return
		}
		if !ok {
			// The twin may have just finished.
			if s.replayIfStored(c, p) {
				return
			}
			s.fail(c, idempotency.ErrInProgress)
			return
		}
		defer guard.Release(context.WithoutCancel(ctx))
		// Stored between our first look and taking the lock?
		if s.replayIfStored(c, p) {
			return
		}
		c.Set(ctxIdem, p)
		rec := &recorder{ResponseWriter: c.Writer}
		c.Writer = rec
		c.Next()
		if p.saved || !storable(rec.Status()) {
			return
		}
		err = s.idem.Save(context.WithoutCancel(ctx), s.record(p, rec.Status(), rec.buf.Bytes()))
		if err != nil && !errors.Is(err, idempotency.ErrAlreadySaved) {
			s.Log.ErrorContext(ctx, "idempotency: save response", "err", err, "request_id", requestIDOf(c))
		}
	}
}

// storable follows Stripe: a result is kept once the endpoint started
// executing; validation failures, auth failures, rate limits, conflicts with
// a concurrent twin and server errors are not kept, so a retry can succeed.
func storable(status int) bool {
	switch {
	case status >= 500, status == 400, status == 401, status == 413, status == 415, status == 429:
		return false
	}
	return true
}

func (s *Server) record(p *pending, status int, body []byte) idempotency.Record {
	now := s.Now()
	return idempotency.Record{Scope: p.scope, Key: p.key, Method: p.method, Path: p.path, Fingerprint: p.fingerprint,
		Status: status, Body: body, CreatedAt: now, ExpiresAt: now.Add(idempotency.Retention)}
}

func (s *Server) replayIfStored(c *gin.Context, p *pending) bool {
	rec, err := s.idem.Get(c.Request.Context(), p.scope, p.key, s.Now())
	if err != nil {
		s.fail(c, err)
		return true
	}
	if rec == nil {
		return false
	}
	if !rec.SameRequest(p.method, p.path, p.fingerprint) {
		s.fail(c, idempotency.ErrKeyReused)
		return true
	}
	c.Header("Idempotent-Replayed", "true")
	c.Data(rec.Status, "application/json; charset=utf-8", rec.Body)
	c.Abort()
	return true
}

// replayStored answers with the stored response of the current request's
// key, after a twin won the race to commit.
func (s *Server) replayStored(c *gin.Context) bool {
	p := pendingOf(c)
	if p == nil {
		return false
	}
	p.saved = true // nothing more to store
	return s.replayIfStored(c, p)
}

// recorder keeps a copy of the response body for the idempotency record.
type recorder struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.buf.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}
