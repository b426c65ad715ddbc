// Package kv connects to Redis: a real server or cluster when configured,
// else an in-process server, reached through the same go-redis client so the
// code path is the same. Redis holds only what can be lost or rebuilt
// (in-flight locks, rate-limit counters, caches).
package kv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/inbound-gateway/inbound/internal/redact"
)

// Options choose the Redis to use.
type Options struct {
	URL     string   // redis://...; empty and no Cluster: in-process server
	Cluster []string // host:port seeds of a Redis Cluster
	// Namespace prefixes every key, so several tests or tenants can share
	// one server.
	Namespace string
}

// Store is a Redis client plus the key namespace.
type Store struct {
	Client    redis.UniversalClient
	namespace string
	embedded  *miniredis.Miniredis
}

// Open connects and pings.
func Open(ctx context.Context, o Options) (*Store, error) {
	s := &Store{namespace: o.Namespace}
	switch {
	case len(o.Cluster) > 0:
		s.Client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: o.Cluster})
	case o.URL != "":
		opt, err := redis.ParseURL(o.URL)
		if err != nil {
			// A parse error can quote the URL, password and all.
			return nil, fmt.Errorf("kv: redis url: %w", redact.Err(err))
		}
		s.Client = redis.NewClient(opt)
	default:
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("kv: embedded redis: %w", err)
		}
		s.embedded = m
		s.Client = redis.NewClient(&redis.Options{Addr: m.Addr()})
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Client.Ping(pctx).Err(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("kv: ping: %w", err)
	}
	return s, nil
}

// Embedded reports whether this is the in-process server.
func (s *Store) Embedded() bool { return s.embedded != nil }

// Key joins parts under the namespace: "ns:idem:ptn_x:key".
func (s *Store) Key(parts ...string) string {
	k := strings.Join(parts, ":")
	if s.namespace == "" {
		return k
	}
	return s.namespace + ":" + k
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.Client.Ping(ctx).Err() }

// Close closes the client and stops the embedded server.
func (s *Store) Close() error {
	err := s.Client.Close()
	if s.embedded != nil {
		s.embedded.Close()
	}
	return err
}

// ErrNotHeld is returned when releasing a lock that someone else now holds.
var ErrNotHeld = errors.New("kv: lock not held")

// TryLock sets key to token if absent, for ttl. It reports whether the lock
// was taken.
func (s *Store) TryLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	ok, err := s.Client.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("kv: lock: %w", err)
	}
	return ok, nil
}

var unlockScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`)

// Unlock deletes key only if it still holds token.
func (s *Store) Unlock(ctx context.Context, key, token string) error {
	n, err := unlockScript.Run(ctx, s.Client, []string{key}, token).Int()
	if err != nil {
		return fmt.Errorf("kv: unlock: %w", err)
	}
	if n == 0 {
		return ErrNotHeld
	}
	return nil
}
