// Package idempotency makes a retried POST safe: the first response for a
// (scope, key) is stored in the database, in the same transaction as the
// change it reports where the handler allows, and returned again for a
// replay with the same request; a different request under the same key is
// refused; a request whose twin is still running is told so. An in-flight
// lock lives in Redis; the database row is the truth, and its primary key
// makes a second execution's transaction fail even if the lock was lost.
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// Errors of the package.
var (
	ErrKeyReused    = errors.New("idempotency: key reused with a different request")
	ErrInProgress   = errors.New("idempotency: a request with this key is in progress")
	ErrKeyMissing   = errors.New("idempotency: Idempotency-Key header required")
	ErrKeyInvalid   = errors.New("idempotency: Idempotency-Key must be 1-255 printable characters")
	ErrAlreadySaved = errors.New("idempotency: a response is already stored for this key")
)

// Retention is how long stored responses live (docs/API.md: at least 24 h).
const Retention = 24 * time.Hour

// Record is a stored response.
type Record struct {
	Scope       string
	Key         string
	Method      string
	Path        string
	Fingerprint string
	Status      int
	Body        []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// Keyer computes keyed lookup hashes: the vault, whose Index is an
// HMAC-SHA256 under a subkey derived from the master key.
type Keyer interface {
	Index(label string, parts ...string) string
}

// fingerprintLabel separates request fingerprints from every other keyed
// index of the vault.
const fingerprintLabel = "idempotency-fingerprint"

// FingerprintPrefix starts every fingerprint made by Fingerprint. A stored
// fingerprint without it is a legacy one (cleared by migration 0800, or
// written by a replica still running the old code) and is not compared.
const FingerprintPrefix = "k1:"

// Fingerprint identifies a request: a keyed hash of method, path and body.
// It must be keyed: a card-binding body holds PAN, CVC and expiry, and with
// BIN, last four and expiry stored in clear an unkeyed hash of it is found
// by trying the remaining ~10^8 candidates.
func Fingerprint(k Keyer, method, path string, body []byte) string {
	// The body is hashed first so the last part has a fixed length: no
	// (path, body) pair can be shifted into another with the same input.
	sum := sha256.Sum256(body)
	return FingerprintPrefix + k.Index(fingerprintLabel, method, path, string(sum[:]))
}

// Legacy reports whether a stored fingerprint predates keyed fingerprints.
func Legacy(fingerprint string) bool { return !strings.HasPrefix(fingerprint, FingerprintPrefix) }

// SameRequest reports whether a request with this method, path and
// fingerprint repeats the one rec stores. A record whose fingerprint is
// legacy (cleared, or unkeyed) is matched on method and path alone: its
// body cannot be compared any more, and refusing the retry of a request
// made before the upgrade could push a client to a new key and so to
// executing twice. The worst case is that a different body under a reused
// key gets the first response back instead of idempotency_key_reused;
// nothing is executed. Such records expire within Retention.
func (r Record) SameRequest(method, path, fingerprint string) bool {
	if Legacy(r.Fingerprint) {
		return r.Method == method && r.Path == path
	}
	return subtle.ConstantTimeCompare([]byte(r.Fingerprint), []byte(fingerprint)) == 1
}

// ValidKey checks the header value.
func ValidKey(k string) error {
	if len(k) < 1 || len(k) > 255 {
		return ErrKeyInvalid
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return ErrKeyInvalid
		}
	}
	return nil
}

// Locker is an in-flight lock store: Redis, or the database as fallback.
type Locker interface {
	TryLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error)
	Renew(ctx context.Context, key, token string, ttl time.Duration) (bool, error)
	Unlock(ctx context.Context, key, token string) error
}

// Locks takes in-flight locks in Primary (Redis) and, when Primary fails,
// in Fallback (the database). A lock lives TTL and is renewed every TTL/3
// while its request runs, so a request whose process died stops blocking
// its key's retries within TTL, while a slow live one keeps its lock.
//
// If Redis fails while a request holds its lock there, a twin can take the
// database lock and run at the same time. That is safe: the lock only
// spares a twin the work; what makes a second execution harmless is the
// primary key of the stored response (committed with the change it
// reports) and the domain's own unique keys (a load's request key).
type Locks struct {
	Primary  Locker
	Fallback Locker
	TTL      time.Duration
	// Available, if set, tells whether Primary is worth trying now;
	// MarkDown is called when it failed.
	Available func() bool
	MarkDown  func()
	// PrimaryTimeout bounds a Primary call (default 500 ms), so a Redis
	// that hangs costs a request little before the fallback.
	PrimaryTimeout time.Duration
	// OnRenewFailed is called when a held lock could not be renewed.
	OnRenewFailed func(key string, err error)
}

// Guard is the in-flight lock of one request.
type Guard struct {
	locker Locker
	key    string
	token  string
	stop   chan struct{}
	done   chan struct{}
}

// Lock takes the in-flight lock for lockKey; false means another request
// with the key is running.
func (l *Locks) Lock(ctx context.Context, lockKey string) (*Guard, bool, error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	g := &Guard{key: lockKey, token: hex.EncodeToString(b)}
	var ok bool
	err := errors.New("idempotency: no lock store")
	if l.Primary != nil && (l.Available == nil || l.Available()) {
		pctx, cancel := context.WithTimeout(ctx, l.primaryTimeout())
		ok, err = l.Primary.TryLock(pctx, lockKey, g.token, l.TTL)
		cancel()
		if err == nil {
			g.locker = l.Primary
		} else if l.MarkDown != nil {
			l.MarkDown()
		}
	}
	if g.locker == nil && l.Fallback != nil {
		ok, err = l.Fallback.TryLock(ctx, lockKey, g.token, l.TTL)
		if err == nil {
			g.locker = l.Fallback
		}
	}
	if err != nil || !ok {
		return nil, false, err
	}
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	go g.keepAlive(l) //nolint:gosec // the keep-alive outlives no request: Release stops it; it must not die with a cancelled request context before Release
	return g, true, nil
}

func (l *Locks) primaryTimeout() time.Duration {
	if l.PrimaryTimeout > 0 {
		return l.PrimaryTimeout
	}
	return 500 * time.Millisecond
}

// keepAlive renews the lock every TTL/3 until Release.
func (g *Guard) keepAlive(l *Locks) {
	defer close(g.done)
	t := time.NewTicker(max(l.TTL/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(l.TTL/3, 100*time.Millisecond))
		held, err := g.locker.Renew(ctx, g.key, g.token, l.TTL)
		cancel()
		if (err != nil || !held) && l.OnRenewFailed != nil {
			if err == nil {
				err = errors.New("lock taken over")
			}
			l.OnRenewFailed(g.key, err)
		}
	}
}

// Release stops the renewal and drops the lock if still held.
func (g *Guard) Release(ctx context.Context) {
	close(g.stop)
	<-g.done
	_ = g.locker.Unlock(ctx, g.key, g.token)
}
