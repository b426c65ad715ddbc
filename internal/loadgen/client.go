package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Client sends requests to a set of replicas, round robin, retrying each
// until a definitive answer or its deadline.
type Client struct {
	Partner  []string // partner API base URLs
	Admin    []string // admin API base URLs
	Key      string
	Staff    string
	Deadline time.Duration // overall per request
	Stats    *Stats
	HTTP     *http.Client
	// Limit, when set, is taken once per logical request (the -rate).
	Limit func(context.Context) error
	next  atomic.Uint64
}

// Result is the definitive answer to a request.
type Result struct {
	Status int
	Body   []byte
}

// ErrUnresolved is a request that got no definitive answer before its
// deadline (or before the run was cancelled).
var ErrUnresolved = errors.New("loadgen: request unresolved")

// apiError is the error shape of both APIs.
type apiError struct {
	Error struct {
		Type        string `json:"type"`
		Code        string `json:"code"`
		Message     string `json:"message"`
		DeclineCode string `json:"decline_code"`
	} `json:"error"`
}

// Code returns the error code of a non-2xx answer ("" if none).
func (r Result) Code() string {
	var e apiError
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// OK reports a 2xx.
func (r Result) OK() bool { return r.Status >= 200 && r.Status < 300 }

// newKey returns a random idempotency key.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "load-" + hex.EncodeToString(b)
}

// Post sends a POST to the partner API with a fresh idempotency key.
func (c *Client) Post(ctx context.Context, op, path string, body any) (Result, error) {
	return c.do(ctx, op, http.MethodPost, c.Partner, c.Key, path, body)
}

// Get sends a GET to the partner API.
func (c *Client) Get(ctx context.Context, op, path string) (Result, error) {
	return c.do(ctx, op, http.MethodGet, c.Partner, c.Key, path, nil)
}

// AdminGet sends a GET to the admin API.
func (c *Client) AdminGet(ctx context.Context, op, path string) (Result, error) {
	return c.do(ctx, op, http.MethodGet, c.Admin, c.Staff, path, nil)
}

// retryable reports whether an answer is not definitive: the same key must
// be sent again.
func retryable(status int, body []byte) bool {
	switch {
	case status >= 500, status == http.StatusTooManyRequests:
		return true
	case status == http.StatusConflict:
		return Result{Status: status, Body: body}.Code() == "idempotency_in_progress"
	}
	return false
}

// errorKind names a non-definitive answer for the progress line and report.
func errorKind(status int, err error) string {
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case err != nil:
		return "conn"
	case status == http.StatusTooManyRequests:
		return "429"
	case status == http.StatusConflict:
		return "in_progress"
	}
	return strconv.Itoa(status)
}

// attemptTimeout bounds one attempt; the request deadline bounds them all.
const attemptTimeout = 20 * time.Second

func (c *Client) do(ctx context.Context, op, method string, bases []string, token, path string, body any) (Result, error) {
	if ctx.Err() != nil {
		return Result{}, ctx.Err() // the run is over: not sent
	}
	if c.Limit != nil {
		if err := c.Limit(ctx); err != nil {
			return Result{}, err
		}
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return Result{}, err
		}
	}
	key := ""
	if method == http.MethodPost {
		key = newKey()
	}
	start := time.Now()
	// The deadline is not derived from ctx: a request under way when the run
	// ends is still followed to its answer (bounded by Deadline).
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.Deadline)
	defer cancel()
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		base := bases[int(c.next.Add(1))%len(bases)] //nolint:gosec // round-robin index; wraps harmlessly
		status, respBody, retryAfter, err := c.attempt(dctx, method, base+path, token, key, payload)
		if err == nil && !retryable(status, respBody) {
			c.Stats.Done(op, time.Since(start), status)
			if attempt > 0 {
				c.Stats.Retried(start)
			}
			return Result{Status: status, Body: respBody}, nil
		}
		c.Stats.Retry(errorKind(status, err))
		wait := backoff + mrand.N(backoff) //nolint:gosec // retry jitter, not a secret
		if retryAfter > 0 {
			wait = retryAfter
		}
		backoff = min(backoff*2, 2*time.Second)
		if dctx.Err() != nil || time.Until(deadlineOf(dctx)) < wait {
			c.Stats.Unresolved(op, key)
			return Result{}, fmt.Errorf("%w: %s %s (%s)", ErrUnresolved, method, path, errorKind(status, err))
		}
		time.Sleep(wait)
	}
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

func (c *Client) attempt(ctx context.Context, method, url, token, key string, payload []byte) (int, []byte, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, method, url, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, 0, err
	}
	var ra time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		ra = min(time.Duration(s)*time.Second, 5*time.Second)
	}
	return resp.StatusCode, b, ra, nil
}
