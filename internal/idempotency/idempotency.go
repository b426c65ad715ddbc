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
	"encoding/hex"
	"errors"
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

// Retention is how long stored responses live (API.md: at least 24 h).
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

// Fingerprint identifies a request: method, path and a hash of the body.
func Fingerprint(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	sum := sha256.Sum256(body)
	h.Write(sum[:])
	return hex.EncodeToString(h.Sum(nil))
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

// Locker is the in-flight lock (Redis).
type Locker interface {
	TryLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error)
	Unlock(ctx context.Context, key, token string) error
	Key(parts ...string) string
}

// Guard is the in-flight lock of one request.
type Guard struct {
	locker Locker
	key    string
	token  string
}

// Lock takes the in-flight lock for (scope, key); false means another
// request with the key is running.
func Lock(ctx context.Context, l Locker, scope, key string, ttl time.Duration) (*Guard, bool, error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	g := &Guard{locker: l, key: l.Key("idem", scope, key), token: hex.EncodeToString(b)}
	ok, err := l.TryLock(ctx, g.key, g.token, ttl)
	if err != nil || !ok {
		return nil, false, err
	}
	return g, true, nil
}

// Release drops the lock if still held.
func (g *Guard) Release(ctx context.Context) {
	_ = g.locker.Unlock(ctx, g.key, g.token)
}
