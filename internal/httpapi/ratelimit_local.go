package httpapi

import (
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"golang.org/x/time/rate"
)

// localLimiter is the in-process rate limiter used while Redis is down: a
// token bucket per key (partner or staff member, so the map stays small).
type localLimiter struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

func newLocalLimiter() *localLimiter { return &localLimiter{limiters: map[string]*rate.Limiter{}} }

// allow takes one token from key's bucket (perSecond, burst perSecond) and
// answers in the shape of the Redis limiter.
func (l *localLimiter) allow(key string, perSecond int) *redis_rate.Result {
	l.mu.Lock()
	lim, ok := l.limiters[key]
	if !ok || lim.Burst() != perSecond {
		lim = rate.NewLimiter(rate.Limit(perSecond), perSecond)
		l.limiters[key] = lim
	}
	l.mu.Unlock()
	now := time.Now()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return &redis_rate.Result{Limit: redis_rate.PerSecond(perSecond), Allowed: 0, Remaining: 0, RetryAfter: d}
	}
	return &redis_rate.Result{Limit: redis_rate.PerSecond(perSecond), Allowed: 1, Remaining: int(lim.TokensAt(now))}
}
