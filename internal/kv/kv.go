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
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/inbound-gateway/inbound/internal/redact"
)

// Options choose the Redis to use.
type Options struct {
	URL string // redis://...; empty and no Cluster: in-process server
	// Cluster lists seed nodes of a Redis Cluster, each host:port or
	// redis[s]://[user:password@]host:port (the credentials and TLS of
	// the first URL apply to every node).
	Cluster []string
	// Namespace prefixes every key, so several tests or tenants can share
	// one server.
	Namespace string
}

// Store is a Redis client plus the key namespace.
type Store struct {
	Client    redis.UniversalClient
	namespace string
	embedded  *miniredis.Miniredis
	// downUntil (unix nanoseconds) is set when Redis failed: until then
	// callers skip it and use their fallback at once instead of each
	// waiting for a dial timeout.
	downUntil atomic.Int64
	stopClock chan struct{}
	clockDone chan struct{}
}

// runClock advances the in-process server's clock with real time: it does
// not expire keys by itself, and a lock TTL that never lapses would make a
// lost lock block its key for ever.
func (s *Store) runClock() {
	defer close(s.clockDone)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stopClock:
			return
		case now := <-t.C:
			s.embedded.FastForward(now.Sub(last))
			last = now
		}
	}
}

// New wraps an existing client (a test points one at a closed port to play
// Redis being down).
func New(client redis.UniversalClient, namespace string) *Store {
	return &Store{Client: client, namespace: namespace}
}

// downFor is how long Redis is skipped after a failure.
const downFor = time.Second

// Available reports whether Redis is worth trying: false for a second
// after a failure reported with MarkDown.
func (s *Store) Available() bool { return time.Now().UnixNano() >= s.downUntil.Load() }

// MarkDown records a failure of Redis: Available is false for a second.
func (s *Store) MarkDown() { s.downUntil.Store(time.Now().Add(downFor).UnixNano()) }

// Open connects and pings.
func Open(ctx context.Context, o Options) (*Store, error) {
	s := &Store{namespace: o.Namespace}
	switch {
	case len(o.Cluster) > 0:
		copt, err := clusterOptions(o.Cluster)
		if err != nil {
			return nil, err
		}
		s.Client = redis.NewClusterClient(copt)
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
		s.stopClock = make(chan struct{})
		s.clockDone = make(chan struct{})
		go s.runClock()
		s.Client = redis.NewClient(&redis.Options{Addr: m.Addr()})
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Client.Ping(pctx).Err(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("kv: ping: %w", err)
	}
	if len(o.Cluster) > 0 {
		if err := clusterHealthy(pctx, s.Client); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// clusterOptions turns the seed list into go-redis cluster options.
func clusterOptions(seeds []string) (*redis.ClusterOptions, error) {
	copt := &redis.ClusterOptions{}
	for i, seed := range seeds {
		if !strings.Contains(seed, "://") {
			copt.Addrs = append(copt.Addrs, seed)
			continue
		}
		opt, err := redis.ParseURL(seed)
		if err != nil {
			return nil, fmt.Errorf("kv: redis cluster node %d: %w", i+1, redact.Err(err))
		}
		copt.Addrs = append(copt.Addrs, opt.Addr)
		if copt.Username == "" && copt.Password == "" && copt.TLSConfig == nil {
			copt.Username, copt.Password, copt.TLSConfig = opt.Username, opt.Password, opt.TLSConfig
		}
	}
	return copt, nil
}

// clusterHealthy checks that the cluster serves every slot: a node that
// answers PING while its cluster is still forming (or has lost a master)
// would refuse the keys of the missing slots later, one request at a time.
func clusterHealthy(ctx context.Context, c redis.UniversalClient) error {
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return fmt.Errorf("kv: cluster info: %w", err)
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("kv: redis cluster state is not ok (not every slot is served)")
	}
	return nil
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
		if s.stopClock != nil {
			select {
			case <-s.stopClock:
			default:
				close(s.stopClock)
			}
			<-s.clockDone
		}
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

var renewScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`)

// Renew extends key's ttl if it still holds token, and reports whether it
// did.
func (s *Store) Renew(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, s.Client, []string{key}, token, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("kv: renew: %w", err)
	}
	return n == 1, nil
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
